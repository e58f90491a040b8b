package paa_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/imscore/imscore/diameter/peer"
	"github.com/imscore/imscore/hss"
	"github.com/imscore/imscore/internal/tshark"
	"github.com/imscore/imscore/services/paa"
	"github.com/imscore/imscore/services/paa/paatest"
	"github.com/imscore/imscore/services/paa/pac"
	"github.com/imscore/imscore/storage"
)

// tokenSink is the HSS's token store of these tests.
type tokenSink struct {
	mu      sync.Mutex
	tokens  map[string][]byte
	changed chan struct{}
}

func newTokenSink() *tokenSink {
	return &tokenSink{tokens: map[string][]byte{}, changed: make(chan struct{})}
}

func (s *tokenSink) StoreAccessToken(_ context.Context, impi string, token []byte, _ time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokens[impi] = token
	close(s.changed)
	s.changed = make(chan struct{})
	return nil
}

func (s *tokenSink) DropAccessToken(_ context.Context, impi string, token []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if bytes.Equal(s.tokens[impi], token) {
		delete(s.tokens, impi)
		close(s.changed)
		s.changed = make(chan struct{})
	}
	return nil
}

func (s *tokenSink) wait(ctx context.Context, impi string, cond func([]byte) bool) bool {
	for {
		s.mu.Lock()
		tok, ch := s.tokens[impi], s.changed
		s.mu.Unlock()
		if cond(tok) {
			return true
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return false
		}
	}
}

const paaHost, realm = "paa.ims.mnc001.mcc001.3gppnetwork.org", "ims.mnc001.mcc001.3gppnetwork.org"

// startHSS runs an HSS with the Diameter EAP application and the CA's EAP-TLS certificate.
func startHSS(t *testing.T, ca *paatest.CA, sink hss.AccessTokenSink) string {
	t.Helper()
	db, err := storage.OpenAndMigrate(context.Background(), "sqlite://"+filepath.Join(t.TempDir(), "hss.db"), zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	cfg := hss.DefaultConfig()
	cfg.Diameter.Listen = "127.0.0.1:0"
	cfg.Diameter.Peers = append(cfg.Diameter.Peers, peer.AllowedPeer{Host: paaHost, Realm: realm,
		Sources: []string{"127.0.0.1"}, Roles: []string{hss.RolePAA}})
	srv, err := hss.NewServer(hss.ServerOptions{Config: cfg, Store: db, Log: zaptest.NewLogger(t),
		EAP: &hss.EAPOptions{TLS: ca.ServerTLS("hss.ims.example"), Lifetime: 10 * time.Minute, Tokens: sink}})
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
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Close(ctx); err != nil {
			t.Errorf("hss close: %v", err)
		}
		<-served
	})
	return ln.Addr().String()
}

// relayLab is a PAA relaying EAP to an HSS over Diameter EAP.
type relayLab struct {
	lab
	sink    *tokenSink
	hssAddr string
}

// startRelayLab runs an HSS and a PAA with eap.server hss; before, if set, runs once the HSS listens.
func startRelayLab(t *testing.T, before func(hssAddr string)) *relayLab {
	t.Helper()
	ca := paatest.NewCA(t, "operator")
	r := &relayLab{lab: lab{ca: ca, pusher: paa.NewMemoryPusher()}, sink: newTokenSink()}
	r.hssAddr = startHSS(t, ca, r.sink)
	if before != nil {
		before(r.hssAddr)
	}
	cfg := paa.DefaultConfig()
	cfg.Listen, cfg.HTTPListen, cfg.Retransmit, cfg.Pusher = []string{"127.0.0.1:0"}, "", fast, r.pusher
	cfg.EAP.Server = paa.EAPServerHSS
	cfg.Diameter.HSS, cfg.Diameter.OriginHost, cfg.Diameter.OriginRealm = []string{r.hssAddr}, paaHost, realm
	ctx, cancel := context.WithCancel(context.Background())
	n, err := paa.Start(ctx, cfg, zaptest.NewLogger(t))
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); _ = n.Wait() })
	r.node = n
	return r
}

func (r *relayLab) pacConfig() pac.Config {
	pc := r.lab.pacConfig(r.node.Addrs()[0])
	pc.EAP.TLS.ServerName = "hss.ims.example"
	return pc
}

// TestPANAEAPViaHSS: the PAA relays EAP-TLS to the HSS over Diameter EAP (RFC 4072); the HSS keeps the
// token the UE exported, grants the lifetime (Session-Timeout), and drops the token on the PANA
// termination (STR). A certificate of another CA is refused there.
func TestPANAEAPViaHSS(t *testing.T) {
	r := startRelayLab(t, nil)
	sink, pusher := r.sink, r.pusher
	ctx := ctxT(t)
	pc := r.pacConfig()
	s, err := pac.Authenticate(ctx, pc)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.Lifetime != 10*time.Minute {
		t.Fatalf("lifetime %s, want the HSS's 10m", s.Lifetime)
	}
	if !sink.wait(ctx, impi, func(tok []byte) bool { return tok != nil }) {
		t.Fatal("the HSS kept no token")
	}
	sink.mu.Lock()
	tok := sink.tokens[impi]
	sink.mu.Unlock()
	if !bytes.Equal(tok, s.Token) {
		t.Fatalf("HSS token %x, UE token %x", tok, s.Token)
	}
	if _, ok := pusher.Get(impi); ok {
		t.Fatal("the PAA pushed a token the HSS keeps itself")
	}
	if err := s.Terminate(ctx); err != nil {
		t.Fatal(err)
	}
	if !sink.wait(ctx, impi, func(tok []byte) bool { return tok == nil }) {
		t.Fatal("the HSS did not drop the token at the PANA termination")
	}

	other := paatest.NewCA(t, "someone else")
	pc.EAP.TLS.Certificates = other.UETLS(impi, "x").Certificates
	if _, err := pac.Authenticate(ctx, pc); !errors.Is(err, pac.ErrRejected) {
		t.Fatalf("a certificate of another CA: %v", err)
	}
}

// TestDiameterEAPTshark: tshark decodes the live DER/DEA/STR/STA between the PAA and the HSS with no
// malformed packet and every AVP named.
func TestDiameterEAPTshark(t *testing.T) {
	bin := tshark.Find(t)
	var capture *tshark.Capture
	var port int
	r := startRelayLab(t, func(hssAddr string) {
		ap := netip.MustParseAddrPort(hssAddr)
		port = int(ap.Port())
		capture = tshark.StartCapture(t, bin, "lo", fmt.Sprintf("tcp port %d", port))
	})
	ctx := ctxT(t)
	s, err := pac.Authenticate(ctx, r.pacConfig())
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Terminate(ctx); err != nil {
		t.Fatal(err)
	}
	if !r.sink.wait(ctx, impi, func(tok []byte) bool { return tok == nil }) {
		t.Fatal("no STR handled")
	}
	out := tshark.DecodeDiameter(t, bin, capture.Stop(t), port)
	for _, want := range []string{"Diameter-EAP", "EAP-Master-Session-Key", "Session-Termination", "Multi-Round-Time-Out",
		"EAP-TLS"} {
		if !strings.Contains(out, want) {
			t.Errorf("tshark output lacks %q", want)
		}
	}
}
