package load_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/imscore/imscore/internal/e2e"
	"github.com/imscore/imscore/sip/ue/load"
)

func testLogger(t *testing.T) *zap.Logger { return zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel)) }

// run builds the engine, runs it and closes it (de-registering), failing on engine errors.
func run(t *testing.T, cfg load.Config) *load.Report {
	t.Helper()
	eng, err := load.New(cfg, testLogger(t))
	if err != nil {
		t.Fatalf("load.New: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute) // a hang guard
	defer cancel()
	rep, runErr := eng.Run(ctx)
	if n := eng.Close(); n != 0 {
		t.Errorf("%d UEs not de-registered at Close", n)
	}
	if runErr != nil {
		t.Logf("Run: %v", runErr)
	}
	if rep == nil {
		t.Fatal("no report")
	}
	// The progress imsue load shows ends where the report does.
	if n := len(rep.Steps); n > 0 {
		last, p := rep.Steps[n-1], eng.Progress()
		if p.Phase != load.PhaseStep || p.Step != n || p.Done != last.Attempts || p.Failures != last.Failures || p.Total == 0 {
			t.Errorf("progress %+v after %d steps, the last with %d attempts and %d failures", p, n, last.Attempts, last.Failures)
		}
	}
	var text strings.Builder
	if err := rep.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	t.Logf("report:\n%s", text.String())
	return rep
}

// TestRealCore runs the engine through one real core (starting one takes seconds).
func TestRealCore(t *testing.T) {
	c := startCore(t)
	t.Run("scenarios", func(t *testing.T) { testScenarios(t, c) })
	t.Run("over TCP", func(t *testing.T) { testTCP(t, c) })
	t.Run("wrong core", func(t *testing.T) { testWrongCore(t, c) })
	t.Run("step-up", func(t *testing.T) { testStepUp(t, c) })
	t.Run("interrupted", func(t *testing.T) { testInterrupted(t, c) })
	t.Run("no goroutine left", testNoLeak)
}

// testScenarios: every scenario, 20 UEs at 10/s for 2 s through the real P-CSCF,
// I-CSCF, S-CSCF and HSS: every operation succeeds, latencies are ordered and positive, and the
// JSON has the fields of the contract.
func testScenarios(t *testing.T, c *core) {
	const n = 20
	firsts := map[load.Scenario]string{
		load.ScenarioRegister: "001010000200000", load.ScenarioReregister: "001010000200100",
		load.ScenarioDeregister: "001010000200200", load.ScenarioMessage: "001010000200300",
		load.ScenarioCall: "001010000200400", load.ScenarioMix: "001010000200500", load.ScenarioPresence: "001010000200600",
	}
	for _, sc := range load.Scenarios() {
		c.provision(t, firsts[sc], n)
	}
	for _, tc := range []struct {
		name string
		sc   load.Scenario
	}{
		{"register", load.ScenarioRegister},
		{"reregister", load.ScenarioReregister},
		{"deregister", load.ScenarioDeregister},
		{"message", load.ScenarioMessage},
		{"call", load.ScenarioCall},
		{"mix", load.ScenarioMix},
		{"presence", load.ScenarioPresence}, // last: it changes the default profile
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.sc == load.ScenarioPresence {
				as := e2e.StartPresence(t, bins, e2e.PresenceOptions{})
				c.hss.UsePresenceIFC(t, bins, "sip:"+as.SIP)
				t.Cleanup(func() {
					// The later tests' REGISTERs must not wait for this AS once it is gone.
					f := filepath.Join(t.TempDir(), "default.json")
					if err := os.WriteFile(f, []byte(`{"id": "default", "ifcs": []}`), 0o600); err == nil {
						e2e.Imsctl(t, bins, c.hss, "profile", "update", "--file", f)
					}
				})
			}
			rep := run(t, c.config(t, tc.sc, firsts[tc.sc], n, 10, 2*time.Second))
			if len(rep.Steps) != 1 {
				t.Fatalf("%d steps, want 1", len(rep.Steps))
			}
			st := rep.Steps[0]
			if st.Attempts != 20 || st.Successes != st.Attempts || st.Failures != 0 {
				t.Errorf("attempts %d successes %d failures %d %v, want 20 of 20", st.Attempts, st.Successes, st.Failures, st.FailuresByCause)
			}
			if tc.sc != load.ScenarioRegister && (rep.Setup == nil || rep.Setup.Registered != n) {
				t.Errorf("setup %+v, want %d registered", rep.Setup, n)
			}
			l := st.LatencyMS
			if !(l.P50 > 0 && l.P50 <= l.P95 && l.P95 <= l.P99 && l.P99 <= l.Max) {
				t.Errorf("latency %+v: want 0 < p50 ≤ p95 ≤ p99 ≤ max", l)
			}
			if st.AchievedRate <= 0 || rep.BestRate != st.AchievedRate || !rep.Passed() {
				t.Errorf("achieved %v best %v passed %v", st.AchievedRate, rep.BestRate, rep.Passed())
			}
			checkJSON(t, rep)
		})
	}
}

// checkJSON: the report's JSON carries the contract's field names.
func checkJSON(t *testing.T, rep *load.Report) {
	t.Helper()
	data, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"scenario", "transport", "ues", "pcscf", "version", "started", "steps", "best_rate"} {
		if _, ok := doc[k]; !ok {
			t.Errorf("JSON lacks %q", k)
		}
	}
	if _, err := time.Parse(time.RFC3339, doc["started"].(string)); err != nil {
		t.Errorf("started: %v", err)
	}
	steps, _ := doc["steps"].([]any)
	if len(steps) == 0 {
		t.Fatal("JSON has no steps")
	}
	step := steps[0].(map[string]any)
	for _, k := range []string{"target_rate", "achieved_rate", "duration_s", "attempts", "successes", "failures",
		"failure_ratio", "failures_by_cause", "latency_ms"} {
		if _, ok := step[k]; !ok {
			t.Errorf("JSON step lacks %q", k)
		}
	}
	lat, _ := step["latency_ms"].(map[string]any)
	for _, k := range []string{"p50", "p95", "p99", "max"} {
		if _, ok := lat[k].(float64); !ok {
			t.Errorf("JSON latency_ms lacks %q", k)
		}
	}
	causes, _ := step["failures_by_cause"].(map[string]any)
	for _, k := range []string{"timeout", "transport", "auth", "overload"} {
		if _, ok := causes[k].(float64); !ok {
			t.Errorf("JSON failures_by_cause lacks %q", k)
		}
	}
}

// testTCP: register and message over TCP, each UE on its own connection to the P-CSCF.
func testTCP(t *testing.T, c *core) {
	c.provision(t, "001010000250000", 10)
	for _, sc := range []load.Scenario{load.ScenarioRegister, load.ScenarioMessage} {
		t.Run(string(sc), func(t *testing.T) {
			cfg := c.config(t, sc, "001010000250000", 10, 10, time.Second)
			cfg.UE.Transport = "tcp"
			rep := run(t, cfg)
			if st := rep.Steps[0]; st.Attempts != 10 || st.Failures != 0 || rep.Transport != "tcp" {
				t.Errorf("transport %s: attempts %d failures %d %v", rep.Transport, st.Attempts, st.Failures, st.FailuresByCause)
			}
		})
	}
}

// testWrongCore: UEs the HSS does not know are refused (403 from the core), UEs with
// another K refuse the network's AUTN (cause auth); the run does not pass.
func testWrongCore(t *testing.T, c *core) {
	c.provision(t, "001010000300100", 5)
	for _, tc := range []struct {
		name, first, k, cause string
	}{
		{"not provisioned", "001010000300000", testK, "403"},
		{"wrong K", "001010000300100", "000102030405060708090a0b0c0d0e0f", load.CauseAuth},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := c.config(t, load.ScenarioRegister, tc.first, 5, 5, time.Second)
			cfg.UE.Keys = keys(t, tc.k)
			rep := run(t, cfg)
			st := rep.Steps[0]
			if st.Attempts != 5 || st.Failures != 5 || st.FailuresByCause[tc.cause] != 5 {
				t.Errorf("attempts %d failures %d by cause %v, want 5 failures of cause %s", st.Attempts, st.Failures,
					st.FailuresByCause, tc.cause)
			}
			if rep.Passed() || rep.BestRate != 0 {
				t.Errorf("passed %v best %v, want a failed run", rep.Passed(), rep.BestRate)
			}
		})
	}
}

// testStepUp: stepping up from 4/s by 2 with --max-steps 2 runs two steps, both
// clean, and reports the second's achieved rate as the best.
func testStepUp(t *testing.T, c *core) {
	c.provision(t, "001010000400000", 10)
	cfg := c.config(t, load.ScenarioReregister, "001010000400000", 10, 4, time.Second)
	cfg.StepUp, cfg.StepFactor, cfg.MaxSteps = true, 2, 2
	rep := run(t, cfg)
	if len(rep.Steps) != 2 {
		t.Fatalf("%d steps, want 2", len(rep.Steps))
	}
	if rep.Steps[0].TargetRate != 4 || rep.Steps[1].TargetRate != 8 {
		t.Errorf("target rates %v, %v; want 4, 8", rep.Steps[0].TargetRate, rep.Steps[1].TargetRate)
	}
	if rep.Steps[1].Attempts != 8 || rep.Steps[1].Failures != 0 {
		t.Errorf("step 2: %+v", rep.Steps[1])
	}
	if rep.BestRate != rep.Steps[1].AchievedRate || !rep.Passed() {
		t.Errorf("best rate %v, step 2 achieved %v, passed %v", rep.BestRate, rep.Steps[1].AchievedRate, rep.Passed())
	}
}

// testInterrupted: a run stopped early (Ctrl-C) reports the step so far as interrupted, and
// Close de-registers every UE it registered.
func testInterrupted(t *testing.T, c *core) {
	c.provision(t, "001010000500000", 10)
	cfg := c.config(t, load.ScenarioMessage, "001010000500000", 10, 10, time.Minute)
	eng, err := load.New(cfg, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		for eng.Registration(9) == nil { // the setup registered the pool
			time.Sleep(20 * time.Millisecond)
		}
		time.Sleep(500 * time.Millisecond)
		cancel()
	}()
	rep, err := eng.Run(ctx)
	<-stopped
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if left := eng.Close(); left != 0 {
		t.Errorf("%d UEs left registered", left)
	}
	if !rep.Interrupted || len(rep.Steps) != 1 || !rep.Steps[0].Interrupted {
		t.Fatalf("report %+v: want one interrupted step", rep)
	}
	st := rep.Steps[0]
	if st.Attempts == 0 || st.Attempts >= 600 || st.DurationS >= 60 {
		t.Errorf("interrupted step: %d attempts in %v s", st.Attempts, st.DurationS)
	}
	for i := range 10 {
		if eng.Registration(i) != nil {
			t.Errorf("UE %d still registered after Close", i)
		}
	}
}

// testNoLeak: once every engine is closed, none of the engine's or the UEs' goroutines is left.
func testNoLeak(t *testing.T) {
	deadline := time.Now().Add(10 * time.Second)
	for {
		left := ours()
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines left, first:\n%s", len(left), left[0])
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// ours lists the goroutines running code of the load engine or the UE simulator.
func ours() []string {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var out []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "imscore/sip/ue/load_test.") {
			continue // the tests themselves
		}
		if strings.Contains(g, "imscore/sip/ue.") || strings.Contains(g, "imscore/sip/ue/load.") {
			out = append(out, g)
		}
	}
	return out
}
