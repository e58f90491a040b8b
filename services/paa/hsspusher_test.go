package paa_test

import (
	"bytes"
	"context"
	"net"
	"path/filepath"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/imscore/imscore/diameter/peer"
	"github.com/imscore/imscore/hss"
	"github.com/imscore/imscore/hss/hsstest"
	"github.com/imscore/imscore/services/paa"
	"github.com/imscore/imscore/services/paa/pac"
	"github.com/imscore/imscore/storage"
)

// TestPANATokensToHSS: with the local EAP-TLS server and tokens: hss, the PAA pushes the token the UE exported
// to a real HSS's token application (Token-Push, diameter/fastreg) with the access session's lifetime, where
// the S-CSCF's MAA will find it, and drops it there when the PANA session ends (Token-Drop).
func TestPANATokensToHSS(t *testing.T) {
	ctx := ctxT(t)
	db, err := storage.OpenAndMigrate(context.Background(), "sqlite://"+filepath.Join(t.TempDir(), "hss.db"), zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.CreateServiceProfile(ctx, hsstest.Profile(hsstest.DefaultProfileID)); err != nil {
		t.Fatal(err)
	}
	if err := db.CreateSubscriber(ctx, hsstest.Subscriber("001010000000001", "15550000001")); err != nil {
		t.Fatal(err)
	}
	tokens := db.(hss.TokenStore)
	if err := tokens.SetFastReg(ctx, impi, true); err != nil {
		t.Fatal(err)
	}
	cfg := hss.DefaultConfig()
	cfg.Diameter.Listen, cfg.FastReg.Enabled = "127.0.0.1:0", true
	cfg.Diameter.Peers = append(cfg.Diameter.Peers, peer.AllowedPeer{Host: paaHost, Realm: realm,
		Sources: []string{"127.0.0.1"}, Roles: []string{hss.RolePAA}})
	srv, err := hss.NewServer(hss.ServerOptions{Config: cfg, Store: db, Log: zaptest.NewLogger(t)})
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
		cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Close(cctx)
		<-served
	})

	l := startPAA(t, []string{"127.0.0.1:0"}, func(c *paa.Config) {
		c.Pusher, c.Tokens = nil, paa.TokensHSS
		c.Diameter.HSS, c.Diameter.OriginHost, c.Diameter.OriginRealm, c.Diameter.DestinationRealm =
			[]string{ln.Addr().String()}, paaHost, realm, realm
	})
	stored := func(want func(tok []byte) bool) bool {
		for range 200 {
			tok, _, err := tokens.Token(ctx, impi, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			if want(tok) {
				return true
			}
			time.Sleep(25 * time.Millisecond)
		}
		return false
	}
	s, err := pac.Authenticate(ctx, l.pacConfig(l.node.Addrs()[0]))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if !stored(func(tok []byte) bool { return bytes.Equal(tok, s.Token) }) {
		t.Fatal("the HSS does not hold the UE's token")
	}
	if _, ok := l.pusher.Get(impi); ok {
		t.Fatal("the token also went to the PAA's memory pusher")
	}
	if err := s.Terminate(ctx); err != nil {
		t.Fatal(err)
	}
	if !stored(func(tok []byte) bool { return tok == nil }) {
		t.Fatal("the HSS kept the token after the PANA termination")
	}
}
