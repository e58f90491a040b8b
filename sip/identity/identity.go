// Package identity is the one form in which every node compares and keys a public identity (IMPU or PSI):
// the I-CSCF asks the HSS with it, the S-CSCF keys registrations and matches the implicit set with it, the
// P-CSCF keys its registrations and finds the asserted identity with it. Two URIs name the same identity
// exactly when their keys are equal.
//
// The key of a SIP or SIPS URI (TS 23.003 §13.4: an IMPU is "sip:user@domain") is scheme:user@host, scheme
// and host in lower case (RFC 3261 §19.1.4: scheme and host compare case-insensitively), the user part as it
// is (RFC 3261 §19.1.4: user info compares case-sensitively) with %HH escapes of unreserved characters
// decoded and the other escapes' hex digits in upper case (RFC 3261 §19.1.4: a character other than a
// reserved one equals its escape), without password, port, parameters or headers (TS 23.003 §13.4); with no
// user part it is scheme:host. A SIP URI with user=phone carries a telephone-subscriber in its user part
// (RFC 3261 §19.1.6), so its key is that of the tel URI with that telephone-subscriber;
// a user part that is no valid telephone-subscriber keeps the SIP form.
//
// The key of a tel URI (RFC 3966) is, for a global number (§5.1.4), "tel:+" and its digits without visual
// separators ("-", ".", "(", ")", §3, compared without them per §4), without parameters (the identity is the
// number); for a local number (§5.1.5), its digits and hex digits in lower case without visual separators,
// with ";phone-context=" and the context (a domain in lower case, or a global number without visual
// separators), since a local number names nothing without it (§5.1.5: the context is mandatory). A local
// number without phone-context, as subscriber data writes tel:<MSISDN>, is keyed by its digits alone.
package identity

import (
	"errors"
	"fmt"
	"strings"

	"github.com/emiago/sipgo/sip"

	"github.com/imscore/imscore/sip/header"
)

// ErrNotIdentity is returned for anything that is no public identity: a URI of another scheme, a SIP URI
// without host, a tel URI without a valid number, text that is no URI.
var ErrNotIdentity = errors.New("not a public identity")

// Public is the key of the public identity u (see the package comment).
func Public(u *sip.Uri) (string, error) {
	if u == nil {
		return "", fmt.Errorf("%w: no URI", ErrNotIdentity)
	}
	scheme := strings.ToLower(u.Scheme)
	switch scheme {
	case "sip", "sips":
		if u.Host == "" {
			return "", fmt.Errorf("%w: %s URI without host", ErrNotIdentity, scheme)
		}
		if !validHost(u.Host) {
			return "", fmt.Errorf("%w: host %q", ErrNotIdentity, u.Host)
		}
		host := strings.ToLower(u.Host) // RFC 3261 §19.1.4
		if u.User == "" {
			return scheme + ":" + host, nil
		}
		if userPhone(u.UriParams) {
			// RFC 3261 §19.1.6: the user part is a telephone-subscriber (RFC 3966 §3); its key is the tel URI's.
			if k, err := Tel(u.User); err == nil {
				return k, nil
			}
		}
		user, err := unescape(u.User)
		if err != nil {
			return "", err
		}
		return scheme + ":" + user + "@" + host, nil
	case "tel":
		raw := u.Raw() // sipgo keeps a tel URI opaque: the text after "tel:"
		if raw == "" {
			raw = u.User + u.Host
		}
		return Tel(raw)
	case "":
		return "", fmt.Errorf("%w: no scheme", ErrNotIdentity)
	}
	return "", fmt.Errorf("%w: scheme %q", ErrNotIdentity, u.Scheme)
}

// String is the key of the public identity written in s: a URI, or a name-addr with the URI in angle
// brackets (as P-Asserted-Identity and P-Associated-URI carry it).
func String(s string) (string, error) {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '<'); i >= 0 {
		if j := strings.IndexByte(s[i:], '>'); j > 0 {
			s = s[i+1 : i+j]
		}
	}
	// ParsedURI turns a panic of sipgo's URI parser into an error.
	u, err := header.NameAddr{URI: s}.ParsedURI()
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrNotIdentity, err)
	}
	return Public(&u)
}

// Key is the key of the identity written in s (String), or s without surrounding space when s names no public
// identity. A node uses it to key or compare text it must keep even when it is no identity: such text equals
// no key, since a key is its own key, so it only ever matches itself.
func Key(s string) string {
	k, err := String(s)
	if err != nil {
		return strings.TrimSpace(s)
	}
	return k
}

// URIKey is Key for a parsed URI: its key (Public), or its text when it names no public identity; "" for nil.
func URIKey(u *sip.Uri) string {
	if u == nil {
		return ""
	}
	k, err := Public(u)
	if err != nil {
		return u.String()
	}
	return k
}

// Equal reports whether a and b are the same public identity: both are identities and their keys are equal.
func Equal(a, b string) bool {
	ka, err := String(a)
	if err != nil {
		return false
	}
	kb, err := String(b)
	return err == nil && ka == kb
}

// userPhone reports a user=phone URI parameter (RFC 3261 §19.1.1: parameter names and the value "phone"
// compare case-insensitively, §19.1.4).
func userPhone(p sip.HeaderParams) bool {
	for _, kv := range p {
		if strings.EqualFold(kv.K, "user") && strings.EqualFold(kv.V, "phone") {
			return true
		}
	}
	return false
}

// Tel is the key of the telephone-subscriber ts (RFC 3966 §3: the text of a tel URI after "tel:", or the user
// part of a SIP URI with user=phone).
func Tel(ts string) (string, error) {
	number, params, _ := strings.Cut(ts, ";")
	if strings.HasPrefix(number, "+") {
		// RFC 3966 §5.1.4: global-number-digits = "+" *phonedigit DIGIT *phonedigit.
		digits, ok := phoneDigits(number[1:], false)
		if !ok {
			return "", fmt.Errorf("%w: tel number %q", ErrNotIdentity, number)
		}
		return "tel:+" + digits, nil
	}
	// RFC 3966 §5.1.5: local-number-digits = *phonedigit-hex (HEXDIG / "*" / "#") *phonedigit-hex, and a
	// local number MUST carry phone-context.
	digits, ok := phoneDigits(number, true)
	if !ok {
		return "", fmt.Errorf("%w: tel number %q", ErrNotIdentity, number)
	}
	ctx, found, ok := phoneContext(params)
	if !ok {
		return "", fmt.Errorf("%w: local number %q: phone-context %q (RFC 3966 §5.1.5)", ErrNotIdentity, number, params)
	}
	if !found {
		// RFC 3966 §5.1.5 makes phone-context mandatory for a local number, but subscriber data provisions
		// tel:<MSISDN> without it (the HSS seed, Kamailio-style User-Data): the number alone is then the key,
		// in the one implicit context of the home network, and differs from the same digits with a context.
		return "tel:" + digits, nil
	}
	return "tel:" + digits + ";phone-context=" + ctx, nil
}

// phoneContext is the normalised phone-context of a tel URI's parameters (RFC 3966 §5.1.5: a domain name,
// compared case-insensitively, or a global number, compared without visual separators, §4); found false when
// there is none, ok false when it is not valid.
func phoneContext(params string) (ctx string, found, ok bool) {
	for params != "" {
		var p string
		p, params, _ = strings.Cut(params, ";")
		name, value, _ := strings.Cut(p, "=")
		if !strings.EqualFold(name, "phone-context") { // RFC 3966 §3: parameter names are case-insensitive
			continue
		}
		if strings.HasPrefix(value, "+") {
			digits, ok := phoneDigits(value[1:], false)
			return "+" + digits, true, ok
		}
		if value == "" {
			return "", true, false
		}
		for i := 0; i < len(value); i++ {
			c := value[i]
			if !isAlnum(c) && c != '-' && c != '.' {
				return "", true, false // RFC 3966 §3: domainname = *( domainlabel "." ) toplabel [ "." ]
			}
		}
		return strings.ToLower(value), true, true
	}
	return "", false, true
}

// phoneDigits removes the visual separators of RFC 3966 §3 ("-", ".", "(", ")") from s and reports whether
// what is left is one or more digits (hex false) or digits, hex digits, "*" and "#" (hex true, then in lower
// case: RFC 3966 §4 compares them case-insensitively).
func phoneDigits(s string, hex bool) (string, bool) {
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '-' || c == '.' || c == '(' || c == ')':
		case '0' <= c && c <= '9':
			b.WriteByte(c)
		case hex && (c == '*' || c == '#'):
			b.WriteByte(c)
		case hex && ('a' <= c && c <= 'f' || 'A' <= c && c <= 'F'):
			b.WriteByte(c | 0x20)
		default:
			return "", false
		}
	}
	return b.String(), b.Len() > 0
}

// unescape checks the user part's characters and writes it with every %HH escape of an unreserved character decoded and the others'
// hex digits in upper case (RFC 3261 §19.1.4, §25.1: unreserved = alphanum / mark).
func unescape(user string) (string, error) {
	var b strings.Builder
	b.Grow(len(user))
	for i := 0; i < len(user); i++ {
		c := user[i]
		if c != '%' {
			// RFC 3261 §25.1: user = 1*( unreserved / escaped / user-unreserved ).
			if !isAlnum(c) && strings.IndexByte("-_.!~*'()&=+$,;?/", c) < 0 {
				return "", fmt.Errorf("%w: user part %q: character %q", ErrNotIdentity, user, c)
			}
			b.WriteByte(c)
			continue
		}
		if i+2 >= len(user) || !isHex(user[i+1]) || !isHex(user[i+2]) {
			return "", fmt.Errorf("%w: user part %q: bad escape", ErrNotIdentity, user)
		}
		d := unhex(user[i+1])<<4 | unhex(user[i+2])
		if isAlnum(d) || strings.IndexByte("-_.!~*'()", d) >= 0 {
			b.WriteByte(d)
		} else {
			const digits = "0123456789ABCDEF"
			b.WriteByte('%')
			b.WriteByte(digits[d>>4])
			b.WriteByte(digits[d&0x0f])
		}
		i += 2
	}
	return b.String(), nil
}

// validHost reports a host of RFC 3261 §25.1: a hostname or IPv4 address (alphanumerics, "-", "."), or an
// IPv6 reference in brackets.
func validHost(h string) bool {
	if strings.HasPrefix(h, "[") {
		if len(h) < 3 || h[len(h)-1] != ']' {
			return false
		}
		for i := 1; i < len(h)-1; i++ {
			if c := h[i]; !isHex(c) && c != ':' && c != '.' {
				return false
			}
		}
		return true
	}
	for i := 0; i < len(h); i++ {
		if c := h[i]; !isAlnum(c) && c != '-' && c != '.' {
			return false
		}
	}
	return h != ""
}

func isAlnum(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case '0' <= c && c <= '9':
		return c - '0'
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}
