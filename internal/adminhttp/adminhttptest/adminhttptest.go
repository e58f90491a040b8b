// Package adminhttptest reads a node's admin listener in tests: GET a path, scrape /metrics into Prometheus
// metric families and check series values.
package adminhttptest

import (
	"bytes"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/imscore/imscore/internal/httpauth"
	"github.com/imscore/imscore/internal/testpki"
)

// Get fetches url and returns the status code and body.
func Get(t testing.TB, url string) (int, []byte) {
	t.Helper()
	code, _, body := GetAuth(t, nil, url, "")
	return code, body
}

// Scrape reads base+"/metrics" and parses the Prometheus text format; base is "http://host:port".
func Scrape(t testing.TB, base string) map[string]*dto.MetricFamily {
	t.Helper()
	code, body := Get(t, base+"/metrics")
	if code != 200 {
		t.Fatalf("/metrics: %d\n%s", code, body)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("/metrics does not parse: %v\n%s", err, body)
	}
	return fams
}

// Sample returns the value of the series name{labels} (label name, value, …; a histogram's sample count),
// and whether it exists. The labels must be the series' whole label set.
func Sample(fams map[string]*dto.MetricFamily, name string, labels ...string) (float64, bool) {
	f := fams[name]
	if f == nil {
		return 0, false
	}
	want := map[string]string{}
	for i := 0; i+1 < len(labels); i += 2 {
		want[labels[i]] = labels[i+1]
	}
next:
	for _, m := range f.GetMetric() {
		if len(m.GetLabel()) != len(want) {
			continue
		}
		for _, l := range m.GetLabel() {
			if v, ok := want[l.GetName()]; !ok || v != l.GetValue() {
				continue next
			}
		}
		switch f.GetType() {
		case dto.MetricType_COUNTER:
			return m.GetCounter().GetValue(), true
		case dto.MetricType_GAUGE:
			return m.GetGauge().GetValue(), true
		case dto.MetricType_HISTOGRAM:
			return float64(m.GetHistogram().GetSampleCount()), true
		case dto.MetricType_UNTYPED:
			return m.GetUntyped().GetValue(), true
		}
	}
	return 0, false
}

// Check is one expected series value. An alias of a struct literal type, so that tests may list checks
// positionally ({"name", labels, want}) without vet's composites warning about an imported struct.
type Check = struct {
	Name   string
	Labels []string
	Want   float64
}

// CheckMetrics checks each series, as a subtest named after it.
func CheckMetrics(t *testing.T, fams map[string]*dto.MetricFamily, checks []Check) {
	t.Helper()
	for _, c := range checks {
		t.Run(c.Name+fmt.Sprint(c.Labels), func(t *testing.T) {
			got, ok := Sample(fams, c.Name, c.Labels...)
			if !ok || got != c.Want {
				t.Errorf("%s%v = %v (present %v), want %v", c.Name, c.Labels, got, ok, c.Want)
			}
		})
	}
}

// CheckRuntimeMetrics checks that the Go and process collectors (adminhttp.RuntimeCollectors) report.
func CheckRuntimeMetrics(t *testing.T, fams map[string]*dto.MetricFamily) {
	t.Helper()
	for _, name := range []string{"go_memstats_heap_inuse_bytes", "go_goroutines", "process_resident_memory_bytes"} {
		if v, ok := Sample(fams, name); !ok || v <= 0 {
			t.Errorf("%s = %v (present %v), want > 0", name, v, ok)
		}
	}
}

// CheckEndpoints checks a ready node's /healthz ("ok") and /readyz (readyBody), open to anyone, and the
// runtime profiles of adminhttp.HandlePprof under base ("http://host:port"): 401 without a token, 403 with
// the read-only metrics token, 200 with adminToken (a token of the admin scope).
func CheckEndpoints(t *testing.T, base, readyBody string, tokens map[httpauth.Scope]string) {
	t.Helper()
	for _, tc := range []struct {
		path  string
		check func([]byte) bool // what the body must hold
	}{
		{"/healthz", func(b []byte) bool { return string(b) == "ok\n" }},
		{"/readyz", func(b []byte) bool { return string(b) == readyBody }},
		{"/debug/pprof/", func(b []byte) bool {
			return bytes.Contains(b, []byte("heap")) && bytes.Contains(b, []byte("goroutine"))
		}},
		// A profile is gzip-compressed protobuf (github.com/google/pprof/proto/profile.proto).
		{"/debug/pprof/heap", func(b []byte) bool { return bytes.HasPrefix(b, []byte{0x1f, 0x8b}) }},
		{"/debug/pprof/goroutine?debug=1", func(b []byte) bool { return bytes.Contains(b, []byte("goroutine profile:")) }},
		{"/debug/pprof/cmdline", func(b []byte) bool { return len(b) > 0 }},
	} {
		t.Run(tc.path, func(t *testing.T) {
			token := ""
			if strings.HasPrefix(tc.path, "/debug/pprof/") {
				token = tokens[httpauth.ScopeAdmin]
				if code, challenge, body := GetAuth(t, nil, base+tc.path, ""); code != http.StatusUnauthorized ||
					!strings.HasPrefix(challenge, "Bearer ") {
					t.Errorf("%s without a token: %d %q %.100s, want 401 with a Bearer challenge", tc.path, code, challenge, body)
				}
				if code, _, body := GetAuth(t, nil, base+tc.path, tokens[httpauth.ScopeMetrics]); code != http.StatusForbidden {
					t.Errorf("%s with the metrics token: %d %.100s, want 403", tc.path, code, body)
				}
			}
			code, _, body := GetAuth(t, nil, base+tc.path, token)
			if code != 200 || !tc.check(body) {
				t.Errorf("%s: %d, want 200\n%.300s", tc.path, code, body)
			}
		})
	}
}

// TokensFile writes a tokens file (internal/httpauth) with one token per scope, named "test-<scope>", into a
// temporary directory, and returns its path and the tokens by scope.
func TokensFile(t testing.TB) (string, map[httpauth.Scope]string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "tokens.yaml")
	secrets := map[httpauth.Scope]string{}
	for _, s := range httpauth.Scopes() {
		secret, err := httpauth.AddToken(path, "test-"+string(s), []httpauth.Scope{s})
		if err != nil {
			t.Fatal(err)
		}
		secrets[s] = secret
	}
	return path, secrets
}

// GetAuth fetches url with `Authorization: Bearer token` ("" sends none) through client (nil: a plain one)
// and returns the status code, the WWW-Authenticate header and the body.
func GetAuth(t testing.TB, client *http.Client, url, token string) (int, string, []byte) {
	t.Helper()
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := client.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return res.StatusCode, res.Header.Get("WWW-Authenticate"), body
}

// TLSFiles writes a certificate for 127.0.0.1, ::1 and localhost and its key (PEM), issued by a test CA, into
// a temporary directory, and returns their paths and a client that trusts the CA.
func TLSFiles(t testing.TB) (certFile, keyFile string, client *http.Client) {
	t.Helper()
	ca := testpki.New(t, "imscore test")
	certFile, keyFile = ca.Issue("localhost", "127.0.0.1", "::1")
	client = &http.Client{Timeout: 10 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool(), MinVersion: tls.VersionTLS12}}}
	return certFile, keyFile, client
}
