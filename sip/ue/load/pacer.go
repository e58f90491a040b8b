package load

import (
	"math"
	"time"
)

// Pacer is the open-loop schedule of one step: operation k (from 0) is due at start + k/rate,
// whether or not earlier operations have been answered. Slow answers therefore never slow the
// offered load down; an operation that cannot be started when due (no idle UE) is counted as
// failed with cause "overload" rather than postponed.
//
// Pacer is a pure function of time, so that it can be tested by counting; Run drives it with a
// ticker.
type Pacer struct {
	start    time.Time
	rate     float64       // operations per second, > 0
	duration time.Duration // length of the step
}

// NewPacer schedules rate operations per second for duration from start.
func NewPacer(start time.Time, rate float64, duration time.Duration) Pacer {
	return Pacer{start: start, rate: rate, duration: duration}
}

// Total is the number of operations the step offers: one at start and then one every 1/rate,
// strictly before start+duration.
func (p Pacer) Total() int {
	n := math.Ceil(p.duration.Seconds()*p.rate - 1e-9)
	return int(max(n, 0))
}

// Due is the number of operations due by now (0 before start, Total at and after the end).
func (p Pacer) Due(now time.Time) int {
	if now.Before(p.start) {
		return 0
	}
	n := int(math.Floor(now.Sub(p.start).Seconds()*p.rate+1e-9)) + 1
	return min(n, p.Total())
}

// End is when the step's window closes.
func (p Pacer) End() time.Time { return p.start.Add(p.duration) }

// tick is how often Run looks at the schedule: every operation interval, but at least every
// 10 ms (so that a high rate starts operations in small bursts, not in one large one) and at most
// every millisecond.
func (p Pacer) tick() time.Duration {
	iv := time.Duration(float64(time.Second) / p.rate)
	return min(max(iv, time.Millisecond), 10*time.Millisecond)
}
