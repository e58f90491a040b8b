package resolve

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/miekg/dns"
)

// DefaultENUMSuffix is the ENUM tree of RFC 6116 §2.
const DefaultENUMSuffix = "e164.arpa"

// enumService is the ENUM service of SIP (RFC 3764 §4: "E2U+sip"), compared without case.
const enumService = "E2U+sip"

// Limits on what a DNS answer can make ENUM do.
const (
	// maxENUMHops bounds non-terminal NAPTR rules followed (RFC 6116 §3.4.3 leaves the bound to the client).
	maxENUMHops = 5
	// maxRegexp bounds a NAPTR regexp field's length; longer ones are refused.
	maxRegexp = 512
)

// ENUMDomain is the domain whose NAPTR records hold the URIs of an E.164 number (RFC 6116 §2.4): the digits
// in reverse order separated by dots, followed by suffix. number is "+" and digits; visual separators
// (RFC 3966 §5.1.1: "-", ".", "(", ")") are ignored.
func ENUMDomain(number, suffix string) (aus, domain string, err error) {
	if suffix == "" {
		suffix = DefaultENUMSuffix
	}
	if !strings.HasPrefix(number, "+") {
		return "", "", fmt.Errorf("enum: %q is no global number (RFC 6116 §2.1 needs the leading +)", number)
	}
	digits := make([]byte, 0, 16)
	for i := 1; i < len(number); i++ {
		switch c := number[i]; {
		case c >= '0' && c <= '9':
			digits = append(digits, c)
		case c == '-' || c == '.' || c == '(' || c == ')':
		default:
			return "", "", fmt.Errorf("enum: %q: character %q in a number", number, c)
		}
	}
	if len(digits) == 0 || len(digits) > 15 { // ITU-T E.164 §6: at most 15 digits
		return "", "", fmt.Errorf("enum: %q: want 1 to 15 digits", number)
	}
	var b strings.Builder
	for i := len(digits) - 1; i >= 0; i-- {
		b.WriteByte(digits[i])
		b.WriteByte('.')
	}
	b.WriteString(strings.Trim(suffix, "."))
	return "+" + string(digits), dns.Fqdn(b.String()), nil
}

// ENUM translates an E.164 number into the SIP URI its ENUM records give (RFC 6116 §3, RFC 3764): the
// NAPTR records of ENUMDomain, those with service E2U+sip and flag "u" in order and preference, the first
// whose regular expression matches the number. A number without such a record fails with ErrNotFound
// (the caller breaks out to the PSTN: TS 24.229 §5.4.3.2); a DNS failure with ErrTimeout.
func (r *Resolver) ENUM(ctx context.Context, number, suffix string) (string, error) {
	aus, domain, err := ENUMDomain(number, suffix)
	if err != nil {
		return "", fmt.Errorf("%w: %w", err, ErrNotFound)
	}
	for range maxENUMHops {
		rrs, err := r.lookup(ctx, domain, dns.TypeNAPTR)
		if err != nil {
			return "", fmt.Errorf("enum %s: %w", aus, err)
		}
		uri, next, err := enumRule(rrs, aus)
		if err != nil {
			return "", fmt.Errorf("enum %s: %w", aus, err)
		}
		if next == "" {
			return uri, nil
		}
		domain = next
	}
	return "", fmt.Errorf("enum %s: more than %d non-terminal rules: %w", aus, maxENUMHops, ErrNotFound)
}

// enumRule picks the first applicable rule of one NAPTR set: a terminal E2U+sip rule gives the URI, a
// non-terminal rule (empty flags, a replacement) the next domain to ask (RFC 6116 §3.4.3).
func enumRule(rrs []dns.RR, aus string) (uri, next string, err error) {
	recs := make([]*dns.NAPTR, 0, len(rrs))
	for _, rr := range rrs {
		if n, ok := rr.(*dns.NAPTR); ok {
			recs = append(recs, n)
		}
	}
	slices.SortStableFunc(recs, func(a, b *dns.NAPTR) int {
		if a.Order != b.Order {
			return int(a.Order) - int(b.Order)
		}
		return int(a.Preference) - int(b.Preference)
	})
	var lastErr error
	for _, n := range recs {
		switch {
		case strings.EqualFold(n.Flags, "u") && hasENUMService(n.Service, enumService):
			u, err := ApplyNAPTRRegexp(unescapeString(n.Regexp), aus)
			if err != nil {
				lastErr = err
				continue
			}
			if !isSIPURI(u) {
				lastErr = fmt.Errorf("rule gives %q, no sip or sips URI", u)
				continue
			}
			return u, "", nil
		case n.Flags == "" && n.Replacement != "" && n.Replacement != ".":
			return "", n.Replacement, nil
		}
	}
	if lastErr != nil {
		return "", "", fmt.Errorf("no usable E2U+sip rule (%w): %w", lastErr, ErrNotFound)
	}
	return "", "", fmt.Errorf("no E2U+sip rule: %w", ErrNotFound)
}

// hasENUMService tells whether a NAPTR service field ("E2U+sip", "E2U+sip:..." or several
// "E2U+a+b" types, RFC 6116 §3.4.3) names want.
func hasENUMService(field, want string) bool {
	types, ok := strings.CutPrefix(strings.ToLower(field), "e2u+")
	if !ok {
		return false
	}
	w := strings.TrimPrefix(strings.ToLower(want), "e2u+")
	for _, t := range strings.Split(types, "+") {
		if base, _, _ := strings.Cut(t, ":"); base == w {
			return true
		}
	}
	return false
}

func isSIPURI(u string) bool {
	l := strings.ToLower(u)
	return strings.HasPrefix(l, "sip:") || strings.HasPrefix(l, "sips:")
}

// errRegexp marks a NAPTR regexp field that cannot be used.
var errRegexp = errors.New("naptr regexp")

// ApplyNAPTRRegexp applies a NAPTR substitution expression (RFC 3402 §3.2: delim-char ERE delim-char
// replacement delim-char flags) to s. The delimiter is any character but a digit, a backslash or "i";
// the replacement's \1 to \9 name the groups, "\\" and "\<delim>" escape; flag "i" makes the match ignore
// case. The expression is RE2 (Go's regexp, leftmost-longest as POSIX ERE is), which takes every ERE
// an ENUM zone uses; no backtracking, so a hostile zone cannot make it slow.
func ApplyNAPTRRegexp(expr, s string) (string, error) {
	if len(expr) > maxRegexp {
		return "", fmt.Errorf("%w: longer than %d bytes", errRegexp, maxRegexp)
	}
	if len(expr) < 3 {
		return "", fmt.Errorf("%w: %q too short", errRegexp, expr)
	}
	delim := expr[0]
	if delim == '\\' || delim == 'i' || (delim >= '0' && delim <= '9') {
		return "", fmt.Errorf("%w: %q: delimiter %q not allowed", errRegexp, expr, delim)
	}
	parts := splitUnescaped(expr[1:], delim)
	if len(parts) != 3 {
		return "", fmt.Errorf("%w: %q: want delim ERE delim repl delim flags", errRegexp, expr)
	}
	ere, repl, flags := parts[0], parts[1], parts[2]
	switch flags {
	case "":
	case "i":
		ere = "(?i)" + ere
	default:
		return "", fmt.Errorf("%w: %q: flags %q", errRegexp, expr, flags)
	}
	re, err := regexp.Compile(ere)
	if err != nil {
		return "", fmt.Errorf("%w: %q: %w", errRegexp, expr, err)
	}
	re.Longest()
	m := re.FindStringSubmatchIndex(s)
	if m == nil {
		return "", fmt.Errorf("%w: %q does not match %q", errRegexp, expr, s)
	}
	var b strings.Builder
	for i := 0; i < len(repl); i++ {
		c := repl[i]
		if c != '\\' || i+1 == len(repl) {
			b.WriteByte(c)
			continue
		}
		i++
		d := repl[i]
		if d >= '1' && d <= '9' {
			g := int(d - '0')
			if 2*g+1 >= len(m) {
				return "", fmt.Errorf("%w: %q: no group %d", errRegexp, expr, g)
			}
			if m[2*g] >= 0 {
				b.WriteString(s[m[2*g]:m[2*g+1]])
			}
			continue
		}
		b.WriteByte(d) // "\\", "\<delim>" and any other escaped character stand for themselves
	}
	// RFC 3402 §3.2: the replacement replaces the whole matched part of the string.
	return s[:m[0]] + b.String() + s[m[1]:], nil
}

// splitUnescaped splits s at each delim not preceded by a backslash; escapes of the delimiter are
// unescaped in the ERE part by the regexp itself, in the replacement by ApplyNAPTRRegexp.
func splitUnescaped(s string, delim byte) []string {
	var out []string
	start := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case delim:
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

// unescapeString turns a character-string as miekg/dns presents it (RFC 1035 §5.1: "\\X" for a special
// character X, "\\DDD" for a byte) back into the bytes on the wire, which is what the NAPTR regexp is.
func unescapeString(s string) string {
	if !strings.Contains(s, `\\`) {
		return s
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' || i+1 == len(s) {
			b = append(b, s[i])
			continue
		}
		if i+3 < len(s) && isDigit(s[i+1]) && isDigit(s[i+2]) && isDigit(s[i+3]) {
			if v := int(s[i+1]-'0')*100 + int(s[i+2]-'0')*10 + int(s[i+3]-'0'); v <= 255 {
				b = append(b, byte(v))
				i += 3
				continue
			}
		}
		i++
		b = append(b, s[i])
	}
	return string(b)
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
