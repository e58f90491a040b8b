package paa_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/imscore/imscore/services/paa"
	"github.com/imscore/imscore/services/paa/pac"
)

// TestHTTP: /healthz, /readyz and /metrics, which counts the authentication.
func TestHTTP(t *testing.T) {
	l := startPAA(t, []string{"127.0.0.1:0"}, func(c *paa.Config) { c.HTTPListen = "127.0.0.1:0" })
	s, err := pac.Authenticate(ctxT(t), l.pacConfig(l.node.Addrs()[0]))
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	get := func(path string) (int, string) {
		resp, err := http.Get("http://" + l.node.HTTPAddr() + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	for _, p := range []string{"/healthz", "/readyz"} {
		if code, _ := get(p); code != http.StatusOK {
			t.Errorf("%s: %d", p, code)
		}
	}
	_, metrics := get("/metrics")
	for _, want := range []string{`paa_authentications_total{result="success"} 1`, `paa_token_operations_total{operation="push",result="ok"} 1`,
		`paa_pana_messages_total{direction="in",message="PCI"} 1`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}
