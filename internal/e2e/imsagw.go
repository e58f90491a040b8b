package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// AGW is a running cmd/imsagw: the IMS-AGW the P-CSCF's IMS-ALG controls over Iq.
type AGW struct {
	*Process
	Iq   string
	HTTP string
}

// StartAGW starts cmd/imsagw on free loopback ports (both realms on 127.0.0.1, the ALG on 127.0.0.1 its only
// Iq peer) with extra YAML appended (debug logs unless it has a log: key), and waits for /readyz.
func StartAGW(t testing.TB, b *Builder, extra string) *AGW {
	t.Helper()
	bin := b.MustPath(t, "imsagw")
	n := &AGW{Iq: Addr(FreePort(t)), HTTP: Addr(FreePort(t))}
	dir := t.TempDir()
	cfg := fmt.Sprintf("iq: {listen: %q, peers: [\"127.0.0.1\"]}\nhttp_listen: %q\n", n.Iq, n.HTTP) + extra
	if !strings.Contains(extra, "log:") {
		cfg += "log: {level: debug}\n"
	}
	path := filepath.Join(dir, "imsagw.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	n.Process = StartProcess(t, "imsagw", bin, "--config", path)
	n.WaitHTTP(fmt.Sprintf("http://%s/readyz", n.HTTP))
	return n
}

// Gauge reads one unlabelled metric of the AGW (imsagw_contexts, imsagw_terminations).
func (a *AGW) Gauge(t testing.TB, name string) float64 {
	t.Helper()
	for _, l := range strings.Split(Metrics(t, a.HTTP), "\n") {
		if v, ok := strings.CutPrefix(l, name+" "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil {
				t.Fatalf("%s: %q", name, l)
			}
			return f
		}
	}
	return 0
}

// WaitGauge waits until the metric is want (the AGW releases asynchronously after a BYE).
func (a *AGW) WaitGauge(t testing.TB, name string, want float64) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		got := a.Gauge(t, name)
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s = %v, want %v", name, got, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
