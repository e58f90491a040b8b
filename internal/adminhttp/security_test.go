package adminhttp_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/imscore/imscore/internal/adminhttp"
	"github.com/imscore/imscore/internal/adminhttp/adminhttptest"
	"github.com/imscore/imscore/internal/httpauth"
)

// serve mounts the admin routes of cfg on a test server.
func serve(t *testing.T, cfg adminhttp.Config) string {
	t.Helper()
	a, err := adminhttp.New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	reg := prometheus.NewRegistry()
	reg.MustRegister(adminhttp.RuntimeCollectors()...)
	a.Mount(mux, reg)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestDefaultsNoPprofOpenMetrics(t *testing.T) {
	base := serve(t, adminhttp.Config{})
	if code, _, _ := adminhttptest.GetAuth(t, nil, base+"/debug/pprof/", ""); code != http.StatusNotFound {
		t.Errorf("/debug/pprof/ by default: %d, want 404", code)
	}
	if code, _, _ := adminhttptest.GetAuth(t, nil, base+"/debug/pprof/heap", ""); code != http.StatusNotFound {
		t.Errorf("/debug/pprof/heap by default: %d, want 404", code)
	}
	if code, _, body := adminhttptest.GetAuth(t, nil, base+"/metrics", ""); code != 200 || !strings.Contains(string(body), "go_goroutines") {
		t.Errorf("/metrics by default: %d, want 200 and open", code)
	}
}

func TestPprofAndMetricsBehindTokens(t *testing.T) {
	file, tokens := adminhttptest.TokensFile(t)
	base := serve(t, adminhttp.Config{TokensFile: file, Pprof: true, MetricsAuth: true})
	for _, tc := range []struct {
		path      string
		token     httpauth.Scope // "" sends none
		want      int
		challenge string
	}{
		{"/debug/pprof/", "", 401, `Bearer realm="imscore"`},
		{"/debug/pprof/heap", httpauth.ScopeProvision, 403, `Bearer realm="imscore", error="insufficient_scope", scope="admin"`},
		{"/debug/pprof/cmdline", httpauth.ScopeMetrics, 403, `Bearer realm="imscore", error="insufficient_scope", scope="admin"`},
		{"/debug/pprof/goroutine?debug=1", httpauth.ScopeAdmin, 200, ""},
		{"/metrics", "", 401, `Bearer realm="imscore"`},
		{"/metrics", httpauth.ScopeRead, 403, `Bearer realm="imscore", error="insufficient_scope", scope="metrics"`},
		{"/metrics", httpauth.ScopeMetrics, 200, ""},
		{"/metrics", httpauth.ScopeAdmin, 200, ""},
	} {
		code, challenge, body := adminhttptest.GetAuth(t, nil, base+tc.path, tokens[tc.token])
		if code != tc.want || challenge != tc.challenge {
			t.Errorf("%s with %q: %d %q, want %d %q (%.100s)", tc.path, tc.token, code, challenge, tc.want, tc.challenge, body)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		cfg  adminhttp.Config
		want string
	}{
		{adminhttp.Config{Pprof: true}, "pprof"},
		{adminhttp.Config{MetricsAuth: true}, "metrics_auth"},
		{adminhttp.Config{TLSCert: "c.pem"}, "tls_key"},
		{adminhttp.Config{TLSKey: "k.pem"}, "tls_cert"},
	} {
		if err := tc.cfg.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want an error naming %s", tc.cfg, err, tc.want)
		}
	}
	if _, err := adminhttp.New(adminhttp.Config{TokensFile: "/nonexistent"}, nil); err == nil {
		t.Error("a missing tokens file was accepted")
	}
}

// With tls_cert and tls_key the listener serves HTTPS with the test certificate.
func TestListenTLS(t *testing.T) {
	cert, key, client := adminhttptest.TLSFiles(t)
	a, err := adminhttp.New(adminhttp.Config{TLSCert: cert, TLSKey: key}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := a.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	srv := &http.Server{Handler: mux}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close(); <-done })
	if code, _, body := adminhttptest.GetAuth(t, client, "https://"+ln.Addr().String()+"/healthz", ""); code != 200 || string(body) != "ok\n" {
		t.Fatalf("HTTPS /healthz: %d %q", code, body)
	}
	if !a.TLS() {
		t.Error("TLS() = false")
	}
}
