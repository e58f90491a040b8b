package load

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// TestBucketsCoverEveryValue: bucket ranges are contiguous from 0 and every value falls in the
// bucket whose range holds it, with a width of at most 1/128 of the bucket's lower bound.
func TestBucketsCoverEveryValue(t *testing.T) {
	var next uint64
	for i := range numBuckets {
		low, width := bucketRange(i)
		if low != next {
			t.Fatalf("bucket %d starts at %d, want %d", i, low, next)
		}
		if i >= 2*subBuckets && float64(width)/float64(low) > 1.0/subBuckets {
			t.Fatalf("bucket %d: width %d over 1/%d of %d", i, width, subBuckets, low)
		}
		for _, v := range []uint64{low, low + width/2, low + width - 1} {
			if got := bucketOf(v); got != i {
				t.Fatalf("value %d in bucket %d, want %d", v, got, i)
			}
		}
		next = low + width
		if next == 0 || next > math.MaxInt64 {
			break // the last bucket reaches the largest duration
		}
	}
	if got := bucketOf(math.MaxInt64); got >= numBuckets {
		t.Fatalf("max duration in bucket %d of %d", got, numBuckets)
	}
}

// TestQuantilesOfKnownDistributions compares the histogram's quantiles with exact ones computed
// from the sorted samples: within the histogram's stated error (0.4 %, plus one nanosecond of
// bucket rounding for small values).
func TestQuantilesOfKnownDistributions(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	for _, tc := range []struct {
		name string
		draw func() time.Duration
	}{
		{"constant 3ms", func() time.Duration { return 3 * time.Millisecond }},
		{"uniform 1..100ms", func() time.Duration { return time.Millisecond + time.Duration(rng.Int64N(int64(99*time.Millisecond))) }},
		{"exponential mean 5ms", func() time.Duration { return time.Duration(rng.ExpFloat64() * float64(5*time.Millisecond)) }},
		{"bimodal 1ms and 2s", func() time.Duration {
			if rng.IntN(100) < 97 {
				return time.Millisecond
			}
			return 2 * time.Second
		}},
		{"small values in ns", func() time.Duration { return time.Duration(rng.IntN(300)) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var h Histogram
			samples := make([]time.Duration, 20000)
			for i := range samples {
				samples[i] = tc.draw()
				h.Record(samples[i])
			}
			slices.Sort(samples)
			if h.Count() != uint64(len(samples)) || h.Max() != samples[len(samples)-1] {
				t.Fatalf("count %d max %v, want %d and %v", h.Count(), h.Max(), len(samples), samples[len(samples)-1])
			}
			for _, q := range []float64{0.5, 0.95, 0.99, 1} {
				rank := int(math.Ceil(q*float64(len(samples)))) - 1
				want := samples[rank]
				got := h.Quantile(q)
				if diff := math.Abs(float64(got - want)); diff > float64(want)/256+1 {
					t.Errorf("q%.2f = %v, exact %v (off by %.3f %%)", q, got, want, 100*diff/float64(want))
				}
			}
			if !(h.Quantile(0.5) <= h.Quantile(0.95) && h.Quantile(0.95) <= h.Quantile(0.99) && h.Quantile(0.99) <= h.Max()) {
				t.Errorf("quantiles not ordered")
			}
		})
	}
}

// TestHistogramEmptyAndMerge: no samples gives zeros; Merge adds counts and keeps the larger max.
func TestHistogramEmptyAndMerge(t *testing.T) {
	var a, b Histogram
	if a.Quantile(0.5) != 0 || a.Max() != 0 || a.Count() != 0 {
		t.Fatalf("empty histogram: %v %v %d", a.Quantile(0.5), a.Max(), a.Count())
	}
	for range 10 {
		a.Record(time.Millisecond)
	}
	for range 30 {
		b.Record(10 * time.Millisecond)
	}
	b.Record(-time.Second) // counted as 0
	a.Merge(&b)
	if a.Count() != 41 || a.Max() != 10*time.Millisecond {
		t.Fatalf("merged: count %d max %v", a.Count(), a.Max())
	}
	if got := a.Quantile(0.5); got < 9900*time.Microsecond || got > 10*time.Millisecond {
		t.Errorf("merged median %v, want about 10ms", got)
	}
	if got := a.Quantile(0.01); got != 0 {
		t.Errorf("merged q0.01 %v, want 0 (the negative sample)", got)
	}
}

func BenchmarkHistogramRecord(b *testing.B) {
	var h Histogram
	for i := 0; b.Loop(); i++ {
		h.Record(time.Duration(i%5000) * time.Microsecond)
	}
}
