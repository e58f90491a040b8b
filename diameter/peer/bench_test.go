package peer

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkRequest measures request/answer round trips between two nodes over loopback TCP:
// encode, route, write, the peer's decode, handler, answer, correlation, decode. It reports
// requests per second with 1 and 64 concurrent callers sharing one connection.
func BenchmarkRequest(b *testing.B) {
	benchmarkRoundTrips(b, func(client *Node) func(context.Context) error {
		req := newEcho(client.cfg.Dictionary, "scscf.test.example;bench;1", "", "payload of a typical size for a Cx request")
		return func(ctx context.Context) error { _, err := client.Request(ctx, req); return err }
	})
}

// BenchmarkRequestBinary is BenchmarkRequest with the request and answer in wire form
// (RequestBinary): no go-diameter message on the client side.
func BenchmarkRequestBinary(b *testing.B) {
	benchmarkRoundTrips(b, func(client *Node) func(context.Context) error {
		req, err := encode(newEcho(client.cfg.Dictionary, "scscf.test.example;bench;1", "", "payload of a typical size for a Cx request"))
		if err != nil {
			b.Fatal(err)
		}
		return func(ctx context.Context) error { _, err := client.RequestBinary(ctx, req); return err }
	})
}

func benchmarkRoundTrips(b *testing.B, op func(client *Node) func(context.Context) error) {
	for _, callers := range []int{1, 64} {
		b.Run(fmt.Sprintf("callers=%d", callers), func(b *testing.B) {
			server := newNode(b, testConfig(b, "hss.test.example"), echoHandler())
			client := newNode(b, testConfig(b, "scscf.test.example"), echoHandler())
			connectPair(b, client, server)
			do := op(client)
			ctx := context.Background()
			var next atomic.Int64
			var wg sync.WaitGroup
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			for range callers {
				wg.Go(func() {
					for next.Add(1) <= int64(b.N) {
						if err := do(ctx); err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
			elapsed := time.Since(start)
			b.StopTimer()
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "req/s")
		})
	}
}

// BenchmarkDecodeRequest measures the wire boundary alone: checks and decoding of one request.
func BenchmarkDecodeRequest(b *testing.B) {
	d := testDict(b)
	frame := echoRaw(1, 2, "scscf.test.example;bench;1", avpRaw(avpEchoPay, 0xc0, echoVendor, []byte("payload of a typical size")))
	supports := func(app uint32) bool { return app == echoApp }
	b.ReportAllocs()
	b.SetBytes(int64(len(frame)))
	for b.Loop() {
		if _, derr := decodeRequest(frame, d, supports); derr != nil {
			b.Fatal(derr)
		}
	}
}
