package h248

import (
	"fmt"
	"strconv"
	"strings"
)

// Parse reads one text-encoded message (H.248.1 Annex B):
//
//	megacoMessage = LWSP [authenticationHeader SEP] message
//	message       = MegacopToken SLASH Version SEP mId SEP messageBody
//
// The authentication header (Annex B "AuthToken") is refused: the Iq interface is protected by IPsec or a
// trusted network (TS 29.334 §5.13), not by H.248's own header.
func Parse(b []byte) (*Message, error) {
	if len(b) > MaxMessageSize {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrSyntax, len(b), MaxMessageSize)
	}
	p := &parser{s: string(b)}
	p.skip()
	tok := p.word()
	var ver string
	switch {
	case len(tok) > 7 && strings.EqualFold(tok[:7], "MEGACO/"):
		ver = tok[7:]
	case strings.HasPrefix(tok, "!/"):
		ver = tok[2:]
	case strings.EqualFold(tok, "Authentication") || strings.EqualFold(tok, "AU"):
		return nil, p.errorf("authentication header not supported")
	default:
		return nil, p.errorf("want MEGACO/version, got %q", tok)
	}
	v, err := strconv.Atoi(ver)
	if err != nil || v < 1 || v > 99 {
		return nil, p.errorf("version %q", ver)
	}
	m := &Message{Version: v}
	if !p.sep() {
		return nil, p.errorf("want a separator after the version")
	}
	m.MID, err = p.mid()
	if err != nil {
		return nil, err
	}
	if !p.sep() {
		return nil, p.errorf("want a separator after the mId")
	}
	// Annex B: messageBody = errorDescriptor / transactionList, transactionList = 1*(transactionRequest /
	// transactionReply / transactionPending / transactionResponseAck): no commas between transactions.
	for p.skip(); p.i < len(p.s); p.skip() {
		n, err := p.elem(0)
		if err != nil {
			return nil, err
		}
		m.Body = append(m.Body, n)
	}
	if len(m.Body) == 0 {
		return nil, p.errorf("empty message body")
	}
	return m, nil
}

type parser struct {
	s     string
	i     int
	nodes int
}

func (p *parser) errorf(format string, args ...any) error {
	return fmt.Errorf("%w at byte %d: %s", ErrSyntax, p.i, fmt.Sprintf(format, args...))
}

func (p *parser) rest() string {
	r := p.s[p.i:]
	if len(r) > 20 {
		r = r[:20] + "…"
	}
	return r
}

// skip passes white space, line ends and comments (Annex B "LWSP", "COMMENT": ";" to the end of the line).
func (p *parser) skip() {
	for p.i < len(p.s) {
		switch c := p.s[p.i]; {
		case c == ' ' || c == '\t' || c == '\r' || c == '\n':
			p.i++
		case c == ';':
			for p.i < len(p.s) && p.s[p.i] != '\n' && p.s[p.i] != '\r' {
				p.i++
			}
		default:
			return
		}
	}
}

// sep requires and passes at least one separator (Annex B "SEP": white space or a line end).
func (p *parser) sep() bool {
	start := p.i
	p.skip()
	return p.i > start || p.i == len(p.s)
}

func (p *parser) eat(c byte) bool {
	p.skip()
	if p.i < len(p.s) && p.s[p.i] == c {
		p.i++
		return true
	}
	return false
}

// isWordChar are the characters of a token, a name or a value: Annex B "SafeChar" without the separators
// the grammar uses ("=", ",", braces, brackets, quotes, ";", white space) and with ":" (time stamps,
// "[addr]:port" is read by mid).
func isWordChar(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	return strings.IndexByte("+-&!_/'?@^`~*$\\()%|.:", c) >= 0
}

func (p *parser) word() string {
	start := p.i
	for p.i < len(p.s) && isWordChar(p.s[p.i]) {
		p.i++
	}
	return p.s[start:p.i]
}

// mid reads Annex B "mId": domainAddress or domainName with an optional port, or another word
// (mtpAddress, deviceName).
func (p *parser) mid() (string, error) {
	start := p.i
	switch {
	case p.i < len(p.s) && p.s[p.i] == '[':
		end := strings.IndexByte(p.s[p.i:], ']')
		if end < 0 {
			return "", p.errorf("unterminated [ in mId")
		}
		p.i += end + 1
	case p.i < len(p.s) && p.s[p.i] == '<':
		end := strings.IndexByte(p.s[p.i:], '>')
		if end < 0 {
			return "", p.errorf("unterminated < in mId")
		}
		p.i += end + 1
	default:
		if p.word() == "" {
			return "", p.errorf("want an mId")
		}
		return p.s[start:p.i], nil
	}
	if p.i < len(p.s) && p.s[p.i] == ':' {
		p.i++
		port := p.word()
		if _, err := strconv.ParseUint(port, 10, 16); err != nil {
			return "", p.errorf("mId port %q", port)
		}
	}
	return p.s[start:p.i], nil
}

// list reads comma-separated elements up to the closing brace.
func (p *parser) list(depth int) ([]*Node, error) {
	if depth > MaxDepth {
		return nil, p.errorf("nested deeper than %d", MaxDepth)
	}
	var out []*Node
	for {
		p.skip()
		if p.i == len(p.s) || p.s[p.i] == '}' {
			if len(out) > 0 {
				return nil, p.errorf("a comma before the end of a list")
			}
			return out, nil
		}
		n, err := p.elem(depth)
		if err != nil {
			return nil, err
		}
		out = append(out, n)
		p.skip()
		if p.i < len(p.s) && p.s[p.i] == ',' {
			p.i++
			continue
		}
		return out, nil
	}
}

func (p *parser) elem(depth int) (*Node, error) {
	p.nodes++
	if p.nodes > MaxNodes {
		return nil, p.errorf("more than %d elements", MaxNodes)
	}
	n := &Node{}
	if p.s[p.i] == '"' {
		s, err := p.quoted()
		if err != nil {
			return nil, err
		}
		n.Name, n.Quoted = s, true
		return n, nil
	}
	n.Name = p.word()
	if n.Name == "" {
		return nil, p.errorf("want a token, got %q", p.rest())
	}
	p.skip()
	if p.i < len(p.s) && strings.IndexByte("=<>#", p.s[p.i]) >= 0 {
		n.Op = p.s[p.i]
		p.i++
		p.skip()
		v, err := p.value()
		if err != nil {
			return nil, err
		}
		n.Value = v
		p.skip()
	}
	if p.i < len(p.s) && p.s[p.i] == '{' {
		p.i++
		n.HasBody = true
		if isOctetToken(n.Name) && n.Op == 0 {
			o, err := p.octets()
			if err != nil {
				return nil, err
			}
			n.Octets, n.IsOctets = o, true
			return n, nil
		}
		kids, err := p.list(depth + 1)
		if err != nil {
			return nil, err
		}
		if !p.eat('}') {
			return nil, p.errorf("want } after %s, got %q", n.Name, p.rest())
		}
		n.Children = kids
	}
	return n, nil
}

// value reads a VALUE: a quoted string (kept with its quotes, as the grammar distinguishes them), a word,
// or a bracketed list or range kept as written ("[1,2]", "[1:5]", Annex B "alternativeValue").
func (p *parser) value() (string, error) {
	if p.i >= len(p.s) {
		return "", p.errorf("want a value")
	}
	switch p.s[p.i] {
	case '"':
		start := p.i
		if _, err := p.quoted(); err != nil {
			return "", err
		}
		return p.s[start:p.i], nil
	case '[':
		end := strings.IndexByte(p.s[p.i:], ']')
		if end < 0 {
			return "", p.errorf("unterminated [ in a value")
		}
		v := p.s[p.i : p.i+end+1]
		p.i += end + 1
		return v, nil
	}
	w := p.word()
	if w == "" {
		return "", p.errorf("want a value, got %q", p.rest())
	}
	return w, nil
}

// quoted reads a quoted string (Annex B "quotedString": no escapes, no quote inside).
func (p *parser) quoted() (string, error) {
	end := strings.IndexByte(p.s[p.i+1:], '"')
	if end < 0 {
		return "", p.errorf("unterminated quoted string")
	}
	s := p.s[p.i+1 : p.i+1+end]
	p.i += end + 2
	return s, nil
}

// normalizeOctets is the SDP of a Local or Remote descriptor without the line break after "{" and the
// indentation before "}" that the text encoding puts around it, every line ended by CRLF as RFC 4566 §5 wants
// (the last one included).
func normalizeOctets(s string) string {
	s = strings.Trim(s, " \t\r\n")
	if s == "" {
		return ""
	}
	return s + "\r\n"
}

// octets reads an octet string up to the unescaped "}" (Annex B "octetString": "\}" stands for "}").
func (p *parser) octets() (string, error) {
	var b strings.Builder
	for p.i < len(p.s) {
		c := p.s[p.i]
		switch {
		case c == '\\' && p.i+1 < len(p.s) && p.s[p.i+1] == '}':
			b.WriteByte('}')
			p.i += 2
		case c == '}':
			p.i++
			return normalizeOctets(b.String()), nil
		default:
			b.WriteByte(c)
			p.i++
		}
	}
	return "", p.errorf("unterminated octet string")
}
