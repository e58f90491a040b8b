package hss_test

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/imscore/imscore/diameter"
	"github.com/imscore/imscore/diameter/cx"
	"github.com/imscore/imscore/diameter/fastreg"
	"github.com/imscore/imscore/diameter/peer"
	"github.com/imscore/imscore/hss"
	"github.com/imscore/imscore/storage"
)

const paaHost = "paa.access." + realm

// fastregEnv is an HSS with the scheme on, a PAA allowed to push tokens, and the PAA's client connected.
func fastregEnv(t *testing.T, db storage.DB, mutate func(*hss.Config)) (*env, *fastreg.Client) {
	t.Helper()
	e := newEnv(t, db, func(c *hss.Config) {
		c.FastReg.Enabled = true
		c.Diameter.Peers = append(c.Diameter.Peers, peer.AllowedPeer{Host: paaHost, Realm: realm,
			Sources: []string{"127.0.0.1"}, Roles: []string{hss.RolePAA}})
		if mutate != nil {
			mutate(c)
		}
	})
	cl, err := fastreg.NewClient(fastreg.ClientConfig{OriginHost: paaHost, OriginRealm: realm, HSSAddress: e.addr,
		HSSHost: hssHost, HSSRealm: realm, Node: peer.Config{RequestTimeout: 5 * time.Second}, Log: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := cl.Close(ctx); err != nil {
			t.Errorf("paa client close: %v", err)
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	// The HSS accepts the PAA's CER only with the token application in common (RFC 6733 §5.3): the CER and
	// CEA both carry it as a Vendor-Specific-Application-Id.
	if err := cl.WaitReady(ctx); err != nil {
		t.Fatalf("PAA not connected: %v", err)
	}
	return e, cl
}

// TestFastRegTokenInMAA: a pushed token comes back beside the vector in the MAA for its IMPI only while the
// subscriber is switched on, it is unexpired and not dropped.
func TestFastRegTokenInMAA(t *testing.T) {
	forEachStore(t, func(t *testing.T, db storage.DB) {
		e, paa := fastregEnv(t, db, nil)
		ctx := context.Background()
		sub := e.subscriber(nil)
		impi, _, impu, _ := ids(sub)
		scscf := e.connect(scscfHost)
		token := bytes.Repeat([]byte{0x42}, 32)
		tokenOf := func() []byte {
			t.Helper()
			maa := scscf.mar(impi, impu, cx.SchemeAKAv1MD5, 1, nil)
			wantSuccess(t, maa)
			if len(maa.SIPAuthDataItems) != 1 {
				t.Fatalf("MAA with %d vectors", len(maa.SIPAuthDataItems))
			}
			return fastreg.TokenFrom(maa.Unknown)
		}

		// Off for the subscriber: the push is refused and the MAA has no token.
		err := paa.Push(ctx, impi, token, time.Hour)
		var de *diameter.Error
		if !errors.As(err, &de) || de.Code != diameter.AuthorizationRejected {
			t.Fatalf("push for a subscriber switched off: %v, want DIAMETER_AUTHORIZATION_REJECTED", err)
		}
		if got := tokenOf(); got != nil {
			t.Fatalf("MAA carries a token while off: %x", got)
		}
		// An unknown IMPI: refused the same way.
		if err := paa.Push(ctx, "nobody@"+realm, token, time.Hour); !errors.As(err, &de) || de.Code != diameter.AuthorizationRejected {
			t.Fatalf("push for an unknown IMPI: %v", err)
		}

		must(t, e.db.(hss.TokenStore).SetFastReg(ctx, impi, true))
		must(t, paa.Push(ctx, impi, token, time.Hour))
		if got := tokenOf(); !bytes.Equal(got, token) {
			t.Fatalf("MAA token = %x, want %x", got, token)
		}
		// Drop (PANA termination): gone.
		must(t, paa.Drop(ctx, impi))
		if got := tokenOf(); got != nil {
			t.Fatalf("MAA token after drop: %x", got)
		}
		must(t, paa.Drop(ctx, impi)) // dropping nothing is fine
	})
}

// TestFastRegTokenExpires: a token stops coming back once its lifetime (capped by fastreg.max_lifetime) is
// over, and the sweep clears it from the store.
func TestFastRegTokenExpires(t *testing.T) {
	db := openSQLite(t)
	e, paa := fastregEnv(t, db, func(c *hss.Config) {
		c.FastReg.MaxLifetime = time.Second // caps the hour asked for
		c.FastReg.SweepInterval = time.Second
	})
	ctx := context.Background()
	sub := e.subscriber(nil)
	impi, _, impu, _ := ids(sub)
	ts := e.db.(hss.TokenStore)
	must(t, ts.SetFastReg(ctx, impi, true))
	token := bytes.Repeat([]byte{7}, 32)
	must(t, paa.Push(ctx, impi, token, time.Hour))
	got, expires, err := ts.Token(ctx, impi, time.Now())
	if err != nil || !bytes.Equal(got, token) {
		t.Fatalf("token not stored: %x %v", got, err)
	}
	if time.Until(expires) > 2*time.Second {
		t.Fatalf("expiry %v: max_lifetime did not cap the lifetime", expires)
	}
	scscf := e.connect(scscfHost)
	deadline := time.Now().Add(30 * time.Second)
	for {
		// The sweep clears it (DropToken then finds nothing) and no MAA carries it.
		maa := scscf.mar(impi, impu, cx.SchemeAKAv1MD5, 1, nil)
		wantSuccess(t, maa)
		stored, _, _ := ts.Token(ctx, impi, time.Time{}) // any token, expired or not
		if fastreg.TokenFrom(maa.Unknown) == nil && stored == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the token neither expired nor was swept")
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestFastRegBadPush: a malformed push gets the decoder's result with Failed-AVP, a CSCF may not push, and an
// HSS with the scheme off does not advertise the application.
func TestFastRegBadPush(t *testing.T) {
	db := openSQLite(t)
	e, paa := fastregEnv(t, db, nil)
	ctx := context.Background()
	if err := paa.Push(ctx, "x@"+realm, []byte("short"), time.Hour); !errors.Is(err, fastreg.ErrInvalidField) {
		t.Fatalf("short token: %v", err)
	}
	// Raw TPR without the Token from the I-CSCF connection: not its role.
	d, _ := fastreg.NewDictionary()
	r := &fastreg.TDR{DestinationRealm: realm, UserName: "x@" + realm}
	r.SessionID, r.OriginHost, r.OriginRealm = "s;1;1", icscfHost, realm
	m, err := r.Marshal(d)
	must(t, err)
	_, err = e.icscf.node.Request(ctx, m)
	if !errors.Is(err, peer.ErrNoPeer) {
		// The I-CSCF's node did not negotiate the application: no route to the HSS for it at all.
		t.Fatalf("I-CSCF sent a token request: %v", err)
	}

	off := newEnv(t, openSQLite(t), func(c *hss.Config) {
		c.Diameter.Peers = append(c.Diameter.Peers, peer.AllowedPeer{Host: paaHost, Realm: realm,
			Sources: []string{"127.0.0.1"}, Roles: []string{hss.RolePAA}})
	})
	cl, err := fastreg.NewClient(fastreg.ClientConfig{OriginHost: paaHost, OriginRealm: realm, HSSAddress: off.addr,
		HSSHost: hssHost, HSSRealm: realm, Node: peer.Config{ReconnectMin: time.Second, ReconnectMax: time.Second}})
	must(t, err)
	defer cl.Close(context.Background())
	wctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	if err := cl.WaitReady(wctx); err == nil {
		t.Fatal("an HSS with fastreg off accepted the PAA: no application in common (RFC 6733 §5.3) expected")
	}
}

func TestFastRegConfig(t *testing.T) {
	cfg := hss.DefaultConfig()
	if cfg.FastReg.Enabled || cfg.FastReg.MaxLifetime != hss.DefaultFastRegMaxLifetime {
		t.Fatalf("default %+v", cfg.FastReg)
	}
	cfg.FastReg.Enabled = true
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	cfg.FastReg.MaxLifetime = 0
	if err := cfg.Validate(); !errors.Is(err, hss.ErrInvalidConfig) {
		t.Fatalf("max_lifetime 0: %v", err)
	}
	cfg.Diameter.Peers = append(cfg.Diameter.Peers, peer.AllowedPeer{Host: "x.example", Realm: "example",
		Sources: []string{"127.0.0.1"}, Roles: []string{"pcrf"}})
	cfg.FastReg = hss.DefaultFastRegConfig()
	if err := cfg.Validate(); !errors.Is(err, hss.ErrInvalidConfig) {
		t.Fatalf("unknown role: %v", err)
	}
}
