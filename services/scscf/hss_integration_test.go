package scscf

import (
	"context"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/imscore/imscore/diameter/cx"
	"github.com/imscore/imscore/hss"
	"github.com/imscore/imscore/hss/aka"
	"github.com/imscore/imscore/hss/hsstest"
	"github.com/imscore/imscore/sip/header"
	"github.com/imscore/imscore/storage"
)

// realHSS runs the project's HSS (hss.NewServer) on 127.0.0.1:0 over a temporary SQLite store with one
// subscriber whose profile has no iFC (the default profile names ASs by DNS name).
func realHSS(t *testing.T) (*hss.Server, string, hss.Subscriber) {
	t.Helper()
	return realHSSWith(t, nil)
}

// realHSSWith is realHSS with its configuration changed by mutate.
func realHSSWith(t *testing.T, mutate func(*hss.Config)) (*hss.Server, string, hss.Subscriber) {
	t.Helper()
	srv, addr, sub, _ := realHSSStore(t, mutate)
	return srv, addr, sub
}

// realHSSStore is realHSSWith that also returns the HSS's store.
func realHSSStore(t *testing.T, mutate func(*hss.Config)) (*hss.Server, string, hss.Subscriber, storage.DB) {
	t.Helper()
	ctx := context.Background()
	db, err := storage.OpenAndMigrate(ctx, "sqlite://"+filepath.Join(t.TempDir(), "hss.db"), testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	cfg := hss.DefaultConfig()
	cfg.Diameter.Listen = "127.0.0.1:0"
	cfg.API.Listen = "127.0.0.1:0"
	cfg.Diameter.RequestTimeout = 2 * time.Second
	if mutate != nil {
		mutate(&cfg)
	}
	media := int32(1)
	if err := db.CreateServiceProfile(ctx, hss.ServiceProfile{ID: "plain", SubscribedMediaProfileID: &media}); err != nil {
		t.Fatal(err)
	}
	for _, s := range cfg.SCSCFs {
		if err := db.PutSCSCF(ctx, hss.SCSCF{Name: s.Name, Capabilities: hss.Capabilities{Mandatory: s.Mandatory, Optional: s.Optional}}); err != nil {
			t.Fatal(err)
		}
	}
	sub := hsstest.Subscriber("001010000000051", "15550000051")
	for i := range sub.Public {
		sub.Public[i].ServiceProfileID = "plain"
	}
	if err := db.CreateSubscriber(ctx, sub); err != nil {
		t.Fatal(err)
	}
	srv, err := hss.NewServer(hss.ServerOptions{Config: cfg, Store: db, Log: testLogger(t).Named("hss")})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", cfg.Diameter.Listen)
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(context.Background(), ln) }()
	t.Cleanup(func() {
		cctx, cancel := context.WithTimeout(context.Background(), waitLong)
		defer cancel()
		_ = srv.Close(cctx)
		<-served
	})
	return srv, ln.Addr().String(), sub, db
}

// ueSubscriber is the UE side of a subscriber provisioned in the real HSS: its keys and identities.
func ueSubscriber(t *testing.T, hsub hss.Subscriber) *subscriber {
	t.Helper()
	keys, err := aka.NewKeys(hsub.Private.K, hsub.Private.OP, hsub.Private.OPc, hsub.Private.AMF)
	if err != nil {
		t.Fatal(err)
	}
	sub := &subscriber{impi: hsub.Private.IMPI, keys: keys}
	for _, p := range hsub.Public {
		sub.impus = append(sub.impus, p.IMPU)
	}
	return sub
}

// The S-CSCF against the real HSS: AKA registration, reg event, HSS-initiated de-registration (RTR).
func TestWithRealHSS(t *testing.T) {
	srv, addr, hsub := realHSS(t)
	sub := ueSubscriber(t, hsub)
	fake := &fakeHSS{addr: addr}
	s, stop := runSCSCFWith(t, fake, nil, func(c *Config) {
		c.ServerName = hss.DefaultSCSCFName
		c.Diameter.OriginHost = "scscf." + hss.DefaultDomain
		c.Diameter.HSSHost = hss.DefaultOriginHost
	})
	t.Cleanup(stop)

	ue := newUE(t, s, sub)
	ok := ue.registerFully(600)
	pau := strings.Join(header.Values(ok, "P-Associated-URI"), ",")
	if !strings.Contains(pau, hsub.Public[1].IMPU) || !strings.Contains(pau, hsub.Public[2].IMPU) || strings.Contains(pau, hsub.Public[0].IMPU) {
		t.Fatalf("P-Associated-URI %q", pau)
	}
	if res := ue.subscribe(600); res.StatusCode != 200 {
		t.Fatalf("SUBSCRIBE %d", res.StatusCode)
	}
	ue.notify()

	t.Run("wrong RES from another device", func(t *testing.T) {
		other := newUE(t, s, sub)
		first := other.register(600, other.emptyAuth())
		if first.StatusCode != 401 {
			t.Fatalf("REGISTER %d", first.StatusCode)
		}
		if res := other.register(600, other.authFor(first, true)); res.StatusCode != 403 {
			t.Fatalf("wrong RES: %d, want 403", res.StatusCode)
		}
		if r := registered(t, s, ue.impu); r == nil || len(r.Contacts) != 1 {
			t.Fatalf("the first device's registration changed: %+v", r)
		}
	})

	t.Run("resync with a USIM ahead of the HSS", func(t *testing.T) {
		// A second device of the same subscriber whose USIM has seen SEQ 1000 and applies the age limit L
		// (TS 33.102 Annex C.2.2): the HSS's next SQN is too old for it.
		ue2 := newUE(t, s, sub)
		cfg := aka.DefaultUSIMConfig()
		cfg.SQN.L = 1
		usim, err := aka.NewUSIM(sub.keys, cfg)
		if err != nil {
			t.Fatal(err)
		}
		sqn, err := cfg.SQN.Join(1000, 0)
		if err != nil {
			t.Fatal(err)
		}
		if err := usim.SetSQNms(sqn); err != nil {
			t.Fatal(err)
		}
		ue2.usim = usim
		first := ue2.register(600, ue2.emptyAuth())
		auth := ue2.authFor(first, false)
		if !strings.Contains(auth, "auts=") {
			t.Fatalf("USIM accepted a stale SQN: %s", auth)
		}
		second := ue2.register(600, auth)
		if second.StatusCode != 401 {
			t.Fatalf("REGISTER with auts: %d", second.StatusCode)
		}
		if res := ue2.register(600, ue2.authFor(second, false)); res.StatusCode != 200 {
			t.Fatalf("after the HSS resynchronised: %d", res.StatusCode)
		}
	})

	ctx, cancel := context.WithTimeout(context.Background(), waitLong)
	defer cancel()
	if err := srv.Deregister(ctx, hsub.Private.IMPI, nil, cx.ReasonNewServerAssigned, "moved"); err != nil {
		t.Fatalf("HSS Deregister: %v", err)
	}
	waitGone(t, s, ue.impu)
	_, doc := ue.notifyTerminated()
	if c := doc.Registrations[0].Contacts[0]; c.Event != EventDeactivated {
		t.Fatalf("contact event %q, want deactivated", c.Event)
	}
}

// Expiry and user de-registration against the real HSS: its SAR handling accepts what we send.
func TestWithRealHSSExpiryAndDeregistration(t *testing.T) {
	_, addr, hsub := realHSS(t)
	sub := ueSubscriber(t, hsub)
	s, stop := runSCSCFWith(t, &fakeHSS{addr: addr}, nil, func(c *Config) {
		c.ServerName = hss.DefaultSCSCFName
		c.Diameter.OriginHost = "scscf." + hss.DefaultDomain
		c.Diameter.HSSHost = hss.DefaultOriginHost
		c.Registration.MinExpires = time.Second
		c.Registration.DefaultExpires = time.Second
	})
	t.Cleanup(stop)
	ue := newUE(t, s, sub)
	ue.registerFully(1)
	waitGone(t, s, ue.impu) // SAR TIMEOUT_DEREGISTRATION
	ue.registerFully(600)   // the HSS lets the user register again
	res := ue.register(0, `Digest username="`+sub.impi+`",realm="`+testDomain+`",nonce="",uri="sip:`+testDomain+
		`",response="",integrity-protected="yes"`)
	if res.StatusCode != 200 || registered(t, s, ue.impu) != nil {
		t.Fatalf("de-registration: %d", res.StatusCode)
	}
	ue.registerFully(600) // and again after USER_DEREGISTRATION
}
