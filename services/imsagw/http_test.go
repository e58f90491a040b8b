package imsagw

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/imscore/imscore/services/imsagw/h248"
)

func TestHTTP(t *testing.T) {
	n := startAGW(t, func(c *Config) { c.HTTPListen = "127.0.0.1:0" })
	alg := startController(t, n.IqAddr(), "127.0.0.1:0")
	alg.must(h248.Choose, h248.Command("Add", h248.Choose, stream(localT2(SetupPassive), "")))
	get := func(path string) (int, string) {
		res, err := http.Get("http://" + n.HTTPAddr() + path)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	for _, tt := range []struct {
		path string
		code int
		want []string
	}{
		{"/healthz", 200, []string{"ok"}},
		{"/readyz", 200, []string{"ready"}},
		{"/metrics", 200, []string{"imsagw_contexts 1", "imsagw_terminations 1", `imsagw_iq_commands_total{command="Add",result="ok"} 1`, "go_goroutines"}},
		{"/debug/pprof/", 404, nil}, // admin.pprof is off by default
	} {
		code, body := get(tt.path)
		if code != tt.code {
			t.Errorf("%s: %d, want %d", tt.path, code, tt.code)
		}
		for _, w := range tt.want {
			if !strings.Contains(body, w) {
				t.Errorf("%s lacks %q", tt.path, w)
			}
		}
	}
}
