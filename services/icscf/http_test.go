package icscf

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/imscore/imscore/diameter/cx"
)

func TestHTTPEndpoints(t *testing.T) {
	hss := startFakeHSS(t)
	hss.onUAR(func(*cx.UAR) *cx.UAA { return uaa(cx.Vendor3GPP, 5001, "", nil) })
	s := startFakeSCSCF(t, "scscf", false)
	n := startICSCF(t, hss, []SCSCF{s.config()})
	u := newUE(t)
	if res := u.send(sipAddr(n, "UDP"), u.request("REGISTER", "sip:"+testDomain, testIMPU)); res.StatusCode != 403 {
		t.Fatalf("status %d", res.StatusCode)
	}
	tests := []struct {
		path     string
		wantCode int
		contains string
	}{
		{"/healthz", 200, "ok"},
		{"/readyz", 200, "ready"},
		{"/metrics", 200, `icscf_register_total{outcome="forbidden"} 1`},
		{"/metrics", 200, `icscf_cx_answers_total{command="UAR",result="DIAMETER_ERROR_USER_UNKNOWN"} 1`},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			res, err := http.Get("http://" + n.HTTPAddr() + tt.path)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			body, _ := io.ReadAll(res.Body)
			if res.StatusCode != tt.wantCode || !strings.Contains(string(body), tt.contains) {
				t.Fatalf("%s: %d\n%s\nwant %d containing %q", tt.path, res.StatusCode, body, tt.wantCode, tt.contains)
			}
		})
	}
}
