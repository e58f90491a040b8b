package scscf

import (
	"runtime"
	"strings"
	"testing"
	"time"
)

// Every goroutine a Server starts (SIP, Diameter, notifier, sweeper, NOTIFY senders, HTTP) has returned
// once Run has.
func TestNoGoroutineLeak(t *testing.T) {
	before := runtime.NumGoroutine()
	t.Run("lifecycle", func(t *testing.T) {
		hss := startFakeHSS(t)
		sub := hss.addSubscriber(t, "001010000000171", "15550000171")
		s := startSCSCF(t, hss, nil)
		ue := newUE(t, s, sub)
		ue.registerFully(600)
		if res := ue.subscribe(600); res.StatusCode != 200 {
			t.Fatalf("SUBSCRIBE %d", res.StatusCode)
		}
		ue.notify()
		ue.register(0, `Digest username="`+sub.impi+`",realm="`+testDomain+`",nonce="",uri="sip:`+testDomain+
			`",response="",integrity-protected="yes"`)
		ue.notify()
	})
	deadline := time.Now().Add(waitLong)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			n := runtime.Stack(buf, true)
			t.Fatalf("%d goroutines before, %d after:\n%s", before, runtime.NumGoroutine(), stacksOf(string(buf[:n])))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stacksOf keeps the goroutine dumps that mention this module, to make a leak readable.
func stacksOf(dump string) string {
	var out []string
	for _, g := range strings.Split(dump, "\n\n") {
		if strings.Contains(g, "imscore") && !strings.Contains(g, "TestNoGoroutineLeak") {
			out = append(out, g)
		}
	}
	return strings.Join(out, "\n\n")
}
