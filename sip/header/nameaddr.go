package header

import (
	"fmt"
	"strings"

	"github.com/emiago/sipgo/sip"
)

// NameAddr is one element of a Path (RFC 3327 §4), Service-Route (RFC 3608 §5),
// P-Asserted-Identity / P-Preferred-Identity (RFC 3325 §9.1, §9.2) or P-Associated-URI
// (RFC 7315 §4.1) list:
//
//	name-addr   = [ display-name ] LAQUOT addr-spec RAQUOT
//	path-value  = name-addr *( SEMI rr-param )
//	PAssertedID-value = name-addr / addr-spec
//
// The URI is kept verbatim: proxies must echo Path and Service-Route URIs exactly, and sipgo's
// Uri does not re-render every URI byte for byte. ParsedURI gives a sip.Uri when one is needed.
type NameAddr struct {
	// Display is the display-name, unquoted; "" when absent.
	Display string
	// URI is the addr-spec as received, without the angle brackets.
	URI string
	// Params are the header parameters after the name-addr (";lr" sits inside URI, not here).
	Params Params
}

// String writes the element in name-addr form, which every one of these headers accepts:
// ["display" ]<uri>[;params].
func (n NameAddr) String() string {
	var b strings.Builder
	n.write(&b)
	return b.String()
}

func (n NameAddr) write(b *strings.Builder) {
	if n.Display != "" {
		b.WriteString(Quote(n.Display))
		b.WriteByte(' ')
	}
	b.WriteByte('<')
	for i := 0; i < len(n.URI); i++ {
		switch c := n.URI[i]; c {
		case '\r', '\n', 0, '<', '>':
			// Cannot be inside <...>; dropping them keeps the header well-formed.
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('>')
	n.Params.write(b)
}

// ParsedURI parses URI with sipgo. sipgo's parser is guarded: a panic in it becomes an error.
func (n NameAddr) ParsedURI() (u sip.Uri, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("uri %q: sipgo parser panicked: %v", n.URI, r)
		}
	}()
	if err := sip.ParseUri(n.URI, &u); err != nil {
		return sip.Uri{}, fmt.Errorf("uri %q: %w", n.URI, err)
	}
	return u, nil
}

// Equal compares display name, URI (exact text) and parameters (names case-insensitively,
// in order).
func (n NameAddr) Equal(o NameAddr) bool {
	return n.Display == o.Display && n.URI == o.URI && equalParams(n.Params, o.Params)
}

// ParseNameAddrs parses one header value holding a comma-separated name-addr / addr-spec list.
// header names the field in errors. An empty value gives an empty list and no error
// (P-Associated-URI may be empty, RFC 7315 §4.1); callers whose header must not be empty check
// the length.
func ParseNameAddrs(header, value string) ([]NameAddr, error) {
	sc := &scanner{header: header, s: value}
	sc.skipLWS()
	if sc.eof() {
		return nil, nil
	}
	var out []NameAddr
	for {
		na, err := parseNameAddr(sc)
		if err != nil {
			return nil, err
		}
		out = append(out, na)
		more, err := sc.listSep()
		if err != nil {
			return nil, err
		}
		if !more {
			return out, nil
		}
	}
}

// FormatNameAddrs writes a list as one header value, elements separated by ", ".
func FormatNameAddrs(list []NameAddr) string {
	var b strings.Builder
	for i, n := range list {
		if i > 0 {
			b.WriteString(", ")
		}
		n.write(&b)
	}
	return b.String()
}

func parseNameAddr(sc *scanner) (NameAddr, error) {
	var na NameAddr
	sc.skipLWS()
	s := sc.s
	if sc.peek() == '"' {
		d, err := sc.quoted("display-name")
		if err != nil {
			return na, err
		}
		na.Display = d
		sc.skipLWS()
		if sc.peek() != '<' {
			return na, sc.fail("", nil, "expected '<' after the display-name")
		}
	} else {
		// An unquoted display-name (*(token LWS)) runs up to '<'; without one before the next
		// separator the element is a bare addr-spec.
		i := sc.pos
		for i < len(s) && s[i] != '<' && s[i] != ',' && s[i] != ';' && s[i] != '"' {
			i++
		}
		if i < len(s) && s[i] == '<' {
			d := strings.TrimSpace(s[sc.pos:i])
			for j := 0; j < len(d); j++ {
				if d[j] < 0x20 && d[j] != '\t' || d[j] == 0x7f {
					sc.pos += j
					return na, sc.fail("", nil, "control character in display-name")
				}
			}
			na.Display = d
			sc.pos = i
		}
	}

	if sc.peek() == '<' {
		sc.pos++
		end := strings.IndexByte(s[sc.pos:], '>')
		if end < 0 {
			sc.pos--
			return na, sc.fail("", nil, "'<' without a closing '>'")
		}
		uri := s[sc.pos : sc.pos+end]
		if err := checkURI(sc, uri); err != nil {
			return na, err
		}
		na.URI = uri
		sc.pos += end + 1
	} else {
		// addr-spec without brackets: RFC 3261 §20.10 puts everything after ';' in the header
		// parameters, and a URI holding ',' ';' or '?' must be bracketed.
		start := sc.pos
		for !sc.eof() {
			c := sc.s[sc.pos]
			if c == ';' || c == ',' || isLWS(c) || c == '<' || c == '>' || c == '"' {
				break
			}
			sc.pos++
		}
		uri := s[start:sc.pos]
		sc.pos = start
		if err := checkURI(sc, uri); err != nil {
			return na, err
		}
		na.URI = uri
		sc.pos = start + len(uri)
	}

	ps, err := sc.params()
	if err != nil {
		return na, err
	}
	na.Params = ps
	return na, nil
}

// checkURI applies the little of RFC 3986 / RFC 3261 §19 that can be checked without parsing the
// scheme-specific part: scheme ":" something, no whitespace, controls or '<' '>' '"'.
func checkURI(sc *scanner, uri string) error {
	if uri == "" {
		return sc.fail("", nil, "empty URI")
	}
	colon := strings.IndexByte(uri, ':')
	if colon < 1 || colon == len(uri)-1 {
		return sc.fail("", nil, fmt.Sprintf("URI %q has no scheme or nothing after it", uri))
	}
	for i := 0; i < colon; i++ {
		c := uri[i]
		alpha := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
		if i == 0 && !alpha || !alpha && !(c >= '0' && c <= '9') && c != '+' && c != '-' && c != '.' {
			return sc.fail("", nil, fmt.Sprintf("URI %q has an invalid scheme", uri))
		}
	}
	for i := 0; i < len(uri); i++ {
		c := uri[i]
		if c <= ' ' || c == 0x7f || c == '<' || c == '>' || c == '"' {
			return sc.fail("", nil, fmt.Sprintf("URI %q holds %s", uri, quoteByte(c)))
		}
	}
	return nil
}
