package httpauth

import (
	"net/http/httptest"
	"strings"
	"testing"
)

// FuzzAuthorization feeds arbitrary Authorization headers to a Tokens: never a panic, a principal only for
// the exact token, and an error of the three kinds Guard answers otherwise.
func FuzzAuthorization(f *testing.F) {
	secret, err := NewSecret()
	if err != nil {
		f.Fatal(err)
	}
	tokens, err := ParseTokens([]byte("tokens:\n  - {name: t, sha256: " + HashSecret(secret) + ", scopes: [read]}\n"))
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{"Bearer " + secret, "bearer " + secret, "Basic dTpw", "Bearer", "Bearer  x", "Bearer a==", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, header string) {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header["Authorization"] = []string{header}
		p, err := tokens.Authenticate(r)
		switch {
		case err == nil:
			scheme, tok, _ := strings.Cut(header, " ")
			if !strings.EqualFold(scheme, "Bearer") || tok != secret || p.Name != "t" {
				t.Fatalf("%q authenticated as %+v", header, p)
			}
		case err != ErrNoCredentials && err != ErrInvalidToken && err != ErrMalformed:
			t.Fatalf("%q: %v", header, err)
		}
	})
}
