package httpauth

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// An account added to a tokens file logs in with its password only, gets its role's scope, and the file
// still serves its tokens; the password is stored hashed.
func TestAccountsInTokensFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tokens.yaml")
	tok, err := AddToken(path, "imsctl", []Scope{ScopeProvision})
	if err != nil {
		t.Fatal(err)
	}
	const pw = "correct horse battery"
	if err := AddAccount(path, "alice", RoleOperator, pw, false); err != nil {
		t.Fatal(err)
	}
	if err := AddAccount(path, "alice", RoleAdmin, pw, false); err == nil {
		t.Error("a second alice was accepted without replace")
	}
	if err := AddAccount(path, "bob", RoleReadOnly, "short", false); err == nil {
		t.Error("a 5-character password was accepted")
	}
	if _, err := AddToken(path, "prometheus", []Scope{ScopeMetrics}); err != nil { // keeps the accounts
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	if strings.Contains(string(b), pw) {
		t.Fatal("the password is in the file in clear")
	}
	ts, err := LoadTokens(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := ts.Lookup(tok); !ok || ts.Len() != 2 || ts.Accounts() != 1 {
		t.Fatalf("tokens %d accounts %d, token found %v", ts.Len(), ts.Accounts(), ok)
	}
	p, ok := ts.Login("alice", pw)
	if !ok || p.Name != "alice" || !p.Has(ScopeProvision) || p.Has(ScopeAdmin) {
		t.Errorf("alice: %+v %v, want provision without admin", p, ok)
	}
	for _, c := range [][2]string{{"alice", pw + "x"}, {"nobody", pw}, {"imsctl", tok}} {
		if _, ok := ts.Login(c[0], c[1]); ok {
			t.Errorf("login %s accepted", c[0])
		}
	}
}

func TestParseAccountsRefuses(t *testing.T) {
	h, err := hashPasswordIter("whatever-long-pw", 1000)
	if err != nil {
		t.Fatal(err)
	}
	for name, doc := range map[string]string{
		"role":      "accounts: [{name: a, password: '" + h + "', role: root}]",
		"hash":      "accounts: [{name: a, password: 'secret', role: admin}]",
		"twice":     "accounts: [{name: a, password: '" + h + "', role: admin}, {name: a, password: '" + h + "', role: admin}]",
		"empty":     "accounts: [{name: '', password: '" + h + "', role: admin}]",
		"unknown":   "accounts: [{name: a, password: '" + h + "', role: admin, scopes: [admin]}]",
		"iteration": "accounts: [{name: a, password: 'pbkdf2-sha256$10$AAAAAAAAAAA$" + strings.Repeat("A", 43) + "', role: admin}]",
	} {
		if _, err := ParseTokens([]byte(doc)); err == nil {
			t.Errorf("%s: accepted %s", name, doc)
		}
	}
	ts, err := ParseTokens([]byte("accounts: [{name: a, password: '" + h + "', role: read-only}]"))
	if err != nil {
		t.Fatal(err)
	}
	if p, ok := ts.Login("a", "whatever-long-pw"); !ok || !p.Has(ScopeRead) || p.Has(ScopeProvision) {
		t.Errorf("read-only login: %+v %v", p, ok)
	}
}

// A session cookie is HttpOnly and SameSite=Strict (Secure and __Host- with TLS), names its principal until
// it ends or idles out, and the CSRF check accepts only the session's own token.
func TestSessions(t *testing.T) {
	for _, secure := range []bool{false, true} {
		s := NewSessions(time.Minute, secure)
		now := time.Unix(1000, 0)
		s.now = func() time.Time { return now }
		rec := httptest.NewRecorder()
		sess, err := s.Start(rec, Principal{Name: "alice", Scopes: []Scope{ScopeProvision}})
		if err != nil {
			t.Fatal(err)
		}
		cookie := rec.Result().Cookies()[0]
		if !cookie.HttpOnly || cookie.SameSite != http.SameSiteStrictMode || cookie.Secure != secure ||
			secure != strings.HasPrefix(cookie.Name, "__Host-") {
			t.Errorf("secure=%v: cookie %+v", secure, cookie)
		}
		req := httptest.NewRequest("POST", "/x", strings.NewReader("csrf="+sess.CSRF))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.AddCookie(cookie)
		p, err := s.Authenticate(req)
		if err != nil || p.Name != "alice" {
			t.Fatalf("authenticate: %+v %v", p, err)
		}
		got, _ := s.Get(req)
		if !CheckCSRF(req, got) {
			t.Error("the session's CSRF token was refused")
		}
		bad := httptest.NewRequest("POST", "/x", strings.NewReader("csrf=forged"))
		bad.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if CheckCSRF(bad, got) || CheckCSRF(httptest.NewRequest("POST", "/x", nil), got) {
			t.Error("a forged or missing CSRF token was accepted")
		}
		now = now.Add(2 * time.Minute)
		if _, err := s.Authenticate(req); err == nil {
			t.Error("an idle session outlived its TTL")
		}
	}
}

func TestLoginLimiter(t *testing.T) {
	l := NewLoginLimiter(3, 10*time.Second)
	now := time.Unix(0, 0)
	l.now = func() time.Time { return now }
	for range 3 {
		if !l.Allow("ip", "alice") {
			t.Fatal("refused before the burst was used")
		}
		l.Fail("ip", "alice")
	}
	if l.Allow("ip") || l.Allow("other-ip", "alice") {
		t.Error("allowed after the burst of failures")
	}
	if !l.Allow("other-ip", "bob") {
		t.Error("an unrelated key was refused")
	}
	now = now.Add(10 * time.Second)
	if !l.Allow("ip", "alice") {
		t.Error("still refused after one interval")
	}
}
