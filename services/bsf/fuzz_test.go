package bsf

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// FuzzUb: any Authorization header and body on Ub gets an error status or a challenge, never a session and
// never a panic. The BSF has no HSS here: a request that needs a vector gets 503.
func FuzzUb(f *testing.F) {
	f.Add(`Digest username="001010000000001@ims.example.net",realm="ims.example.net",nonce="",uri="/",response=""`, "")
	f.Add(`Digest username="u",realm="ims.example.net",nonce="I1U8vpY3qJ0hiuZNrke/NVXzKLQ1d7m5Sp/6w1TfV2I=",uri="/",response="0",qop=auth-int,nc=00000001,cnonce="c",auts="AAAAAAAAAAAAAAAAAAA="`, "x")
	f.Add("Basic Zm9vOmJhcg==", "")
	cfg := DefaultConfig()
	cfg.UbListen, cfg.HTTPListen = "127.0.0.1:0", ""
	cfg.Zh.HSS, cfg.Zh.RequestTimeout = "127.0.0.1:1", 50*time.Millisecond
	s, err := New(cfg, nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(s.Close)
	f.Fuzz(func(t *testing.T, auth, body string) {
		req := httptest.NewRequest(http.MethodGet, "/", strings.NewReader(body))
		req.Header.Set("Authorization", auth)
		w := httptest.NewRecorder()
		s.ServeHTTP(w, req)
		switch w.Code {
		case 400, 401, 403, 413, 503:
		default:
			t.Fatalf("status %d for %q", w.Code, auth)
		}
		if n, _ := s.sessions.counts(); n != 0 {
			t.Fatalf("a session from %q", auth)
		}
	})
}
