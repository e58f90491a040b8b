package scscf

import (
	"bytes"
	"context"
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"regexp"
	"testing"
	"time"

	"github.com/imscore/imscore/diameter/fastreg"
	"github.com/imscore/imscore/diameter/peer"
	"github.com/imscore/imscore/hss"
	"github.com/imscore/imscore/internal/testpki"
	"github.com/imscore/imscore/sip/aib"
)

// fastregUE is the UE side of a fast registration: its AIB certificate and key.
type fastregUE struct {
	*testUE
	cert *x509.Certificate
	key  crypto.Signer
}

func loadCert(t *testing.T, certFile, keyFile string) (*x509.Certificate, crypto.Signer) {
	t.Helper()
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	return c, pair.PrivateKey.(crypto.Signer)
}

// build returns a REGISTER with token in the nonce and an AIB dated date, as text, so that a test can replay
// it byte for byte.
func (u *fastregUE) build(token []byte, date time.Time) string {
	u.t.Helper()
	u.cseq++
	from := fmt.Sprintf("<%s>;tag=%s", u.impu, u.tag)
	contact := fmt.Sprintf(`<sip:ue@%s>;expires=600`, u.addr)
	cseq := fmt.Sprintf("%d REGISTER", u.cseq)
	ct, body, err := aib.Sign(aib.Request{From: from, CallID: u.callID, CSeq: cseq, Contact: contact}, date, u.cert, u.key)
	if err != nil {
		u.t.Fatal(err)
	}
	return fmt.Sprintf("REGISTER sip:%[1]s SIP/2.0\r\nVia: SIP/2.0/UDP %[2]s;branch=z9hG4bK%[3]s;rport\r\nMax-Forwards: 70\r\n"+
		"From: %[4]s\r\nTo: <%[5]s>\r\nCall-ID: %[6]s\r\nCSeq: %[7]s\r\nContact: %[8]s\r\nPath: <sip:term@%[2]s;lr>\r\nSupported: path\r\n"+
		`Authorization: Digest username="%[9]s",realm="%[1]s",nonce="%[10]s",uri="sip:%[1]s",response="",integrity-protected="no"`+"\r\n"+
		"Content-Type: %[11]s\r\nContent-Length: %[12]d\r\n\r\n%[13]s",
		testDomain, u.addr, randHex(8), from, u.impu, u.callID, cseq, contact, u.sub.impi,
		base64.StdEncoding.EncodeToString(token), ct, len(body), body)
}

func (u *fastregUE) sendRaw(msg string) int {
	u.t.Helper()
	if _, err := u.conn.WriteToUDPAddrPort([]byte(msg), u.scscf); err != nil {
		u.t.Fatal(err)
	}
	return u.response().StatusCode
}

// TestFastRegistration: against the real HSS, a REGISTER with the token the PAA pushed and a valid AIB is
// registered with one 200 and no challenge; a wrong, used, dropped or expired token, an untrusted or stale AIB,
// and an S-CSCF with the scheme off each get the standard 401; the same REGISTER replayed gets 403.
func TestFastRegistration(t *testing.T) {
	pki := testpki.New(t, "operator-ue-ca")
	_, addr, hsub, db := realHSSStore(t, func(c *hss.Config) {
		c.FastReg.Enabled = true
		c.Diameter.Peers = append(c.Diameter.Peers, peer.AllowedPeer{Host: "paa." + hss.DefaultDomain, Realm: hss.DefaultDomain,
			Sources: []string{"127.0.0.1"}, Roles: []string{hss.RolePAA}})
	})
	ctx := context.Background()
	impi := hsub.Private.IMPI
	if err := db.(hss.TokenStore).SetFastReg(ctx, impi, true); err != nil {
		t.Fatal(err)
	}
	paa, err := fastreg.NewClient(fastreg.ClientConfig{OriginHost: "paa." + hss.DefaultDomain, OriginRealm: hss.DefaultDomain,
		HSSAddress: addr, HSSHost: hss.DefaultOriginHost, HSSRealm: hss.DefaultDomain, Log: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = paa.Close(context.Background()) })
	wctx, cancel := context.WithTimeout(ctx, waitLong)
	defer cancel()
	if err := paa.WaitReady(wctx); err != nil {
		t.Fatal(err)
	}
	sub := ueSubscriber(t, hsub)
	start := func(on bool) *Server {
		s, stop := runSCSCFWith(t, &fakeHSS{addr: addr}, nil, func(c *Config) {
			c.ServerName = hss.DefaultSCSCFName
			c.Diameter.OriginHost = "scscf." + hss.DefaultDomain
			c.Diameter.HSSHost = hss.DefaultOriginHost
			c.FastReg = FastRegConfig{Enabled: on, CAFile: pki.CAFile}
		})
		t.Cleanup(stop)
		return s
	}
	s := start(true)
	certFile, keyFile := pki.Issue(impi)
	cert, key := loadCert(t, certFile, keyFile)
	newFastUE := func() *fastregUE {
		return &fastregUE{testUE: newUE(t, s, sub), cert: cert, key: key}
	}
	push := func(token []byte, lifetime time.Duration) {
		t.Helper()
		if err := paa.Push(ctx, impi, token, lifetime); err != nil {
			t.Fatal(err)
		}
	}
	token := bytes.Repeat([]byte{0x11}, 32)
	push(token, time.Hour)

	ue := newFastUE()
	first := ue.build(token, time.Now())
	if code := ue.sendRaw(first); code != 200 {
		t.Fatalf("REGISTER with token and AIB: %d, want 200 in one round trip", code)
	}
	if r := registered(t, s, ue.impu); r == nil || len(r.Contacts) != 1 {
		t.Fatalf("not registered: %+v", r)
	}

	t.Run("replayed REGISTER refused", func(t *testing.T) {
		// The same REGISTER in a new transaction (a new branch: the same one would be a retransmission,
		// answered by the transaction layer with the 200 it sent, RFC 3261 §17.2.3).
		replay := regexp.MustCompile(`branch=z9hG4bK[0-9a-f]+`).ReplaceAllString(first, "branch=z9hG4bK"+randHex(8))
		if code := ue.sendRaw(replay); code != 403 {
			t.Fatalf("replay: %d, want 403", code)
		}
	})
	t.Run("token used once already is challenged", func(t *testing.T) {
		u := newFastUE()
		if code := u.sendRaw(u.build(token, time.Now())); code != 401 {
			t.Fatalf("second use: %d, want 401", code)
		}
	})
	t.Run("wrong token is challenged", func(t *testing.T) {
		push(bytes.Repeat([]byte{0x22}, 32), time.Hour)
		u := newFastUE()
		if code := u.sendRaw(u.build(bytes.Repeat([]byte{0x33}, 32), time.Now())); code != 401 {
			t.Fatalf("wrong token: %d, want 401", code)
		}
	})
	t.Run("untrusted AIB signer is challenged", func(t *testing.T) {
		tk := bytes.Repeat([]byte{0x44}, 32)
		push(tk, time.Hour)
		other := testpki.New(t, "someone-else")
		cf, kf := other.Issue(impi)
		c, k := loadCert(t, cf, kf)
		u := &fastregUE{testUE: newUE(t, s, sub), cert: c, key: k}
		if code := u.sendRaw(u.build(tk, time.Now())); code != 401 {
			t.Fatalf("untrusted signer: %d, want 401", code)
		}
		// The token was not spent: the user's own AIB still registers.
		u2 := newFastUE()
		if code := u2.sendRaw(u2.build(tk, time.Now())); code != 200 {
			t.Fatalf("after a refused AIB: %d, want 200", code)
		}
	})
	t.Run("another user's certificate is challenged", func(t *testing.T) {
		tk := bytes.Repeat([]byte{0x45}, 32)
		push(tk, time.Hour)
		cf, kf := pki.Issue("mallory@" + testDomain)
		c, k := loadCert(t, cf, kf)
		u := &fastregUE{testUE: newUE(t, s, sub), cert: c, key: k}
		if code := u.sendRaw(u.build(tk, time.Now())); code != 401 {
			t.Fatalf("other user's certificate: %d, want 401", code)
		}
	})
	t.Run("stale AIB is challenged", func(t *testing.T) {
		tk := bytes.Repeat([]byte{0x55}, 32)
		push(tk, time.Hour)
		u := newFastUE()
		if code := u.sendRaw(u.build(tk, time.Now().Add(-10*time.Minute))); code != 401 {
			t.Fatalf("stale Date: %d, want 401", code)
		}
	})
	t.Run("dropped token is challenged", func(t *testing.T) {
		tk := bytes.Repeat([]byte{0x66}, 32)
		push(tk, time.Hour)
		if err := paa.Drop(ctx, impi); err != nil {
			t.Fatal(err)
		}
		u := newFastUE()
		if code := u.sendRaw(u.build(tk, time.Now())); code != 401 {
			t.Fatalf("dropped token: %d, want 401", code)
		}
	})
	t.Run("expired token is challenged", func(t *testing.T) {
		tk := bytes.Repeat([]byte{0x77}, 32)
		push(tk, time.Second)
		time.Sleep(1500 * time.Millisecond) // past the lifetime: waiting for expiry, not measuring speed
		u := newFastUE()
		if code := u.sendRaw(u.build(tk, time.Now())); code != 401 {
			t.Fatalf("expired token: %d, want 401", code)
		}
	})
	t.Run("S-CSCF with the scheme off challenges", func(t *testing.T) {
		off := start(false)
		tk := bytes.Repeat([]byte{0x88}, 32)
		push(tk, time.Hour)
		u := &fastregUE{testUE: newUE(t, off, sub), cert: cert, key: key}
		if code := u.sendRaw(u.build(tk, time.Now())); code != 401 {
			t.Fatalf("scheme off: %d, want 401", code)
		}
	})
}

func TestSeenSet(t *testing.T) {
	s := newSeenSet(2)
	now := time.Now()
	a, b, c := [32]byte{1}, [32]byte{2}, [32]byte{3}
	if s.add(a, now, time.Second) != seenNew || s.add(a, now, time.Second) != seenBefore {
		t.Fatal("a")
	}
	if s.add(b, now, time.Second) != seenNew || s.add(c, now, time.Second) != seenFull {
		t.Fatal("full set must refuse, not forget")
	}
	later := now.Add(2 * time.Second)
	if s.has(a, later) || s.add(c, later, time.Second) != seenNew {
		t.Fatal("expired entries must go")
	}
}
