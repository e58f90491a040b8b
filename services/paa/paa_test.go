package paa_test

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/imscore/imscore/internal/tshark"
	"github.com/imscore/imscore/services/paa"
	"github.com/imscore/imscore/services/paa/eaptls"
	"github.com/imscore/imscore/services/paa/paatest"
	"github.com/imscore/imscore/services/paa/pac"
	"github.com/imscore/imscore/services/paa/pana"
)

const impi = "001010000000001@ims.mnc001.mcc001.3gppnetwork.org"

// fast are retransmission timers for tests on loopback: short, so that a dropped datagram costs little.
var fast = pana.Retransmit{IRT: 100 * time.Millisecond, MRT: 400 * time.Millisecond, MRC: 8}

type lab struct {
	ca     *paatest.CA
	node   *paa.Node
	pusher *paa.MemoryPusher
}

// startPAA runs a PAA with a local EAP-TLS server on listen.
func startPAA(t *testing.T, listen []string, mod func(*paa.Config)) *lab {
	t.Helper()
	ca := paatest.NewCA(t, "operator")
	srv := ca.Server("paa.ims.example")
	cfg := paa.DefaultConfig()
	cfg.Listen, cfg.HTTPListen = listen, ""
	cfg.EAP.CertFile, cfg.EAP.KeyFile, cfg.EAP.CAFile = srv.CertFile, srv.KeyFile, ca.File
	cfg.Retransmit = fast
	l := &lab{ca: ca, pusher: paa.NewMemoryPusher()}
	cfg.Pusher = l.pusher
	if mod != nil {
		mod(&cfg)
	}
	ctx, cancel := context.WithCancel(context.Background())
	n, err := paa.Start(ctx, cfg, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		if err := n.Wait(); err != nil {
			t.Error(err)
		}
	})
	l.node = n
	return l
}

func (l *lab) pacConfig(addr string) pac.Config {
	return pac.Config{PAA: addr, EAP: eaptls.PeerConfig{Identity: impi, TLS: l.ca.UETLS(impi, "paa.ims.example")},
		Retransmit: fast, PCIRetransmit: fast}
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// TestPANAEAPTLS: a PaC authenticates over real UDP sockets on IPv4 and IPv6; the token the UE exported is
// the one pushed to the core; a ping works under the SA; termination drops the token.
func TestPANAEAPTLS(t *testing.T) {
	for _, listen := range []string{"127.0.0.1:0", "[::1]:0"} {
		t.Run(listen, func(t *testing.T) {
			l := startPAA(t, []string{listen}, nil)
			ctx := ctxT(t)
			s, err := pac.Authenticate(ctx, l.pacConfig(l.node.Addrs()[0]))
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if len(s.Token) != eaptls.TokenLen || s.Lifetime != paa.DefaultSessionLifetime {
				t.Fatalf("token %x, lifetime %s", s.Token, s.Lifetime)
			}
			if !l.pusher.Wait(ctx, impi, func(g paa.Grant, ok bool) bool { return ok }) {
				t.Fatal("no token pushed")
			}
			g, _ := l.pusher.Get(impi)
			if !bytes.Equal(g.Token, s.Token) || g.Lifetime != s.Lifetime {
				t.Fatalf("pushed %x for %s, the UE has %x", g.Token, g.Lifetime, s.Token)
			}
			if err := s.Ping(ctx); err != nil {
				t.Fatalf("ping: %v", err)
			}
			if err := s.Terminate(ctx); err != nil {
				t.Fatalf("terminate: %v", err)
			}
			if !l.pusher.Wait(ctx, impi, func(_ paa.Grant, ok bool) bool { return !ok }) {
				t.Fatal("token not dropped after termination")
			}
		})
	}
}

// TestPANAWrongCertificate: a UE certificate from another CA is refused; nothing is pushed.
func TestPANAWrongCertificate(t *testing.T) {
	l := startPAA(t, []string{"127.0.0.1:0"}, nil)
	other := paatest.NewCA(t, "someone else")
	cfg := l.pacConfig(l.node.Addrs()[0])
	cfg.EAP.TLS.Certificates = other.UETLS(impi, "paa.ims.example").Certificates
	_, err := pac.Authenticate(ctxT(t), cfg)
	if !errors.Is(err, pac.ErrRejected) {
		t.Fatalf("err %v, want %v", err, pac.ErrRejected)
	}
	if _, ok := l.pusher.Get(impi); ok {
		t.Fatal("a token was pushed for a refused UE")
	}
}

// TestPANARetransmission: datagrams dropped in each direction are recovered by retransmission (RFC 5191 §9),
// the session opens with matching tokens, and tshark decodes the whole exchange as PANA and EAP.
func TestPANARetransmission(t *testing.T) {
	l := startPAA(t, []string{"127.0.0.1:0"}, nil)
	// The first PCI, the PaC's third message (a PAN with TLS data) and the PAA's second PAR are lost.
	relay := paatest.NewLossy(t, l.node.Addrs()[0],
		func(fromClient bool, n int) bool {
			return (fromClient && (n == 1 || n == 3)) || (!fromClient && n == 2)
		})
	ctx := ctxT(t)
	s, err := pac.Authenticate(ctx, l.pacConfig(relay.Addr()))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if relay.DroppedCount() != 3 {
		t.Fatalf("%d datagrams dropped, want 3", relay.DroppedCount())
	}
	if !l.pusher.Wait(ctx, impi, func(g paa.Grant, ok bool) bool { return ok && bytes.Equal(g.Token, s.Token) }) {
		t.Fatal("token not pushed or different")
	}
	if err := s.Terminate(ctx); err != nil {
		t.Fatal(err)
	}
	bin := tshark.Find(t)
	out := paatest.CheckPANA(t, bin, relay.Datagrams())
	for _, want := range []string{"PANA-Auth-Request", "PANA-Auth-Answer", "Extensible Authentication Protocol",
		"PANA-Termination-Answer", "AUTH", "Handshake Protocol: Client Hello", "Reassembled EAP-TLS"} {
		if !bytes.Contains([]byte(out), []byte(want)) {
			t.Errorf("tshark output lacks %q", want)
		}
	}
}

// TestPANASessionExpiry: at the end of the session lifetime both ends close the session and the token is
// dropped.
func TestPANASessionExpiry(t *testing.T) {
	l := startPAA(t, []string{"127.0.0.1:0"}, func(c *paa.Config) { c.SessionLifetime = time.Second })
	ctx := ctxT(t)
	s, err := pac.Authenticate(ctx, l.pacConfig(l.node.Addrs()[0]))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.Lifetime != time.Second {
		t.Fatalf("lifetime %s", s.Lifetime)
	}
	if !l.pusher.Wait(ctx, impi, func(_ paa.Grant, ok bool) bool { return ok }) {
		t.Fatal("no token pushed")
	}
	if !l.pusher.Wait(ctx, impi, func(_ paa.Grant, ok bool) bool { return !ok }) {
		t.Fatal("token not dropped at expiry")
	}
	select {
	case <-s.Done():
	case <-ctx.Done():
		t.Fatal("the PaC's session did not end at its lifetime")
	}
	if !errors.Is(s.Err(), pac.ErrClosed) {
		t.Fatalf("session ended with %v", s.Err())
	}
}
