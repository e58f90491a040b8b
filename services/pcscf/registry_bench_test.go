package pcscf

import (
	"context"
	"fmt"
	"net/netip"
	"runtime"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/imscore/imscore/sip/ipsec"
)

// benchNode is a P-CSCF with n sec-agree registrations in force for an hour and no listener: what the REGISTER
// path and the expiry loop do to the registry and the gauges, without the network.
func benchNode(b *testing.B, n int) *Node {
	b.Helper()
	cfg := DefaultConfig()
	node := &Node{regs: newRegistry(), metrics: newMetrics(), cfg: cfg, alloc: newAllocator(cfg), log: zap.NewNop()}
	node.base, node.cancel = context.WithCancel(context.Background())
	b.Cleanup(node.cancel)
	exp := time.Now().Add(time.Hour)
	for i := range n {
		node.regs.update(keyOf(benchIMPU(i), "c"), benchIMPU(i), func(r *Registration) bool {
			benchFill(r, i, exp)
			return true
		})
	}
	return node
}

func benchIMPU(i int) string { return fmt.Sprintf("sip:user%d@ims.example", i) }

// benchFill makes r the registration of UE i: its own address (10.x.y.z), contact, one confirmed SA set.
func benchFill(r *Registration, i int, exp time.Time) {
	ue := netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
	r.IMPI = fmt.Sprintf("user%d@ims.example", i)
	r.ContactHost, r.ContactPort, r.Transport = ue.String(), 5060, "UDP"
	r.Source = netip.AddrPortFrom(ue, 5060)
	r.Expires = exp
	r.Associated = append(r.Associated[:0], r.IMPU, fmt.Sprintf("tel:+1555%07d", i))
	r.SAs = []SASet{{Pair: ipsec.Pair{UE: ipsec.Endpoint{Addr: ue, PortC: 50000, PortS: 50001, SPIC: 1, SPIS: 2},
		PCSCF: ipsec.Endpoint{PortC: 6100, PortS: 6101, SPIC: uint32(2*i + 1000), SPIS: uint32(2*i + 1001)}},
		Expires: exp.Add(30 * time.Second), Confirmed: true}}
}

// BenchmarkRegisterBookkeeping: the registry work of one re-REGISTER's 200 (onRegistered: update the
// registration, then persist, which sets the gauges) with 1,000, 10,000 and 100,000 UEs registered, each UE in
// turn. The cost per operation must not grow with the number registered (issue 12: no O(N) work per request);
// what remains between 1,000 and 100,000 is the memory hierarchy (the indexes of 100,000 UEs are far larger
// than the caches). The hot=1000 runs re-register the same 1,000 UEs among all the others: equal costs there
// show the work itself does not depend on how many are registered.
func BenchmarkRegisterBookkeeping(b *testing.B) {
	for _, c := range []struct{ n, hot int }{{1000, 1000}, {10000, 10000}, {100000, 100000}, {10000, 1000}, {100000, 1000}} {
		name := fmt.Sprintf("regs=%d", c.n)
		if c.hot != c.n {
			name += fmt.Sprintf("/hot=%d", c.hot)
		}
		b.Run(name, func(b *testing.B) {
			node := benchNode(b, c.n)
			exp := time.Now().Add(2 * time.Hour)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				k := i % c.hot
				node.regs.update(keyOf(benchIMPU(k), "c"), benchIMPU(k), func(r *Registration) bool {
					benchFill(r, k, exp)
					return true
				})
				node.persist()
			}
		})
	}
}

// BenchmarkExpirySweep: one tick of the expiry loop with 1,000, 10,000 and 100,000 UEs registered and none due, the
// common case: it must not touch the registrations that are not due.
func BenchmarkExpirySweep(b *testing.B) {
	for _, n := range []int{1000, 10000, 100000} {
		b.Run(fmt.Sprintf("regs=%d", n), func(b *testing.B) {
			node := benchNode(b, n)
			now := time.Now()
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				node.expire(now)
			}
		})
	}
}

// BenchmarkHeapPerBinding: the live heap the registry holds per binding (sec-agree, one SA set, two associated
// identities, indexes, expiry heap, journal bookkeeping), with 10,000 and 100,000 bindings; reported as
// heap-B/binding (issue 12 target: ≤ 2 KiB). Two devices per IMPU, as the per-contact model allows.
func BenchmarkHeapPerBinding(b *testing.B) {
	for _, n := range []int{10000, 100000} {
		b.Run(fmt.Sprintf("bindings=%d", n), func(b *testing.B) {
			var perBinding float64
			for range b.N {
				before := liveHeap()
				r := newRegistry()
				exp := time.Now().Add(time.Hour)
				for i := range n {
					impu := benchIMPU(i / 2)
					r.update(keyOf(impu, fmt.Sprintf("<urn:uuid:%036d>;reg-id=1", i)), impu, func(reg *Registration) bool {
						benchFill(reg, i, exp)
						return true
					})
				}
				r.takeChanges() // what the journal leaves once it has written
				perBinding = float64(liveHeap()-before) / float64(n)
				runtime.KeepAlive(r)
			}
			b.ReportMetric(perBinding, "heap-B/binding")
		})
	}
}

func liveHeap() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}
