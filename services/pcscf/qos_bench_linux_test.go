package pcscf

import (
	"context"
	"syscall"
	"testing"
	"time"

	"github.com/imscore/imscore/diameter/rx"
	"github.com/imscore/imscore/internal/pcrftest"
	"github.com/imscore/imscore/services/pcscf/qos"
	"github.com/imscore/imscore/sip/ue"
)

// BenchmarkCallPolicy: what the policy step costs a call at the P-CSCF. Per iteration alice calls bob through
// the P-CSCF and the fake core (INVITE with SDP, 200 with SDP, ACK, BYE, both legs through the P-CSCF), once
// with qos off and once with qos.mode rx against the in-process test PCRF (an AAR per leg on the offer, one on
// the answer, an STR per leg on the BYE). The difference of the two ns/op (and allocs/op) is the policy step's
// CPU per call, PCRF included (everything runs in this process): compare cpu-ns/op.
func BenchmarkCallPolicy(b *testing.B) {
	for _, mode := range []string{"off", "rx"} {
		b.Run(mode, func(b *testing.B) {
			alice, bob := newSubscriber(b, 1), newSubscriber(b, 2)
			core := startFakeCore(b, "127.0.0.1:0", alice, bob)
			var pcrf *pcrftest.PCRF
			n := startPCSCF(b, "127.0.0.1", core.addr, newFakeSAs(), func(c *Config) {
				if mode != "rx" {
					return
				}
				pcrf = pcrftest.Start(b, pcrftest.Options{AFHost: "pcscf.bench.test", AFRealm: "bench.test"})
				c.QoS = QoSConfig{Config: qos.Config{Mode: qos.ModeRx, PCRFRealm: pcrftest.Realm}, PCRF: pcrf.Addr,
					OriginHost: "pcscf.bench.test", OriginRealm: "bench.test"}
			})
			ua := newUE(b, alice, n.CoreAddr(), "udp", true)
			ub := newUE(b, bob, n.CoreAddr(), "udp", true)
			ctx := ctxT(b)
			for _, u := range []*ue.UE{ua, ub} {
				if _, err := u.Register(ctx); err != nil {
					b.Fatalf("register: %v", err)
				}
			}
			if pcrf != nil {
				// The PCRF is connected once a signalling AAR arrived: the calls measure the policy step, not the
				// on_failure path of a PCRF not yet reached.
				pcrf.Wait(b, "signalling AAR", func(m rx.Message) bool { _, ok := m.(*rx.AAR); return ok })
			}
			b.ReportAllocs()
			cpu0 := processCPU(b)
			for b.Loop() {
				cctx, cancel := context.WithTimeout(context.Background(), waitLong)
				call, err := ua.Invite(cctx, bob.impu)
				if err != nil {
					b.Fatalf("INVITE: %v", err)
				}
				if err := call.Hangup(cctx); err != nil {
					b.Fatalf("BYE: %v", err)
				}
				cancel()
			}
			// ns/op is wall time (the UEs wait on the network); cpu-ns/op is the process's CPU (user+system) per call.
			b.ReportMetric(float64(processCPU(b)-cpu0)/float64(b.N), "cpu-ns/op")
		})
	}
}

// processCPU is the CPU time (user + system) this process has used.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
