package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"
)

// topLines is how much of `go tool pprof -top` the table shows per profile.
const topLines = 18

// profileDuring runs load (a run at the best rate, at least profileSeconds+4 s long after its set-up) and,
// from delay into it (its set-up, then 2 s), takes a CPU profile of every node for profileSeconds. Profiles go to profiles/<scenario>-<node>.pprof
// beside the table, each with its `go tool pprof -top` in a .top.txt file.
//
// rate is the load's operations per second: each node's CPU time per operation (the profile's total samples
// over the operations in its window) goes into the table.
func (b *bench) profileDuring(ctx context.Context, c *core, scenario string, rate float64, delay time.Duration,
	command string, load func(context.Context) error) error {
	if err := os.MkdirAll(filepath.Join(b.dir, "profiles"), 0o755); err != nil {
		return err
	}
	var wg sync.WaitGroup
	profiles := make([]Profile, len(c.nodes))
	loadErr := make(chan error, 1)
	wg.Go(func() { loadErr <- load(ctx) })
	select {
	case <-time.After(delay):
	case <-ctx.Done():
	}
	var pw sync.WaitGroup
	for i, n := range c.nodes {
		pw.Go(func() { profiles[i] = b.cpuProfile(ctx, n, scenario) })
	}
	pw.Wait()
	wg.Wait()
	b.res.Profiles = append(b.res.Profiles, profiles...)
	err := <-loadErr
	for _, p := range profiles {
		if p.Error != "" || rate <= 0 {
			continue
		}
		ops := rate * float64(b.cfg.profileSeconds)
		note := fmt.Sprintf("%v of CPU samples in %d s at %.0f/s (%s)", p.cpu, b.cfg.profileSeconds, rate, p.File)
		if p.cpu == 0 {
			note = "no CPU sample: the node is not on this flow's path (" + p.File + ")"
		}
		b.res.add(Metric{Name: fmt.Sprintf("CPU time per %s operation, %s", scenario, p.Node),
			Value: float64(p.cpu.Microseconds()) / 1000 / ops, Unit: "ms", Command: command + " + " + p.Command, Note: note})
	}
	return err
}

// cpuProfile fetches /debug/pprof/profile?seconds=N from the node's admin server and summarises it.
func (b *bench) cpuProfile(ctx context.Context, n *node, scenario string) Profile {
	url := fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", n.admin, b.cfg.profileSeconds)
	rel := filepath.Join("profiles", scenario+"-"+n.name+".pprof")
	p := Profile{Node: n.name, Scenario: scenario, File: rel,
		Command: fmt.Sprintf("curl -o %s '%s' (%s admin server)", filepath.Base(rel), strings.Replace(url, n.admin, "<"+n.name+">", 1), n.name)}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		p.Error = err.Error()
		return p
	}
	if n.token != "" {
		req.Header.Set("Authorization", "Bearer "+n.token) // pprof: admin scope (internal/adminhttp)
	}
	client := &http.Client{Timeout: time.Duration(b.cfg.profileSeconds+30) * time.Second}
	res, err := client.Do(req)
	if err != nil {
		p.Error = err.Error()
		return p
	}
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	if err != nil {
		p.Error = err.Error()
		return p
	}
	if res.StatusCode != http.StatusOK {
		p.Error = fmt.Sprintf("HTTP %d from /debug/pprof/profile (no pprof endpoint on this node at this commit)", res.StatusCode)
		return p
	}
	path := filepath.Join(b.dir, rel)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		p.Error = err.Error()
		return p
	}
	top, err := exec.CommandContext(ctx, b.cfg.goBin, "tool", "pprof", "-top", "-nodecount=40", path).CombinedOutput()
	if err != nil {
		p.Error = fmt.Sprintf("go tool pprof -top: %v: %s", err, lastLine(string(top)))
		return p
	}
	p.TopFile = strings.TrimSuffix(rel, ".pprof") + ".top.txt"
	if err := os.WriteFile(filepath.Join(b.dir, p.TopFile), top, 0o644); err != nil {
		p.Error = err.Error()
		return p
	}
	p.Top = headLines(dropProfileHeader(string(top)), topLines)
	p.cpu = totalSamples(string(top))
	if cum, err := exec.CommandContext(ctx, b.cfg.goBin, "tool", "pprof", "-top", "-cum", "-nodecount=40", path).CombinedOutput(); err == nil {
		_ = os.WriteFile(filepath.Join(b.dir, strings.TrimSuffix(rel, ".pprof")+".cum.txt"), cum, 0o644)
	}
	return p
}

var totalSamplesRe = regexp.MustCompile(`Total samples = (\S+)`)

// totalSamples is the CPU time a `go tool pprof -top` header reports ("Duration: 10s, Total samples = 2.5s").
func totalSamples(top string) time.Duration {
	m := totalSamplesRe.FindStringSubmatch(top)
	if m == nil {
		return 0
	}
	d, err := time.ParseDuration(m[1])
	if err != nil {
		return 0
	}
	return d
}

// dropProfileHeader removes the File, Build ID, Type and Time lines of `go tool pprof -top`.
func dropProfileHeader(top string) string {
	var out []string
	for _, l := range strings.Split(top, "\n") {
		if strings.HasPrefix(l, "File: ") || strings.HasPrefix(l, "Build ID: ") || strings.HasPrefix(l, "Type: ") ||
			strings.HasPrefix(l, "Time: ") {
			continue
		}
		out = append(out, l)
	}
	return strings.Join(out, "\n")
}

func headLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[:n]
	}
	return strings.Join(lines, "\n")
}
