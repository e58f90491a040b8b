package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Metric is one row of the results table: what was measured, its value, and the exact command that
// produced it. A step that could not run still gets its rows, with Error saying why, so a missing
// number is never silent.
type Metric struct {
	Name    string  `json:"name"`
	Value   float64 `json:"value"`
	Unit    string  `json:"unit"`
	Command string  `json:"command"`
	Note    string  `json:"note,omitempty"`
	Error   string  `json:"error,omitempty"`
}

// Profile is a CPU profile taken from one node during the load run at the best rate.
type Profile struct {
	Node     string `json:"node"`
	Scenario string `json:"scenario"`
	File     string `json:"file"`     // relative to the results directory
	TopFile  string `json:"top_file"` // `go tool pprof -top` of it
	Top      string `json:"top"`      // the first lines of TopFile
	Command  string `json:"command"`
	Error    string `json:"error,omitempty"`

	cpu time.Duration // total CPU samples
}

// Results is everything one bench run wrote: results.json is this struct, results.md its table.
type Results struct {
	Started  time.Time     `json:"started"`
	Finished time.Time     `json:"finished"`
	Quick    bool          `json:"quick"`
	Machine  Machine       `json:"machine"`
	Commit   Commit        `json:"commit"`
	Metrics  []Metric      `json:"metrics"`
	GoBench  []GoBenchmark `json:"go_benchmarks"`
	Profiles []Profile     `json:"profiles"`
	Targets  []Target      `json:"targets"` // issue 12's table, read from Metrics (computeTargets)
	Files    []string      `json:"files"`   // raw outputs kept beside the table, relative names
}

// add appends a metric.
func (r *Results) add(m Metric) { r.Metrics = append(r.Metrics, m) }

// failed appends one row per name with the same error.
func (r *Results) failed(err error, command string, names ...string) {
	for _, n := range names {
		r.add(Metric{Name: n, Command: command, Error: err.Error()})
	}
}

// DirName is the results directory's name: <UTC date>-<short commit>, as bench/results/README.md says.
func DirName(started time.Time, c Commit) string {
	short := c.Short
	if short == "" {
		short = "nocommit"
	}
	if c.Dirty {
		short += "-dirty"
	}
	return started.UTC().Format("2006-01-02T1504Z") + "-" + short
}

// formatValue prints a number the way a reader wants it: thousands separated, at most one decimal
// below 100 and none above.
func formatValue(v float64) string {
	switch {
	case v != v: // NaN
		return "n/a"
	case v >= 100 || v <= -100:
		return groupThousands(strconv.FormatFloat(v, 'f', 0, 64))
	case v == float64(int64(v)):
		return strconv.FormatFloat(v, 'f', 0, 64)
	case v >= 1 || v <= -1:
		return strconv.FormatFloat(v, 'f', 1, 64)
	default:
		return strconv.FormatFloat(v, 'g', 3, 64)
	}
}

func groupThousands(s string) string {
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// mdCell escapes what would break a Markdown table cell.
func mdCell(s string) string {
	s = strings.ReplaceAll(s, "|", `\|`)
	return strings.ReplaceAll(s, "\n", " ")
}

// WriteMarkdown writes the table and its context: machine, commit, the metrics, the Go benchmarks
// and where the time went (the head of each profile's top list).
func (r *Results) WriteMarkdown(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# imscore benchmark %s\n\n", r.Started.UTC().Format("2006-01-02 15:04 UTC"))
	mode := "full"
	if r.Quick {
		mode = "quick (BENCH_QUICK=1: small counts and short runs; a smoke test, not a measurement)"
	}
	fmt.Fprintf(&b, "- commit: `%s` (%s)\n", r.Commit.Describe, r.Commit.Revision)
	fmt.Fprintf(&b, "- machine: %s, %d cores, %s memory, kernel %s, %s\n", r.Machine.CPU, r.Machine.Cores,
		formatBytes(r.Machine.MemoryBytes), r.Machine.Kernel, r.Machine.GoVersion)
	fmt.Fprintf(&b, "- mode: %s; took %v\n", mode, r.Finished.Sub(r.Started).Round(time.Second))
	b.WriteString("- everything (load generator, nodes, database) shares the machine's cores; loopback only\n\n")

	if len(r.Targets) > 0 {
		b.WriteString("## Issue 12 targets\n\nEach row of the issue's table, read from the metrics below (the commands are theirs).\n\n")
		b.WriteString("| metric | target | measured | command |\n|---|---|---|---|\n")
		for _, t := range r.Targets {
			command := ""
			if t.Command != "" {
				command = "`" + mdCell(t.Command) + "`"
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", mdCell(t.Metric), mdCell(t.Target), mdCell(t.Measured), command)
		}
		b.WriteString("\n## All metrics\n\n")
	}
	b.WriteString("| metric | value | unit | command | notes |\n|---|---:|---|---|---|\n")
	for _, m := range r.Metrics {
		value := formatValue(m.Value)
		if m.Error != "" {
			value = "—"
		}
		note := m.Note
		if m.Error != "" {
			note = strings.TrimSpace("not measured: " + m.Error + " " + note)
		}
		command := ""
		if m.Command != "" {
			command = "`" + mdCell(m.Command) + "`"
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", mdCell(m.Name), value, mdCell(m.Unit), command, mdCell(note))
	}

	if len(r.GoBench) > 0 {
		b.WriteString("\n## Go benchmarks\n\n`go_benchmarks.txt` holds the raw output.\n\n")
		b.WriteString("| package | benchmark | ns/op | B/op | allocs/op | other |\n|---|---|---:|---:|---:|---|\n")
		for _, g := range r.GoBench {
			var other []string
			for _, e := range g.Extra {
				other = append(other, formatValue(e.Value)+" "+e.Unit)
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s |\n", mdCell(g.Package), mdCell(g.Name),
				formatValue(g.NsPerOp), formatValue(g.BytesPerOp), formatValue(g.AllocsPerOp), mdCell(strings.Join(other, ", ")))
		}
	}

	if len(r.Profiles) > 0 {
		b.WriteString("\n## Where the time went\n\nCPU profiles of each node during a run at the best rate " +
			"(`go tool pprof -top <file>`; the full lists are in the `*.top.txt` files):\n")
		for _, p := range r.Profiles {
			fmt.Fprintf(&b, "\n### %s, %s\n\n", p.Scenario, p.Node)
			if p.Error != "" {
				fmt.Fprintf(&b, "not taken: %s\n", p.Error)
				continue
			}
			fmt.Fprintf(&b, "`%s` → `%s`\n\n```\n%s\n```\n", p.Command, p.File, strings.TrimRight(p.Top, "\n"))
		}
	}
	if len(r.Files) > 0 {
		b.WriteString("\n## Raw files\n\n")
		for _, f := range r.Files {
			fmt.Fprintf(&b, "- `%s`\n", f)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteText prints the table compactly for a terminal.
func (r *Results) WriteText(w io.Writer) {
	fmt.Fprintf(w, "imscore benchmark %s  commit %s  %s, %d cores\n", r.Started.UTC().Format(time.RFC3339),
		r.Commit.Describe, r.Machine.CPU, r.Machine.Cores)
	width := 0
	for _, m := range r.Metrics {
		width = max(width, len(m.Name))
	}
	for _, m := range r.Metrics {
		if m.Error != "" {
			fmt.Fprintf(w, "  %-*s  %12s  %s\n", width, m.Name, "—", "not measured: "+m.Error)
			continue
		}
		fmt.Fprintf(w, "  %-*s  %12s  %s\n", width, m.Name, formatValue(m.Value), m.Unit)
	}
	if len(r.Targets) > 0 {
		fmt.Fprintln(w, "issue 12 targets:")
		for _, t := range r.Targets {
			fmt.Fprintf(w, "  %s (target %s): %s\n", t.Metric, t.Target, t.Measured)
		}
	}
}

// Save writes results.md and results.json into dir.
func (r *Results) Save(dir string) error {
	js, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("encode results: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "results.json"), append(js, '\n'), 0o644); err != nil {
		return fmt.Errorf("write results.json: %w", err)
	}
	f, err := os.Create(filepath.Join(dir, "results.md"))
	if err != nil {
		return fmt.Errorf("write results.md: %w", err)
	}
	if err := r.WriteMarkdown(f); err != nil {
		f.Close()
		return fmt.Errorf("write results.md: %w", err)
	}
	return f.Close()
}

func formatBytes(n uint64) string {
	const gib = 1 << 30
	if n >= gib {
		return fmt.Sprintf("%.1f GiB", float64(n)/gib)
	}
	return fmt.Sprintf("%.0f MiB", float64(n)/(1<<20))
}
