package proxy

import (
	"strings"

	"github.com/emiago/sipgo/sip"
)

// plainlySound reports, from the fields sipgo parsed and without writing or parsing anything, that h is made
// of nothing but plain tokens, host names and numbers in a shape sipgo writes back in a form it reads: the
// From, To, Via, Call-ID and CSeq of nearly every real request. roundTrips, which serializes the header and
// parses it again (a dozen allocations), is then not needed; false means "not known", and roundTrips decides.
// FuzzPlainlySound checks that everything this accepts does round-trip.
func plainlySound(h sip.Header) bool {
	switch v := h.(type) {
	case *sip.ViaHeader:
		return v.ProtocolName == "SIP" && isToken(v.ProtocolVersion) && isToken(v.Transport) &&
			plainHost(v.Host) && v.Port >= 0 && v.Port <= 65535 && plainParams(v.Params)
	case *sip.FromHeader:
		return plainNameAddr(v.DisplayName, &v.Address, v.Params)
	case *sip.ToHeader:
		return plainNameAddr(v.DisplayName, &v.Address, v.Params)
	case *sip.CallIDHeader:
		return plainCallID(string(*v))
	case *sip.CSeqHeader:
		return isToken(string(v.MethodName))
	}
	return false
}

// plainNameAddr: a display name of letters, digits and spaces, a SIP URI plainURI accepts, plain parameters.
func plainNameAddr(display string, u *sip.Uri, params sip.HeaderParams) bool {
	for i := 0; i < len(display); i++ {
		c := display[i]
		if !(isAlnum(c) || c == ' ' || c == '-' || c == '.' || c == '_') {
			return false
		}
	}
	return plainURI(u) && plainParams(params)
}

// plainURI: sip or sips, no password, URI headers or raw part; a user of unreserved characters and escapes, a
// plain host name or IPv4 address, a port in range, plain parameters.
func plainURI(u *sip.Uri) bool {
	if u.Scheme != "sip" && u.Scheme != "sips" || u.Raw() != "" || u.Wildcard || u.HierarhicalSlashes ||
		u.Password != "" || u.Headers.Length() > 0 || u.Port < 0 || u.Port > 65535 || !plainHost(u.Host) {
		return false
	}
	for i := 0; i < len(u.User); i++ {
		c := u.User[i]
		if !(isAlnum(c) || strings.IndexByte("-_.!~*'()%&=+$,", c) >= 0) {
			return false
		}
	}
	return plainParams(u.UriParams)
}

// plainHost: a host name or IPv4 address (RFC 3261 §25.1 hostname / IPv4address), no IPv6 reference.
func plainHost(h string) bool {
	if h == "" || h[0] == '.' || h[0] == '-' {
		return false
	}
	for i := 0; i < len(h); i++ {
		if c := h[i]; !(isAlnum(c) || c == '.' || c == '-') {
			return false
		}
	}
	return true
}

// plainParams: token names, token values or none.
func plainParams(ps sip.HeaderParams) bool {
	for _, kv := range ps {
		if !isToken(kv.K) || (kv.V != "" && !isToken(kv.V)) {
			return false
		}
	}
	return true
}

// plainCallID: word ["@" word] (RFC 3261 §25.1) of token characters only.
func plainCallID(s string) bool {
	local, host, found := strings.Cut(s, "@")
	return isToken(local) && (!found || isToken(host) || plainHost(host))
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}
