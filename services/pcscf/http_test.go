package pcscf

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestHTTP: /healthz, /readyz once running, and /metrics with the P-CSCF's own series after a
// rejection was counted.
func TestHTTP(t *testing.T) {
	alice := newSubscriber(t, 1)
	core := startFakeCore(t, "127.0.0.1:0", alice)
	n := startPCSCF(t, "127.0.0.1", core.addr, newFakeSAs(), func(c *Config) { c.IPsec = IPsecRequired })
	// A REGISTER without sec-agree is refused with 421 and counted.
	_ = newRawUA(t, n.CoreAddr(), "127.0.0.1:0").do(register(alice, ""))
	srv := httptest.NewServer(n.httpHandler())
	defer srv.Close()
	for _, tc := range []struct {
		path string
		code int
		want string
	}{
		{"/healthz", 200, "ok"},
		{"/readyz", 200, "ready"},
		{"/metrics", 200, `pcscf_requests_rejected_total{code="421"} 1`},
	} {
		t.Run(tc.path, func(t *testing.T) {
			res, err := http.Get(srv.URL + tc.path)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			b, _ := io.ReadAll(res.Body)
			if res.StatusCode != tc.code || !strings.Contains(string(b), tc.want) {
				t.Errorf("%s: %d %q, want %d with %q", tc.path, res.StatusCode, b, tc.code, tc.want)
			}
		})
	}
}
