package scscf

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"path/filepath"
	"testing"
	"time"

	"github.com/imscore/imscore/diameter/peer"
	"github.com/imscore/imscore/storage/postgres/pgtest"
)

// freePort returns a port free for both UDP and TCP on 127.0.0.1 at the time of the call.
func freePort(t *testing.T) int {
	t.Helper()
	for i := 0; i < 20; i++ {
		u, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		port := u.LocalAddr().(*net.UDPAddr).Port
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		u.Close()
		if err == nil {
			l.Close()
			return port
		}
	}
	t.Fatal("no free port")
	return 0
}

// TestRun starts the node the way cmd/scscf does (scscf.Run with a DSN) on each backend and registers a UE.
func TestRun(t *testing.T) {
	tests := []struct {
		name string
		dsn  func(t *testing.T) string
	}{
		{name: "sqlite", dsn: func(t *testing.T) string { return "sqlite://" + filepath.Join(t.TempDir(), "var", "scscf.db") }},
		{name: "postgres", dsn: func(t *testing.T) string { return pgtest.Start(t) }},
		{name: "memory", dsn: func(*testing.T) string { return "memory" }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			hss := startFakeHSS(t)
			sub := hss.addSubscriber(t, "001010000000111", "15550000111")
			sipPort, httpPort := freePort(t), freePort(t)
			cfg := DefaultConfig()
			cfg.SIP.Listen = fmt.Sprintf("127.0.0.1:%d", sipPort)
			cfg.HTTPListen = fmt.Sprintf("127.0.0.1:%d", httpPort)
			cfg.Diameter.Listen = "127.0.0.1:0"
			cfg.Diameter.Peers = []peer.AllowedPeer{{Host: testHSSHost, Realm: testDomain, Sources: []string{"127.0.0.1"}}}
			cfg.Diameter.HSS = hss.addr
			cfg.Diameter.HSSHost = testHSSHost
			cfg.Diameter.OriginHost = testSCSCF
			cfg.DB = tc.dsn(t)
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- Run(ctx, cfg, testLogger(t)) }()
			defer func() {
				cancel()
				select {
				case err := <-done:
					if err != nil {
						t.Errorf("Run: %v", err)
					}
				case <-time.After(waitLong):
					t.Error("Run did not return")
				}
			}()
			// Ready once the HSS connection is open.
			deadline := time.Now().Add(waitLong)
			for {
				res, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/readyz", httpPort))
				if err == nil {
					res.Body.Close()
					if res.StatusCode == 200 {
						break
					}
				}
				if time.Now().After(deadline) {
					t.Fatal("never ready")
				}
				time.Sleep(50 * time.Millisecond)
			}
			ue := newUE(t, &Server{advertise: netip.MustParseAddrPort(cfg.SIP.Listen)}, sub)
			ue.registerFully(600)
		})
	}
}
