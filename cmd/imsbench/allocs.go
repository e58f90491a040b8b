package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The allocation regression check (`imsbench allocs`, `make bench-allocs`; docs/benchmarks.md): the hot-path
// benchmarks run once each with a fixed iteration count and the allocations per operation they report are
// compared with the committed baseline, bench/allocs.txt. Allocations, not time: for a fixed b.N and GOMAXPROCS
// they are the same on every machine, so CI can hold them without flaking.

// hotPackages are the packages whose benchmarks are on the per-message path of a node (issue 12). A package
// without benchmarks (yet) costs nothing: go test reports none.
var hotPackages = []string{
	"./sip/header", "./sip/proxy", "./sip/message", "./sip/identity",
	"./diameter/cx", "./diameter/peer", "./diameter/userdata",
	"./hss", "./hss/aka",
	"./services/pcscf", "./services/icscf", "./services/scscf",
}

const (
	allocsBaselineFile = "bench/allocs.txt"
	allocsBenchtime    = "100x" // iterations of each benchmark; part of the baseline (warm-up allocations amortize over it)
	allocsCPU          = "2"    // GOMAXPROCS of the run; part of the baseline (concurrent benchmarks allocate per worker)
	allocsTolerance    = 0.10   // fail when allocs/op > baseline × (1 + tolerance)
)

// allocKey names one benchmark: its package as ./path and its name without the -GOMAXPROCS suffix.
type allocKey struct{ Pkg, Name string }

// allocBaseline is bench/allocs.txt: one "<package> <benchmark> <allocs/op>" line per benchmark, and
// "exclude <package> <benchmark> <reason>" lines for the benchmarks that are not checked.
type allocBaseline struct {
	Benchtime string
	CPU       string
	// Skip is go test's -skip pattern for the benchmarks not run at all (each "/"-separated element matches one
	// level of a benchmark's name), SkipWhy the comment lines above it that say why.
	Skip     string
	SkipWhy  []string
	Allocs   map[allocKey]float64
	Excluded map[allocKey]string // reason
}

func parseAllocBaseline(r io.Reader) (allocBaseline, error) {
	b := allocBaseline{Benchtime: allocsBenchtime, CPU: allocsCPU, Allocs: map[allocKey]float64{}, Excluded: map[allocKey]string{}}
	sc := bufio.NewScanner(r)
	var comments []string // the comment block just above the current line
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			comments = nil
			continue
		}
		if c, ok := strings.CutPrefix(line, "#"); ok {
			comments = append(comments, strings.TrimSpace(c))
			continue
		}
		why := comments
		comments = nil
		f := strings.Fields(line)
		switch {
		case f[0] == "benchtime" && len(f) == 2:
			b.Benchtime = f[1]
		case f[0] == "cpu" && len(f) == 2:
			b.CPU = f[1]
		case f[0] == "skip" && len(f) == 2:
			b.Skip, b.SkipWhy = f[1], why
		case f[0] == "exclude" && len(f) >= 4:
			b.Excluded[allocKey{f[1], f[2]}] = strings.Join(f[3:], " ")
		case len(f) == 3:
			v, err := strconv.ParseFloat(f[2], 64)
			if err != nil || v < 0 {
				return b, fmt.Errorf("line %d: allocs/op %q is not a number", n, f[2])
			}
			b.Allocs[allocKey{f[0], f[1]}] = v
		default:
			return b, fmt.Errorf("line %d: want \"<package> <benchmark> <allocs/op>\", \"exclude <package> <benchmark> <reason>\" or \"skip <pattern>\": %q", n, line)
		}
	}
	return b, sc.Err()
}

// write renders the baseline, sorted, with the header that says what it is.
func (b allocBaseline) write(w io.Writer) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, `# Allocations per operation of the hot-path benchmarks (issue 12; docs/benchmarks.md).
# make bench-allocs fails when a benchmark allocates more than %d %% over its line, or when a line's
# benchmark no longer exists. make bench-allocs-update rewrites the numbers (keep the exclude lines' reasons).
# Each benchmark runs once: go test -run '^$' -bench . -benchmem -benchtime <benchtime> -cpu <cpu> -skip <skip>.
benchtime %s
cpu %s
`, int(allocsTolerance*100), b.Benchtime, b.CPU)
	if b.Skip != "" {
		for _, c := range b.SkipWhy {
			fmt.Fprintf(bw, "# %s\n", c)
		}
		fmt.Fprintf(bw, "skip %s\n", b.Skip)
	}
	fmt.Fprintln(bw)
	keys := sortedKeys(b.Allocs)
	for _, k := range keys {
		fmt.Fprintf(bw, "%s %s %s\n", k.Pkg, k.Name, strconv.FormatFloat(b.Allocs[k], 'f', -1, 64))
	}
	if len(b.Excluded) > 0 {
		fmt.Fprintf(bw, "\n# Not checked: their allocations per operation vary from run to run.\n")
		for _, k := range sortedKeys(b.Excluded) {
			fmt.Fprintf(bw, "exclude %s %s %s\n", k.Pkg, k.Name, b.Excluded[k])
		}
	}
	return bw.Flush()
}

func sortedKeys[V any](m map[allocKey]V) []allocKey {
	keys := make([]allocKey, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b allocKey) int {
		if c := strings.Compare(a.Pkg, b.Pkg); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})
	return keys
}

// allocsOf turns go test -bench output into allocs/op per benchmark; modulePath maps the "pkg:" lines'
// import paths back to ./paths, cpu is the -cpu suffix to strip from the names.
func allocsOf(out, modulePath, cpu string) map[allocKey]float64 {
	res := map[allocKey]float64{}
	for _, g := range parseGoBench(out) {
		pkg := "./" + strings.TrimPrefix(strings.TrimPrefix(g.Package, modulePath), "/")
		if g.Package == modulePath {
			pkg = "."
		}
		res[allocKey{pkg, strings.TrimSuffix(g.Name, "-"+cpu)}] = g.AllocsPerOp
	}
	return res
}

// allocVerdict is the comparison of one run with the baseline.
type allocVerdict struct {
	Regressed []string // over the tolerance
	Missing   []string // baselined, not reported
	New       []string // reported, not baselined
	Improved  []string // more than the tolerance under: the baseline can be tightened
	Checked   int
}

func (v allocVerdict) failed() bool { return len(v.Regressed) > 0 || len(v.Missing) > 0 }

func compareAllocs(base allocBaseline, got map[allocKey]float64) allocVerdict {
	var v allocVerdict
	for _, k := range sortedKeys(base.Allocs) {
		want := base.Allocs[k]
		have, ok := got[k]
		switch {
		case !ok:
			v.Missing = append(v.Missing, fmt.Sprintf("%s %s: in the baseline (%g allocs/op) but not reported: removed, renamed, or its package failed", k.Pkg, k.Name, want))
		case have > want*(1+allocsTolerance):
			v.Regressed = append(v.Regressed, fmt.Sprintf("%s %s: %g allocs/op, baseline %g (%+.0f %%, limit +%d %%)", k.Pkg, k.Name, have, want, pct(have, want), int(allocsTolerance*100)))
		case have < want*(1-allocsTolerance):
			v.Improved = append(v.Improved, fmt.Sprintf("%s %s: %g allocs/op, baseline %g (%+.0f %%)", k.Pkg, k.Name, have, want, pct(have, want)))
		}
		if ok {
			v.Checked++
		}
	}
	for _, k := range sortedKeys(got) {
		if _, ok := base.Allocs[k]; ok {
			continue
		}
		if _, ok := base.Excluded[k]; ok {
			continue
		}
		v.New = append(v.New, fmt.Sprintf("%s %s: %g allocs/op", k.Pkg, k.Name, got[k]))
	}
	return v
}

func pct(have, want float64) float64 {
	if want == 0 {
		return math.Inf(1)
	}
	return (have/want - 1) * 100
}

// allocsConfig is `imsbench allocs`'s command line.
type allocsConfig struct {
	update   bool
	runs     int
	baseline string
	goBin    string
	pkgs     []string
}

// runAllocs is `imsbench allocs [--update] [--runs N] [--baseline FILE] [packages]`: exit 0 when every
// baselined benchmark is within the tolerance, 1 when not (or when go test cannot run), 2 on bad usage.
func runAllocs(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var c allocsConfig
	fs := flag.NewFlagSet("imsbench allocs", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.BoolVar(&c.update, "update", false, "rewrite the baseline from this run (keeps its exclude lines)")
	fs.IntVar(&c.runs, "runs", 1, "with --update: run the benchmarks this many times, record the highest allocs/op and name those that vary")
	fs.StringVar(&c.baseline, "baseline", allocsBaselineFile, "the baseline file, relative to the module root")
	fs.StringVar(&c.goBin, "go", "go", "go command")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if c.runs < 1 {
		fmt.Fprintln(stderr, "imsbench allocs: --runs must be at least 1")
		return 2
	}
	c.pkgs = fs.Args()
	root, err := moduleRoot()
	if err != nil {
		fmt.Fprintln(stderr, "imsbench allocs:", err)
		return 1
	}
	if err := allocsCheck(ctx, c, root, stdout, stderr); err != nil {
		fmt.Fprintln(stderr, "imsbench allocs:", err)
		return 1
	}
	return 0
}

func allocsCheck(ctx context.Context, c allocsConfig, root string, stdout, stderr io.Writer) error {
	path := c.baseline
	if !filepath.IsAbs(path) {
		path = filepath.Join(root, path)
	}
	base := allocBaseline{Benchtime: allocsBenchtime, CPU: allocsCPU, Allocs: map[allocKey]float64{}, Excluded: map[allocKey]string{}}
	if f, err := os.Open(path); err == nil {
		base, err = parseAllocBaseline(f)
		f.Close()
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
	} else if !c.update {
		return fmt.Errorf("no baseline: %w (make bench-allocs-update writes one)", err)
	}
	pkgs := c.pkgs
	if len(pkgs) == 0 {
		pkgs = slices.Clone(hotPackages)
		for k := range base.Allocs {
			if !slices.Contains(pkgs, k.Pkg) {
				pkgs = append(pkgs, k.Pkg)
			}
		}
	}
	pkgs = existingPackages(root, pkgs)
	slices.Sort(pkgs)
	modPath, err := modulePath(root)
	if err != nil {
		return err
	}
	args := []string{"test", "-run", "^$", "-bench", ".", "-benchmem", "-benchtime", base.Benchtime, "-cpu", base.CPU, "-count", "1"}
	if base.Skip != "" {
		args = append(args, "-skip", base.Skip)
	}
	args = append(args, pkgs...)
	fmt.Fprintf(stderr, "imsbench allocs: %s %s\n", c.goBin, strings.Join(quoteArgs(args), " "))

	var runs []map[allocKey]float64
	var testErr error
	for i := 0; i < c.runs; i++ {
		start := time.Now()
		cmd := exec.CommandContext(ctx, c.goBin, args...)
		cmd.Dir = root
		out, err := cmd.CombinedOutput()
		got := allocsOf(string(out), modPath, base.CPU)
		fmt.Fprintf(stderr, "imsbench allocs: run %d: %d benchmarks in %s (%s)\n", i+1, len(got),
			time.Since(start).Round(time.Second), packageTimes(string(out)))
		if err != nil {
			// A failing package: its benchmarks are missing from got; say why.
			fmt.Fprintf(stderr, "imsbench allocs: go test: %v\n%s\n", err, failedLines(string(out)))
			testErr = err
		}
		runs = append(runs, got)
	}
	if c.update {
		if testErr != nil {
			return fmt.Errorf("go test failed, baseline not written: %w", testErr)
		}
		return updateAllocBaseline(path, base, runs, stdout)
	}
	v := compareAllocs(base, runs[0])
	report := func(title string, lines []string) {
		if len(lines) == 0 {
			return
		}
		fmt.Fprintf(stdout, "%s:\n", title)
		for _, l := range lines {
			fmt.Fprintf(stdout, "  %s\n", l)
		}
	}
	report("REGRESSED (allocations per operation grew)", v.Regressed)
	report("MISSING (baselined benchmark not reported)", v.Missing)
	report("improved (make bench-allocs-update to lock it in)", v.Improved)
	report("new, not in the baseline (make bench-allocs-update adds them)", v.New)
	fmt.Fprintf(stdout, "bench-allocs: %d benchmarks checked against %s, %d excluded, %d over +%d %%, %d missing\n",
		v.Checked, c.baseline, len(base.Excluded), len(v.Regressed), int(allocsTolerance*100), len(v.Missing))
	if v.failed() {
		return errors.New("allocation regression (docs/benchmarks.md, \"Allocation regression check\")")
	}
	return nil
}

// updateAllocBaseline writes the highest allocs/op of the runs, keeps the exclusions, and names the
// benchmarks whose allocs/op differed between runs by more than half the tolerance.
func updateAllocBaseline(path string, base allocBaseline, runs []map[allocKey]float64, stdout io.Writer) error {
	next := allocBaseline{Benchtime: base.Benchtime, CPU: base.CPU, Skip: base.Skip, SkipWhy: base.SkipWhy, Allocs: map[allocKey]float64{}, Excluded: base.Excluded}
	lo := map[allocKey]float64{}
	for _, got := range runs {
		for k, v := range got {
			if _, ex := base.Excluded[k]; ex {
				continue
			}
			if old, ok := next.Allocs[k]; !ok || v > old {
				next.Allocs[k] = v
			}
			if old, ok := lo[k]; !ok || v < old {
				lo[k] = v
			}
		}
	}
	for _, k := range sortedKeys(next.Allocs) {
		if hi := next.Allocs[k]; hi > lo[k]*(1+allocsTolerance/2) {
			fmt.Fprintf(stdout, "unstable: %s %s: %g to %g allocs/op over %d runs: exclude it with a reason if it keeps varying\n",
				k.Pkg, k.Name, lo[k], hi, len(runs))
		}
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := next.write(f); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "bench-allocs: wrote %d benchmarks (%d excluded) to %s\n", len(next.Allocs), len(next.Excluded), path)
	return nil
}

// existingPackages drops the listed packages that are not directories of the tree (a package removed since
// the list was written is reported through its missing benchmarks, not as a go test error).
func existingPackages(root string, pkgs []string) []string {
	var out []string
	for _, p := range pkgs {
		if st, err := os.Stat(filepath.Join(root, p)); err == nil && st.IsDir() {
			out = append(out, p)
		}
	}
	return out
}

// modulePath is the module line of root/go.mod.
func modulePath(root string) (string, error) {
	b, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		return "", err
	}
	for _, l := range strings.Split(string(b), "\n") {
		if m, ok := strings.CutPrefix(strings.TrimSpace(l), "module "); ok {
			return strings.Trim(strings.TrimSpace(m), `"`), nil
		}
	}
	return "", errors.New("go.mod has no module line")
}

// failedLines keeps the lines of go test output that explain a failure.
func failedLines(out string) string {
	var keep []string
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "FAIL") || strings.HasPrefix(l, "--- FAIL") || strings.Contains(l, "panic:") ||
			strings.Contains(l, ".go:") {
			keep = append(keep, l)
		}
	}
	if len(keep) > 40 {
		keep = keep[:40]
	}
	return strings.Join(keep, "\n")
}

// packageTimes is the "ok <package> <time>" lines of go test output, shortened: where the check's time goes.
func packageTimes(out string) string {
	var times []string
	for _, l := range strings.Split(out, "\n") {
		if f := strings.Fields(l); len(f) == 3 && f[0] == "ok" {
			times = append(times, filepath.Base(f[1])+" "+f[2])
		}
	}
	return strings.Join(times, ", ")
}
