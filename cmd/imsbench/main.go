// Command imsbench is what `make bench` runs: it measures imscore on this machine and writes a table
// (metric, value, unit, the exact command that produced it) with the raw outputs and CPU profiles beside
// it, in bench/results/<UTC date>-<short commit>/ (docs/benchmarks.md explains every number):
//
//  1. machine (CPU, cores, memory, kernel, Go) and commit (git describe, dirty mark);
//  2. the Go benchmarks (go test -bench over the packages that have them), raw output kept;
//  3. HSS Cx MAR transactions/s on the embedded store and on a throwaway PostgreSQL (cmd/hssbench);
//  4. the time to bulk-provision BENCH_SUBSCRIBERS subscribers through the real HSS (imsctl generate | import);
//  5. the whole core as real processes: `imsue load --step-up` for registration, call and MESSAGE (the best
//     rate under 0.1 % failures) and CPU profiles of every node during a run at that rate;
//  6. Debian's Kamailio 5.6 IMS P-, I- and S-CSCF with imscore's HSS under the same SIPp flows, the ratios,
//     and the Kamailio nodes' resident memory per registered UE (kamailio.go);
//  7. memory per registered UE in every node: heap in use (after a forced GC) and RSS, before and after
//     registering BENCH_UES UEs with SIPp (bench/sipp/register.xml).
//
// `imsbench allocs [--update [--runs N]]` is the allocation regression check instead (allocs.go, make
// bench-allocs): the hot-path benchmarks once each against bench/allocs.txt.
//
// Environment (flags of the same name in lower case with dashes win): BENCH_QUICK=1 small counts and short
// runs (about 2 minutes), BENCH_SUBSCRIBERS (default 1000000), BENCH_UES (default 5000), BENCH_STEPS (a comma
// list of machine,gobench,hss,provision,load,kamailio,memory; default all), BENCH_OUT (default bench/results).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// config is the run's settings, from the environment and flags.
type config struct {
	quick          bool
	subscribers    int           // step 4
	hssSubscribers int           // step 3: subscribers in hssbench's store
	hssDuration    time.Duration // step 3: per store
	hssConcurrency int
	ues            int // step 6
	loadUEs        int // step 5
	loadRate       int // step 5: first step's rate
	loadDuration   time.Duration
	loadScenarios  []string
	profileSeconds int
	maxSteps       int           // step 5: rate steps at most
	settle         time.Duration // step 6: wait after registering, before reading memory
	benchtime      string        // go test -benchtime ("" = default)
	steps          map[string]bool
	outDir         string
	goBin          string
	defaultPorts   bool
}

// stepBinaries are the commands each step runs.
var stepBinaries = map[string][]string{
	"hss":       {"hssbench"},
	"provision": {"hss", "imsctl"},
	"load":      {"hss", "scscf", "icscf", "pcscf", "imsctl", "imsue"},
	"kamailio":  {"hss", "imsctl"},
	"memory":    {"hss", "scscf", "icscf", "pcscf", "imsctl"},
}

// allSteps in the order they run.
var allSteps = []string{"machine", "gobench", "hss", "provision", "load", "kamailio", "memory"}

func defaults(quick bool) config {
	c := config{quick: quick, subscribers: 1000000, hssSubscribers: 100000, hssDuration: 20 * time.Second,
		hssConcurrency: 16, ues: 5000, loadUEs: 2000, loadRate: 20, loadDuration: 10 * time.Second,
		loadScenarios: []string{"register", "call", "message"}, profileSeconds: 10, goBin: "go",
		maxSteps: 12, settle: 35 * time.Second}
	if quick {
		c.subscribers, c.hssSubscribers, c.hssDuration = 20000, 10000, 3*time.Second
		c.ues, c.loadUEs, c.loadDuration, c.profileSeconds = 300, 200, 3*time.Second, 3
		c.benchtime, c.maxSteps, c.settle = "1x", 3, 2*time.Second
	}
	return c
}

// env reads the environment; lookup is os.LookupEnv outside tests.
func parseConfig(args []string, lookup func(string) (string, bool), stderr io.Writer) (config, error) {
	quick := false
	if v, ok := lookup("BENCH_QUICK"); ok && v != "" && v != "0" && v != "false" {
		quick = true
	}
	fs := flag.NewFlagSet("imsbench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.BoolVar(&quick, "quick", quick, "small counts and short runs (BENCH_QUICK=1)")
	// Parse once for --quick, which changes every default.
	pre := flag.NewFlagSet("", flag.ContinueOnError)
	pre.SetOutput(io.Discard)
	pre.BoolVar(&quick, "quick", quick, "")
	_ = pre.Parse(filterFlag(args, "quick"))
	c := defaults(quick)
	envInt := func(name string, dst *int) error {
		if v, ok := lookup(name); ok && v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				return fmt.Errorf("%s=%q: want a positive number", name, v)
			}
			*dst = n
		}
		return nil
	}
	for name, dst := range map[string]*int{"BENCH_SUBSCRIBERS": &c.subscribers, "BENCH_UES": &c.ues,
		"BENCH_LOAD_UES": &c.loadUEs, "BENCH_HSS_SUBSCRIBERS": &c.hssSubscribers} {
		if err := envInt(name, dst); err != nil {
			return c, err
		}
	}
	steps := strings.Join(allSteps, ",")
	if v, ok := lookup("BENCH_STEPS"); ok && v != "" {
		steps = v
	}
	c.outDir = "bench/results"
	if v, ok := lookup("BENCH_OUT"); ok && v != "" {
		c.outDir = v
	}
	if v, ok := lookup("GO"); ok && v != "" {
		c.goBin = v
	}
	scenarios := strings.Join(c.loadScenarios, ",")
	fs.IntVar(&c.subscribers, "subscribers", c.subscribers, "subscribers to bulk-provision through the HSS (BENCH_SUBSCRIBERS)")
	fs.IntVar(&c.hssSubscribers, "hss-subscribers", c.hssSubscribers, "subscribers in cmd/hssbench's store (BENCH_HSS_SUBSCRIBERS)")
	fs.DurationVar(&c.hssDuration, "hss-duration", c.hssDuration, "cmd/hssbench run per store")
	fs.IntVar(&c.hssConcurrency, "hss-concurrency", c.hssConcurrency, "cmd/hssbench requesters")
	fs.IntVar(&c.ues, "ues", c.ues, "UEs registered for the memory measurement (BENCH_UES)")
	fs.IntVar(&c.loadUEs, "load-ues", c.loadUEs, "UEs of imsue load (BENCH_LOAD_UES)")
	fs.IntVar(&c.loadRate, "load-rate", c.loadRate, "first step's rate of imsue load --step-up")
	fs.DurationVar(&c.loadDuration, "load-duration", c.loadDuration, "length of one imsue load step")
	fs.StringVar(&scenarios, "load-scenarios", scenarios, "imsue load scenarios, comma-separated")
	fs.IntVar(&c.profileSeconds, "profile-seconds", c.profileSeconds, "CPU profile length at the best rate")
	fs.StringVar(&c.benchtime, "benchtime", c.benchtime, "go test -benchtime (empty: go's default)")
	fs.StringVar(&steps, "steps", steps, "steps to run, comma-separated: "+strings.Join(allSteps, ","))
	fs.StringVar(&c.outDir, "out", c.outDir, "results directory (BENCH_OUT); a <date>-<commit> directory is made in it")
	fs.StringVar(&c.goBin, "go", c.goBin, "go command")
	fs.BoolVar(&c.defaultPorts, "default-ports", false, "run the core on its default ports (5060, 8080, 9101-9103, …) instead of free ones")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	c.steps = map[string]bool{}
	for _, s := range strings.Split(steps, ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		known := false
		for _, k := range allSteps {
			known = known || k == s
		}
		if !known {
			return c, fmt.Errorf("unknown step %q (want %s)", s, strings.Join(allSteps, ","))
		}
		c.steps[s] = true
	}
	c.loadScenarios = nil
	for _, s := range strings.Split(scenarios, ",") {
		if s = strings.TrimSpace(s); s != "" {
			c.loadScenarios = append(c.loadScenarios, s)
		}
	}
	if c.subscribers < 1 || c.hssSubscribers < 1 || c.ues < 1 || c.loadUEs < 2 || c.loadRate < 1 ||
		c.loadDuration <= 0 || c.hssDuration <= 0 || c.profileSeconds < 1 || c.hssConcurrency < 1 {
		return c, errors.New("counts, rates and durations must be positive (and --load-ues at least 2)")
	}
	return c, nil
}

// filterFlag keeps only -name / --name / -name=… arguments, for the pre-parse of one boolean flag.
func filterFlag(args []string, name string) []string {
	var out []string
	for _, a := range args {
		t := strings.TrimLeft(a, "-")
		if t == name || strings.HasPrefix(t, name+"=") {
			out = append(out, a)
		}
	}
	return out
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "sipp-csv" {
		return runSIPpCSV(args[1:], stdout, stderr)
	}
	if len(args) > 0 && args[0] == "allocs" {
		return runAllocs(ctx, args[1:], stdout, stderr)
	}
	cfg, err := parseConfig(args, os.LookupEnv, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintln(stderr, "imsbench:", err)
		return 2
	}
	root, err := moduleRoot()
	if err != nil {
		fmt.Fprintln(stderr, "imsbench:", err)
		return 1
	}
	b := &bench{cfg: cfg, root: root, log: stderr}
	if err := b.run(ctx); err != nil {
		fmt.Fprintln(stderr, "imsbench:", err)
		return 1
	}
	b.res.WriteText(stdout)
	fmt.Fprintf(stdout, "results: %s\n", filepath.Join(b.dir, "results.md"))
	return 0
}

// moduleRoot is the directory holding go.mod, upwards from the working directory.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("go.mod not found above the working directory: run imsbench in the imscore tree")
		}
		dir = parent
	}
}

// bench is one run.
type bench struct {
	cfg  config
	root string
	log  io.Writer
	dir  string // results directory of this run
	bin  string // binaries built for this run
	res  Results
	// imscoreSIPp is the load step's SIPp rates through imscore's CSCFs, for the kamailio step's ratios.
	imscoreSIPp sippBest
}

func (b *bench) logf(format string, args ...any) {
	fmt.Fprintf(b.log, "imsbench %s  %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}

// keep writes a raw output file into the results directory and lists it.
func (b *bench) keep(name string, data []byte) {
	if err := os.WriteFile(filepath.Join(b.dir, name), data, 0o644); err != nil {
		b.logf("keep %s: %v", name, err)
		return
	}
	b.res.Files = append(b.res.Files, name)
}

func (b *bench) run(ctx context.Context) error {
	b.res.Started = time.Now().UTC()
	b.res.Quick = b.cfg.quick
	b.res.Commit = readCommit(ctx, b.root)
	out := b.cfg.outDir
	if !filepath.IsAbs(out) {
		out = filepath.Join(b.root, out)
	}
	b.dir = filepath.Join(out, DirName(b.res.Started, b.res.Commit))
	if err := os.MkdirAll(b.dir, 0o755); err != nil {
		return fmt.Errorf("results directory: %w", err)
	}
	b.logf("results go to %s", b.dir)
	tmp, err := os.MkdirTemp("", "imsbench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	b.bin = filepath.Join(tmp, "bin")

	b.res.Machine = readMachine(ctx, b.cfg.goBin)
	if b.cfg.steps["gobench"] {
		b.runGoBench(ctx)
	}
	// Only the commands the chosen steps run (a build on a busy 2-core machine takes minutes).
	var bins []string
	for _, st := range allSteps {
		if !b.cfg.steps[st] {
			continue
		}
		for _, n := range stepBinaries[st] {
			if !slices.Contains(bins, n) {
				bins = append(bins, n)
			}
		}
	}
	if len(bins) > 0 {
		if err := b.build(ctx, bins...); err != nil {
			return err
		}
	}
	steps := []struct {
		name string
		fn   func(context.Context)
	}{
		{"hss", b.runHSSBench},
		{"provision", b.runProvision},
		{"load", b.runLoad},
		{"kamailio", b.runKamailio},
		{"memory", b.runMemory},
	}
	for _, s := range steps {
		if !b.cfg.steps[s.name] || ctx.Err() != nil {
			continue
		}
		b.logf("step %s", s.name)
		s.fn(ctx)
	}
	b.res.Finished = time.Now().UTC()
	b.res.computeTargets()
	if err := b.res.Save(b.dir); err != nil {
		return err
	}
	return ctx.Err()
}

// build compiles the commands the steps run, into a temporary directory, as `make build` does.
func (b *bench) build(ctx context.Context, names ...string) error {
	for _, n := range names {
		if _, err := os.Stat(filepath.Join(b.root, "cmd", n, "main.go")); err != nil {
			b.logf("cmd/%s is not in the tree: the steps needing it will say so", n)
			continue
		}
		cmd := exec.CommandContext(ctx, b.cfg.goBin, "build", "-trimpath", "-o", filepath.Join(b.bin, n), "./cmd/"+n)
		cmd.Dir = b.root
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("go build ./cmd/%s: %w\n%s", n, err, out)
		}
	}
	return nil
}

// binPath is the built binary; command lines in the table show it as bin/<name> (what `make build` makes).
func (b *bench) binPath(name string) string { return filepath.Join(b.bin, name) }

// shown is a command line as the table shows it: bin/<name> and the arguments, shell-quoted.
func shown(name string, args ...string) string {
	return strings.Join(append([]string{"bin/" + name}, quoteArgs(args)...), " ")
}
