package load

import (
	"math"
	"math/bits"
	"sync"
	"time"
)

// Histogram records latencies in log-linear buckets, as HdrHistogram does: values below
// 2·subBuckets nanoseconds have a bucket each, and every power of two above is cut into
// subBuckets equal buckets. A bucket is at most 1/subBuckets (0.78 %) of its lower bound wide and
// a quantile is reported as the middle of its bucket, so a reported quantile is within 0.4 % of
// the recorded value it stands for. Memory is fixed (numBuckets counters, about 58 KiB) whatever
// the number of samples; the maximum is kept exactly.
//
// The zero Histogram is ready to use and safe for concurrent use.
type Histogram struct {
	mu     sync.Mutex
	counts [numBuckets]uint64
	total  uint64
	max    time.Duration
}

const (
	subBucketBits = 7
	subBuckets    = 1 << subBucketBits // 128 buckets per power of two
	// numBuckets: 2·subBuckets exact buckets, then subBuckets per power of two up to 2^63.
	numBuckets = 2*subBuckets + (63-subBucketBits)*subBuckets
)

// bucketOf is the bucket index of v ≥ 0 nanoseconds.
func bucketOf(v uint64) int {
	if v < 2*subBuckets {
		return int(v)
	}
	shift := bits.Len64(v) - subBucketBits - 1 // v>>shift is in [subBuckets, 2·subBuckets)
	return 2*subBuckets + (shift-1)*subBuckets + int(v>>shift) - subBuckets
}

// bucketRange is the lowest value of bucket i and its width.
func bucketRange(i int) (low, width uint64) {
	if i < 2*subBuckets {
		return uint64(i), 1
	}
	j := i - 2*subBuckets
	shift := j/subBuckets + 1
	mantissa := uint64(j%subBuckets + subBuckets)
	return mantissa << shift, 1 << shift
}

// Record adds one latency; negative durations count as 0.
func (h *Histogram) Record(d time.Duration) {
	v := uint64(max(d, 0))
	i := bucketOf(v)
	h.mu.Lock()
	h.counts[i]++
	h.total++
	h.max = max(h.max, d)
	h.mu.Unlock()
}

// Count is the number of latencies recorded.
func (h *Histogram) Count() uint64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.total
}

// Max is the largest latency recorded, exactly.
func (h *Histogram) Max() time.Duration {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.max
}

// Quantile is the latency at or below which a fraction q (0 < q ≤ 1) of the samples lie (the
// nearest-rank definition), as the middle of its bucket and never above Max; 0 without samples.
func (h *Histogram) Quantile(q float64) time.Duration {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.total == 0 {
		return 0
	}
	q = min(max(q, 0), 1)
	rank := uint64(math.Ceil(q * float64(h.total)))
	rank = max(rank, 1)
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			low, width := bucketRange(i)
			mid := time.Duration(low + (width-1)/2)
			return min(mid, h.max)
		}
	}
	return h.max
}

// Merge adds every sample of o to h.
func (h *Histogram) Merge(o *Histogram) {
	o.mu.Lock()
	counts, total, mx := o.counts, o.total, o.max
	o.mu.Unlock()
	h.mu.Lock()
	defer h.mu.Unlock()
	for i, c := range counts {
		h.counts[i] += c
	}
	h.total += total
	h.max = max(h.max, mx)
}
