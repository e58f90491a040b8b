package header

import (
	"strings"
)

// The lexical rules of RFC 3261 §25.1 that every IMS header here shares.

// isTokenChar: token = 1*(alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~").
func isTokenChar(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	switch c {
	case '-', '.', '!', '%', '*', '_', '+', '`', '\'', '~':
		return true
	}
	return false
}

// IsToken reports whether s is a non-empty RFC 3261 token.
func IsToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isTokenChar(s[i]) {
			return false
		}
	}
	return true
}

// isBareValue reports whether s can be written without quotes as a gen-value
// (RFC 3261 §25.1: gen-value = token / host / quoted-string; host adds ":" "[" "]" for IPv6).
func isBareValue(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !isTokenChar(c) && c != ':' && c != '[' && c != ']' {
			return false
		}
	}
	return true
}

// isLooseValueChar is what the parsers accept in an unquoted parameter value: anything printable
// but the separators. It is wider than gen-value on purpose: base64 ICIDs with "=" and URIs with
// "/" are sent unquoted in the field; the writers quote them.
func isLooseValueChar(c byte) bool {
	if c <= ' ' || c >= 0x7f {
		return false
	}
	switch c {
	case ';', ',', '"', '<', '>':
		return false
	}
	return true
}

func isLWS(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

// clean replaces the bytes no header value may hold (CR and LF would end the header, NUL ends C
// strings in other stacks) with spaces, so no value written here can inject a header.
func clean(s string) string {
	if !strings.ContainsAny(s, "\r\n\x00") {
		return s
	}
	// Byte by byte: strings.Map would also turn invalid UTF-8 into U+FFFD.
	b := []byte(s)
	for i, c := range b {
		if c == '\r' || c == '\n' || c == 0 {
			b[i] = ' '
		}
	}
	return string(b)
}

// Quote writes s as an RFC 3261 quoted-string, escaping '"' and '\' (quoted-pair, §25.1).
func Quote(s string) string {
	s = clean(s)
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		if s[i] == '"' || s[i] == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	b.WriteByte('"')
	return b.String()
}

// SplitList splits a header value at the commas that separate list elements (RFC 3261 §7.3.1),
// ignoring commas inside quoted-strings and inside <...>. Elements are trimmed; empty ones are
// dropped. It never fails: an unterminated quote or bracket runs to the end of the value.
func SplitList(value string) []string {
	var out []string
	start := 0
	inQuote, inAngle, escaped := false, false, false
	for i := 0; i < len(value); i++ {
		c := value[i]
		switch {
		case inQuote:
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inQuote = false
			}
		case inAngle:
			if c == '>' {
				inAngle = false
			}
		case c == '"':
			inQuote = true
		case c == '<':
			inAngle = true
		case c == ',':
			if e := strings.TrimSpace(value[start:i]); e != "" {
				out = append(out, e)
			}
			start = i + 1
		}
	}
	if e := strings.TrimSpace(value[start:]); e != "" {
		out = append(out, e)
	}
	return out
}

// scanner walks one header value and reports errors with the header name and offset.
type scanner struct {
	header string
	s      string
	pos    int
	// paramPos, when not nil, collects the offset of every parameter read, for errors found
	// after parsing (a repeated or out-of-range parameter).
	paramPos *[]int
}

func (sc *scanner) fail(param string, err error, msg string) error {
	return &ParseError{Header: sc.header, Param: param, Pos: sc.pos, Msg: msg, Err: err}
}

func (sc *scanner) eof() bool { return sc.pos >= len(sc.s) }

func (sc *scanner) peek() byte {
	if sc.eof() {
		return 0
	}
	return sc.s[sc.pos]
}

func (sc *scanner) skipLWS() {
	for !sc.eof() && isLWS(sc.s[sc.pos]) {
		sc.pos++
	}
}

// token reads a non-empty token.
func (sc *scanner) token(what string) (string, error) {
	start := sc.pos
	for !sc.eof() && isTokenChar(sc.s[sc.pos]) {
		sc.pos++
	}
	if sc.pos == start {
		if sc.eof() {
			return "", sc.fail("", nil, "expected "+what+", found end of value")
		}
		return "", sc.fail("", nil, "expected "+what+", found "+quoteByte(sc.s[sc.pos]))
	}
	return sc.s[start:sc.pos], nil
}

// quoted reads a quoted-string starting at '"' and returns it unescaped. A raw or escaped CR or
// LF inside is refused: quoted-pair excludes them, and folding was undone by the transport.
func (sc *scanner) quoted(param string) (string, error) {
	open := sc.pos
	sc.pos++ // the opening quote
	var b strings.Builder
	for !sc.eof() {
		c := sc.s[sc.pos]
		switch c {
		case '"':
			sc.pos++
			return b.String(), nil
		case '\\':
			if sc.pos+1 >= len(sc.s) {
				sc.pos++
				return "", sc.fail(param, nil, "quoted-string ends inside an escape")
			}
			n := sc.s[sc.pos+1]
			if n == '\r' || n == '\n' || n == 0 {
				// quoted-pair allows NUL, but no header written here may carry one.
				sc.pos++
				return "", sc.fail(param, nil, "escaped CR, LF or NUL in quoted-string")
			}
			b.WriteByte(n)
			sc.pos += 2
		case '\r', '\n', 0:
			return "", sc.fail(param, nil, "CR, LF or NUL in quoted-string")
		default:
			b.WriteByte(c)
			sc.pos++
		}
	}
	sc.pos = open
	return "", sc.fail(param, nil, "unterminated quoted-string")
}

// value reads a parameter value after '=': a quoted-string or a run of loose value characters.
func (sc *scanner) value(param string) (string, bool, error) {
	if sc.peek() == '"' {
		v, err := sc.quoted(param)
		return v, true, err
	}
	start := sc.pos
	for !sc.eof() && isLooseValueChar(sc.s[sc.pos]) {
		sc.pos++
	}
	if sc.pos == start {
		return "", false, sc.fail(param, nil, "empty value after '='")
	}
	return sc.s[start:sc.pos], false, nil
}

// param reads name [ "=" value ] at the current position (after any ';').
func (sc *scanner) param() (Param, error) {
	sc.skipLWS()
	if sc.paramPos != nil {
		*sc.paramPos = append(*sc.paramPos, sc.pos)
	}
	name, err := sc.token("parameter name")
	if err != nil {
		return Param{}, err
	}
	sc.skipLWS()
	if sc.peek() != '=' {
		return Param{Name: name}, nil
	}
	sc.pos++
	sc.skipLWS()
	v, q, err := sc.value(name)
	if err != nil {
		return Param{}, err
	}
	return Param{Name: name, Value: v, Quoted: q}, nil
}

// params reads *( SEMI param ) and stops before anything that is not ';' (after LWS).
func (sc *scanner) params() (Params, error) {
	var ps Params
	for {
		save := sc.pos
		sc.skipLWS()
		if sc.peek() != ';' {
			sc.pos = save
			return ps, nil
		}
		sc.pos++
		p, err := sc.param()
		if err != nil {
			return nil, err
		}
		ps = append(ps, p)
	}
}

// listSep consumes the separator after a list element: it reports false at the end of the value,
// true after a comma, and an error on anything else.
func (sc *scanner) listSep() (bool, error) {
	sc.skipLWS()
	if sc.eof() {
		return false, nil
	}
	if sc.peek() != ',' {
		return false, sc.fail("", nil, "expected ',' or ';', found "+quoteByte(sc.peek()))
	}
	sc.pos++
	sc.skipLWS()
	if sc.eof() || sc.peek() == ',' {
		return false, sc.fail("", nil, "empty list element")
	}
	return true, nil
}

func quoteByte(c byte) string {
	if c >= 0x20 && c < 0x7f {
		return "'" + string(c) + "'"
	}
	const hex = "0123456789abcdef"
	return "byte 0x" + string(hex[c>>4]) + string(hex[c&0xf])
}
