package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// hssBenchResult is what cmd/hssbench printed for one phase.
type hssBenchResult struct {
	OK, Failed    int
	MARPerSecond  float64
	P50, P90, P99 time.Duration
}

var (
	hssMARLine     = regexp.MustCompile(`^MAR: (\d+) ok, (\d+) failed in \S+: (\d+(?:\.\d+)?) MAR/s`)
	hssLatencyLine = regexp.MustCompile(`^latency: p50 (\S+)\s+p90 (\S+)\s+p99 (\S+)`)
)

// parseHSSBench reads cmd/hssbench's output: the last "MAR:" line and the "latency:" line after it.
func parseHSSBench(out string) (hssBenchResult, error) {
	var r hssBenchResult
	found := false
	for _, l := range strings.Split(out, "\n") {
		l = strings.TrimSpace(l)
		if m := hssMARLine.FindStringSubmatch(l); m != nil {
			r = hssBenchResult{}
			r.OK, _ = strconv.Atoi(m[1])
			r.Failed, _ = strconv.Atoi(m[2])
			r.MARPerSecond, _ = strconv.ParseFloat(m[3], 64)
			found = true
		}
		if m := hssLatencyLine.FindStringSubmatch(l); m != nil && found {
			r.P50, _ = time.ParseDuration(m[1])
			r.P90, _ = time.ParseDuration(m[2])
			r.P99, _ = time.ParseDuration(m[3])
		}
	}
	if !found {
		return r, errors.New("hssbench printed no MAR result")
	}
	return r, nil
}

// runHSSBench measures Cx MAR/s on both stores with cmd/hssbench (step 3).
func (b *bench) runHSSBench(ctx context.Context) {
	stores := []struct {
		name, file string
		args       []string
	}{
		{"embedded SQLite", "hssbench_sqlite.txt", nil},
		{"PostgreSQL", "hssbench_postgres.txt", []string{"--pgtest"}},
	}
	for _, s := range stores {
		args := append(append([]string{}, s.args...), "--subscribers", strconv.Itoa(b.cfg.hssSubscribers),
			"--duration", b.cfg.hssDuration.String(), "--concurrency", strconv.Itoa(b.cfg.hssConcurrency))
		cmdline := shown("hssbench", args...)
		name := "HSS Cx MAR transactions/s, " + s.name
		b.logf("%s", cmdline)
		cmd := exec.CommandContext(ctx, b.binPath("hssbench"), args...)
		out, err := cmd.CombinedOutput()
		b.keep(s.file, out)
		if err != nil {
			b.res.failed(fmt.Errorf("%v: %s", err, lastLine(string(out))), cmdline, name)
			continue
		}
		r, err := parseHSSBench(string(out))
		if err != nil {
			b.res.failed(err, cmdline, name)
			continue
		}
		b.res.add(Metric{Name: name, Value: r.MARPerSecond, Unit: "MAR/s", Command: cmdline,
			Note: fmt.Sprintf("%d subscribers, %d requesters, p50 %v, p99 %v, %d failed", b.cfg.hssSubscribers,
				b.cfg.hssConcurrency, r.P50.Round(10*time.Microsecond), r.P99.Round(10*time.Microsecond), r.Failed)})
	}
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

// importSummary is imsctl subscriber import's last line: "imported N subscribers from L lines, F failed".
var importSummary = regexp.MustCompile(`imported (\d+) subscribers from (\d+) lines, (\d+) failed`)

// provisionUEs bulk-provisions count subscribers through the HSS's API with imsctl (generate | import)
// and returns how long it took and the command line.
func (b *bench) provisionUEs(ctx context.Context, c *core, count int, imsiStart, msisdnStart string) (time.Duration, string, error) {
	gen := []string{"subscriber", "generate", "--count", strconv.Itoa(count), "--imsi-start", imsiStart,
		"--msisdn-start", msisdnStart, "--k", keyHex, "--op", opHex, "--amf", amfHex}
	imp := []string{"--api", c.apiURL(), "--token-file", c.tokenFile, "subscriber", "import", "-"}
	cmdline := shown("imsctl", gen...) + " | " + shown("imsctl", imp...)
	g := exec.CommandContext(ctx, b.binPath("imsctl"), gen...)
	i := exec.CommandContext(ctx, b.binPath("imsctl"), imp...)
	pipe, err := g.StdoutPipe()
	if err != nil {
		return 0, cmdline, err
	}
	i.Stdin = pipe
	var genErr, impOut strings.Builder
	g.Stderr = &genErr
	i.Stdout, i.Stderr = &impOut, &impOut
	start := time.Now()
	if err := g.Start(); err != nil {
		return 0, cmdline, err
	}
	if err := i.Start(); err != nil {
		_ = g.Process.Kill()
		_ = g.Wait()
		return 0, cmdline, err
	}
	gErr := g.Wait()
	iErr := i.Wait()
	took := time.Since(start)
	switch {
	case gErr != nil:
		return took, cmdline, fmt.Errorf("imsctl generate: %v: %s", gErr, strings.TrimSpace(genErr.String()))
	case iErr != nil:
		return took, cmdline, fmt.Errorf("imsctl import: %v: %s", iErr, lastLine(impOut.String()))
	}
	m := importSummary.FindStringSubmatch(impOut.String())
	if m == nil {
		return took, cmdline, fmt.Errorf("imsctl import printed no summary: %s", lastLine(impOut.String()))
	}
	if n, _ := strconv.Atoi(m[1]); n != count {
		return took, cmdline, fmt.Errorf("imported %s of %d subscribers (%s failed)", m[1], count, m[3])
	}
	return took, cmdline, nil
}

// runProvision times the bulk provisioning of BENCH_SUBSCRIBERS subscribers through a real HSS on the
// embedded store (step 4).
func (b *bench) runProvision(ctx context.Context) {
	name := fmt.Sprintf("bulk-provision %d subscribers (HSS API, embedded SQLite)", b.cfg.subscribers)
	dir, err := os.MkdirTemp("", "imsbench-provision-")
	if err != nil {
		b.res.failed(err, "", name)
		return
	}
	defer os.RemoveAll(dir)
	ports, err := freePorts()
	if b.cfg.defaultPorts {
		ports, err = defaultPorts(), nil
	}
	if err != nil {
		b.res.failed(err, "", name)
		return
	}
	c := &core{ports: ports, dir: dir}
	if err := c.makeTokens(); err != nil {
		b.res.failed(err, "", name)
		return
	}
	args := []string{"--db", "sqlite://" + dir + "/hss.db", "--diameter-listen", ports.hssCx, "--api-listen", ports.hssAPI,
		"--api-tokens-file", c.tokensFile, "--log-level", "warn"}
	n, err := startNode(b.binPath("hss"), "hss", ports.hssAPI, dir, args)
	if err != nil {
		b.res.failed(err, "", name)
		return
	}
	c.nodes = []*node{n}
	defer c.stop()
	if err := n.waitReady(ctx, 30*time.Second); err != nil {
		b.res.failed(err, "", name)
		return
	}
	b.logf("provisioning %d subscribers", b.cfg.subscribers)
	took, cmdline, err := b.provisionUEs(ctx, c, b.cfg.subscribers, "001010100000000", "15560000000")
	cmdline = shown("hss", "--db", "sqlite://hss.db") + " & " + cmdline
	if err != nil {
		b.res.failed(err, cmdline, name)
		return
	}
	b.res.add(Metric{Name: name, Value: took.Seconds(), Unit: "s", Command: cmdline,
		Note: fmt.Sprintf("%.0f subscribers/s", float64(b.cfg.subscribers)/took.Seconds())})
	if info, err := os.Stat(dir + "/hss.db"); err == nil {
		b.res.add(Metric{Name: fmt.Sprintf("HSS SQLite file with %d subscribers", b.cfg.subscribers),
			Value: float64(info.Size()) / (1 << 20), Unit: "MiB", Command: "ls -l hss.db (after the import above)",
			Note: "WAL not checkpointed"})
	}
}
