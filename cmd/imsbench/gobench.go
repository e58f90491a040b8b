package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// GoBenchmark is one result line of `go test -bench`.
type GoBenchmark struct {
	Package     string        `json:"package"`
	Name        string        `json:"name"`
	Iterations  int64         `json:"iterations"`
	NsPerOp     float64       `json:"ns_per_op"`
	BytesPerOp  float64       `json:"bytes_per_op"`
	AllocsPerOp float64       `json:"allocs_per_op"`
	Extra       []BenchMetric `json:"extra,omitempty"` // b.ReportMetric values (MAR/s, p50-ms, …)
}

// BenchMetric is a value/unit pair of a benchmark line.
type BenchMetric struct {
	Value float64 `json:"value"`
	Unit  string  `json:"unit"`
}

// parseGoBench reads `go test -bench` output (several packages): "pkg: …" lines name the package of the
// Benchmark lines that follow. Lines that are not results (logs, PASS, ok) are skipped. go test prints a
// benchmark's name before running it and its numbers after, so a log line written to stderr meanwhile (sipgo
// writes some to slog's default logger) lands between them: "BenchmarkX-2 \t<log line>" then "  100  … ns/op".
// Such a result is joined back to its name (bench-allocs once failed CI on a benchmark "not reported" so).
func parseGoBench(out string) []GoBenchmark {
	var res []GoBenchmark
	pkg, pending := "", ""
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		line := sc.Text()
		if p, ok := strings.CutPrefix(line, "pkg: "); ok {
			pkg, pending = strings.TrimSpace(p), ""
			continue
		}
		f := strings.Fields(line)
		if strings.HasPrefix(line, "Benchmark") {
			pending = ""
			if g, ok := parseBenchResult(pkg, f[0], f[1:]); ok {
				res = append(res, g)
			} else {
				pending = f[0] // its numbers may follow a log line
			}
			continue
		}
		if pending != "" {
			if g, ok := parseBenchResult(pkg, pending, f); ok {
				res, pending = append(res, g), ""
			}
		}
	}
	return res
}

// parseBenchResult reads the fields after a benchmark's name: iterations, then value/unit pairs.
func parseBenchResult(pkg, name string, f []string) (GoBenchmark, bool) {
	if len(f) < 3 || len(f)%2 != 1 {
		return GoBenchmark{}, false
	}
	n, err := strconv.ParseInt(f[0], 10, 64)
	if err != nil {
		return GoBenchmark{}, false
	}
	g := GoBenchmark{Package: pkg, Name: name, Iterations: n}
	for i := 1; i+1 < len(f); i += 2 {
		v, err := strconv.ParseFloat(f[i], 64)
		if err != nil {
			return GoBenchmark{}, false
		}
		switch f[i+1] {
		case "ns/op":
			g.NsPerOp = v
		case "B/op":
			g.BytesPerOp = v
		case "allocs/op":
			g.AllocsPerOp = v
		default:
			g.Extra = append(g.Extra, BenchMetric{Value: v, Unit: f[i+1]})
		}
	}
	return g, true
}

// benchPackages lists the packages under root whose tests hold a Benchmark function, as ./-relative
// import paths, sorted. testdata and hidden directories are skipped, as the go tool does.
func benchPackages(root string) ([]string, error) {
	seen := map[string]bool{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			name := d.Name()
			if path != root && (name == "testdata" || name == "vendor" || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_")) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, "_test.go") {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if hasBenchmark(string(b)) {
			rel, err := filepath.Rel(root, filepath.Dir(path))
			if err != nil {
				return err
			}
			seen["./"+filepath.ToSlash(rel)] = true
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("find benchmarks under %s: %w", root, err)
	}
	var pkgs []string
	for p := range seen {
		pkgs = append(pkgs, p)
	}
	slices.Sort(pkgs)
	return pkgs, nil
}

func hasBenchmark(src string) bool {
	for _, l := range strings.Split(src, "\n") {
		if strings.HasPrefix(l, "func Benchmark") && strings.Contains(l, "*testing.B") {
			return true
		}
	}
	return false
}

// goBenchArgs is the go test command line of the Go benchmark step.
func goBenchArgs(benchtime string, pkgs []string) []string {
	args := []string{"test", "-run", "^$", "-bench", ".", "-benchmem", "-count", "1"}
	if benchtime != "" {
		args = append(args, "-benchtime", benchtime)
	}
	return append(args, pkgs...)
}

// runGoBench runs the Go benchmarks, keeps the raw output in go_benchmarks.txt and returns the parsed
// lines. A package that fails (it does not compile, a benchmark fails) is reported in the error but the
// others' results are kept.
func (b *bench) runGoBench(ctx context.Context) {
	pkgs, err := benchPackages(b.root)
	cmdline := "go test -run '^$' -bench . -benchmem <packages with benchmarks>"
	if err != nil {
		b.res.failed(err, cmdline, "Go benchmarks")
		return
	}
	args := goBenchArgs(b.cfg.benchtime, pkgs)
	cmdline = "go " + strings.Join(quoteArgs(args), " ")
	b.logf("go benchmarks: %s", cmdline)
	cmd := exec.CommandContext(ctx, b.cfg.goBin, args...)
	cmd.Dir = b.root
	out, err := cmd.CombinedOutput()
	b.keep("go_benchmarks.txt", out)
	b.res.GoBench = parseGoBench(string(out))
	var exit *exec.ExitError
	note := fmt.Sprintf("%d benchmarks in %d packages", len(b.res.GoBench), len(pkgs))
	switch {
	case err != nil && !errors.As(err, &exit):
		b.res.failed(err, cmdline, "Go benchmarks")
	case err != nil:
		b.res.add(Metric{Name: "Go benchmarks", Value: float64(len(b.res.GoBench)), Unit: "benchmarks",
			Command: cmdline, Note: note + "; some package failed, see go_benchmarks.txt"})
	default:
		b.res.add(Metric{Name: "Go benchmarks", Value: float64(len(b.res.GoBench)), Unit: "benchmarks",
			Command: cmdline, Note: note})
	}
}

// quoteArgs single-quotes the arguments a shell would split or expand.
func quoteArgs(args []string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		if a == "" || strings.ContainsAny(a, " \t'\"$^*?;&|<>()[]{}\\") {
			out[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		} else {
			out[i] = a
		}
	}
	return out
}
