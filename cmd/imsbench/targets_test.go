package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestComputeTargets(t *testing.T) {
	cpu := func(node string, v float64) Metric {
		return Metric{Name: "CPU time per register operation, " + node, Value: v, Unit: "ms", Command: "imsue load --rate 300"}
	}
	r := Results{Metrics: []Metric{
		{Name: loadMetric["register"].name, Value: 342, Command: "imsue load --scenario register"},
		cpu("hss", 1.5), cpu("scscf", 1.7), cpu("icscf", 0.72), cpu("pcscf", 1.1),
		{Name: hssSQLiteName, Value: 2521, Command: "hssbench sqlite"},
		{Name: hssPostgresName, Error: "no PostgreSQL server binaries", Command: "hssbench postgres"},
		{Name: "memory per registered UE, P-CSCF, heap in use", Value: 7527, Command: "sipp register.xml"},
	}}
	r.computeTargets()
	if len(r.Targets) != len(targetSpecs()) {
		t.Fatalf("%d target rows, want one per row of the issue's table (%d)", len(r.Targets), len(targetSpecs()))
	}
	row := func(prefix string) Target {
		for _, tg := range r.Targets {
			if strings.HasPrefix(tg.Metric, prefix) {
				return tg
			}
		}
		t.Fatalf("no target row %q", prefix)
		return Target{}
	}
	if got := row("full AKA registrations/s"); got.Measured != "342 /s" || got.Command != "imsue load --scenario register" {
		t.Errorf("registrations: %+v", got)
	}
	// The four nodes' CPU summed, one command.
	if got := row("CPU per registration"); got.Measured != "5.0 ms" || got.Command != "imsue load --rate 300" {
		t.Errorf("CPU: %+v", got)
	}
	// One store measured, the other failed: its reason, no number.
	got := row("HSS MAR/s")
	if !strings.Contains(got.Measured, "SQLite 2,521 /s") || !strings.Contains(got.Measured, "PostgreSQL not measured: no PostgreSQL server binaries") {
		t.Errorf("HSS: %+v", got)
	}
	// A row whose step did not run says so.
	if got := row("calls/s"); !strings.HasPrefix(got.Measured, "not measured: its step did not run") || got.Command != "" {
		t.Errorf("calls: %+v", got)
	}
	if got := row("heap per registered UE"); !strings.Contains(got.Measured, "P-CSCF 7.4 KiB") || !strings.Contains(got.Measured, "S-CSCF not measured") {
		t.Errorf("heap: %+v", got)
	}
	var md bytes.Buffer
	if err := r.WriteMarkdown(&md); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(md.String(), "## Issue 12 targets") || !strings.Contains(md.String(), "| CPU per registration, four nodes summed | ≤ 0.5 ms | 5.0 ms |") {
		t.Errorf("results.md lacks the targets table:\n%s", md.String())
	}
}

func TestSmapsPssAndStatPPID(t *testing.T) {
	v, err := smapsPss(strings.NewReader("55d0-7ffd ---p 00000000 00:00 0 [rollup]\nRss:   10240 kB\nPss:    4096 kB\nShared_Clean: 1 kB\n"))
	if err != nil || v != 4096*1024 {
		t.Fatalf("Pss = %v, %v", v, err)
	}
	if _, err := smapsPss(strings.NewReader("Rss: 1 kB\n")); err == nil {
		t.Fatal("no Pss line accepted")
	}
	if pp, ok := statPPID("4242 (kamailio worker) S 4200 4200 4200 0 -1"); !ok || pp != 4200 {
		t.Fatalf("ppid = %d, %v", pp, ok)
	}
	if _, ok := statPPID("garbage"); ok {
		t.Fatal("garbage parsed")
	}
}

func TestWaitMetric(t *testing.T) {
	var body atomic.Value
	body.Store("# HELP imscore_hss_diameter_peers_up x\nimscore_hss_diameter_peers_up 1\n")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer tok" {
			http.Error(w, "no", http.StatusUnauthorized)
			return
		}
		io.WriteString(w, body.Load().(string))
	}))
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")
	err := waitMetric(context.Background(), addr, "tok", "diameter_peers_up 2", 300*time.Millisecond)
	if err == nil || !strings.Contains(err.Error(), "imscore_hss_diameter_peers_up 1") {
		t.Fatalf("one peer up: %v", err)
	}
	body.Store("imscore_hss_diameter_peers_up 2\nimscore_hss_other_diameter_peers_up_total 9\n")
	if err := waitMetric(context.Background(), addr, "tok", "diameter_peers_up 2", 5*time.Second); err != nil {
		t.Fatal(err)
	}
}

func TestErrorLines(t *testing.T) {
	log := " 0(1) INFO: core started\n 9(2) ERROR: cdp [peerstatemachine.c:634]: I_Snd_CER(): failed\n 0(1) CRITICAL: cdp: Bye Bye from C Diameter Peer test\n"
	if got := errorLines(log); got != "9(2) ERROR: cdp [peerstatemachine.c:634]: I_Snd_CER(): failed" {
		t.Fatalf("errorLines = %q", got)
	}
	if got := errorLines(" 0(1) INFO: fine\n"); got != "no ERROR line" {
		t.Fatalf("errorLines = %q", got)
	}
}
