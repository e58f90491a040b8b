package load

import (
	"context"
	"errors"
	"fmt"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/imscore/imscore/sip/ue"
)

// TestPacerCounts: the schedule is counted, not timed: operation k is due at k/rate, the total
// is rate×duration, and being late (a slow tick) makes every missed operation due at once, so
// the offered load does not fall behind.
func TestPacerCounts(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name     string
		rate     float64
		duration time.Duration
		total    int
		due      map[time.Duration]int // offset from start → due
	}{
		{"10/s for 2s", 10, 2 * time.Second, 20, map[time.Duration]int{
			-time.Millisecond: 0, 0: 1, 99 * time.Millisecond: 1, 100 * time.Millisecond: 2,
			999 * time.Millisecond: 10, 1900 * time.Millisecond: 20, time.Hour: 20}},
		{"late tick catches up", 1000, time.Second, 1000, map[time.Duration]int{
			0: 1, 500 * time.Millisecond: 501, 2 * time.Second: 1000}},
		{"fractional 2.5/s for 3s", 2.5, 3 * time.Second, 8, map[time.Duration]int{
			0: 1, 400 * time.Millisecond: 2, 2800 * time.Millisecond: 8, 3 * time.Second: 8}},
		{"rate below one per window", 0.5, time.Second, 1, map[time.Duration]int{0: 1, time.Second: 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := NewPacer(t0, tc.rate, tc.duration)
			if p.Total() != tc.total {
				t.Errorf("total %d, want %d", p.Total(), tc.total)
			}
			for off, want := range tc.due {
				if got := p.Due(t0.Add(off)); got != want {
					t.Errorf("due at %v: %d, want %d", off, got, want)
				}
			}
			prev := 0
			for off := time.Duration(0); off <= tc.duration+time.Second; off += 7 * time.Millisecond {
				d := p.Due(t0.Add(off))
				if d < prev {
					t.Fatalf("due went back from %d to %d at %v", prev, d, off)
				}
				prev = d
			}
			if tk := p.tick(); tk < time.Millisecond || tk > 10*time.Millisecond {
				t.Errorf("tick %v out of [1ms, 10ms]", tk)
			}
		})
	}
}

// TestCause: errors from the UE simulator map to the report's causes.
func TestCause(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"success", nil, ""},
		{"403 response", fmt.Errorf("register: %w", &ue.StatusError{Code: 403, Reason: "Forbidden"}), "403"},
		{"480 on INVITE", fmt.Errorf("INVITE: %w", &ue.StatusError{Code: 480}), "480"},
		{"MAC failure", fmt.Errorf("%w: %w", ue.ErrAuth, errors.New("mac failure")), CauseAuth},
		{"no final response", fmt.Errorf("ue: MESSAGE: no final response: %w", context.DeadlineExceeded), CauseTimeout},
		{"stopped", fmt.Errorf("x: %w", context.Canceled), CauseCancelled},
		{"UE closed", fmt.Errorf("MESSAGE: %w", ue.ErrClosed), CauseCancelled},
		{"overload", ErrOverload, CauseOverload},
		{"not registered", ue.ErrNotRegistered, CauseNotRegistered},
		{"no callee", ErrNoCallee, CauseNoCallee},
		{"refused", fmt.Errorf("ue: tcp: %w", &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}), CauseTransport},
		{"reset", fmt.Errorf("send: %w", syscall.ECONNRESET), CauseTransport},
		{"anything else", errors.New("surprise"), CauseOther},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Cause(tc.err); got != tc.want {
				t.Errorf("Cause(%v) = %q, want %q", tc.err, got, tc.want)
			}
		})
	}
}

// TestParseMix: weights by name; unknown names, mix itself and an all-zero mix are refused; the
// default mix round-trips and pick follows the weights.
func TestParseMix(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     Mix
	}{
		{"two", "message=3,call=1", Mix{ScenarioMessage: 3, ScenarioCall: 1}},
		{"spaces and repeats", " message = 1 , message=2", Mix{ScenarioMessage: 3}},
		{"default", DefaultMix().String(), DefaultMix()},
		{"unknown", "dance=1", nil},
		{"mix in mix", "mix=1", nil},
		{"negative", "call=-1", nil},
		{"no weight", "call", nil},
		{"all zero", "call=0", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseMix(tc.in)
			if (err == nil) != (tc.want != nil) {
				t.Fatalf("ParseMix(%q): %v", tc.in, err)
			}
			if err != nil && !errors.Is(err, ErrConfig) {
				t.Errorf("error %v is not ErrConfig", err)
			}
			if tc.want != nil && got.String() != tc.want.String() {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
	m := Mix{ScenarioMessage: 3, ScenarioCall: 1}
	counts := map[Scenario]int{}
	for r := range m.total() {
		counts[m.pick(r)]++
	}
	if counts[ScenarioMessage] != 3 || counts[ScenarioCall] != 1 {
		t.Errorf("pick over the total: %v", counts)
	}
}

// TestIMSI: first+i as 15 digits; bad first IMSIs and overflow are refused.
func TestIMSI(t *testing.T) {
	for _, tc := range []struct {
		name, first string
		i           int
		want        string
	}{
		{"first", "001010000100000", 0, "001010000100000"},
		{"carry", "001010000199999", 1, "001010000200000"},
		{"short", "00101", 0, ""},
		{"not digits", "00101000010000x", 0, ""},
		{"overflow", "999999999999999", 1, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := IMSI(tc.first, tc.i)
			if got != tc.want || (err == nil) != (tc.want != "") {
				t.Errorf("IMSI(%q, %d) = %q, %v; want %q", tc.first, tc.i, got, err, tc.want)
			}
		})
	}
}
