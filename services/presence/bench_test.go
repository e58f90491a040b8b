package presence_test

import (
	"fmt"
	"strings"
	"testing"

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
			for i := 0; i < watchers; i++ {
				w := fmt.Sprintf("sip:w%d@ims.example.org", i)
				send(b, pe, request(s, sip.SUBSCRIBE, alice, w, "Event: presence", fmt.Sprintf("Contact: <sip:%s>", pe.addr)))
				<-pe.got
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
					<-pe.got
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
