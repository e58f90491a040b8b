package proxy

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"reflect"
	"strconv"
	"strings"

	"github.com/imscore/imscore/sip/header"

	"github.com/emiago/sipgo/sip"
)

// newParser returns sipgo's parser with lenient header parsers: a header sipgo cannot parse becomes a generic
// header carrying the raw text instead of failing the whole message. The proxy then answers a malformed
// mandatory header with a 400 naming it (RFC 3261 §16.3 step 1) and forwards other headers it has no business
// with untouched. Content-Length stays strict: it frames the message (§18.3).
func newParser() *sip.Parser {
	base := sip.DefaultHeadersParser()
	parsers := make(map[string]sip.HeaderParser, len(base))
	for name, parse := range base {
		if header.Key(name) == "content-length" {
			parsers[name] = parse
			continue
		}
		parsers[name] = lenientHeader(header.Canonical(header.Key(name)), parse)
	}
	return sip.NewParser(sip.WithHeadersParsers(parsers))
}

func lenientHeader(name string, parse sip.HeaderParser) sip.HeaderParser {
	return func(raw []byte, text string) (sip.Header, error) {
		compact, idx := compactLWS(text)
		h, err := parse(raw, compact)
		if err == nil {
			return h, nil
		}
		if isCommaContinuation(err) {
			if idx == nil {
				return h, err
			}
			// sipgo goes on after the comma in the text it passed us: point it at that comma in text.
			if i, ok := commaIndex(err); ok && i >= 0 && i < len(idx) {
				return h, commaAt(err, idx[i])
			}
		}
		return sip.NewHeader(name, text), nil
	}
}

// compactLWS removes the linear white space RFC 3261 §25.1 allows around separators (SWS in SEMI, EQUAL, SLASH,
// COMMA, COLON, and HCOLON; RFC 4475 §3.1.1.1 shows each) and collapses every other run of it (folding already
// undone, §7.3.1) to one space, outside quoted strings and <...>. sipgo's header parsers keep such white space
// inside parameter names and values ("tag = x" gives the parameter "tag " with value " x"), so a valid message
// would lose its tags and branches. idx maps each byte of the result to its index in s; nil when s is returned
// as it was.
func compactLWS(s string) (string, []int) {
	if !needsCompacting(s) {
		return s, nil
	}
	out := make([]byte, 0, len(s))
	idx := make([]int, 0, len(s))
	emit := func(c byte, at int) {
		out = append(out, c)
		idx = append(idx, at)
	}
	space, spaceAt := false, 0 // a run of white space is pending
	afterSep := false          // the last byte written was a separator: white space after it is dropped
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case isLWSByte(c):
			if !space {
				space, spaceAt = true, i
			}
			continue
		case isLWSSeparator(c):
			emit(c, i)
			space, afterSep = false, true
			continue
		}
		if space && !afterSep && len(out) > 0 {
			emit(' ', spaceAt)
		}
		space, afterSep = false, false
		switch c {
		case '"': // quoted-string, with its quoted-pairs, as it is
			emit(c, i)
			for i++; i < len(s); i++ {
				emit(s[i], i)
				if s[i] == '\\' && i+1 < len(s) {
					i++
					emit(s[i], i)
				} else if s[i] == '"' {
					break
				}
			}
		case '<': // an addr-spec between angle brackets has no white space of its own
			emit(c, i)
			for i++; i < len(s); i++ {
				emit(s[i], i)
				if s[i] == '>' {
					break
				}
			}
		default:
			emit(c, i)
		}
	}
	return string(out), idx
}

// needsCompacting reports white space compactLWS would change: other than single spaces between two bytes that
// are not separators.
func needsCompacting(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !isLWSByte(c) {
			continue
		}
		if c != ' ' || i == 0 || i == len(s)-1 {
			return true
		}
		if p, n := s[i-1], s[i+1]; isLWSByte(p) || isLWSByte(n) || isLWSSeparator(p) || isLWSSeparator(n) {
			return true
		}
	}
	return false
}

func isLWSByte(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

// isLWSSeparator: the separators around which RFC 3261 §25.1 allows SWS (SEMI, EQUAL, SLASH, COMMA, COLON).
func isLWSSeparator(c byte) bool {
	return c == ';' || c == '=' || c == '/' || c == ',' || c == ':'
}

// commaIndex reads the index out of sipgo's comma signal (an unexported integer type).
func commaIndex(err error) (int, bool) {
	v := reflect.ValueOf(err)
	if !v.CanInt() {
		return 0, false
	}
	return int(v.Int()), true
}

// commaAt returns sipgo's comma signal err moved to index i. Its type is unexported, so reflect makes the value;
// TestCompactLWSKeepsMultiValueHeaders pins this to the sipgo version in go.mod.
func commaAt(err error, i int) error {
	v := reflect.New(reflect.TypeOf(err)).Elem()
	if !v.CanInt() {
		return err
	}
	v.SetInt(int64(i))
	e, ok := v.Interface().(error)
	if !ok {
		return err
	}
	return e
}

// isCommaContinuation recognises sipgo's signal that a header line holds several comma-separated values
// (its type is unexported). TestLenientParserKeepsMultiValueHeaders pins this to the sipgo version in go.mod.
func isCommaContinuation(err error) bool {
	return err.Error() == "comma detected"
}

// viaOK checks a Via sipgo parsed for what RFC 3261 §20.42 / §25.1 require of it. sipgo's parser is forgiving:
// it accepts some broken values (an IPv6 host without its closing bracket) that its own serializer then writes
// back in a form no parser reads, so every Via this proxy copies into a message passes this first.
func viaOK(v *sip.ViaHeader) bool {
	return viaSyntaxOK(v) && v.ProtocolVersion == "2.0"
}

// viaSyntaxOK is viaOK with any protocol-version (RFC 3261 §25.1: protocol-version = token): the Via of a request
// of another SIP version, which is answered 505 along it (§8.2.6.2 copies it as it is).
func viaSyntaxOK(v *sip.ViaHeader) bool {
	if v == nil || !strings.EqualFold(v.ProtocolName, "SIP") || !isToken(v.ProtocolVersion) || !isToken(v.Transport) {
		return false
	}
	if v.Port < 0 || v.Port > 65535 || !hostOK(v.Host) {
		return false
	}
	for _, kv := range v.Params {
		if !isToken(kv.K) || hasControl(kv.V) || strings.ContainsAny(kv.V, ";,") {
			return false
		}
	}
	return true
}

// hostOK accepts an IP literal (IPv6 with or without brackets) or a host name (RFC 3261 §25.1 hostname).
func hostOK(h string) bool {
	h = strings.TrimSuffix(strings.TrimPrefix(h, "["), "]")
	if h == "" {
		return false
	}
	if strings.Contains(h, ":") {
		_, err := netip.ParseAddr(h)
		return err == nil
	}
	for i := 0; i < len(h); i++ {
		c := h[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// roundTrips reports whether sipgo parses its own serialization of h. Its parser accepts some broken values
// (a URI "sip:A:") that it then writes back in a form it rejects; a header this proxy copies into a response it
// generates must survive the trip, or the far end cannot read the response.
func roundTrips(h sip.Header) bool {
	s := h.String()
	if hasControl(s) {
		return false
	}
	_, err := sip.HeadersParser(sip.DefaultHeadersParser()).ParseHeader(nil, []byte(s))
	return err == nil
}

// typedHeaderOK reports whether every header meaning key was parsed into sipgo's typed form. A generic header
// under one of the names sipgo parses means the lenient parser kept text it could not parse.
func typedHeaderOK(m sip.Message, key string) bool { return typedHeadersOK(header.Fields(m, key)) }

// typedHeadersOK is typedHeaderOK for header lines already picked out.
func typedHeadersOK(hs []sip.Header) bool { return typedHeadersSound(hs, viaOK) }

// typedHeadersSound is typedHeadersOK with the Via check given.
func typedHeadersSound(hs []sip.Header, via func(*sip.ViaHeader) bool) bool {
	for _, h := range hs {
		switch v := h.(type) {
		case *sip.ViaHeader:
			if !via(v) || !(plainlySound(v) || roundTrips(v)) {
				return false
			}
		case *sip.FromHeader, *sip.ToHeader, *sip.CallIDHeader, *sip.CSeqHeader:
			if !(plainlySound(v) || roundTrips(v)) {
				return false
			}
		case *sip.MaxForwardsHeader, *sip.RouteHeader, *sip.RecordRouteHeader, *sip.ContactHeader:
		default:
			return false
		}
	}
	return true
}

// isKeepAlive reports a CRLF keep-alive datagram (RFC 5626 §3.5.1).
func isKeepAlive(data []byte) bool {
	return len(bytes.Trim(data, "\r\n \x00")) == 0
}

// rawRequest is what can be read from a datagram sipgo could not parse, enough to answer it (RFC 3261 §8.2.6).
// Only header lines sipgo's strict header parser accepts are kept, so that the answer itself parses.
type rawRequest struct {
	method string
	code   int      // 400, or 416 for a Request-URI of a scheme this node does not know
	vias   []string // raw values, top first
	echo   []string // From, To, Call-ID, CSeq lines ("Name: value"), each known to parse
	callID string
	hasTag bool // the To line carries a tag
	reason string
}

var errNotARequest = errors.New("not a SIP request")

// readRawRequest extracts the start line and the headers a 400 must echo from a datagram that failed parsing.
// It fails only on "this is not a request we could answer": garbage, a response, no parseable top Via.
func readRawRequest(data []byte) (*rawRequest, error) {
	head := data
	if i := bytes.Index(data, []byte("\r\n\r\n")); i >= 0 {
		head = data[:i]
	}
	lines := strings.Split(strings.ReplaceAll(string(head), "\r\n", "\n"), "\n")
	r, err := readRequestLine(lines[0])
	if err != nil {
		return nil, err
	}
	var unfolded []string
	for _, line := range lines[1:] {
		if len(line) > 0 && (line[0] == ' ' || line[0] == '\t') && len(unfolded) > 0 {
			unfolded[len(unfolded)-1] += " " + strings.TrimSpace(line) // RFC 3261 §7.3.1 folding
			continue
		}
		unfolded = append(unfolded, line)
	}
	strict := sip.HeadersParser(sip.DefaultHeadersParser())
	parses := func(line string) ([]sip.Header, bool) {
		if hasControl(line) { // a stray CR would split the line in our answer
			return nil, false
		}
		hs, err := strict.ParseHeader(nil, []byte(line))
		if err != nil {
			return nil, false
		}
		for _, h := range hs {
			if !roundTrips(h) {
				return nil, false
			}
		}
		return hs, true
	}
	topVia := false // the top Via line was read
	for _, line := range unfolded {
		if strings.TrimSpace(line) == "" {
			continue
		}
		colon := strings.IndexByte(line, ':')
		if colon <= 0 {
			if r.reason == "" {
				r.reason = "Malformed Header Line"
			}
			continue
		}
		value := strings.TrimSpace(line[colon+1:])
		switch key := header.Key(line[:colon]); key {
		case "via":
			hs, ok := parses("Via: " + value)
			if !topVia {
				topVia = true
				if top, isVia := firstOr(hs).(*sip.ViaHeader); !ok || !isVia || !viaOK(top) {
					// RFC 3261 §8.2.6.2 copies the Via; of an unsound one, what §18.2.2 routes by is kept.
					v := salvageVia(value)
					if v == nil || !viaOK(v) {
						return nil, fmt.Errorf("%w: top Via does not parse", errNotARequest)
					}
					hs, ok = []sip.Header{v}, true
					if r.reason == "" {
						r.reason = "Malformed Via Header"
					}
				}
			}
			if !ok {
				continue
			}
			for _, h := range hs {
				if v, ok := h.(*sip.ViaHeader); ok && viaOK(v) {
					r.vias = append(r.vias, v.Value())
				}
			}
		case "from", "to", "call-id", "cseq":
			full := header.Canonical(key) + ": " + value
			if _, ok := parses(full); !ok {
				continue
			}
			r.echo = append(r.echo, full)
			if key == "call-id" {
				r.callID = value
			}
			if key == "to" {
				r.hasTag = strings.Contains(strings.ToLower(value), "tag=")
			}
		case "content-length":
			if _, err := strconv.ParseUint(value, 10, 32); err != nil && r.reason == "" {
				r.reason = "Malformed Content-Length"
			}
		}
	}
	if len(r.vias) == 0 {
		return nil, fmt.Errorf("%w: no Via to answer to", errNotARequest)
	}
	if r.reason == "" {
		r.reason = "Malformed Message"
	}
	return r, nil
}

// hasControl reports characters a header line may not contain (RFC 3261 §25.1: TEXT-UTF8 and LWS only), with
// one exception the grammar makes: within a quoted-string, a quoted-pair may escape any byte but CR and LF
// ("quoted-pair = "\" (%x00-09 / %x0B-0C / %x0E-7F)"; RFC 4475 §3.1.1.2 escapes NUL, BEL and DEL so). Such a
// line re-serialises as it came: no CR or LF splits it.
func hasControl(s string) bool {
	quoted := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quoted && c == '\\' && i+1 < len(s) && s[i+1] != '\r' && s[i+1] != '\n':
			i++ // quoted-pair
			continue
		case c == '"':
			quoted = !quoted
			continue
		}
		if (c < 0x20 && c != '\t') || c == 0x7f {
			return true
		}
	}
	return false
}

// readRequestLine reads the method and Request-URI of a Request-Line sipgo refused (RFC 3261 §25.1: Method SP
// Request-URI SP SIP-Version CRLF). White space where the grammar has none (RFC 4475 §3.1.2.8 to §3.1.2.10) makes
// it malformed, not unanswerable: the method is up to the first space, the version after the last.
func readRequestLine(line string) (*rawRequest, error) {
	if hasControl(line) {
		return nil, errNotARequest
	}
	trimmed := strings.TrimRight(line, " \t")
	first, last := strings.IndexAny(trimmed, " \t"), strings.LastIndexAny(trimmed, " \t")
	if first <= 0 || last <= first {
		return nil, errNotARequest
	}
	method, target, version := trimmed[:first], trimmed[first+1:last], trimmed[last+1:]
	if !isToken(method) || !strings.EqualFold(version, sipVersion) {
		return nil, errNotARequest
	}
	r := &rawRequest{method: strings.ToUpper(method), code: sip.StatusBadRequest}
	var uri sip.Uri
	switch {
	case strings.ContainsAny(strings.TrimSpace(target), " \t"):
		r.reason = "Malformed Request-URI" // RFC 4475 §3.1.2.8: LWS within it
	case sip.ParseUri(strings.TrimSpace(target), &uri) != nil:
		if scheme, ok := uriSchemeOf(strings.TrimSpace(target)); ok && !knownScheme(scheme) {
			// RFC 3261 §16.3 step 2, §8.2.2.1: a scheme this node does not understand (RFC 4475 §3.3.3).
			r.code, r.reason = 416, reasonPhrase(416)
		} else {
			r.reason = "Malformed Request-URI"
		}
	case target != strings.TrimSpace(target) || len(trimmed) != len(line):
		r.reason = "Malformed Request-Line" // RFC 4475 §3.1.2.9, §3.1.2.10: extra white space
	}
	return r, nil
}

// uriSchemeOf reads the scheme of an absoluteURI (RFC 3261 §25.1: scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" /
// "." ), then ":").
func uriSchemeOf(s string) (string, bool) {
	colon := strings.IndexByte(s, ':')
	if colon <= 0 {
		return "", false
	}
	for i := 0; i < colon; i++ {
		c := s[i]
		alpha := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
		if !alpha && (i == 0 || !(c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.')) {
			return "", false
		}
	}
	return strings.ToLower(s[:colon]), true
}

// knownScheme: the schemes sipgo's URI parser reads; one of them that fails to parse is malformed, not unknown.
func knownScheme(scheme string) bool { return scheme == "sip" || scheme == "sips" || scheme == "tel" }

// salvageVia reads, from a Via value that does not parse or is not sound, what a response is routed by (RFC 3261
// §18.2.2): sent-protocol and sent-by, and those of its parameters that are well formed (the branch, so that the
// client can match the answer). nil when not even sent-protocol and sent-by can be read.
func salvageVia(value string) *sip.ViaHeader {
	value = strings.TrimSpace(value)
	if i := strings.IndexByte(value, ','); i >= 0 {
		value = value[:i] // the first via-parm only
	}
	parts := strings.Split(value, ";")
	hs, err := sip.HeadersParser(sip.DefaultHeadersParser()).ParseHeader(nil, []byte("Via: "+strings.TrimSpace(parts[0])))
	if err != nil || len(hs) != 1 {
		return nil
	}
	v, ok := hs[0].(*sip.ViaHeader)
	if !ok || len(v.Params) > 0 || !viaSyntaxOK(v) || !roundTrips(v) {
		return nil
	}
	for _, p := range parts[1:] {
		k, val, _ := strings.Cut(strings.TrimSpace(p), "=")
		k, val = strings.TrimSpace(k), strings.TrimSpace(val)
		if !isToken(k) || hasControl(val) || strings.ContainsAny(val, " \t\"<>") {
			continue
		}
		v.Params.Add(k, val)
	}
	if !viaSyntaxOK(v) || !roundTrips(v) {
		return nil
	}
	return v
}

func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("-.!%*_+`'~", c) >= 0) {
			return false
		}
	}
	return true
}

// response renders the 400 (or 416) for r (RFC 3261 §8.2.6: Via, From, To, Call-ID and CSeq copied; a To tag added).
func (r *rawRequest) response() []byte {
	var b strings.Builder
	b.WriteString("SIP/2.0 " + strconv.Itoa(r.code) + " ")
	b.WriteString(r.reason)
	b.WriteString("\r\n")
	for _, v := range r.vias {
		b.WriteString("Via: " + v + "\r\n")
	}
	for _, line := range r.echo {
		b.WriteString(line)
		if strings.HasPrefix(line, "To:") && !r.hasTag {
			b.WriteString(";tag=" + strconv.FormatUint(rand.Uint64(), 36))
		}
		b.WriteString("\r\n")
	}
	b.WriteString("Content-Length: 0\r\n\r\n")
	return []byte(b.String())
}

// destination applies RFC 3261 §18.2.2 (and RFC 3581 rport) to the top Via for an unreliable transport: the
// source address with the Via port, or the source port when rport was asked for.
func (r *rawRequest) destination(src netip.AddrPort) netip.AddrPort {
	hs, err := sip.HeadersParser(sip.DefaultHeadersParser()).ParseHeader(nil, []byte("Via: "+r.vias[0]))
	if err != nil || len(hs) == 0 {
		return src
	}
	via, ok := hs[0].(*sip.ViaHeader)
	if !ok {
		return src
	}
	stampReceived(via, src) // never where the sender's own received or rport says
	return responseAddr(via, src)
}
