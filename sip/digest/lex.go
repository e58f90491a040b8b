package digest

import (
	"fmt"
	"strings"

	"github.com/imscore/imscore/sip/header"
)

// authParam is one parsed auth-param and where it started.
type authParam struct {
	header.Param
	pos int
}

func (p authParam) fail(hdr string, err error, msg string) error {
	return &header.ParseError{Header: hdr, Param: strings.ToLower(p.Name), Pos: p.pos, Msg: msg, Err: err}
}

func isLWS(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

// isLooseValueChar is what an unquoted auth-param value may hold here: printable, not a
// separator. Wider than token on purpose: clients send uri=sip:x and the like unquoted.
func isLooseValueChar(c byte) bool {
	return c > ' ' && c < 0x7f && c != ',' && c != '"'
}

// parseAuth parses "Digest" LWS auth-param *(COMMA auth-param) (RFC 2617 §1.2, §3.2.1, §3.2.2;
// RFC 3261 §25.1), where auth-param = token EQUAL ( token / quoted-string ). Empty list elements
// (",,") are skipped, as RFC 2617's #rule allows.
func parseAuth(hdr, s string) ([]authParam, error) {
	pos := 0
	fail := func(err error, msg string) error {
		return &header.ParseError{Header: hdr, Pos: pos, Msg: msg, Err: err}
	}
	skipLWS := func() {
		for pos < len(s) && isLWS(s[pos]) {
			pos++
		}
	}
	token := func() string {
		start := pos
		for pos < len(s) && header.IsToken(s[pos:pos+1]) {
			pos++
		}
		return s[start:pos]
	}

	skipLWS()
	scheme := token()
	if scheme == "" {
		return nil, fail(header.ErrMissing, "expected the auth scheme")
	}
	if !strings.EqualFold(scheme, "Digest") {
		pos -= len(scheme)
		return nil, fail(ErrNotDigest, fmt.Sprintf("scheme %q is not Digest", scheme))
	}
	if pos < len(s) && !isLWS(s[pos]) {
		return nil, fail(nil, "expected whitespace after Digest")
	}
	var out []authParam
	for {
		skipLWS()
		if pos >= len(s) {
			break
		}
		if s[pos] == ',' {
			pos++
			continue
		}
		p := authParam{pos: pos}
		p.Name = token()
		if p.Name == "" {
			return nil, fail(nil, fmt.Sprintf("expected a directive name, found %q", s[pos:pos+1]))
		}
		skipLWS()
		if pos >= len(s) || s[pos] != '=' {
			return nil, p.fail(hdr, nil, "expected '=' after the directive name")
		}
		pos++
		skipLWS()
		if pos < len(s) && s[pos] == '"' {
			v, end, err := unquote(s, pos)
			if err != nil {
				return nil, p.fail(hdr, nil, err.Error())
			}
			p.Value, p.Quoted, pos = v, true, end
		} else {
			start := pos
			for pos < len(s) && isLooseValueChar(s[pos]) {
				pos++
			}
			if pos == start {
				return nil, p.fail(hdr, nil, "empty value")
			}
			p.Value = s[start:pos]
		}
		out = append(out, p)
		skipLWS()
		if pos >= len(s) {
			break
		}
		if s[pos] != ',' {
			return nil, fail(nil, fmt.Sprintf("expected ',' after %s, found %q", p.Name, s[pos:pos+1]))
		}
		pos++
	}
	if len(out) == 0 {
		return nil, fail(header.ErrMissing, "no directives after Digest")
	}
	return out, nil
}

// unquote reads the quoted-string starting at s[pos] == '"' and returns it unescaped and the
// offset after the closing quote. CR, LF and NUL are refused, raw or escaped.
func unquote(s string, pos int) (string, int, error) {
	var b strings.Builder
	for i := pos + 1; i < len(s); i++ {
		switch c := s[i]; c {
		case '"':
			return b.String(), i + 1, nil
		case '\\':
			if i+1 >= len(s) {
				return "", 0, fmt.Errorf("quoted-string ends inside an escape")
			}
			i++
			if n := s[i]; n == '\r' || n == '\n' || n == 0 {
				return "", 0, fmt.Errorf("escaped CR, LF or NUL in quoted-string")
			}
			b.WriteByte(s[i])
		case '\r', '\n', 0:
			return "", 0, fmt.Errorf("CR, LF or NUL in quoted-string")
		default:
			b.WriteByte(c)
		}
	}
	return "", 0, fmt.Errorf("unterminated quoted-string")
}

// writer builds "Digest a=b,c=\"d\"": directives separated by a bare comma, as SIPp writes them.
type writer struct {
	b strings.Builder
	n int
}

func newWriter() *writer {
	w := &writer{}
	w.b.WriteString("Digest ")
	return w
}

func (w *writer) name(name string) {
	if w.n > 0 {
		w.b.WriteByte(',')
	}
	w.n++
	w.b.WriteString(name)
	w.b.WriteByte('=')
}

// quoted writes name="v"; an empty v only when always is set.
func (w *writer) quoted(name, v string, always bool) {
	if v == "" && !always {
		return
	}
	w.name(name)
	w.b.WriteString(header.Quote(v))
}

// token writes name=v, quoting v only if it is not a token.
func (w *writer) token(name, v string) {
	if v == "" {
		return
	}
	w.name(name)
	if header.IsToken(v) {
		w.b.WriteString(v)
	} else {
		w.b.WriteString(header.Quote(v))
	}
}

// params writes the other auth-params, quoted as received (or when they must be). A parameter
// whose name is not a token cannot be written and is left out.
func (w *writer) params(ps header.Params) {
	for _, p := range ps {
		if !header.IsToken(p.Name) {
			continue
		}
		w.name(p.Name)
		if p.Quoted || !header.IsToken(p.Value) {
			w.b.WriteString(header.Quote(p.Value))
		} else {
			w.b.WriteString(p.Value)
		}
	}
}

// String returns what was written.
func (w *writer) String() string { return w.b.String() }
