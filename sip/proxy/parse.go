package proxy

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strconv"
	"strings"

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
		if headerKey(name) == "content-length" {
			parsers[name] = parse
			continue
		}
		parsers[name] = lenientHeader(canonicalName(headerKey(name)), parse)
	}
	return sip.NewParser(sip.WithHeadersParsers(parsers))
}

func lenientHeader(name string, parse sip.HeaderParser) sip.HeaderParser {
	return func(raw []byte, text string) (sip.Header, error) {
		h, err := parse(raw, text)
		if err == nil || isCommaContinuation(err) {
			return h, err
		}
		return sip.NewHeader(name, text), nil
	}
}

// isCommaContinuation recognises sipgo's signal that a header line holds several comma-separated values
// (its type is unexported). TestLenientParserKeepsMultiValueHeaders pins this to the sipgo version in go.mod.
func isCommaContinuation(err error) bool {
	return err.Error() == "comma detected"
}

// typedHeaderOK reports whether every header meaning key was parsed into sipgo's typed form. A generic header
// under one of the names sipgo parses means the lenient parser kept text it could not parse.
func typedHeaderOK(m headerList, key string) bool {
	for _, h := range headersNamed(m, key) {
		switch h.(type) {
		case *sip.ViaHeader, *sip.FromHeader, *sip.ToHeader, *sip.CallIDHeader, *sip.CSeqHeader,
			*sip.MaxForwardsHeader, *sip.RouteHeader, *sip.RecordRouteHeader, *sip.ContactHeader:
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
type rawRequest struct {
	method string
	vias   []string
	from   string
	to     string
	callID string
	cseq   string
	reason string
}

var errNotARequest = errors.New("not a SIP request")

// readRawRequest extracts the start line and the headers a 400 must echo from a datagram that failed parsing.
// It never fails on content, only on "this is not a request we could answer" (garbage, a response, no Via).
func readRawRequest(data []byte) (*rawRequest, error) {
	head := data
	if i := bytes.Index(data, []byte("\r\n\r\n")); i >= 0 {
		head = data[:i]
	}
	lines := strings.Split(strings.ReplaceAll(string(head), "\r\n", "\n"), "\n")
	if len(lines) == 0 {
		return nil, errNotARequest
	}
	start := strings.Fields(lines[0])
	if len(start) != 3 || !strings.EqualFold(start[2], "SIP/2.0") || !isToken(start[0]) {
		return nil, errNotARequest
	}
	r := &rawRequest{method: strings.ToUpper(start[0])}
	var uri sip.Uri
	if err := sip.ParseUri(start[1], &uri); err != nil {
		r.reason = "Malformed Request-URI"
	}
	var unfolded []string
	for _, line := range lines[1:] {
		if len(line) > 0 && (line[0] == ' ' || line[0] == '\t') && len(unfolded) > 0 {
			unfolded[len(unfolded)-1] += " " + strings.TrimSpace(line) // RFC 3261 §7.3.1 folding
			continue
		}
		unfolded = append(unfolded, line)
	}
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
		switch key := headerKey(line[:colon]); key {
		case "via":
			r.vias = append(r.vias, value)
		case "from":
			r.from = value
		case "to":
			r.to = value
		case "call-id":
			r.callID = value
		case "cseq":
			r.cseq = value
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

// response renders the 400 for r (RFC 3261 §8.2.6: Via, From, To, Call-ID and CSeq copied; a To tag added).
func (r *rawRequest) response() []byte {
	var b strings.Builder
	b.WriteString("SIP/2.0 400 ")
	b.WriteString(r.reason)
	b.WriteString("\r\n")
	for _, v := range r.vias {
		b.WriteString("Via: " + v + "\r\n")
	}
	if r.from != "" {
		b.WriteString("From: " + r.from + "\r\n")
	}
	if r.to != "" {
		to := r.to
		if !strings.Contains(strings.ToLower(to), "tag=") {
			to += ";tag=" + strconv.FormatUint(rand.Uint64(), 36)
		}
		b.WriteString("To: " + to + "\r\n")
	}
	if r.callID != "" {
		b.WriteString("Call-ID: " + r.callID + "\r\n")
	}
	if r.cseq != "" {
		b.WriteString("CSeq: " + r.cseq + "\r\n")
	}
	b.WriteString("Content-Length: 0\r\n\r\n")
	return []byte(b.String())
}

// destination applies RFC 3261 §18.2.2 (and RFC 3581 rport) to the raw top Via for an unreliable transport:
// the source address with the Via port, or the source port when rport was asked for.
func (r *rawRequest) destination(src netip.AddrPort) netip.AddrPort {
	top := r.vias[0]
	if i := strings.IndexByte(top, ','); i >= 0 {
		top = top[:i]
	}
	fields := strings.Fields(top)
	if len(fields) < 2 {
		return src
	}
	sentBy, params, _ := strings.Cut(strings.Join(fields[1:], ""), ";")
	for _, p := range strings.Split(params, ";") {
		if k, _, _ := strings.Cut(p, "="); strings.EqualFold(strings.TrimSpace(k), "rport") {
			return src
		}
	}
	port := 5060
	if i := strings.LastIndexByte(sentBy, ':'); i >= 0 && !strings.HasSuffix(sentBy, "]") {
		p, err := strconv.Atoi(sentBy[i+1:])
		if err != nil || p <= 0 || p > 65535 {
			return src
		}
		port = p
	}
	return netip.AddrPortFrom(src.Addr(), uint16(port))
}
