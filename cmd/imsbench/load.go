package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// maxFailureRatio is the limit: the highest rate with under 0.1 % failures.
const maxFailureRatio = 0.001

// stepFactor raises the rate from one step to the next (as imsue load --step-up does by default).
const stepFactor = 1.5

// LoadReport is `imsue load --json` (the contract in cmd/imsue; field names are stable).
type LoadReport struct {
	Scenario  string     `json:"scenario"`
	Transport string     `json:"transport"`
	UEs       int        `json:"ues"`
	PCSCF     string     `json:"pcscf"`
	Version   string     `json:"version"`
	Started   string     `json:"started"`
	Steps     []LoadStep `json:"steps"`
	BestRate  float64    `json:"best_rate"`
}

// LoadStep is one rate step of the report.
type LoadStep struct {
	TargetRate      float64            `json:"target_rate"`
	AchievedRate    float64            `json:"achieved_rate"`
	DurationS       float64            `json:"duration_s"`
	Attempts        int                `json:"attempts"`
	Successes       int                `json:"successes"`
	Failures        int                `json:"failures"`
	FailureRatio    float64            `json:"failure_ratio"`
	FailuresByCause map[string]int     `json:"failures_by_cause"`
	LatencyMS       map[string]float64 `json:"latency_ms"`
}

// parseLoadReport decodes the JSON report and checks it makes sense.
func parseLoadReport(data []byte) (LoadReport, error) {
	var r LoadReport
	if err := json.Unmarshal(data, &r); err != nil {
		return r, fmt.Errorf("imsue load report: %w", err)
	}
	if len(r.Steps) == 0 {
		return r, errors.New("imsue load report has no steps")
	}
	if r.BestRate < 0 || math.IsNaN(r.BestRate) {
		return r, fmt.Errorf("imsue load report: best_rate %v", r.BestRate)
	}
	return r, nil
}

// bestStep is the step whose achieved rate is best_rate (for its latency), or the zero step.
func (r LoadReport) bestStep() LoadStep {
	var best LoadStep
	for _, s := range r.Steps {
		if s.FailureRatio < maxFailureRatio && s.AchievedRate >= best.AchievedRate {
			best = s
		}
	}
	return best
}

// loadMetric names the metric of one scenario.
var loadMetric = map[string]struct{ name, unit string }{
	"register":   {"full AKA registrations/s through P-, I-, S-CSCF and HSS (imsue load)", "registrations/s"},
	"call":       {"calls/s, INVITE to BYE (imsue load)", "calls/s"},
	"message":    {"MESSAGEs/s between registered UEs (imsue load)", "MESSAGE/s"},
	"reregister": {"re-registrations/s (imsue load)", "re-registrations/s"},
	"deregister": {"de-registrations/s (imsue load)", "de-registrations/s"},
	"mix":        {"mixed operations/s (imsue load)", "operations/s"},
}

// imsueHasLoad tells whether this tree's imsue has the load command of the contract.
func (b *bench) imsueHasLoad(ctx context.Context) bool {
	if _, err := os.Stat(b.binPath("imsue")); err != nil {
		return false
	}
	out, _ := exec.CommandContext(ctx, b.binPath("imsue"), "load", "--help").CombinedOutput()
	return strings.Contains(string(out), "step-up")
}

// runLoad starts the core and finds the highest rate under 0.1 % failures, with SIPp (bench/sipp) and with
// imsue load, and profiles every node during a run at the best rate (step 5).
func (b *bench) runLoad(ctx context.Context) {
	dir, err := os.MkdirTemp("", "imsbench-load-")
	if err != nil {
		b.res.failed(err, "", "load")
		return
	}
	defer os.RemoveAll(dir)
	c, err := b.startCore(ctx, dir)
	if err != nil {
		b.res.failed(err, "", "load: start the core")
		return
	}
	defer c.stop()
	b.logf("core up: P-CSCF %s, admin servers hss %s scscf %s icscf %s pcscf %s", c.ports.pcscfSIP, c.ports.hssAPI,
		c.ports.scscfHTTP, c.ports.icscfHTTP, c.ports.pcscfHTTP)

	// Not measured by this driver: registering 10⁶ UEs before the run takes over an hour at the rates this
	// machine sustains, and imsbench has no bounded, opt-in way to do it yet.
	b.res.failed(errors.New("not implemented in imsbench: it needs 10⁴ and then 10⁶ UEs registered before a "+
		"registration run (10⁶ at this machine's ~300 registrations/s is about an hour); the P-CSCF's "+
		"BenchmarkRegisterBookkeeping (regs=1000…100000) covers its registry's part"), "", scaleName)
	hasImsue := b.imsueHasLoad(ctx)
	b.imscoreSIPp = b.runSIPpLoad(ctx, c, dir, c.ports.pcscfSIP, "", !hasImsue)
	if !hasImsue {
		for _, s := range b.cfg.loadScenarios {
			m := loadMetric[s]
			b.res.failed(errors.New("`imsue load` is not in this tree yet (cmd/imsue has no load command)"),
				"bin/imsue load --step-up ...", m.name)
		}
		return
	}
	b.runImsueLoad(ctx, c, dir)
}

// registerAtRates runs imsue's register scenario at fixed rates derived from the step-up's best: at 80 %
// of it for the latency the issue asks (p50, p99), and at twice it for the goodput under overload and the
// 503s the core answered (failures_by_cause).
func (b *bench) registerAtRates(ctx context.Context, base []string, best float64, saturated bool) {
	if best <= 0 {
		err := errors.New("no step of the register step-up was under 0.1 % failures")
		b.res.failed(err, "", latencyP50Name, latencyP99Name, goodputName)
		return
	}
	at := func(rate float64, tag string) (LoadStep, string, error) {
		jsonFile := filepath.Join(b.dir, "load_register_"+tag+".json")
		args := append(append([]string{}, base...), "--scenario", "register", "--rate", strconv.FormatFloat(rate, 'f', 0, 64),
			"--duration", b.cfg.loadDuration.String(), "--json", jsonFile)
		cmdline := strings.Replace(shown("imsue", args...), jsonFile, filepath.Base(jsonFile), 1)
		b.logf("%s", cmdline)
		runCtx, cancel := context.WithTimeout(ctx, 4*b.cfg.loadDuration+2*time.Minute)
		defer cancel()
		out, err := exec.CommandContext(runCtx, b.binPath("imsue"), args...).CombinedOutput()
		data, rerr := os.ReadFile(jsonFile)
		if rerr != nil {
			return LoadStep{}, cmdline, fmt.Errorf("no JSON report (%v); imsue: %v: %s", rerr, err, lastLine(string(out)))
		}
		b.res.Files = append(b.res.Files, filepath.Base(jsonFile))
		rep, err := parseLoadReport(data)
		if err != nil {
			return LoadStep{}, cmdline, err
		}
		return rep.Steps[len(rep.Steps)-1], cmdline, nil
	}
	rate := math.Max(1, math.Floor(0.8*best))
	st, cmdline, err := at(rate, "80pct")
	if err != nil {
		b.res.failed(err, cmdline, latencyP50Name, latencyP99Name)
	} else {
		note := fmt.Sprintf("%.0f/s offered (80 %% of %.0f/s) for %v: %.1f/s achieved, %d of %d failed", rate, best,
			b.cfg.loadDuration, st.AchievedRate, st.Failures, st.Attempts)
		b.res.add(Metric{Name: latencyP50Name, Value: st.LatencyMS["p50"], Unit: "ms", Command: cmdline, Note: note})
		b.res.add(Metric{Name: latencyP99Name, Value: st.LatencyMS["p99"], Unit: "ms", Command: cmdline, Note: note})
	}
	rate = math.Max(2, math.Round(2*best))
	st, cmdline, err = at(rate, "2x")
	if err != nil {
		b.res.failed(err, cmdline, goodputName)
		return
	}
	note := fmt.Sprintf("%.0f/s offered (2 × %.0f/s) for %v: %.1f/s succeeded; %d answered 503; failures by cause %v",
		rate, best, b.cfg.loadDuration, st.AchievedRate, st.FailuresByCause["503"], st.FailuresByCause)
	if !saturated {
		note += "; the step-up stopped at its step limit before the core saturated, so this rate is not overload"
	}
	b.res.add(Metric{Name: goodputName, Value: 100 * st.AchievedRate / best, Unit: "% of the best rate", Command: cmdline, Note: note})
}

// runImsueLoad runs `imsue load --step-up --json` per scenario, then a run at the best rate with profiles.
func (b *bench) runImsueLoad(ctx context.Context, c *core, dir string) {
	// imsue provisions its own UEs (--provision, idempotent): one identity each, sip:<imsi>@<domain>, not
	// barred, so that calls and MESSAGEs can address it.
	const firstIMSI = "001010300000000"
	base := []string{"load", "--pcscf", c.ports.pcscfSIP, "--ues", strconv.Itoa(b.cfg.loadUEs), "--first-imsi", firstIMSI,
		"--domain", domain, "--k", keyHex, "--op", opHex, "--amf", amfHex, "--provision", c.apiURL(),
		"--provision-token-file", c.tokenFile}
	for _, s := range b.cfg.loadScenarios {
		m, ok := loadMetric[s]
		if !ok {
			m = struct{ name, unit string }{s + "/s (imsue load)", "operations/s"}
		}
		jsonFile := filepath.Join(b.dir, "load_"+s+".json")
		args := append(append([]string{}, base...), "--scenario", s, "--rate", strconv.Itoa(b.cfg.loadRate),
			"--duration", b.cfg.loadDuration.String(), "--step-up", "--max-steps", strconv.Itoa(b.cfg.maxSteps), "--json", jsonFile)
		cmdline := shown("imsue", args...)
		cmdline = strings.Replace(cmdline, jsonFile, "load_"+s+".json", 1)
		b.logf("%s", cmdline)
		// Each step runs --duration; the bound covers many steps and the start-up registrations.
		runCtx, cancel := context.WithTimeout(ctx, 40*b.cfg.loadDuration+5*time.Minute)
		started := time.Now()
		out, err := exec.CommandContext(runCtx, b.binPath("imsue"), args...).CombinedOutput()
		wall := time.Since(started)
		cancel()
		b.keep("load_"+s+".txt", []byte(lastScreen(string(out))))
		data, rerr := os.ReadFile(jsonFile)
		if rerr != nil {
			b.res.failed(fmt.Errorf("no JSON report (%v); imsue: %v: %s", rerr, err, lastLine(string(out))), cmdline, m.name)
			continue
		}
		b.res.Files = append(b.res.Files, "load_"+s+".json")
		rep, perr := parseLoadReport(data)
		if perr != nil {
			b.res.failed(perr, cmdline, m.name)
			continue
		}
		best := rep.bestStep()
		note := fmt.Sprintf("%d UEs, %d steps from %d/s ×1.5, %v each; at best: p50 %.1f ms, p99 %.1f ms",
			rep.UEs, len(rep.Steps), b.cfg.loadRate, b.cfg.loadDuration, best.LatencyMS["p50"], best.LatencyMS["p99"])
		if rep.BestRate == 0 {
			note += "; no step was under 0.1 % failures"
		}
		b.res.add(Metric{Name: m.name, Value: rep.BestRate, Unit: m.unit, Command: cmdline, Note: note})
		if s == "register" {
			// The step-up saturated (a step failed or fell short) or stopped at --max-steps with the core
			// still keeping up: then twice the "best" rate is not overload, and the goodput row says so.
			last := rep.Steps[len(rep.Steps)-1]
			saturated := last.FailureRatio >= maxFailureRatio || last.AchievedRate < 0.9*last.TargetRate
			b.registerAtRates(ctx, base, rep.BestRate, saturated)
		}
		if rep.BestRate <= 0 {
			continue
		}
		// imsue registers the pool before the first step of call and message and de-registers it at the end:
		// the profile starts after that set-up, estimated from the step-up run (half of its time outside steps).
		stepped := 0.0
		for _, st := range rep.Steps {
			stepped += st.DurationS
		}
		setup := max(0, (wall-time.Duration(stepped*float64(time.Second)))/2)
		if s == "register" {
			setup = 0 // register starts from unregistered UEs: no set-up, only the de-registrations at the end
		}
		profRate := math.Max(1, math.Floor(rep.BestRate))
		prof := append(append([]string{}, base...), "--scenario", s, "--rate", strconv.FormatFloat(profRate, 'f', 0, 64),
			"--duration", (time.Duration(b.cfg.profileSeconds+6) * time.Second).String())
		b.logf("profiling at %.0f/s (after ~%v of set-up): %s", profRate, setup.Round(time.Second), shown("imsue", prof...))
		err = b.profileDuring(ctx, c, s, profRate, setup+2*time.Second, shown("imsue", prof...), func(ctx context.Context) error {
			out, err := exec.CommandContext(ctx, b.binPath("imsue"), prof...).CombinedOutput()
			if err != nil {
				return fmt.Errorf("%v: %s", err, lastLine(string(out)))
			}
			return nil
		})
		if err != nil {
			b.logf("profile run of %s: %v", s, err)
		}
	}
	b.idleCPU(ctx, c)
}

// sippStep is one rate step of a SIPp step-up.
type sippStep struct {
	Target, Achieved float64
	Stats            SIPpStats
}

func (s sippStep) failureRatio() float64 {
	total := s.Stats.Successful + s.Stats.Failed
	if total == 0 {
		return 1
	}
	return float64(s.Stats.Failed) / float64(total)
}

// stepUp runs one SIPp run per rate, from the configured first rate ×1.5 each, until a step has 0.1 %
// failures or more, or falls short of its target by more than 10 % (saturated: SIPp then only queues), or
// maxSteps. It returns the steps and the best achieved rate of a step under the failure limit.
func stepUp(ctx context.Context, first float64, maxSteps int, duration time.Duration,
	run func(ctx context.Context, rate float64, calls int) (SIPpStats, error)) ([]sippStep, float64, error) {
	var steps []sippStep
	best := 0.0
	rate := first
	for i := 0; i < maxSteps && ctx.Err() == nil; i++ {
		calls := max(1, int(rate*duration.Seconds()))
		stats, err := run(ctx, rate, calls)
		if err != nil && stats.Successful+stats.Failed == 0 {
			return steps, best, err
		}
		st := sippStep{Target: rate, Stats: stats}
		if stats.Elapsed > 0 {
			st.Achieved = float64(stats.Successful) / stats.Elapsed.Seconds()
		}
		steps = append(steps, st)
		if st.failureRatio() >= maxFailureRatio {
			break
		}
		best = max(best, st.Achieved)
		if st.Achieved < 0.9*rate {
			break // saturated: what it achieved without failures is the best; SIPp would only queue more
		}
		rate = math.Round(rate * stepFactor)
	}
	return steps, best, nil
}

// sippBest is the best rate of each SIPp flow under 0.1 % failures (0: not measured).
type sippBest struct{ register, call, message float64 }

// sippMetricNames are the rows of the SIPp flows; suffix names the stack when it is not imscore's CSCFs.
func sippMetricNames(suffix string) []string {
	return []string{"AKA registration + de-registration/s (SIPp register_dereg.xml)" + suffix, "calls/s (SIPp call_uac.xml)" + suffix,
		"MESSAGEs/s (SIPp message_uac.xml)" + suffix}
}

// runSIPpLoad measures the same flows with SIPp and the bench/sipp scenarios, sent to the P-CSCF at entry,
// with c's HSS provisioning the users: the numbers another stack is compared with (the kamailio step runs
// them against Kamailio's CSCFs). suffix is appended to the row names. profile: take the CPU profiles
// during the registration run at its best rate (when imsue load is missing).
func (b *bench) runSIPpLoad(ctx context.Context, c *core, dir, entry, suffix string, profile bool) (best sippBest) {
	names := sippMetricNames(suffix)
	sippBin, err := lookSIPp()
	if err != nil {
		b.res.failed(err, "", names...)
		return
	}
	const firstIMSI, firstMSISDN = "001010400000000", "15600000000"
	users, err := Users(b.cfg.loadUEs, firstIMSI, firstMSISDN, keyText, opText)
	if err == nil {
		err = writeCSVSet(dir, users)
	}
	if err == nil {
		_, _, err = b.provisionUEs(ctx, c, len(users), firstIMSI, firstMSISDN)
	}
	if err != nil {
		b.res.failed(err, "", names...)
		return
	}
	scen := b.scenarioDir()
	maxSteps := b.cfg.maxSteps
	fileTag := ""
	if suffix != "" {
		fileTag = "_kamailio"
	}
	record := func(name, unit, file string, steps []sippStep, best float64, cmd string, err error) {
		var parts []string
		for _, s := range steps {
			parts = append(parts, fmt.Sprintf("%.0f→%.1f/s %d✗", s.Target, s.Achieved, s.Stats.Failed))
		}
		raw := fmt.Sprintf("%s\n%s\n", cmd, strings.Join(parts, "\n"))
		b.keep(file, []byte(raw))
		if err == nil && len(steps) > 0 && best == 0 {
			// Not a rate of 0: the flow does not work through this stack (or not under 0.1 % failures at the
			// first rate); the steps in the raw file say which.
			err = fmt.Errorf("no step under 0.1 %% failures (%s); see %s", strings.Join(parts, ", "), file)
		}
		if err != nil {
			b.res.failed(err, cmd, name)
			return
		}
		b.res.add(Metric{Name: name, Value: best, Unit: unit, Command: cmd,
			Note: fmt.Sprintf("%d users; steps (target→achieved, failed): %s", len(users), strings.Join(parts, ", "))})
	}

	// Registration and de-registration, one distinct user per call.
	regPort, err := freePort()
	if err != nil {
		b.res.failed(err, "", names...)
		return
	}
	reg := sippRun{scenario: "register_dereg.xml", remote: entry, port: regPort, inf: filepath.Join(dir, "users.csv"),
		timeout: b.cfg.loadDuration + 60*time.Second}
	steps, regBest, err := stepUp(ctx, float64(b.cfg.loadRate), maxSteps, b.cfg.loadDuration,
		func(ctx context.Context, rate float64, calls int) (SIPpStats, error) {
			r := reg
			r.rate, r.calls = rate, calls
			st, _, err := r.run(ctx, sippBin, scen, dir)
			return st, err
		})
	reg.rate, reg.calls = float64(b.cfg.loadRate), int(float64(b.cfg.loadRate)*b.cfg.loadDuration.Seconds())
	record(names[0], "registrations/s (each with its de-registration)", "sipp_register"+fileTag+".txt", steps, regBest, reg.command()+"  # then ×1.5 per step", err)
	best.register = regBest
	if profile && regBest > 0 {
		r := reg
		r.rate = math.Floor(regBest)
		r.calls = int(r.rate * float64(b.cfg.profileSeconds+4))
		b.logf("profiling at %.0f registrations/s with SIPp", r.rate)
		if err := b.profileDuring(ctx, c, "register-sipp", r.rate, 2*time.Second, r.command(), func(ctx context.Context) error {
			_, _, err := r.run(ctx, sippBin, scen, dir)
			return err
		}); err != nil {
			b.logf("profile run: %v", err)
		}
	}

	// Calls and MESSAGEs: callees registered from the port the UAS listens on, callers from the UAC's.
	uasPort, err1 := freePort()
	uacPort, err2 := freePort()
	if err := errors.Join(err1, err2); err != nil {
		b.res.failed(err, "", names[1:]...)
		return
	}
	for _, r := range []sippRun{
		{scenario: "register.xml", remote: entry, port: uasPort, inf: filepath.Join(dir, "callees.csv"), rate: 100, calls: len(users) / 2, limit: 200, timeout: 2 * time.Minute},
		{scenario: "register.xml", remote: entry, port: uacPort, inf: filepath.Join(dir, "callers.csv"), rate: 100, calls: len(users) / 2, limit: 200, timeout: 2 * time.Minute},
	} {
		st, _, err := r.run(ctx, sippBin, scen, dir)
		if err != nil || st.Failed > 0 {
			b.res.failed(fmt.Errorf("registering callers and callees: %d of %d failed: %v", st.Failed, r.calls, err), r.command(), names[1:]...)
			return
		}
	}
	flows := []struct {
		name, unit, uac, uas, file string
	}{
		{names[1], "calls/s", "call_uac.xml", "call_uas.xml", "sipp_call" + fileTag + ".txt"},
		{names[2], "MESSAGE/s", "message_uac.xml", "message_uas.xml", "sipp_message" + fileTag + ".txt"},
	}
	for _, f := range flows {
		uas := sippRun{scenario: f.uas, remote: entry, port: uasPort}
		cmd, _, err := uas.start(sippBin, scen, dir)
		if err != nil {
			b.res.failed(err, uas.command(), f.name)
			continue
		}
		time.Sleep(500 * time.Millisecond) // let it bind
		uac := sippRun{scenario: f.uac, remote: entry, port: uacPort, inf: filepath.Join(dir, "pairs.csv"),
			timeout: b.cfg.loadDuration + 60*time.Second}
		steps, rate, err := stepUp(ctx, float64(b.cfg.loadRate), maxSteps, b.cfg.loadDuration,
			func(ctx context.Context, rate float64, calls int) (SIPpStats, error) {
				r := uac
				r.rate, r.calls = rate, calls
				st, _, err := r.run(ctx, sippBin, scen, dir)
				return st, err
			})
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
		uac.rate, uac.calls = float64(b.cfg.loadRate), int(float64(b.cfg.loadRate)*b.cfg.loadDuration.Seconds())
		record(f.name, f.unit, f.file, steps, rate, uas.command()+" &  "+uac.command()+"  # then ×1.5 per step", err)
		if f.uac == "call_uac.xml" {
			best.call = rate
		} else {
			best.message = rate
		}
	}
	return best
}
