package digest

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/imscore/imscore/sip/header"
)

func addSeeds(f *testing.F, name string) {
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		f.Fatal(err)
	}
	for _, l := range strings.Split(string(data), "\n") {
		if l = strings.TrimRight(l, "\r"); l != "" && !strings.HasPrefix(l, "#") {
			f.Add(l)
		}
	}
}

func checkParseError(t *testing.T, value string, err error) {
	t.Helper()
	var pe *header.ParseError
	if !errors.As(err, &pe) || pe.Pos < 0 || pe.Pos > len(value) {
		t.Fatalf("%q: error %v is not a positioned *header.ParseError", value, err)
	}
}

// FuzzParseChallenge: no panic; errors are positioned; what parses writes back to text that
// parses to the same challenge.
func FuzzParseChallenge(f *testing.F) {
	addSeeds(f, "challenges.txt")
	f.Fuzz(func(t *testing.T, value string) {
		c, err := ParseChallenge(value)
		if err != nil {
			checkParseError(t, value, err)
			return
		}
		text := c.String()
		again, err := ParseChallenge(text)
		if err != nil {
			t.Fatalf("%q parsed but its rewrite %q does not: %v", value, text, err)
		}
		if again.String() != text || !sameChallenge(c, again) {
			t.Fatalf("%q: rewrite %q parses to %#v, not %#v", value, text, again, c)
		}
		_, _, _ = c.Keys()
		_, _, _, _ = ParseAKANonce(c.Nonce)
	})
}

// sameChallenge compares all but the quoting of unknown parameters, which the writer may add.
func sameChallenge(a, b Challenge) bool {
	ap, bp := a.Params, b.Params
	a.Params, b.Params = nil, nil
	return reflect.DeepEqual(a, b) && sameValues(ap, bp)
}

func sameValues(a, b header.Params) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Name != b[i].Name || a[i].Value != b[i].Value {
			return false
		}
	}
	return true
}

// FuzzParseCredentials: as FuzzParseChallenge, and computing or verifying a response from
// whatever parsed never panics.
func FuzzParseCredentials(f *testing.F) {
	addSeeds(f, "credentials.txt")
	f.Fuzz(func(t *testing.T, value string) {
		c, err := ParseCredentials(value)
		if err != nil {
			checkParseError(t, value, err)
			return
		}
		text := c.String()
		again, err := ParseCredentials(text)
		if err != nil {
			t.Fatalf("%q parsed but its rewrite %q does not: %v", value, text, err)
		}
		ap, bp := c.Params, again.Params
		c2, a2 := c, again
		c2.Params, a2.Params = nil, nil
		if again.String() != text || !reflect.DeepEqual(c2, a2) || !sameValues(ap, bp) {
			t.Fatalf("%q: rewrite %q parses to %#v, not %#v", value, text, again, c)
		}
		_, _ = Response(c, "REGISTER", []byte("pw"), []byte("body"))
		_ = Verify(c, "REGISTER", []byte("pw"), nil)
		_, _ = ParseAUTS(c.AUTS)
	})
}

// FuzzParseAKANonce: no panic, and a successful parse re-encodes to the same bytes.
func FuzzParseAKANonce(f *testing.F) {
	f.Add("I1U8vpY3qJ0hiuZNrke/NVXzKLQ1d7m5Sp/6w1Tfr7M=")
	f.Add("I1U8vpY3qJ0hiuZNrke/NVXzKLQ1d7m5Sp/6w1Tfr7MBAgM")
	f.Add("CjPk9mRqNuT25eRkajM09uTl9nM09uTl9nMz5OX25PZz==")
	f.Fuzz(func(t *testing.T, nonce string) {
		r, a, sd, err := ParseAKANonce(nonce)
		if err != nil {
			if !errors.Is(err, ErrInvalidNonce) {
				t.Fatalf("ParseAKANonce(%q) error %v is not ErrInvalidNonce", nonce, err)
			}
			return
		}
		if len(r) != RANDSize || len(a) != AUTNSize {
			t.Fatalf("ParseAKANonce(%q): RAND %d bytes, AUTN %d", nonce, len(r), len(a))
		}
		r2, a2, sd2, err := ParseAKANonce(AKANonce(r, a, sd))
		if err != nil || string(r2) != string(r) || string(a2) != string(a) || string(sd2) != string(sd) {
			t.Fatalf("ParseAKANonce(%q) does not survive AKANonce", nonce)
		}
	})
}
