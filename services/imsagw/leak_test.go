package imsagw

import (
	"context"
	"net"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/imscore/imscore/services/imsagw/h248"
)

// Every goroutine and socket of a context goes with it, and every goroutine of the node with Run: calls set
// up, relayed, released by the UE, subtracted, left to the AGW's shutdown, and refused.
func TestNoGoroutineLeak(t *testing.T) {
	if ln, err := net.Listen("tcp", "127.0.0.1:0"); err == nil { // the runtime's poller opens its descriptors once
		_ = ln.Close()
	}
	before, fdsBefore := runtime.NumGoroutine(), openFiles(t)
	t.Run("lifecycle", func(t *testing.T) {
		cfg := DefaultConfig()
		cfg.Iq.Listen, cfg.HTTPListen, cfg.ConfigHold = "127.0.0.1:0", "127.0.0.1:0", 50*time.Millisecond
		ctx, cancel := context.WithCancel(context.Background())
		n, err := Start(ctx, cfg, zaptest.NewLogger(t))
		if err != nil {
			t.Fatal(err)
		}
		alg := startController(t, n.IqAddr(), "127.0.0.1:0")
		for i := range 3 {
			c, ueConn, coreConn := connectedCall(t, alg)
			exchange(t, ueConn, coreConn, "leak check")
			switch i {
			case 0: // the UE ends the bearer, the ALG subtracts
				_ = ueConn.Close()
				alg.waitNotify(c.t1.id)
				alg.must(c.ctx, h248.Subtract(h248.All))
			case 1: // the ALG subtracts a running bearer
				alg.must(c.ctx, h248.Subtract(h248.All))
				_ = ueConn.Close()
			case 2: // left running for the shutdown
			}
		}
		// A bounded run of sessions, each set up, relayed, released by the UE and subtracted: the AGW ends
		// where it started (no context, no termination), which the goroutine and descriptor counts below check
		// for what it owns.
		for range 100 {
			c, ueConn, coreConn := connectedCall(t, alg)
			exchange(t, ueConn, coreConn, "one of many")
			_ = ueConn.Close()
			alg.waitNotify(c.t2.id)
			alg.must(c.ctx, h248.Subtract(h248.All))
			_ = coreConn.Close()
		}
		if got := n.Contexts(); got != 1 { // the call left for the shutdown
			t.Fatalf("%d contexts after the sessions, want 1", got)
		}
		// A termination whose held connection expires, and one that is never used.
		tr := alg.must(h248.Choose, h248.Command("Add", h248.Choose, stream(localT1(SetupPassive), "", h248.Prop(PropRealm, `"access"`))))
		if conn, err := dialTCP(addsOf(t, tr)[0].addr(t)); err == nil {
			defer conn.Close()
		}
		cancel()
		waitStopped(t, n)
		alg.close()
	})
	deadline := time.Now().Add(wait)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			k := runtime.Stack(buf, true)
			t.Fatalf("%d goroutines before, %d after:\n%s", before, runtime.NumGoroutine(), stacksOf(string(buf[:k])))
		}
		time.Sleep(20 * time.Millisecond)
	}
	if after := openFiles(t); after > fdsBefore {
		t.Fatalf("%d open files before, %d after: a socket was not closed", fdsBefore, after)
	}
}

// openFiles counts this process's open file descriptors.
func openFiles(t *testing.T) int {
	t.Helper()
	es, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("no /proc/self/fd: %v", err)
	}
	return len(es)
}

// stacksOf keeps the goroutine dumps that mention this module.
func stacksOf(dump string) string {
	var out []string
	for _, g := range strings.Split(dump, "\n\n") {
		if strings.Contains(g, "imscore") && !strings.Contains(g, "TestNoGoroutineLeak") {
			out = append(out, g)
		}
	}
	return strings.Join(out, "\n\n")
}
