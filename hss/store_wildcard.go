package hss

import (
	"fmt"
	"regexp"
	"strings"
)

// Wildcarded identities (TS 23.003 §13.4a, §13.5): the wildcarded part of the identity is delimited by
// exclamation marks and is an extended regular expression, e.g. "sip:chatlist!.*!@example.com" stands for
// every identity "sip:chatlist<anything>@example.com". More than one delimited part is accepted.

// WildcardPrefix returns the literal text of pattern before its first wildcarded part: every identity the
// pattern matches starts with it, so stores index wildcarded identities by it.
func WildcardPrefix(pattern string) string {
	if i := strings.IndexByte(pattern, '!'); i >= 0 {
		return pattern[:i]
	}
	return pattern
}

// CompileWildcard turns a wildcarded identity into a regular expression anchored at both ends: the literal
// parts match themselves, the delimited parts are POSIX extended regular expressions (TS 23.003 §13.5).
// ErrInvalid when the '!' delimiters are unbalanced, there is no wildcarded part, or a part does not compile.
func CompileWildcard(pattern string) (*regexp.Regexp, error) {
	parts := strings.Split(pattern, "!")
	if len(parts) < 3 || len(parts)%2 == 0 {
		return nil, fmt.Errorf("wildcarded identity %q: want a part delimited by '!' (TS 23.003 §13.5): %w",
			pattern, ErrInvalid)
	}
	var b strings.Builder
	b.WriteString("^")
	for i, p := range parts {
		if i%2 == 0 {
			b.WriteString(regexp.QuoteMeta(p))
			continue
		}
		if p == "" {
			return nil, fmt.Errorf("wildcarded identity %q: empty wildcarded part: %w", pattern, ErrInvalid)
		}
		if _, err := regexp.CompilePOSIX(p); err != nil {
			return nil, fmt.Errorf("wildcarded identity %q: %v: %w", pattern, err, ErrInvalid)
		}
		b.WriteString("(")
		b.WriteString(p)
		b.WriteString(")")
	}
	b.WriteString("$")
	re, err := regexp.CompilePOSIX(b.String())
	if err != nil {
		return nil, fmt.Errorf("wildcarded identity %q: %v: %w", pattern, err, ErrInvalid)
	}
	return re, nil
}

// MatchWildcard reports whether identity is one of the identities the wildcarded pattern stands for.
func MatchWildcard(pattern, identity string) (bool, error) {
	re, err := CompileWildcard(pattern)
	if err != nil {
		return false, err
	}
	return re.MatchString(identity), nil
}

// BetterWildcard reports whether pattern a should win over pattern b when both match an identity: the
// longer (more specific) pattern, then the smaller in byte order, so that every store picks the same one.
func BetterWildcard(a, b string) bool {
	if len(a) != len(b) {
		return len(a) > len(b)
	}
	return a < b
}
