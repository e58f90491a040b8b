package load

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// Report is the outcome of a run, in the JSON form `imsue load --json` writes (field names are a
// contract with `make bench`: never rename one).
type Report struct {
	Scenario  string `json:"scenario"`
	Mix       string `json:"mix,omitempty"` // the weights, for scenario mix
	Transport string `json:"transport"`
	UEs       int    `json:"ues"`
	PCSCF     string `json:"pcscf"`
	SecAgree  bool   `json:"sec_agree"`
	IPsec     bool   `json:"ipsec"` // the UEs installed kernel SAs
	Version   string `json:"version"`
	Started   string `json:"started"` // RFC 3339
	// MaxFailureRatio is the failure limit the steps were judged by.
	MaxFailureRatio float64 `json:"max_failure_ratio"`
	// Setup is the registration of the pool before the first step (absent for register).
	Setup *Setup `json:"setup,omitempty"`
	Steps []Step `json:"steps"`
	// BestRate is the achieved rate of the highest step under the failure limit (0 if none).
	BestRate float64 `json:"best_rate"`
	// Interrupted: the run was stopped (Ctrl-C) before it ended.
	Interrupted bool `json:"interrupted,omitempty"`
}

// Setup is the registration of every UE before the measured steps.
type Setup struct {
	Registered      int            `json:"registered"`
	Failed          int            `json:"failed"`
	FailuresByCause map[string]int `json:"failures_by_cause"`
}

// Step is one rate's outcome.
type Step struct {
	TargetRate float64 `json:"target_rate"`
	// AchievedRate is successful operations per second of the step's window.
	AchievedRate float64 `json:"achieved_rate"`
	DurationS    float64 `json:"duration_s"`
	// Attempts are the operations due in the window: started ones and overload failures.
	Attempts     int     `json:"attempts"`
	Successes    int     `json:"successes"`
	Failures     int     `json:"failures"`
	FailureRatio float64 `json:"failure_ratio"`
	// FailuresByCause counts failures by SIP status ("403") or cause (errors.go); timeout,
	// transport, auth and overload are always present.
	FailuresByCause map[string]int `json:"failures_by_cause"`
	// LatencyMS is over the successful operations.
	LatencyMS Latency `json:"latency_ms"`
	// Ops counts attempts by operation (useful for mix).
	Ops         map[string]int `json:"ops"`
	Interrupted bool           `json:"interrupted,omitempty"`
}

// Latency percentiles in milliseconds (Histogram: within 0.4 %; Max exact).
type Latency struct {
	P50 float64 `json:"p50"`
	P95 float64 `json:"p95"`
	P99 float64 `json:"p99"`
	Max float64 `json:"max"`
}

func (e *Engine) newReport() *Report {
	c := e.cfg
	r := &Report{Scenario: string(c.Scenario), Transport: strings.ToLower(c.UE.Transport), UEs: c.UEs,
		PCSCF: c.UE.PCSCF.String(), SecAgree: c.UE.SecAgree, IPsec: c.UE.SecAgree && c.UE.SAs != nil,
		Version: c.Version, Started: time.Now().UTC().Format(time.RFC3339), MaxFailureRatio: c.MaxFailureRatio,
		Steps: []Step{}}
	if r.Transport == "" {
		r.Transport = "udp"
	}
	if c.Scenario == ScenarioMix {
		r.Mix = c.Mix.String()
	}
	return r
}

func (s *stepStats) result(rate float64, window time.Duration, interrupted bool) Step {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := Step{TargetRate: round(rate, 3), DurationS: round(window.Seconds(), 3), Attempts: s.attempts,
		Successes: s.successes, Failures: s.attempts - s.successes, FailuresByCause: map[string]int{},
		Ops: map[string]int{}, Interrupted: interrupted}
	for _, c := range baseCauses() {
		st.FailuresByCause[c] = 0
	}
	for c, n := range s.causes {
		st.FailuresByCause[c] += n
	}
	for sc, n := range s.ops {
		st.Ops[string(sc)] = n
	}
	if window > 0 {
		st.AchievedRate = round(float64(s.successes)/window.Seconds(), 3)
	}
	if s.attempts > 0 {
		st.FailureRatio = round(float64(st.Failures)/float64(s.attempts), 6)
	}
	ms := func(d time.Duration) float64 { return round(float64(d)/float64(time.Millisecond), 3) }
	st.LatencyMS = Latency{P50: ms(s.latency.Quantile(0.50)), P95: ms(s.latency.Quantile(0.95)),
		P99: ms(s.latency.Quantile(0.99)), Max: ms(s.latency.Max())}
	return st
}

func round(v float64, digits int) float64 {
	p := math.Pow(10, float64(digits))
	return math.Round(v*p) / p
}

// Passed tells whether the run met the failure limit: with one step, that step is under it;
// stepping up, some step was (BestRate > 0). An interrupted run without a good step fails.
func (r *Report) Passed() bool {
	if len(r.Steps) == 0 {
		return false
	}
	if len(r.Steps) == 1 {
		s := r.Steps[0]
		return s.Attempts > 0 && s.FailureRatio < r.MaxFailureRatio
	}
	return r.BestRate > 0
}

// WriteText writes the report for people: a header, one line per step, failures by cause.
func (r *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	sec := "no sec-agree"
	switch {
	case r.IPsec:
		sec = "sec-agree with kernel IPsec"
	case r.SecAgree:
		sec = "sec-agree without SAs"
	}
	scenario := r.Scenario
	if r.Mix != "" {
		scenario += " (" + r.Mix + ")"
	}
	fmt.Fprintf(&b, "imsue load %s: scenario %s, %d UEs, %s to P-CSCF %s, %s, started %s\n",
		r.Version, scenario, r.UEs, r.Transport, r.PCSCF, sec, r.Started)
	if r.Setup != nil {
		fmt.Fprintf(&b, "setup: %d UEs registered, %d failed%s\n", r.Setup.Registered, r.Setup.Failed, causes(r.Setup.FailuresByCause))
	}
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "step\ttarget/s\tachieved/s\tattempts\tok\tfailed\tratio\tp50 ms\tp95 ms\tp99 ms\tmax ms\t")
	for i, s := range r.Steps {
		mark := ""
		if s.Interrupted {
			mark = " (interrupted)"
		}
		fmt.Fprintf(tw, "%d\t%.2f\t%.2f\t%d\t%d\t%d\t%.4f%%\t%.2f\t%.2f\t%.2f\t%.2f\t%s\n", i+1, s.TargetRate, s.AchievedRate,
			s.Attempts, s.Successes, s.Failures, 100*s.FailureRatio, s.LatencyMS.P50, s.LatencyMS.P95, s.LatencyMS.P99,
			s.LatencyMS.Max, mark)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	overload := false
	for i, s := range r.Steps {
		if s.Failures > 0 {
			fmt.Fprintf(&b, "step %d failures:%s\n", i+1, causes(s.FailuresByCause))
		}
		overload = overload || s.FailuresByCause[CauseOverload] > 0
	}
	if overload {
		b.WriteString("overload: an operation was due while every UE was busy with one (more --ues, or slower answers)\n")
	}
	verdict := "PASS"
	if !r.Passed() {
		verdict = "FAIL"
	}
	fmt.Fprintf(&b, "best rate %.2f/s under %.3g%% failures: %s\n", r.BestRate, 100*r.MaxFailureRatio, verdict)
	_, err := io.WriteString(w, b.String())
	return err
}

// causes lists the non-zero causes, largest first: " 403=2 timeout=1".
func causes(m map[string]int) string {
	type kv struct {
		k string
		v int
	}
	var list []kv
	for k, v := range m {
		if v > 0 {
			list = append(list, kv{k, v})
		}
	}
	slices.SortFunc(list, func(a, b kv) int {
		if a.v != b.v {
			return b.v - a.v
		}
		return strings.Compare(a.k, b.k)
	})
	var b strings.Builder
	for _, e := range list {
		fmt.Fprintf(&b, " %s=%d", e.k, e.v)
	}
	return b.String()
}
