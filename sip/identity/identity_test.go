package identity

import (
	"errors"
	"strings"
	"testing"

	"github.com/emiago/sipgo/sip"

	"github.com/imscore/imscore/sip/identity/identitytest"
)

func TestString(t *testing.T) {
	for _, v := range identitytest.Vectors() {
		t.Run(v.Name, func(t *testing.T) {
			got, err := String(v.URI)
			if v.Key == "" {
				if !errors.Is(err, ErrNotIdentity) {
					t.Fatalf("String(%q) = %q, %v; want ErrNotIdentity", v.URI, got, err)
				}
				return
			}
			if err != nil || got != v.Key {
				t.Fatalf("String(%q) = %q, %v; want %q", v.URI, got, err, v.Key)
			}
			// Bracketed, as a name-addr, the same key.
			if got, err := String(` "Alice" <` + v.URI + `>;tag=1 `); err != nil || got != v.Key {
				t.Fatalf("String(<%s>) = %q, %v; want %q", v.URI, got, err, v.Key)
			}
		})
	}
}

// TestPublic: the parsed-URI entry point agrees with String, and a key is its own key (idempotent).
func TestPublic(t *testing.T) {
	if _, err := Public(nil); !errors.Is(err, ErrNotIdentity) {
		t.Fatalf("Public(nil) = %v", err)
	}
	for _, v := range identitytest.Vectors() {
		if v.Key == "" {
			continue
		}
		var u sip.Uri
		if err := sip.ParseUri(v.URI, &u); err != nil {
			t.Fatalf("%s: %v", v.URI, err)
		}
		if got, err := Public(&u); err != nil || got != v.Key {
			t.Errorf("Public(%q) = %q, %v; want %q", v.URI, got, err, v.Key)
		}
		if again, err := String(v.Key); err != nil || again != v.Key {
			t.Errorf("String(%q) = %q, %v; a key must be its own key", v.Key, again, err)
		}
	}
}

// TestKey: Key and URIKey give the key of an identity, and keep the text of anything else, which then equals
// no key.
func TestKey(t *testing.T) {
	if URIKey(nil) != "" {
		t.Fatal("URIKey(nil) is not empty")
	}
	for _, v := range identitytest.Vectors() {
		want := v.Key
		if want == "" {
			want = v.URI
		}
		if got := Key(" " + v.URI + " "); got != want {
			t.Errorf("Key(%q) = %q, want %q", v.URI, got, want)
		}
		var u sip.Uri
		if sip.ParseUri(v.URI, &u) != nil {
			continue
		}
		if got := URIKey(&u); v.Key != "" && got != v.Key {
			t.Errorf("URIKey(%q) = %q, want %q", v.URI, got, v.Key)
		}
		if got := URIKey(&u); v.Key == "" {
			if _, err := String(got); err == nil {
				t.Errorf("URIKey(%q) = %q, which is a key", v.URI, got)
			}
		}
	}
}

func TestEqual(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		same bool
	}{
		{"tel:+1-555-0100", "tel:+15550100;phone-context=x", true},
		{"tel:+1-555-0100", "sip:+15550100@ims.example;user=phone", true},
		{"sip:alice@IMS.example:5060", "<sip:alice@ims.example;transport=tcp>", true},
		{"sip:alice@ims.example", "sip:Alice@ims.example", false},
		{"sip:alice@ims.example", "sips:alice@ims.example", false},
		{"tel:5550100;phone-context=a.example", "tel:5550100;phone-context=b.example", false},
		{"tel:+15550100", "tel:+15550101", false},
		{"garbage", "garbage", false},
	} {
		if got := Equal(tc.a, tc.b); got != tc.same {
			t.Errorf("Equal(%q, %q) = %v, want %v", tc.a, tc.b, got, tc.same)
		}
	}
}

// FuzzString: no input panics; a key is a valid identity whose key is itself, has no space, port or
// parameter of a SIP URI, and no visual separator in a global tel number.
func FuzzString(f *testing.F) {
	for _, v := range identitytest.Vectors() {
		f.Add(v.URI)
	}
	f.Fuzz(func(t *testing.T, s string) {
		k, err := String(s)
		if err != nil {
			if !errors.Is(err, ErrNotIdentity) {
				t.Fatalf("String(%q): error %v is not ErrNotIdentity", s, err)
			}
			return
		}
		again, err := String(k)
		if err != nil || again != k {
			t.Fatalf("String(%q) = %q; String(%q) = %q, %v", s, k, k, again, err)
		}
		switch {
		case strings.HasPrefix(k, "tel:+"):
			if strings.ContainsAny(k, "-.();") {
				t.Fatalf("String(%q) = %q: separators or parameters left", s, k)
			}
		case strings.HasPrefix(k, "tel:"):
		case strings.HasPrefix(k, "sip:"), strings.HasPrefix(k, "sips:"):
			host := k[strings.LastIndexByte(k, '@')+1:]
			if strings.ContainsAny(k, "<>\" \t\r\n") || strings.ContainsAny(host, ";?") {
				t.Fatalf("String(%q) = %q: parameters, headers or spaces left", s, k)
			}
		default:
			t.Fatalf("String(%q) = %q: unknown scheme", s, k)
		}
	})
}
