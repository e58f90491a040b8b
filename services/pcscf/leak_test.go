package pcscf

import (
	"context"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/imscore/imscore/sip/ue"
)

// ours lists the goroutines still running code of the P-CSCF or the UE simulator.
func ours() []string {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var out []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "TestNoGoroutineLeak") || strings.Contains(g, "startFakeCore") ||
			strings.Contains(g, "testing.(*M).Run(") {
			continue // the test itself; the fake core stops at cleanup, after this check; TestMain's runner
		}
		if strings.Contains(g, "imscore/services/pcscf.") || strings.Contains(g, "imscore/sip/ue.") {
			out = append(out, g)
		}
	}
	return out
}

// TestNoGoroutineLeak: after a P-CSCF and UEs over UDP and TCP have registered, messaged and
// been stopped, none of their goroutines is left.
func TestNoGoroutineLeak(t *testing.T) {
	func() {
		alice, bob := newSubscriber(t, 1), newSubscriber(t, 2)
		core := startFakeCore(t, "127.0.0.1:0", alice, bob)
		cfg := DefaultConfig()
		cfg.Listen, cfg.ICSCF, cfg.HTTP, cfg.StateFile, cfg.SAs = []string{"127.0.0.1:0"}, core.addr.String(), "127.0.0.1:0", "", newFakeSAs()
		cfg.ClientPorts = PortRange{First: freeRange(t, "127.0.0.1", 2), Count: 2}
		cfg.ServerPorts = PortRange{First: freeRange(t, "127.0.0.1", 2), Count: 2}
		for overlap(cfg.ClientPorts, cfg.ServerPorts) {
			cfg.ServerPorts.First = freeRange(t, "127.0.0.1", 2)
		}
		n, err := New(cfg, testLogger(t))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- n.Run(ctx) }()
		<-n.Ready()
		mk := func(s subscriber, tp string) *ue.UE {
			u, err := ue.New(ue.Config{IMPI: s.impi, IMPU: s.impu, PCSCF: n.CoreAddr(), Transport: tp, Keys: s.keys, SecAgree: true}, nil)
			if err != nil {
				t.Fatal(err)
			}
			return u
		}
		ua, ub := mk(alice, "udp"), mk(bob, "tcp")
		rctx, rcancel := context.WithTimeout(context.Background(), waitLong)
		defer rcancel()
		for _, u := range []*ue.UE{ua, ub} {
			if _, err := u.Register(rctx); err != nil {
				t.Fatalf("register: %v", err)
			}
		}
		if _, err := ua.Message(rctx, bob.impu, "x"); err != nil {
			t.Fatalf("MESSAGE: %v", err)
		}
		if _, err := ub.Message(rctx, alice.impu, "y"); err != nil {
			t.Fatalf("MESSAGE: %v", err)
		}
		ua.Close()
		ub.Close()
		cancel()
		if err := <-done; err != nil {
			t.Fatalf("Run: %v", err)
		}
	}()
	deadline := time.Now().Add(waitLong)
	for {
		left := ours()
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines left, first:\n%s", len(left), left[0])
		}
		time.Sleep(20 * time.Millisecond)
	}
}
