package main

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseGoBench(t *testing.T) {
	out := `goos: linux
goarch: amd64
pkg: github.com/imscore/imscore/diameter/cx
cpu: AMD EPYC
BenchmarkMarshal/MAR-2         	  200000	      5123 ns/op	    2048 B/op	      31 allocs/op
BenchmarkUnmarshal-2           	  100000	     10234.5 ns/op	    4096 B/op	      52 allocs/op
PASS
ok  	github.com/imscore/imscore/diameter/cx	3.2s
pkg: github.com/imscore/imscore/hss
BenchmarkMAR-2   	    5000	    812345 ns/op	       1231 MAR/s	        8.10 p50-ms	   12000 B/op	     140 allocs/op
--- FAIL: BenchmarkBroken
BenchmarkOdd-2 notanumber 1 ns/op
FAIL	github.com/imscore/imscore/storage/postgres [build failed]
`
	got := parseGoBench(out)
	want := []GoBenchmark{
		{Package: "github.com/imscore/imscore/diameter/cx", Name: "BenchmarkMarshal/MAR-2", Iterations: 200000, NsPerOp: 5123, BytesPerOp: 2048, AllocsPerOp: 31},
		{Package: "github.com/imscore/imscore/diameter/cx", Name: "BenchmarkUnmarshal-2", Iterations: 100000, NsPerOp: 10234.5, BytesPerOp: 4096, AllocsPerOp: 52},
		{Package: "github.com/imscore/imscore/hss", Name: "BenchmarkMAR-2", Iterations: 5000, NsPerOp: 812345, BytesPerOp: 12000, AllocsPerOp: 140,
			Extra: []BenchMetric{{1231, "MAR/s"}, {8.1, "p50-ms"}}},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d benchmarks, want %d: %+v", len(got), len(want), got)
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.Package != w.Package || g.Name != w.Name || g.Iterations != w.Iterations || g.NsPerOp != w.NsPerOp ||
			g.BytesPerOp != w.BytesPerOp || g.AllocsPerOp != w.AllocsPerOp || len(g.Extra) != len(w.Extra) {
			t.Errorf("benchmark %d = %+v, want %+v", i, g, w)
			continue
		}
		for j := range w.Extra {
			if g.Extra[j] != w.Extra[j] {
				t.Errorf("benchmark %d extra %d = %+v, want %+v", i, j, g.Extra[j], w.Extra[j])
			}
		}
	}
}

func TestBenchPackages(t *testing.T) {
	root := t.TempDir()
	files := map[string]string{
		"a/a_test.go":          "package a\n\nfunc BenchmarkX(b *testing.B) {}\n",
		"a/b/b_test.go":        "package b\n\nfunc TestY(t *testing.T) {}\n",
		"c/c_test.go":          "package c\n\nfunc BenchmarkZ(b *testing.B) {}\n",
		"c/testdata/x_test.go": "package x\n\nfunc BenchmarkNo(b *testing.B) {}\n",
		".hidden/h_test.go":    "package h\n\nfunc BenchmarkNo(b *testing.B) {}\n",
		"d/d.go":               "package d\n\nfunc BenchmarkNotATest(b *testing.B) {}\n",
	}
	for name, src := range files {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := benchPackages(root)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(got, " ") != "./a ./c" {
		t.Errorf("benchPackages = %q, want [./a ./c]", got)
	}
}

func TestParseHSSBench(t *testing.T) {
	tests := []struct {
		name    string
		out     string
		want    hssBenchResult
		wantErr bool
	}{
		{name: "two phases: the last counts", out: `store: sqlite
bulk provision: 100000 subscribers in 9.1s (10989 subscribers/s)
firing MARs: 8 requesters over 4 connections for 20s, 1 vector(s) each
MAR: 17000 ok, 0 failed in 20.001s: 850 MAR/s
latency: p50 5.6ms  p90 18.6ms  p99 62.5ms  max 120ms
firing MARs: 64 requesters over 4 connections for 20s, 1 vector(s) each
MAR: 14480 ok, 2 failed in 20.002s: 724 MAR/s
latency: p50 68ms  p90 186.8ms  p99 340.1ms  max 1s
first error: boom
`, want: hssBenchResult{OK: 14480, Failed: 2, MARPerSecond: 724, P50: 68 * time.Millisecond,
			P90: 186800 * time.Microsecond, P99: 340100 * time.Microsecond}},
		{name: "no result", out: "store: sqlite\nhssbench: no MAR succeeded\n", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseHSSBench(tt.out)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if !tt.wantErr && got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestParseSIPpStats(t *testing.T) {
	screen := `----------------------------- Statistics Screen ------- [1-9]: Change Screen --
  Start Time             | 2026-11-21	09:08:39.508607	1795252119.508607
  Elapsed Time           | 00:00:00:000000           | 00:00:00:000000
  Successful call        |        3                  |        7
  Failed call            |        0                  |        1
------------------------------ Test Terminated --------------------------------
`
	tests := []struct {
		name    string
		out     string
		want    SIPpStats
		wantErr bool
	}{
		{name: "one screen", out: screen, want: SIPpStats{Successful: 7, Failed: 1}},
		{name: "the last screen wins", out: strings.Replace(screen, "|        7", "|        2", 1) + screen,
			want: SIPpStats{Successful: 7, Failed: 1}},
		{name: "no screen (SIPp refused the scenario)", out: "Variable $sr is referenced 1 times!\n", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseSIPpStats(tt.out)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if !tt.wantErr && got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestPromValue(t *testing.T) {
	text := `# HELP go_memstats_heap_inuse_bytes Number of heap bytes that are in use.
# TYPE go_memstats_heap_inuse_bytes gauge
go_memstats_heap_inuse_bytes 4.5056e+06
go_memstats_heap_inuse_bytes_total 1
process_resident_memory_bytes{instance="x"} 2.1e+07
`
	tests := []struct {
		name   string
		metric string
		want   float64
		ok     bool
	}{
		{"plain sample", "go_memstats_heap_inuse_bytes", 4505600, true},
		{"labelled sample", "process_resident_memory_bytes", 21000000, true},
		{"absent", "process_virtual_memory_bytes", 0, false},
		{"prefix of another name is not a match", "go_memstats_heap", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := promValue(text, tt.metric)
			if ok != tt.ok || got != tt.want {
				t.Errorf("promValue(%s) = %v, %v; want %v, %v", tt.metric, got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestMachineParsers(t *testing.T) {
	cpu := "processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC 7B13\nprocessor\t: 1\nmodel name\t: AMD EPYC 7B13\n"
	if got := cpuModel(strings.NewReader(cpu)); got != "AMD EPYC 7B13" {
		t.Errorf("cpuModel = %q", got)
	}
	if got := memTotal(strings.NewReader("MemTotal:       24684032 kB\nMemFree: 1 kB\n")); got != 24684032*1024 {
		t.Errorf("memTotal = %d", got)
	}
	if got, ok := vmRSS(strings.NewReader("Name:\tscscf\nVmRSS:\t   20480 kB\n")); !ok || got != 20480*1024 {
		t.Errorf("vmRSS = %v, %v", got, ok)
	}
	if got := sippVersion("\n SIPp v3.6.1-SCTP-PCAP-RTPSTREAM.\n\n This program is free software"); got != "SIPp v3.6.1-SCTP-PCAP-RTPSTREAM" {
		t.Errorf("sippVersion = %q", got)
	}
}

func TestParseLoadReport(t *testing.T) {
	report := `{"scenario": "register", "transport": "udp", "ues": 1000, "pcscf": "127.0.0.1:5060",
  "version": "0.1.0", "started": "2026-11-21T09:00:00Z",
  "steps": [
    {"target_rate": 50, "achieved_rate": 49.8, "duration_s": 30, "attempts": 1494, "successes": 1493, "failures": 1,
     "failure_ratio": 0.00067, "failures_by_cause": {"403": 1}, "latency_ms": {"p50": 3.1, "p95": 7.9, "p99": 12.4, "max": 30.2}},
    {"target_rate": 75, "achieved_rate": 74.1, "duration_s": 30, "attempts": 2250, "successes": 2240, "failures": 10,
     "failure_ratio": 0.0044, "failures_by_cause": {"timeout": 10}, "latency_ms": {"p50": 9, "p95": 70, "p99": 300, "max": 5000}}
  ],
  "best_rate": 49.8}`
	rep, err := parseLoadReport([]byte(report))
	if err != nil {
		t.Fatal(err)
	}
	if rep.BestRate != 49.8 || rep.UEs != 1000 || len(rep.Steps) != 2 {
		t.Errorf("report = %+v", rep)
	}
	best := rep.bestStep()
	if best.TargetRate != 50 || best.LatencyMS["p99"] != 12.4 {
		t.Errorf("bestStep = %+v, want the 50/s step", best)
	}
	for _, bad := range []string{`{"steps": []}`, `not json`, `{"steps":[{"target_rate":1}],"best_rate":-1}`} {
		if _, err := parseLoadReport([]byte(bad)); err == nil {
			t.Errorf("parseLoadReport(%s) accepted", bad)
		}
	}
}

func TestStepUp(t *testing.T) {
	// A fake system that serves up to 100/s without failures and fails 1 % above.
	sys := func(_ context.Context, rate float64, calls int) (SIPpStats, error) {
		if rate > 100 {
			return SIPpStats{Successful: calls * 99 / 100, Failed: calls - calls*99/100, Elapsed: time.Second}, nil
		}
		return SIPpStats{Successful: calls, Elapsed: time.Second}, nil
	}
	steps, best, err := stepUp(context.Background(), 20, 12, time.Second, sys)
	if err != nil {
		t.Fatal(err)
	}
	// 20, 30, 45, 68, 102: the fifth fails.
	if len(steps) != 5 || best != 68 {
		t.Errorf("steps %+v, best %v; want 5 steps, best 68", steps, best)
	}
	// A system saturated at 50/s without failures: the step that falls short ends the run and its achieved
	// rate is the best.
	saturated := func(_ context.Context, rate float64, calls int) (SIPpStats, error) {
		return SIPpStats{Successful: calls, Elapsed: time.Duration(max(1, rate/50) * float64(time.Second))}, nil
	}
	if steps, best, _ := stepUp(context.Background(), 20, 12, time.Second, saturated); len(steps) != 4 || math.Abs(best-50) > 1e-9 {
		t.Errorf("saturated: steps %+v, best %v; want 4 steps (20, 30, 45, 68), best 50", steps, best)
	}
	// A run that cannot start at all is an error.
	broken := func(context.Context, float64, int) (SIPpStats, error) { return SIPpStats{}, errors.New("no sipp") }
	if _, _, err := stepUp(context.Background(), 20, 12, time.Second, broken); err == nil {
		t.Error("broken: no error")
	}
	// maxSteps bounds a system that never fails.
	if steps, _, _ := stepUp(context.Background(), 20, 3, time.Second, func(_ context.Context, _ float64, calls int) (SIPpStats, error) {
		return SIPpStats{Successful: calls, Elapsed: time.Second}, nil
	}); len(steps) != 3 {
		t.Errorf("maxSteps 3: %d steps", len(steps))
	}
}

func TestUsersAndCSV(t *testing.T) {
	users, err := Users(4, "001010000000098", "15550000098", keyText, opText)
	if err != nil {
		t.Fatal(err)
	}
	if users[3].IMPI != "001010000000101@"+domain || users[3].MSISDN != "15550000101" {
		t.Errorf("users[3] = %+v", users[3])
	}
	dir := t.TempDir()
	if err := writeCSVSet(dir, users); err != nil {
		t.Fatal(err)
	}
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	wantUsers := "SEQUENTIAL\n15550000098;001010000000098@" + domain + ";" + keyText + ";" + opText + "\n"
	if got := read("callers.csv"); got != wantUsers+"15550000099;001010000000099@"+domain+";"+keyText+";"+opText+"\n" {
		t.Errorf("callers.csv =\n%s", got)
	}
	if got := read("pairs.csv"); got != "SEQUENTIAL\n15550000098;15550000100\n15550000099;15550000101\n" {
		t.Errorf("pairs.csv =\n%s", got)
	}
	if got := strings.Count(read("users.csv"), "\n"); got != 5 {
		t.Errorf("users.csv has %d lines, want 5", got)
	}
	bad := []struct {
		name           string
		count          int
		imsi, msisdn   string
		k, op          string
		wantErrContain string
	}{
		{"overflow", 3, "98", "15550000098", keyText, opText, "overflow"},
		{"short K", 1, "001010000000001", "1", "short", opText, "16 bytes"},
		{"K with a semicolon", 1, "001010000000001", "1", "imscore;bench-K1", opText, "printable"},
		{"not digits", 1, "00101x", "1", keyText, opText, "digits"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Users(tt.count, tt.imsi, tt.msisdn, tt.k, tt.op)
			if err == nil || !strings.Contains(err.Error(), tt.wantErrContain) {
				t.Errorf("err = %v, want one containing %q", err, tt.wantErrContain)
			}
		})
	}
}

func TestKeysHexMatchText(t *testing.T) {
	// imsue takes the keys in hex, SIPp as text: both must name the same bytes.
	for _, kv := range []struct{ text, hex string }{{keyText, keyHex}, {opText, opHex}, {amfText, amfHex}} {
		if got := strings.TrimSpace(hexOf(kv.text)); got != kv.hex {
			t.Errorf("hex(%q) = %s, constant says %s", kv.text, got, kv.hex)
		}
	}
}

func hexOf(s string) string {
	const digits = "0123456789abcdef"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		b.WriteByte(digits[s[i]>>4])
		b.WriteByte(digits[s[i]&15])
	}
	return b.String()
}

func TestResultsTable(t *testing.T) {
	r := Results{
		Started:  time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC),
		Finished: time.Date(2026, 11, 21, 9, 12, 30, 0, time.UTC),
		Machine:  Machine{CPU: "AMD EPYC", Cores: 2, MemoryBytes: 24 << 30, Kernel: "6.18", GoVersion: "go1.26"},
		Commit:   Commit{Revision: "abcdef0123456789", Short: "abcdef012345", Describe: "abcdef0"},
		Metrics: []Metric{
			{Name: "HSS Cx MAR transactions/s, embedded SQLite", Value: 879.4, Unit: "MAR/s", Command: "bin/hssbench --subscribers 100000"},
			{Name: "memory per registered UE, S-CSCF, heap in use", Value: 3456.78, Unit: "bytes/UE", Command: "a | b", Note: "5000 UEs"},
			{Name: "calls/s", Unit: "calls/s", Command: "bin/imsue load", Error: "imsue load is not in this tree"},
		},
	}
	var b strings.Builder
	if err := r.WriteMarkdown(&b); err != nil {
		t.Fatal(err)
	}
	md := b.String()
	for _, want := range []string{
		"| HSS Cx MAR transactions/s, embedded SQLite | 879 | MAR/s | `bin/hssbench --subscribers 100000` |  |",
		"| memory per registered UE, S-CSCF, heap in use | 3,457 | bytes/UE | `a \\| b` | 5000 UEs |",
		"| calls/s | — | calls/s | `bin/imsue load` | not measured: imsue load is not in this tree |",
		"commit: `abcdef0` (abcdef0123456789)",
		"AMD EPYC, 2 cores, 24.0 GiB memory",
		"took 12m30s",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("results.md lacks %q:\n%s", want, md)
		}
	}
	dir := t.TempDir()
	if err := r.Save(dir); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"results.md", "results.json"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Error(err)
		}
	}
	if got := DirName(r.Started, Commit{Short: "abc", Dirty: true}); got != "2026-11-21T0900Z-abc-dirty" {
		t.Errorf("DirName = %q", got)
	}
}

func TestFormatValue(t *testing.T) {
	tests := []struct {
		in   float64
		want string
	}{
		{1234567.8, "1,234,568"},
		{879.4, "879"},
		{45, "45"},
		{44.94, "44.9"},
		{0.5, "0.5"},
		{-2500, "-2,500"},
	}
	for _, tt := range tests {
		if got := formatValue(tt.in); got != tt.want {
			t.Errorf("formatValue(%v) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestParseConfig(t *testing.T) {
	env := func(m map[string]string) func(string) (string, bool) {
		return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
	}
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		check   func(config) bool
		wantErr bool
	}{
		{name: "defaults", check: func(c config) bool {
			return !c.quick && c.subscribers == 1000000 && c.ues == 5000 && len(c.steps) == len(allSteps)
		}},
		{name: "BENCH_QUICK shrinks everything", env: map[string]string{"BENCH_QUICK": "1"}, check: func(c config) bool {
			return c.quick && c.subscribers == 20000 && c.ues == 300 && c.maxSteps == 3
		}},
		{name: "env counts over quick defaults", env: map[string]string{"BENCH_QUICK": "1", "BENCH_SUBSCRIBERS": "5000", "BENCH_UES": "100"},
			check: func(c config) bool { return c.subscribers == 5000 && c.ues == 100 }},
		{name: "flags over env", args: []string{"--subscribers", "7", "--steps", "hss,memory"}, env: map[string]string{"BENCH_SUBSCRIBERS": "5000"},
			check: func(c config) bool {
				return c.subscribers == 7 && c.steps["hss"] && c.steps["memory"] && !c.steps["gobench"]
			}},
		{name: "--quick flag", args: []string{"--quick"}, check: func(c config) bool { return c.quick && c.ues == 300 }},
		{name: "unknown step", args: []string{"--steps", "hss,nope"}, wantErr: true},
		{name: "bad env number", env: map[string]string{"BENCH_UES": "many"}, wantErr: true},
		{name: "stray argument", args: []string{"extra"}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := parseConfig(tt.args, env(tt.env), &strings.Builder{})
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if !tt.wantErr && !tt.check(c) {
				t.Errorf("config %+v", c)
			}
		})
	}
}

func TestSIPpCSVCommand(t *testing.T) {
	dir := t.TempDir()
	var out, errs strings.Builder
	if code := runSIPpCSV([]string{"--count", "4", "--imsi-start", "001010000000001", "--msisdn-start", "15550000001", "--dir", dir}, &out, &errs); code != 0 {
		t.Fatalf("exit %d: %s", code, errs.String())
	}
	b, err := os.ReadFile(filepath.Join(dir, "users.ndjson"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) != 4 {
		t.Fatalf("users.ndjson has %d lines", len(lines))
	}
	var first struct{ IMSI, MSISDN, K, OP, AMF string }
	if err := json.Unmarshal([]byte(lines[0]), &first); err != nil {
		t.Fatal(err)
	}
	if first.IMSI != "001010000000001" || first.MSISDN != "15550000001" || first.K != keyHex || first.OP != opHex || first.AMF != amfHex {
		t.Errorf("first line %+v", first)
	}
	for _, f := range []string{"users.csv", "callers.csv", "callees.csv", "pairs.csv"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Error(err)
		}
	}
	if code := runSIPpCSV([]string{"--count", "1"}, &out, &errs); code != 2 {
		t.Errorf("--count 1: exit %d, want 2", code)
	}
}

func TestParseProcStatCPU(t *testing.T) {
	// A real line of /proc/<pid>/stat (a command name with a space and a parenthesis), utime 1234, stime 56.
	line := "4242 (pc) scf) S 1 4242 4242 0 -1 4194560 2331 0 0 0 1234 56 0 0 20 0 9 0 1000 1263730688 5000 18446744073709551615 1 1 0 0 0 0 0 0 2143420159 0 0 0 17 1 0 0 0 0 0 0 0 0 0 0 0 0 0\n"
	got, err := parseProcStatCPU(line)
	if err != nil {
		t.Fatal(err)
	}
	if want := 12900 * time.Millisecond; got != want {
		t.Fatalf("got %v, want %v", got, want)
	}
	if _, err := parseProcStatCPU("4242 (x) S 1 2"); err == nil {
		t.Fatal("a short line parsed")
	}
}

// A log line written while a benchmark ran splits its result line; the numbers on the next line are its.
func TestParseGoBenchInterleavedLog(t *testing.T) {
	out := "pkg: github.com/imscore/imscore/sip/proxy\n" +
		"BenchmarkHotPath/register/UDP-2         \t     100\t    197406 ns/op\t   22513 B/op\t     254 allocs/op\n" +
		"BenchmarkHotPath/register/TCP-2         \t2026/12/08 01:26:55 WARN TCP ref went negative ip=127.0.0.1:1 dst=127.0.0.1:2 ref=-1\n" +
		"2026/12/08 01:26:55 WARN TCP ref went negative ip=127.0.0.1:3 dst=127.0.0.1:4 ref=-1\n" +
		"     100\t    300564 ns/op\t   21541 B/op\t     342 allocs/op\n" +
		"BenchmarkHotPath/call/TCP-2 \tsome log\n" +
		"BenchmarkHotPath/call/UDP-2         \t     100\t    400000 ns/op\t   1 B/op\t     523 allocs/op\n" +
		"PASS\n"
	got := parseGoBench(out)
	want := map[string]float64{"BenchmarkHotPath/register/UDP-2": 254, "BenchmarkHotPath/register/TCP-2": 342,
		"BenchmarkHotPath/call/UDP-2": 523}
	if len(got) != len(want) {
		t.Fatalf("got %d results %+v, want %d", len(got), got, len(want))
	}
	for _, g := range got {
		if w, ok := want[g.Name]; !ok || g.AllocsPerOp != w || g.Package != "github.com/imscore/imscore/sip/proxy" {
			t.Errorf("%+v: want %v allocs/op", g, w)
		}
	}
}
