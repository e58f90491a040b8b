package hsssql

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestPrefixRange(t *testing.T) {
	tests := []struct {
		name        string
		prefix      string
		wantHi      string
		wantBounded bool
	}{
		{name: "ascii", prefix: "tel:1555", wantHi: "tel:1556", wantBounded: true},
		{name: "ends in 9", prefix: "0010109", wantHi: "001010:", wantBounded: true},
		{name: "ends in tilde", prefix: "a~", wantHi: "a\u007f", wantBounded: true},
		{name: "ends in DEL", prefix: "a\u007f", wantHi: "a\u0080", wantBounded: true},
		{name: "before surrogates", prefix: "a\ud7ff", wantHi: "a\ue000", wantBounded: true},
		{name: "max rune carries", prefix: "ab" + string(utf8.MaxRune), wantHi: "ac", wantBounded: true},
		{name: "only max runes", prefix: string(utf8.MaxRune), wantBounded: false},
		{name: "empty", prefix: "", wantBounded: false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			lo, hi, bounded := prefixRange(tc.prefix)
			if lo != tc.prefix || bounded != tc.wantBounded || (bounded && hi != tc.wantHi) {
				t.Fatalf("prefixRange(%q) = %q, %q, %v; want %q, %q, %v", tc.prefix, lo, hi, bounded, tc.prefix, tc.wantHi, tc.wantBounded)
			}
			if !bounded {
				return
			}
			// Everything starting with the prefix is inside, the next string outside is not.
			for _, s := range []string{tc.prefix, tc.prefix + "\x00", tc.prefix + "zzz", tc.prefix + string(utf8.MaxRune)} {
				if !(s >= lo && s < hi) {
					t.Errorf("%q starts with the prefix but is outside [%q, %q)", s, lo, hi)
				}
			}
			if hi >= lo && strings.HasPrefix(hi, tc.prefix) {
				t.Errorf("upper bound %q starts with the prefix", hi)
			}
		})
	}
}

func TestPlaceholders(t *testing.T) {
	tests := []struct {
		n    int
		want string
	}{
		{0, ""}, {1, "$1"}, {3, "$1, $2, $3"},
	}
	for _, tc := range tests {
		if got := placeholders(tc.n); got != tc.want {
			t.Errorf("placeholders(%d) = %q, want %q", tc.n, got, tc.want)
		}
	}
	if got := cols("u.", []string{"a", "b"}); got != "u.a, u.b" {
		t.Errorf("cols = %q", got)
	}
}
