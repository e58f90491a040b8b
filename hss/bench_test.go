package hss_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/imscore/imscore/diameter/cx"
	"github.com/imscore/imscore/hss"
	"github.com/imscore/imscore/hss/hsstest"
	"github.com/imscore/imscore/storage"
)

// BenchmarkMAR measures MAR → MAA over TCP through diameter/peer, one AKAv1 vector per MAR for random
// subscribers among 10,000, from 16 concurrent requesters on one S-CSCF connection; it reports MAR/s and
// the p50/p99 latency. cmd/hssbench does the same with a million subscribers.
func BenchmarkMAR(b *testing.B) {
	for _, be := range backends() {
		b.Run(be.name, func(b *testing.B) { benchMAR(b, be.open(b), 10000, nil) })
	}
}

// BenchmarkMARHot is BenchmarkMAR on 100 subscribers, each authenticated again and again as re-registrations
// do, with SQNs reserved one MAR at a time (block=1, one store write per MAR as before SQN blocks) and in
// blocks of the default size (hss/sqnblock.go).
func BenchmarkMARHot(b *testing.B) {
	for _, be := range backends() {
		for _, block := range []uint64{1, hss.DefaultSQNBlock} {
			b.Run(fmt.Sprintf("%s/block=%d", be.name, block), func(b *testing.B) {
				benchMAR(b, be.open(b), 100, func(c *hss.Config) { c.Cx.SQN.Block = block })
			})
		}
	}
}

// benchMAR runs the MAR benchmark on db with subscribers provisioned.
func benchMAR(b *testing.B, db storage.DB, subscribers int, mutate func(*hss.Config)) {
	e := newEnv(b, db, mutate)
	must(b, e.db.BulkCreate(context.Background(), hsstest.Subscribers(0, subscribers)))
	scscf := e.connect(scscfHost)
	var mu sync.Mutex
	var latencies []time.Duration
	b.SetParallelism(8) // × GOMAXPROCS requesters
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		rng := rand.New(rand.NewPCG(rand.Uint64(), 1))
		var mine []time.Duration
		for pb.Next() {
			i := rng.IntN(subscribers)
			impi := hsstest.IMPI(fmt.Sprintf("00101%010d", i))
			impu := fmt.Sprintf("sip:1555%08d@%s", i, realm)
			start := time.Now()
			a := scscf.mar(impi, impu, cx.SchemeAKAv1MD5, 1, nil)
			mine = append(mine, time.Since(start))
			if code, _ := a.Result(); code != 2001 {
				b.Errorf("MAR %s: result %d", impi, code)
				return
			}
		}
		mu.Lock()
		latencies = append(latencies, mine...)
		mu.Unlock()
	})
	b.StopTimer()
	slices.Sort(latencies)
	if n := len(latencies); n > 0 {
		b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "MAR/s")
		b.ReportMetric(float64(latencies[n/2].Microseconds()), "p50-µs")
		b.ReportMetric(float64(latencies[n*99/100].Microseconds()), "p99-µs")
	}
}
