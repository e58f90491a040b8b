package header

import (
	"strings"
)

// Element is one element of a list whose elements are a token (or quoted-string) followed by
// parameters: P-Visited-Network-ID's vnetwork-spec (RFC 7315 §4.3), P-Access-Network-Info's
// access-net-spec (RFC 7315 §4.4), and RFC 3329's sec-mechanism (sip/secagree builds on it).
type Element struct {
	// Value is the leading token or the unquoted quoted-string.
	Value string
	// Quoted is true when Value came as a quoted-string.
	Quoted bool
	// Params follow the value, in order.
	Params Params
}

// String writes value[;params]; Value is quoted when Quoted is set or it is not a token.
func (e Element) String() string {
	var b strings.Builder
	e.write(&b)
	return b.String()
}

func (e Element) write(b *strings.Builder) {
	if e.Quoted || !IsToken(e.Value) {
		b.WriteString(Quote(e.Value))
	} else {
		b.WriteString(e.Value)
	}
	e.Params.write(b)
}

// Equal compares values exactly and parameters in order (names case-insensitively).
func (e Element) Equal(o Element) bool {
	return e.Value == o.Value && e.Quoted == o.Quoted && equalParams(e.Params, o.Params)
}

// ParseElements parses a comma-separated list of token-or-quoted-string elements with
// parameters. header names the field in errors. An empty value gives an empty list.
func ParseElements(header, value string) ([]Element, error) {
	list, _, err := ParseElementsAt(header, value)
	return list, err
}

// ParseElementsAt is ParseElements that also returns the byte offset of each element in value,
// so that a caller validating the elements further can say where the offender is.
func ParseElementsAt(header, value string) ([]Element, []int, error) {
	sc := &scanner{header: header, s: value}
	sc.skipLWS()
	if sc.eof() {
		return nil, nil, nil
	}
	var out []Element
	var at []int
	for {
		sc.skipLWS()
		at = append(at, sc.pos)
		e, err := parseElement(sc)
		if err != nil {
			return nil, nil, err
		}
		out = append(out, e)
		more, err := sc.listSep()
		if err != nil {
			return nil, nil, err
		}
		if !more {
			return out, at, nil
		}
	}
}

// FormatElements writes a list as one header value, elements separated by ", ".
func FormatElements(list []Element) string {
	var b strings.Builder
	for i, e := range list {
		if i > 0 {
			b.WriteString(", ")
		}
		e.write(&b)
	}
	return b.String()
}

func parseElement(sc *scanner) (Element, error) {
	var e Element
	sc.skipLWS()
	if sc.peek() == '"' {
		v, err := sc.quoted("")
		if err != nil {
			return e, err
		}
		e.Value, e.Quoted = v, true
	} else {
		v, err := sc.token("a token")
		if err != nil {
			return e, err
		}
		e.Value = v
	}
	ps, err := sc.params()
	if err != nil {
		return e, err
	}
	e.Params = ps
	return e, nil
}

// parseParamSeq parses a value that is only parameters, "a=1;b;c=2", as P-Charging-Vector and
// P-Charging-Function-Addresses are. A single header value, not a list: a comma outside quotes
// is an error.
// The second result holds each parameter's offset, for errors found after parsing.
func parseParamSeq(header, value string) (Params, []int, error) {
	var pos []int
	sc := &scanner{header: header, s: value, paramPos: &pos}
	sc.skipLWS()
	if sc.eof() {
		return nil, nil, sc.fail("", ErrMissing, "empty value")
	}
	first, err := sc.param()
	if err != nil {
		return nil, nil, err
	}
	rest, err := sc.params()
	if err != nil {
		return nil, nil, err
	}
	sc.skipLWS()
	if !sc.eof() {
		return nil, nil, sc.fail("", nil, "expected ';', found "+quoteByte(sc.peek()))
	}
	return append(Params{first}, rest...), pos, nil
}
