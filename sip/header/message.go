package header

import (
	"fmt"
	"strings"

	"github.com/emiago/sipgo/sip"
)

// headerLister is what *sip.Request and *sip.Response offer beyond sip.Message: the whole header
// list in order, and removal by exact name. sip.Message itself has neither.
type headerLister interface {
	Headers() []sip.Header
}

type headerRemover interface {
	Headers() []sip.Header
	RemoveHeader(name string) bool
}

// TopRoute is req.Route() without its cost when the request has no Route header: sipgo looks a missing header
// up again on every call, lower-casing each header name as it goes (an allocation per IMS header name; issue 12).
// Every node asks it of every request.
func TopRoute(req *sip.Request) *sip.RouteHeader {
	for _, h := range req.Headers() {
		if strings.EqualFold(h.Name(), "Route") {
			return req.Route()
		}
	}
	return nil
}

// Fields returns every header line of msg named name, in any case or compact form, in message
// order, as sipgo headers (typed where sipgo parses the header, generic otherwise).
func Fields(msg sip.Message, name string) []sip.Header { return lines(msg, name) }

// lines returns every header line of msg named name, in any case or compact form, in order.
func lines(msg sip.Message, name string) []sip.Header {
	if msg == nil {
		return nil
	}
	k := key(name)
	if hl, ok := msg.(headerLister); ok {
		var out []sip.Header
		for _, h := range hl.Headers() {
			if h != nil && hasKey(h.Name(), k) {
				out = append(out, h)
			}
		}
		return out
	}
	// A foreign sip.Message: GetHeaders is case-insensitive but knows no compact forms, so ask
	// for each spelling. Their relative order is lost, which only a foreign type can cause.
	out := msg.GetHeaders(Canonical(k))
	for c := 'a'; c <= 'z'; c++ {
		if expandCompact(string(c)) == k {
			out = append(out, msg.GetHeaders(string(c))...)
		}
	}
	return out
}

// Values returns every value of the header named name (any case, long or compact form) in
// message order. For headers whose grammar is a comma-separated list (Via, Contact, Path,
// P-Asserted-Identity, Security-Client, Supported, …) each line is split at the commas that
// separate elements, never inside quotes or <...>; other headers (Authorization, P-Charging-Vector,
// …) give one value per line.
func Values(msg sip.Message, name string) []string {
	k := key(name)
	var out []string
	for _, h := range lines(msg, name) {
		v := h.Value()
		if isList(k) {
			out = append(out, SplitList(v)...)
		} else {
			out = append(out, strings.TrimSpace(v))
		}
	}
	return out
}

// Lines returns the value of every line of the header named name (any case, long or compact
// form), in message order, not split at commas: what a parser of a whole header value, such as
// Authorization or Security-Client, wants.
func Lines(msg sip.Message, name string) []string {
	var out []string
	for _, h := range lines(msg, name) {
		out = append(out, strings.TrimSpace(h.Value()))
	}
	return out
}

// Has reports whether msg has at least one line of the header named name.
func Has(msg sip.Message, name string) bool { return len(lines(msg, name)) > 0 }

// Remove removes every line of the header named name, in any case or compact form, and returns
// how many it removed. sipgo's own RemoveHeader removes one line, matched case-sensitively.
func Remove(msg sip.Message, name string) int {
	hr, ok := msg.(headerRemover)
	if !ok || msg == nil {
		return 0
	}
	k := key(name)
	// Collect the exact spellings first: RemoveHeader edits the slice Headers returns.
	var spellings []string
	for _, h := range hr.Headers() {
		if h != nil && hasKey(h.Name(), k) {
			n := h.Name()
			found := false
			for _, s := range spellings {
				found = found || s == n
			}
			if !found {
				spellings = append(spellings, n)
			}
		}
	}
	removed := 0
	for _, s := range spellings {
		for hr.RemoveHeader(s) {
			removed++
		}
	}
	return removed
}

// Set replaces every line of the header named name with one line holding value, written under
// the header's registered name (Canonical). The new line goes at the end of the header section:
// the relative order of different header fields is not significant (RFC 3261 §7.3.1). Headers
// sipgo parses (From, To, Via, Contact, …) are built with sipgo's parser, so msg.From() and the
// like keep working.
func Set(msg sip.Message, name, value string) error {
	hs, err := build(name, value)
	if err != nil {
		return err
	}
	if _, ok := msg.(headerRemover); !ok {
		return fmt.Errorf("set %s: %w", Canonical(name), ErrUnsupportedMessage)
	}
	Remove(msg, name)
	for _, h := range hs {
		msg.AppendHeader(h)
	}
	return nil
}

// Add appends one line of the header named name, after any existing lines.
func Add(msg sip.Message, name, value string) error {
	hs, err := build(name, value)
	if err != nil {
		return err
	}
	if msg == nil {
		return fmt.Errorf("add %s: %w", Canonical(name), ErrUnsupportedMessage)
	}
	for _, h := range hs {
		msg.AppendHeader(h)
	}
	return nil
}

// Prepend puts one line of the header named name at the top of the header section, above any
// existing line of it: where a proxy puts its own Path or Record-Route entry (RFC 3327 §5.2).
func Prepend(msg sip.Message, name, value string) error {
	hs, err := build(name, value)
	if err != nil {
		return err
	}
	if msg == nil {
		return fmt.Errorf("prepend %s: %w", Canonical(name), ErrUnsupportedMessage)
	}
	msg.PrependHeader(hs...)
	return nil
}

// build turns name and value into sipgo headers the way sipgo's parser would from the wire.
func build(name, value string) (hs []sip.Header, err error) {
	canon := Canonical(name)
	if !IsToken(canon) {
		return nil, fmt.Errorf("header name %q: %w", name, ErrInvalidValue)
	}
	if strings.ContainsAny(value, "\r\n\x00") {
		return nil, fmt.Errorf("%s value holds CR, LF or NUL: %w", canon, ErrInvalidValue)
	}
	defer func() {
		if r := recover(); r != nil {
			hs, err = nil, fmt.Errorf("%s: sipgo header parser panicked: %v: %w", canon, r, ErrInvalidValue)
		}
	}()
	hs, err = sip.HeadersParser(sip.DefaultHeadersParser()).ParseHeader(nil, []byte(canon+": "+value))
	if err != nil {
		return nil, fmt.Errorf("%s: %w: %w", canon, ErrInvalidValue, err)
	}
	return hs, nil
}

// NameAddrs parses every line of a name-addr list header (Path, Service-Route,
// P-Asserted-Identity, P-Preferred-Identity, P-Associated-URI) and returns the elements in
// message order. It fails on the first malformed line.
func NameAddrs(msg sip.Message, name string) ([]NameAddr, error) {
	var out []NameAddr
	for _, h := range lines(msg, name) {
		list, err := ParseNameAddrs(Canonical(name), h.Value())
		if err != nil {
			return nil, err
		}
		out = append(out, list...)
	}
	return out, nil
}
