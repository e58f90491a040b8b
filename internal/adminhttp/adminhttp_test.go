package adminhttp

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// /debug/pprof/cmdline must not hand out the store's password.
func TestMaskCredentials(t *testing.T) {
	tests := []struct{ name, arg, want string }{
		{"url password", "--db=postgres://ims:s3cr:et@db.example:5432/ims?sslmode=disable",
			"--db=postgres://ims:xxxxx@db.example:5432/ims?sslmode=disable"},
		{"url without password", "postgres://ims@db/ims", "postgres://ims@db/ims"},
		{"key=value password", "host=db user=ims password=s3cret dbname=ims", "host=db user=ims password=xxxxx dbname=ims"},
		{"query password", "postgres://db/ims?user=ims&password=s3cret&sslmode=require", "postgres://db/ims?user=ims&password=xxxxx&sslmode=require"},
		{"sip uri untouched", "sip:alice@ims.example:5060", "sip:alice@ims.example:5060"},
		{"plain flag", "--http-listen=127.0.0.1:9103", "--http-listen=127.0.0.1:9103"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := MaskCredentials(tt.arg); got != tt.want {
				t.Errorf("MaskCredentials(%q) = %q, want %q", tt.arg, got, tt.want)
			}
		})
	}
}

func TestHandlePprof(t *testing.T) {
	mux := http.NewServeMux()
	HandlePprof(mux)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	for _, path := range []string{"/debug/pprof/", "/debug/pprof/heap?debug=1", "/debug/pprof/goroutine?debug=1", "/debug/pprof/cmdline"} {
		res, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 200 || len(body) == 0 {
			t.Errorf("%s: %d, %d bytes", path, res.StatusCode, len(body))
		}
		if path == "/debug/pprof/heap?debug=1" && !strings.Contains(string(body), "heap profile") {
			t.Errorf("%s: not a heap profile: %.80q", path, body)
		}
	}
}

func TestRuntimeCollectors(t *testing.T) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(RuntimeCollectors()...)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, mf := range mfs {
		seen[mf.GetName()] = true
	}
	for _, name := range []string{"go_memstats_heap_inuse_bytes", "go_goroutines", "process_resident_memory_bytes"} {
		if !seen[name] {
			t.Errorf("%s not gathered", name)
		}
	}
}
