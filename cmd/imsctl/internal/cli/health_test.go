package cli

import (
	"bytes"
	"context"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// healthRun runs `imsctl ARGS` with env as its environment.
func healthRun(t *testing.T, env map[string]string, args ...string) result {
	t.Helper()
	var out, errOut bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	code := Main(ctx, args, Env{Stdout: &out, Stderr: &errOut, Getenv: func(k string) string { return env[k] }})
	return result{code: code, stdout: out.String(), stderr: errOut.String()}
}

// A node's admin listener as the container health check sees it: /healthz 200, /readyz 503 with the reason
// until ready is set, then 200.
func newNodeAdmin(t *testing.T, ready *atomic.Bool, tlsServer bool) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		if !ready.Load() {
			http.Error(w, "cx: no connection to the HSS", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ok\n"))
	})
	var srv *httptest.Server
	if tlsServer {
		srv = httptest.NewTLSServer(mux)
	} else {
		srv = httptest.NewServer(mux)
	}
	t.Cleanup(srv.Close)
	return srv
}

// TestHealth: exit 0 for 2xx answers, 1 with the status and the node's reason for anything else or no answer,
// 2 for a command-line mistake; every URL given must be healthy.
func TestHealth(t *testing.T) {
	var ready atomic.Bool
	srv := newNodeAdmin(t, &ready, false)
	if r := healthRun(t, nil, "health", srv.URL+"/healthz"); r.code != ExitOK || r.stdout != srv.URL+"/healthz: ok\n" {
		t.Errorf("/healthz: exit %d %q %q", r.code, r.stdout, r.stderr)
	}
	r := healthRun(t, nil, "health", srv.URL+"/readyz")
	if r.code != ExitError || !strings.Contains(r.stderr, "503 Service Unavailable") || !strings.Contains(r.stderr, "no connection to the HSS") {
		t.Errorf("/readyz not ready: exit %d %q", r.code, r.stderr)
	}
	if r := healthRun(t, nil, "health", srv.URL+"/healthz", srv.URL+"/readyz"); r.code != ExitError {
		t.Errorf("one of two unhealthy: exit %d", r.code)
	}
	ready.Store(true)
	if r := healthRun(t, nil, "--timeout", "5s", "health", srv.URL+"/healthz", srv.URL+"/readyz"); r.code != ExitOK {
		t.Errorf("ready: exit %d %q", r.code, r.stderr)
	}
	if r := healthRun(t, nil, "health", srv.URL+"/nothing"); r.code != ExitError || !strings.Contains(r.stderr, "404") {
		t.Errorf("404: exit %d %q", r.code, r.stderr)
	}
	// Nobody listening: unhealthy, not a hang.
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	if r := healthRun(t, nil, "health", "--timeout", "2s", closed.URL+"/readyz"); r.code != ExitError || !strings.Contains(r.stderr, "refused") {
		t.Errorf("closed port: exit %d %q", r.code, r.stderr)
	}
	for _, args := range [][]string{{"health"}, {"health", "127.0.0.1:9103/readyz"}, {"health", "ftp://x/readyz"}} {
		if r := healthRun(t, nil, args...); r.code != ExitUsage {
			t.Errorf("%v: exit %d, want %d", args, r.code, ExitUsage)
		}
	}
}

// An https:// admin listener: trusted through --ca-file (or IMSCTL_CA_FILE), refused without it.
func TestHealthTLS(t *testing.T) {
	var ready atomic.Bool
	ready.Store(true)
	srv := newNodeAdmin(t, &ready, true)
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	if r := healthRun(t, nil, "health", srv.URL+"/readyz"); r.code != ExitError || !strings.Contains(r.stderr, "certificate") {
		t.Errorf("without --ca-file: exit %d %q", r.code, r.stderr)
	}
	if r := healthRun(t, nil, "health", "--ca-file", ca, srv.URL+"/readyz"); r.code != ExitOK {
		t.Errorf("--ca-file: exit %d %q", r.code, r.stderr)
	}
	if r := healthRun(t, map[string]string{EnvCAFile: ca}, "health", srv.URL+"/readyz"); r.code != ExitOK {
		t.Errorf("%s: exit %d %q", EnvCAFile, r.code, r.stderr)
	}
}
