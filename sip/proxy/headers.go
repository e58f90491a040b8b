package proxy

// Case-insensitive, compact-form-aware header access. sipgo's GetHeaders is case-insensitive but knows compact
// forms only for the headers it parses, and RemoveHeader matches the name exactly. These private helpers stand in
// until sip/header lands; then they should be replaced by it.

import (
	"strings"

	"github.com/emiago/sipgo/sip"
)

// headerList is what *sip.Request and *sip.Response offer.
type headerList interface {
	Headers() []sip.Header
	RemoveHeader(name string) bool
}

// headerKey returns the lower-case full name of a header name, expanding compact forms
// (RFC 3261 §7.3.3 and the extensions registered at IANA).
func headerKey(name string) string {
	n := strings.ToLower(strings.TrimSpace(name))
	if len(n) != 1 {
		return n
	}
	switch n {
	case "a":
		return "accept-contact"
	case "b":
		return "referred-by"
	case "c":
		return "content-type"
	case "d":
		return "request-disposition"
	case "e":
		return "content-encoding"
	case "f":
		return "from"
	case "i":
		return "call-id"
	case "j":
		return "reject-contact"
	case "k":
		return "supported"
	case "l":
		return "content-length"
	case "m":
		return "contact"
	case "o":
		return "event"
	case "r":
		return "refer-to"
	case "s":
		return "subject"
	case "t":
		return "to"
	case "u":
		return "allow-events"
	case "v":
		return "via"
	case "x":
		return "session-expires"
	case "y":
		return "identity"
	}
	return n
}

// canonicalName is the display form used when the proxy itself names a header.
func canonicalName(key string) string {
	switch key {
	case "via":
		return "Via"
	case "from":
		return "From"
	case "to":
		return "To"
	case "call-id":
		return "Call-ID"
	case "cseq":
		return "CSeq"
	case "max-forwards":
		return "Max-Forwards"
	case "route":
		return "Route"
	case "record-route":
		return "Record-Route"
	case "contact":
		return "Contact"
	case "content-type":
		return "Content-Type"
	case "content-length":
		return "Content-Length"
	case "refer-to":
		return "Refer-To"
	case "referred-by":
		return "Referred-By"
	}
	parts := strings.Split(key, "-")
	for i, p := range parts {
		if p != "" {
			parts[i] = strings.ToUpper(p[:1]) + p[1:]
		}
	}
	return strings.Join(parts, "-")
}

// nameIs reports whether a header name means key (a lower-case full name), without allocating.
func nameIs(name, key string) bool {
	if len(name) == 1 {
		return headerKey(name) == key
	}
	return strings.EqualFold(name, key)
}

// headersNamed returns every header whose name means name.
func headersNamed(m headerList, name string) []sip.Header {
	key := headerKey(name)
	var out []sip.Header
	for _, h := range m.Headers() {
		if nameIs(h.Name(), key) {
			out = append(out, h)
		}
	}
	return out
}

// removeHeaders removes every header whose name means name and reports how many went.
func removeHeaders(m headerList, name string) int {
	key := headerKey(name)
	n := 0
	for {
		var found sip.Header
		for _, h := range m.Headers() {
			if nameIs(h.Name(), key) {
				found = h
				break
			}
		}
		if found == nil || !m.RemoveHeader(found.Name()) {
			return n
		}
		n++
	}
}

// optionTags returns the comma-separated option-tags of every header named name, lower-cased
// (option-tags compare case-insensitively, RFC 3261 §19.2).
func optionTags(m headerList, name string) []string {
	var tags []string
	for _, h := range headersNamed(m, name) {
		for _, t := range strings.Split(h.Value(), ",") {
			if t = strings.ToLower(strings.TrimSpace(t)); t != "" {
				tags = append(tags, t)
			}
		}
	}
	return tags
}

// paramValue is a case-insensitive parameter lookup (parameter names are case-insensitive, RFC 3261 §7.3.1).
func paramValue(p sip.HeaderParams, key string) (string, bool) {
	for _, kv := range p {
		if strings.EqualFold(kv.K, key) {
			return kv.V, true
		}
	}
	return "", false
}
