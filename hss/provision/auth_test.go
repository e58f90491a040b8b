package provision

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"go.uber.org/zap/zapcore"

	"github.com/imscore/imscore/internal/httpauth"
)

// attackerK is the key an attacker tries to give a victim subscriber (issue 10: "replacing a subscriber's K
// over it and registering as that subscriber worked").
const attackerK = "00112233445566778899aabbccddeeff"

// storedK is the K the store holds for impi.
func (e *env) storedK(impi string) string {
	e.t.Helper()
	sub, err := e.store.GetSubscriber(testCtx(e.t), impi)
	if err != nil {
		e.t.Fatal(err)
	}
	return hex.EncodeToString(sub.Private.K)
}

// Without a token, or with one no entry matches, every route is 401 with the RFC 6750 §3 challenge, and the
// key is not replaced.
func TestUnauthenticated(t *testing.T) {
	e := newEnv(t, sqliteStore(t), nil)
	sub := e.createDefault("001010000000301", "15550000301")
	keys := `{"k":"` + attackerK + `","op":"` + testOP + `"}`
	tests := []struct {
		name, method, path, body, auth string
		wantStatus                     int
		wantChallenge                  string
		wantCode                       Code
	}{
		{"no token: read", "GET", "/api/v1/subscribers/" + sub.IMPI, "", "", 401, `Bearer realm="imscore"`, CodeUnauthorized},
		{"no token: replace K", "PUT", "/api/v1/subscribers/" + sub.IMPI + "/keys", keys, "", 401, `Bearer realm="imscore"`, CodeUnauthorized},
		{"no token: list", "GET", "/api/v1/subscribers", "", "", 401, `Bearer realm="imscore"`, CodeUnauthorized},
		{"unknown token", "PUT", "/api/v1/subscribers/" + sub.IMPI + "/keys", keys, "Bearer imscore_not-a-token", 401,
			`Bearer realm="imscore", error="invalid_token"`, CodeUnauthorized},
		{"token of a token's hash", "GET", "/api/v1/subscribers", "", "Bearer " + httpauth.HashSecret(e.tokens[httpauth.ScopeAdmin]), 401,
			`Bearer realm="imscore", error="invalid_token"`, CodeUnauthorized},
		{"basic auth", "PUT", "/api/v1/subscribers/" + sub.IMPI + "/keys", keys, "Basic YWRtaW46YWRtaW4=", 400,
			`Bearer realm="imscore", error="invalid_request"`, CodeInvalidRequest},
		{"bearer without token", "GET", "/api/v1/subscribers", "", "Bearer ", 400,
			`Bearer realm="imscore", error="invalid_request"`, CodeInvalidRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{"Content-Type": {"application/json"}}
			if tt.auth != "" {
				h.Set("Authorization", tt.auth)
			}
			status, hdr, body := e.callHeader(tt.method, tt.path, tt.body, h)
			if status != tt.wantStatus || hdr.Get("WWW-Authenticate") != tt.wantChallenge {
				t.Fatalf("= %d WWW-Authenticate %q, want %d %q; body %s", status, hdr.Get("WWW-Authenticate"),
					tt.wantStatus, tt.wantChallenge, body)
			}
			if !bytes.Contains(body, []byte(`"code":"`+string(tt.wantCode)+`"`)) {
				t.Errorf("body %s, want code %s", body, tt.wantCode)
			}
		})
	}
	if got := e.storedK(sub.IMPI); got != testK {
		t.Fatalf("K is now %s, want %s unchanged", got, testK)
	}
	for _, entry := range e.logs.All() {
		for _, v := range entry.ContextMap() {
			if s, ok := v.(string); ok && strings.Contains(s, "imscore_") {
				t.Errorf("log line %q carries a token: %v", entry.Message, entry.ContextMap())
			}
		}
	}
}

// Each route needs its scope: a weaker token gets 403 insufficient_scope naming the scope needed, and
// changes nothing; the right one gets through.
func TestScopes(t *testing.T) {
	e := newEnv(t, sqliteStore(t), &fakeNetwork{})
	sub := e.createDefault("001010000000302", "15550000302")
	keys := `{"k":"` + attackerK + `","op":"` + testOP + `"}`
	tests := []struct {
		method, path, body string
		need               httpauth.Scope
		weaker             []httpauth.Scope
	}{
		{"GET", "/api/v1/subscribers/" + sub.IMPI, "", httpauth.ScopeRead, []httpauth.Scope{httpauth.ScopeMetrics}},
		{"GET", "/api/v1/profiles", "", httpauth.ScopeRead, []httpauth.Scope{httpauth.ScopeMetrics}},
		{"PUT", "/api/v1/subscribers/" + sub.IMPI + "/keys", keys, httpauth.ScopeProvision,
			[]httpauth.Scope{httpauth.ScopeRead, httpauth.ScopeMetrics}},
		{"POST", "/api/v1/subscribers/" + sub.IMPI + "/push-profile", "", httpauth.ScopeProvision, []httpauth.Scope{httpauth.ScopeRead}},
		{"POST", "/api/v1/subscribers:import", "", httpauth.ScopeProvision, []httpauth.Scope{httpauth.ScopeRead}},
		{"GET", "/api/v1/operations", "", httpauth.ScopeRead, []httpauth.Scope{httpauth.ScopeMetrics}},
		{"GET", "/api/v1/operations/0123", "", httpauth.ScopeRead, []httpauth.Scope{httpauth.ScopeMetrics}},
		{"PUT", "/api/v1/scscfs/sip:evil.example", `{}`, httpauth.ScopeAdmin,
			[]httpauth.Scope{httpauth.ScopeRead, httpauth.ScopeProvision}},
		{"POST", "/api/v1/profiles", `{"id":"p2"}`, httpauth.ScopeAdmin, []httpauth.Scope{httpauth.ScopeProvision}},
		{"PUT", "/api/v1/charging/default", `{"primary_ccf":"aaa://ccf.example"}`, httpauth.ScopeAdmin, []httpauth.Scope{httpauth.ScopeProvision}},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			for _, s := range tt.weaker {
				h := http.Header{"Authorization": {"Bearer " + e.tokens[s]}, "Content-Type": {"application/json"}}
				status, hdr, body := e.callHeader(tt.method, tt.path, tt.body, h)
				want := `Bearer realm="imscore", error="insufficient_scope", scope="` + string(tt.need) + `"`
				if status != http.StatusForbidden || hdr.Get("WWW-Authenticate") != want ||
					!bytes.Contains(body, []byte(`"code":"insufficient_scope"`)) {
					t.Errorf("with %s: %d %q %s, want 403 %q", s, status, hdr.Get("WWW-Authenticate"), body, want)
				}
			}
			h := http.Header{"Authorization": {"Bearer " + e.tokens[tt.need]}, "Content-Type": {"application/json"}}
			// Past the guard: the route's own answer (a 409 for a push to a user nobody serves is fine).
			if status, _, body := e.callHeader(tt.method, tt.path, tt.body, h); status == http.StatusUnauthorized ||
				status == http.StatusForbidden || status == http.StatusUnsupportedMediaType {
				t.Errorf("with %s: %d %s, want the route's answer", tt.need, status, body)
			}
		})
	}
	if _, err := e.clientFor(httpauth.ScopeRead).SetKeys(testCtx(t), sub.IMPI, KeysRequest{K: attackerK, OP: testOP}); err == nil {
		t.Fatal("a read token replaced K")
	} else {
		wantAPIError(t, err, http.StatusForbidden, CodeInsufficientScope, "")
	}
}

// A web page on another origin cannot change anything: a text/plain POST (a "simple" request a browser sends
// without a preflight) and a JSON one from another Origin are refused, and the subscriber stays as it was.
func TestCrossOrigin(t *testing.T) {
	e := newEnv(t, sqliteStore(t), &fakeNetwork{})
	sub := e.createDefault("001010000000303", "15550000303")
	keys := `{"k":"` + attackerK + `","op":"` + testOP + `"}`
	keysPath := "/api/v1/subscribers/" + sub.IMPI + "/keys"
	bearer := "Bearer " + e.tokens[httpauth.ScopeAdmin]
	tests := []struct {
		name       string
		method     string
		path, body string
		header     http.Header
		wantStatus int
		wantCode   Code
	}{
		// What a page at http://127.0.0.1:3000 makes a browser send: text/plain, its Origin, no credentials.
		{"browser text/plain POST", "POST", "/api/v1/subscribers", `{"imsi":"001010000000399","msisdn":"15550000399","k":"` + attackerK + `","op":"` + testOP + `"}`,
			http.Header{"Content-Type": {"text/plain"}, "Origin": {"http://127.0.0.1:3000"}, "Sec-Fetch-Site": {"same-site"}},
			http.StatusForbidden, CodeCrossOrigin},
		{"browser text/plain PUT keys", "PUT", keysPath, keys,
			http.Header{"Content-Type": {"text/plain;charset=UTF-8"}, "Origin": {"http://evil.example"}}, http.StatusForbidden, CodeCrossOrigin},
		// Even with a token (a browser never attaches one by itself): another origin is refused.
		{"other origin with token", "PUT", keysPath, keys,
			http.Header{"Content-Type": {"application/json"}, "Origin": {"http://evil.example"}, "Authorization": {bearer}},
			http.StatusForbidden, CodeCrossOrigin},
		{"opaque origin with token", "PUT", keysPath, keys,
			http.Header{"Content-Type": {"application/json"}, "Origin": {"null"}, "Authorization": {bearer}},
			http.StatusForbidden, CodeCrossOrigin},
		// A body that is not JSON is refused even with a token and no Origin.
		{"text/plain with token", "PUT", keysPath, keys,
			http.Header{"Content-Type": {"text/plain"}, "Authorization": {bearer}}, http.StatusUnsupportedMediaType, CodeUnsupportedMedia},
		{"form with token", "PUT", keysPath, "k=" + attackerK,
			http.Header{"Content-Type": {"application/x-www-form-urlencoded"}, "Authorization": {bearer}},
			http.StatusUnsupportedMediaType, CodeUnsupportedMedia},
		{"no content type with token", "PUT", keysPath, keys, http.Header{"Authorization": {bearer}},
			http.StatusUnsupportedMediaType, CodeUnsupportedMedia},
		{"import as text/plain", "POST", "/api/v1/subscribers:import", ndjsonLine(1) + "\n",
			http.Header{"Content-Type": {"text/plain"}, "Authorization": {bearer}}, http.StatusUnsupportedMediaType, CodeUnsupportedMedia},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, _, body := e.callHeader(tt.method, tt.path, tt.body, tt.header)
			if status != tt.wantStatus || !bytes.Contains(body, []byte(`"code":"`+string(tt.wantCode)+`"`)) {
				t.Fatalf("= %d %s, want %d %s", status, body, tt.wantStatus, tt.wantCode)
			}
		})
	}
	if got := e.storedK(sub.IMPI); got != testK {
		t.Fatalf("K is now %s, want %s unchanged", got, testK)
	}
	if _, err := e.client.GetSubscriber(testCtx(t), "001010000000399@"+domain); !IsNotFound(err) {
		t.Fatalf("the cross-origin POST created a subscriber: %v", err)
	}
	// The same origin (a console served by the HSS) and JSON with a token pass.
	h := http.Header{"Content-Type": {"application/json; charset=utf-8"}, "Authorization": {bearer},
		"Origin": {e.srv.URL}, "Sec-Fetch-Site": {"same-origin"}}
	if status, _, body := e.callHeader("PUT", keysPath, keys, h); status != http.StatusOK {
		t.Fatalf("same-origin JSON with a token: %d %s", status, body)
	}
}

// Every change writes one Info line on the audit logger: the token's name, the route, the subscriber and the
// outcome; never a key; reads write none.
func TestAuditLog(t *testing.T) {
	e := newEnv(t, sqliteStore(t), &fakeNetwork{})
	ctx := testCtx(t)
	prov := e.clientFor(httpauth.ScopeProvision)
	sub, err := prov.CreateSubscriber(ctx, SubscriberRequest{IMSI: "001010000000304", MSISDN: "15550000304", K: testK, OP: testOP})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := prov.SetKeys(ctx, sub.IMPI, KeysRequest{K: attackerK, OPc: testOPc}); err != nil {
		t.Fatal(err)
	}
	if _, err := prov.GetSubscriber(ctx, sub.IMPI); err != nil {
		t.Fatal(err)
	}
	if _, err := e.clientFor(httpauth.ScopeRead).DeleteSubscriber(ctx, sub.IMPI); err == nil {
		t.Fatal("a read token deleted a subscriber")
	}
	audit := e.logs.FilterLoggerName("audit").All()
	if len(audit) != 3 {
		t.Fatalf("%d audit lines, want 3 (create, keys, the refused delete; none for the read):\n%s", len(audit), e.logText())
	}
	for i, want := range []struct{ token, action, status string }{
		{"test-provision", "POST /api/v1/subscribers", "201"},
		{"test-provision", "PUT /api/v1/subscribers/{impi}/keys", "200"},
		{"test-read", "DELETE /api/v1/subscribers/{impi}", "403"},
	} {
		a := audit[i]
		m := a.ContextMap()
		if a.Level != zapcore.InfoLevel || m["token"] != want.token || m["action"] != want.action ||
			m["impi"] != sub.IMPI || fmt.Sprint(m["status"]) != want.status {
			t.Errorf("audit line %d: %s %v, want Info token %s action %q impi %s status %s",
				i, a.Level, m, want.token, want.action, sub.IMPI, want.status)
		}
	}
	if m := audit[2].ContextMap(); m["code"] != string(CodeInsufficientScope) {
		t.Errorf("refused change: code %v, want %s", m["code"], CodeInsufficientScope)
	}
	for _, s := range []string{testK, attackerK, testOP, testOPc, e.tokens[httpauth.ScopeProvision]} {
		if strings.Contains(e.logText(), s) {
			t.Errorf("the log contains %q", s)
		}
	}
}
