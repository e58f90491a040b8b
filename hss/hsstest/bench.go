package hsstest

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/imscore/imscore/hss"
)

// BulkBatch is the number of subscribers one BenchmarkBulkCreate iteration creates.
const BulkBatch = 10000

// BenchmarkBulkCreate measures BulkCreate: each iteration creates BulkBatch new subscribers (three
// identities each) in one call on a store that keeps growing, and reports subscribers/s.
func BenchmarkBulkCreate(b *testing.B, newStore func(b *testing.B) hss.Store) {
	s := newStore(b)
	ctx := context.Background()
	must(b, s.CreateServiceProfile(ctx, Profile(DefaultProfileID)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		subs := Subscribers(i*BulkBatch, BulkBatch)
		b.StartTimer()
		if err := s.BulkCreate(ctx, subs); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*BulkBatch)/b.Elapsed().Seconds(), "subscribers/s")
}

// BenchmarkGetIMPU measures GetIMPU of an existing identity among 10000 subscribers, serially and from
// parallel goroutines.
func BenchmarkGetIMPU(b *testing.B, s hss.Store) {
	ctx := context.Background()
	must(b, s.CreateServiceProfile(ctx, Profile(DefaultProfileID)))
	const n = 10000
	must(b, s.BulkCreate(ctx, Subscribers(0, n)))
	impu := func(i int) string { return fmt.Sprintf("tel:1555%08d", i%n) }
	b.Run("serial", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if _, err := s.GetIMPU(ctx, impu(i*7919)); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		var next atomic.Int64
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := s.GetIMPU(ctx, impu(int(next.Add(7919)))); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

// BenchmarkUpdateSQN measures UpdateSQN increments: on one private identity, and from parallel
// goroutines each on its own.
func BenchmarkUpdateSQN(b *testing.B, s hss.Store) {
	ctx := context.Background()
	must(b, s.CreateServiceProfile(ctx, Profile(DefaultProfileID)))
	const n = 64
	must(b, s.BulkCreate(ctx, Subscribers(0, n)))
	inc := func(cur uint64) (uint64, error) { return cur + 1, nil }
	b.Run("serial", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if err := s.UpdateSQN(ctx, IMPI("001010000000000"), inc); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		var next atomic.Int64
		b.RunParallel(func(pb *testing.PB) {
			impi := IMPI(fmt.Sprintf("00101%010d", next.Add(1)%n))
			for pb.Next() {
				if err := s.UpdateSQN(ctx, impi, inc); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}
