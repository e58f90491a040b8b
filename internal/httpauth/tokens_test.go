package httpauth

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestAddTokenAndAuthenticate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "var", "tokens.yaml")
	ops, err := AddToken(path, "imsctl", []Scope{ScopeAdmin})
	if err != nil {
		t.Fatal(err)
	}
	scrape, err := AddToken(path, "prometheus", []Scope{ScopeMetrics})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := AddToken(path, "imsctl", []Scope{ScopeRead}); err == nil || !strings.Contains(err.Error(), "exists already") {
		t.Fatalf("a second imsctl token: %v", err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("tokens file mode %v, want 0600", fi.Mode().Perm())
	}
	text, _ := os.ReadFile(path)
	if strings.Contains(string(text), ops) || strings.Contains(string(text), scrape) || !strings.Contains(string(text), HashSecret(ops)) {
		t.Fatalf("the file must hold the hashes, never the tokens:\n%s", text)
	}
	if !strings.HasPrefix(ops, TokenPrefix) || len(ops) != len(TokenPrefix)+43 {
		t.Errorf("token %q: want %s and 43 base64url characters", ops, TokenPrefix)
	}
	tokens, err := LoadTokens(path)
	if err != nil {
		t.Fatal(err)
	}
	req := func(auth string) *http.Request {
		r := httptest.NewRequest("GET", "/", nil)
		if auth != "" {
			r.Header.Set("Authorization", auth)
		}
		return r
	}
	p, err := tokens.Authenticate(req("Bearer " + ops))
	if err != nil || p.Name != "imsctl" || !p.Has(ScopeProvision) || !p.Has(ScopeRead) || !p.Has(ScopeMetrics) {
		t.Errorf("admin token: %+v %v", p, err)
	}
	p, err = tokens.Authenticate(req("bearer " + scrape)) // the scheme is case-insensitive
	if err != nil || p.Name != "prometheus" || p.Has(ScopeRead) || !p.Has(ScopeMetrics) {
		t.Errorf("metrics token: %+v %v", p, err)
	}
	for auth, want := range map[string]error{
		"":                          ErrNoCredentials,
		"Bearer " + ops + "x":       ErrInvalidToken,
		"Bearer " + HashSecret(ops): ErrInvalidToken,
		"Basic dTpw":                ErrMalformed,
		"Bearer":                    ErrMalformed,
		"Bearer a b":                ErrMalformed,
		"Bearer " + ops + "\x00":    ErrMalformed,
	} {
		if _, err := tokens.Authenticate(req(auth)); err != want {
			t.Errorf("Authorization %q: %v, want %v", auth, err, want)
		}
	}
	two := req("Bearer " + ops)
	two.Header.Add("Authorization", "Bearer "+ops)
	if _, err := tokens.Authenticate(two); err != ErrMalformed {
		t.Errorf("two Authorization headers: %v, want %v", err, ErrMalformed)
	}
}

func TestParseTokensRefuses(t *testing.T) {
	hash := HashSecret("x")
	tests := []struct{ name, text, want string }{
		{"unknown key", "tokens:\n  - {name: a, sha256: " + hash + ", scopes: [read], secret: x}\n", "secret"},
		{"no name", "tokens:\n  - {sha256: " + hash + ", scopes: [read]}\n", "name"},
		{"twice", "tokens:\n  - {name: a, sha256: " + hash + ", scopes: [read]}\n  - {name: a, sha256: " + hash + ", scopes: [read]}\n", "twice"},
		{"short hash", "tokens:\n  - {name: a, sha256: abcd, scopes: [read]}\n", "64 hex digits"},
		{"clear token", "tokens:\n  - {name: a, sha256: imscore_abc, scopes: [read]}\n", "64 hex digits"},
		{"no scope", "tokens:\n  - {name: a, sha256: " + hash + "}\n", "scopes"},
		{"unknown scope", "tokens:\n  - {name: a, sha256: " + hash + ", scopes: [root]}\n", "unknown scope"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := ParseTokens([]byte(tt.text)); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("%v, want an error naming %q", err, tt.want)
			}
		})
	}
	if tok, err := ParseTokens(nil); err != nil || tok.Len() != 0 {
		t.Fatalf("empty file: %v %v", tok, err)
	}
}

// A token file other users may read is refused: the token in it would be theirs.
func TestReadSecretFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "token")
	if err := os.WriteFile(p, []byte("imscore_abc\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadSecretFile(p); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("mode 0644: %v", err)
	}
	if err := WriteSecretFile(p, []byte("imscore_abc\n")); err != nil {
		t.Fatal(err)
	}
	if s, err := ReadSecretFile(p); err != nil || s != "imscore_abc" {
		t.Fatalf("= %q %v", s, err)
	}
}

// A token added to the file counts without a restart; a removed one stops counting; a broken file keeps the
// tokens read last.
func TestWatchTokens(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tokens.yaml")
	first, err := AddToken(path, "first", []Scope{ScopeRead})
	if err != nil {
		t.Fatal(err)
	}
	w, err := WatchTokens(path, 0, nil) // look on every request
	if err != nil {
		t.Fatal(err)
	}
	auth := func(tok string) error {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("Authorization", "Bearer "+tok)
		_, err := w.Authenticate(r)
		return err
	}
	second, err := AddToken(path, "second-token", []Scope{ScopeRead}) // a longer name: the size changes too
	if err != nil {
		t.Fatal(err)
	}
	if err := auth(second); err != nil {
		t.Fatalf("added token: %v", err)
	}
	original, _ := os.ReadFile(path)
	if err := os.WriteFile(path, []byte("tokens: [this is not a token list"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := auth(first); err != nil {
		t.Fatalf("after a broken edit the last good tokens must stay: %v", err)
	}
	// Only the second token left: the first is revoked.
	kept := strings.Replace(string(original), "name: first", "name: revoked", 1)
	kept = strings.Replace(kept, HashSecret(first), HashSecret("gone"), 1)
	if err := os.WriteFile(path, []byte(kept), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := auth(first); err != ErrInvalidToken {
		t.Fatalf("revoked token: %v", err)
	}
	if err := auth(second); err != nil || w.Len() != 2 {
		t.Fatalf("kept token: %v (%d tokens)", err, w.Len())
	}
	if _, err := WatchTokens(filepath.Join(t.TempDir(), "none.yaml"), 0, nil); err == nil {
		t.Fatal("a missing file was accepted")
	}
}
