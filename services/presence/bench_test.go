package presence_test

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"go.uber.org/zap"

	"github.com/imscore/imscore/services/presence"
	"github.com/imscore/imscore/services/presence/store"
)

// BenchmarkPublishNotify: one PUBLISH (modify) of a presentity with N active watchers, until every
// watcher has its NOTIFY, over loopback UDP with the memory store. Reports PUBLISH/s and NOTIFY/s.
func BenchmarkPublishNotify(b *testing.B) {
	for _, watchers := range []int{1, 10, 50} {
		b.Run(fmt.Sprintf("watchers=%d", watchers), func(b *testing.B) {
			s := startServerB(b, store.NewMemory())
			pe := newPeerLog(b, "127.0.0.1", zap.NewNop())
			pe.mu.Lock()
			pe.discard = true
			pe.mu.Unlock()
			for i := 0; i < watchers; i++ {
				w := fmt.Sprintf("sip:w%d@ims.example.org", i)
				send(b, pe, request(s, sip.SUBSCRIBE, alice, w, "Event: presence", fmt.Sprintf("Contact: <sip:%s>", pe.addr)))
				gotWithin(b, pe, -1, i)
			}
			body := pidfDoc(alice, "open", "bench")
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				req := request(s, sip.PUBLISH, alice, alice, "Event: presence", "Content-Type: application/pidf+xml")
				req.SetBody([]byte(strings.Replace(string(body), "bench", fmt.Sprint(i), 1)))
				if res := send(b, pe, req); res.StatusCode != 200 {
					b.Fatalf("PUBLISH: %d", res.StatusCode)
				}
				for j := 0; j < watchers; j++ {
					gotWithin(b, pe, i, j)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "publish/s")
			b.ReportMetric(float64(b.N*watchers)/b.Elapsed().Seconds(), "notify/s")
		})
	}
}

func startServerB(b *testing.B, st store.Store) *presence.Server {
	return startServerLog(b, st, zap.NewNop(), func(c *presence.Config) { c.DefaultSubHandling = presence.HandlingAllow })
}

// BenchmarkMemoryPerPresentity: the heap one presentity's state costs with the memory store (--db
// memory): one publication (a one-tuple PIDF of ~250 bytes) and one active watcher's subscription, as
// the server stores them. Reports heap-B/presentity (HeapAlloc after a GC, before and after b.N).
func BenchmarkMemoryPerPresentity(b *testing.B) {
	st := store.NewMemory()
	ctx := context.Background()
	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		who := fmt.Sprintf("sip:p%d@ims.example.org", i)
		now := time.Now()
		if err := st.SavePublication(ctx, &store.Publication{Presentity: who, ETag: fmt.Sprintf("%016x", i), Expires: now.Add(time.Hour),
			Updated: now, Body: pidfDoc(who, "open", "on the bench")}, ""); err != nil {
			b.Fatal(err)
		}
		w := fmt.Sprintf("sip:w%d@ims.example.org", i)
		if err := st.SaveSubscription(ctx, &store.Subscription{ID: fmt.Sprintf("call-%d;f%d;%016x", i, i, i), Presentity: who, Event: "presence",
			Watcher: w, CallID: fmt.Sprintf("call-%d", i), LocalTag: fmt.Sprintf("%016x", i), RemoteTag: fmt.Sprintf("f%d", i),
			LocalURI: who, RemoteURI: w, RemoteTarget: "sip:w@192.0.2.1:5060", RouteSet: []string{"<sip:scscf.ims.example.org:6060;lr>"},
			CSeq: 1, Expires: now.Add(time.Hour), State: "active", Handling: "allow"}); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	reportHeapPer(b, &before, "heap-B/presentity")
	runtime.KeepAlive(st)
}

// BenchmarkMemoryPerPresentitySIP: the same through the server over loopback UDP (PUBLISH, SUBSCRIBE,
// NOTIFY): the heap also holds the SIP transactions still in their Timer J/K wait (RFC 3261 §17.2.2:
// 32 s over UDP), the cost of a burst of new presentities rather than of their state.
func BenchmarkMemoryPerPresentitySIP(b *testing.B) {
	st := store.NewMemory()
	s := startServerB(b, st)
	pe := newPeerLog(b, "127.0.0.1", zap.NewNop())
	pe.mu.Lock()
	pe.discard = true // the watcher's NOTIFYs are not the server's memory
	pe.mu.Unlock()
	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		who := fmt.Sprintf("sip:p%d@ims.example.org", i)
		req := request(s, sip.PUBLISH, who, who, "Event: presence", "Content-Type: application/pidf+xml")
		req.SetBody(pidfDoc(who, "open", "on the bench"))
		if res := send(b, pe, req); res.StatusCode != 200 {
			b.Fatalf("PUBLISH: %d", res.StatusCode)
		}
		send(b, pe, request(s, sip.SUBSCRIBE, who, fmt.Sprintf("sip:w%d@ims.example.org", i), "Event: presence", fmt.Sprintf("Contact: <sip:%s>", pe.addr)))
		gotWithin(b, pe, i, 0)
	}
	b.StopTimer()
	reportHeapPer(b, &before, "heap-B/presentity")
	runtime.KeepAlive(st)
}

// gotWithin waits for the next NOTIFY; one lost (a NOTIFY transaction that failed on a loaded machine)
// fails the benchmark instead of hanging it.
func gotWithin(b *testing.B, pe *peer, i, j int) {
	b.Helper()
	select {
	case <-pe.got:
	case <-time.After(time.Minute):
		b.Fatalf("iteration %d: NOTIFY %d never came", i, j)
	}
}

// reportHeapPer reports the heap grown since before (both after a GC) per iteration as metric.
func reportHeapPer(b *testing.B, before *runtime.MemStats, metric string) {
	b.Helper()
	var after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&after)
	b.ReportMetric(float64(int64(after.HeapAlloc)-int64(before.HeapAlloc))/float64(b.N), metric)
}
