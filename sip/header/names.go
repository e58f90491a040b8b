package header

import "strings"

// Header field names, as registered with IANA and spelt in the RFCs.
const (
	Path                       = "Path"                          // RFC 3327
	ServiceRoute               = "Service-Route"                 // RFC 3608
	PAssertedIdentity          = "P-Asserted-Identity"           // RFC 3325
	PPreferredIdentity         = "P-Preferred-Identity"          // RFC 3325
	PAssociatedURI             = "P-Associated-URI"              // RFC 7315 §4.1
	PCalledPartyID             = "P-Called-Party-ID"             // RFC 7315 §4.2
	PVisitedNetworkID          = "P-Visited-Network-ID"          // RFC 7315 §4.3
	PAccessNetworkInfo         = "P-Access-Network-Info"         // RFC 7315 §4.4
	PChargingFunctionAddresses = "P-Charging-Function-Addresses" // RFC 7315 §4.5
	PChargingVector            = "P-Charging-Vector"             // RFC 7315 §4.6
	SecurityClient             = "Security-Client"               // RFC 3329 §2.2
	SecurityServer             = "Security-Server"               // RFC 3329 §2.2
	SecurityVerify             = "Security-Verify"               // RFC 3329 §2.2
	Supported                  = "Supported"                     // RFC 3261 §20.37
	Require                    = "Require"                       // RFC 3261 §20.32
	ProxyRequire               = "Proxy-Require"                 // RFC 3261 §20.29
	Authorization              = "Authorization"                 // RFC 3261 §20.7
	ProxyAuthorization         = "Proxy-Authorization"           // RFC 3261 §20.28
	WWWAuthenticate            = "WWW-Authenticate"              // RFC 3261 §20.44
	ProxyAuthenticate          = "Proxy-Authenticate"            // RFC 3261 §20.27
	AuthenticationInfo         = "Authentication-Info"           // RFC 3261 §20.6
	Contact                    = "Contact"                       // RFC 3261 §20.10
	Route                      = "Route"                         // RFC 3261 §20.34
	RecordRoute                = "Record-Route"                  // RFC 3261 §20.30
	Via                        = "Via"                           // RFC 3261 §20.42
	Expires                    = "Expires"                       // RFC 3261 §20.19
	Event                      = "Event"                         // RFC 6665 §8.2.1
	AllowEvents                = "Allow-Events"                  // RFC 6665 §8.2.2
	SessionExpires             = "Session-Expires"               // RFC 4028 §4
)

// expandCompact maps a lower-case compact form to its lower-case long name: RFC 3261 §7.3.3 and
// the IANA "Header Fields" registry. "" when c is not a compact form.
func expandCompact(c string) string {
	switch c {
	case "a":
		return "accept-contact" // RFC 3841
	case "b":
		return "referred-by" // RFC 3892
	case "c":
		return "content-type"
	case "d":
		return "request-disposition" // RFC 3841
	case "e":
		return "content-encoding"
	case "f":
		return "from"
	case "i":
		return "call-id"
	case "j":
		return "reject-contact" // RFC 3841
	case "k":
		return "supported"
	case "l":
		return "content-length"
	case "m":
		return "contact"
	case "n":
		return "identity-info" // RFC 4474, obsoleted by RFC 8224 but still registered
	case "o":
		return "event" // RFC 6665
	case "r":
		return "refer-to" // RFC 3515
	case "s":
		return "subject"
	case "t":
		return "to"
	case "u":
		return "allow-events" // RFC 6665
	case "v":
		return "via"
	case "x":
		return "session-expires" // RFC 4028
	case "y":
		return "identity" // RFC 8224
	}
	return ""
}

// Key is the comparison form of a header name: lower case, compact forms expanded ("k" and
// "SUPPORTED" give "supported"). Two names mean the same header when their keys are equal.
func Key(name string) string { return key(name) }

// key is the comparison form of a header name: lower case, compact forms expanded. The names code asks for
// (Path, Security-Verify, …) are mixed case: lowering them allocated on every lookup of every message, a
// twentieth of a P-CSCF's allocations per registration. A known name is lowered into a stack buffer and
// found in knownKeys instead, without allocating.
func key(name string) string {
	name = strings.TrimSpace(name)
	var buf [maxKnownKey]byte
	if len(name) <= len(buf) {
		b := buf[:len(name)]
		for i := 0; i < len(name); i++ {
			c := name[i]
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			b[i] = c
		}
		if len(b) == 1 {
			if long := expandCompact(string(b)); long != "" {
				return long
			}
		}
		if k, ok := knownKeys[string(b)]; ok {
			return k
		}
	}
	return strings.ToLower(name)
}

// maxKnownKey bounds the names key looks up in knownKeys (the longest is p-charging-function-addresses).
const maxKnownKey = 32

// knownKeys holds the keys of the header fields SIP and IMS code asks for, each mapped to itself: a lookup
// with a lowered name returns the key without allocating. Read only.
var knownKeys = func() map[string]string {
	names := []string{Path, ServiceRoute, PAssertedIdentity, PPreferredIdentity, PAssociatedURI, PCalledPartyID,
		PVisitedNetworkID, PAccessNetworkInfo, PChargingFunctionAddresses, PChargingVector, SecurityClient,
		SecurityServer, SecurityVerify, Supported, Require, ProxyRequire, Authorization, ProxyAuthorization,
		WWWAuthenticate, ProxyAuthenticate, AuthenticationInfo, Contact, Route, RecordRoute, Via, Expires, Event,
		AllowEvents, SessionExpires,
		// RFC 3261 §20 and the IMS extensions the nodes read or write.
		"From", "To", "Call-ID", "CSeq", "Max-Forwards", "Content-Type", "Content-Length", "Content-Disposition",
		"Content-Encoding", "User-Agent", "Server", "Allow", "Accept", "Min-Expires", "Retry-After", "Unsupported",
		"Warning", "Reason", "Privacy", "RSeq", "RAck", "Subscription-State", "Refer-To", "Referred-By", "Min-SE",
		"Timestamp", "Date", "Priority", "Subject", "Accept-Contact", "Reject-Contact", "Request-Disposition",
		"History-Info", "Feature-Caps", "P-Served-User", "P-Early-Media", "P-Preferred-Service",
		"P-Asserted-Service", "P-Profile-Key", "SIP-ETag", "SIP-If-Match", "Identity", "Geolocation",
		"Recv-Info", "Info-Package", "Organization"}
	m := make(map[string]string, len(names))
	for _, n := range names {
		k := strings.ToLower(n)
		if len(k) > maxKnownKey {
			panic("header: known name longer than maxKnownKey: " + n) // a programming error, caught by any test
		}
		m[k] = k
	}
	return m
}()

// SameName reports whether a and b name the same header field, in any case or compact form.
func SameName(a, b string) bool { return hasKey(a, key(b)) }

// hasKey reports whether key(name) == k for a k that is already a key, without allocating: it is
// asked for every header line of a message at every lookup, where key(name) cost an allocation
// per line for the usual mixed-case names.
func hasKey(name, k string) bool {
	name = strings.TrimSpace(name)
	if len(name) == 1 {
		c := name[0]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if long := expandCompact(string(c)); long != "" {
			return long == k
		}
		return len(k) == 1 && k[0] == c
	}
	return len(name) == len(k) && strings.EqualFold(name, k)
}

// Canonical returns the registered spelling of a header name given in any case or compact form
// ("k" and "SUPPORTED" give "Supported"); a name it does not know comes back trimmed, as given.
func Canonical(name string) string {
	switch key(name) {
	case "accept-contact":
		return "Accept-Contact"
	case "referred-by":
		return "Referred-By"
	case "content-type":
		return "Content-Type"
	case "request-disposition":
		return "Request-Disposition"
	case "content-encoding":
		return "Content-Encoding"
	case "from":
		return "From"
	case "call-id":
		return "Call-ID"
	case "reject-contact":
		return "Reject-Contact"
	case "supported":
		return Supported
	case "content-length":
		return "Content-Length"
	case "contact":
		return Contact
	case "identity-info":
		return "Identity-Info"
	case "event":
		return Event
	case "refer-to":
		return "Refer-To"
	case "subject":
		return "Subject"
	case "to":
		return "To"
	case "allow-events":
		return AllowEvents
	case "via":
		return Via
	case "session-expires":
		return SessionExpires
	case "identity":
		return "Identity"
	case "cseq":
		return "CSeq"
	case "max-forwards":
		return "Max-Forwards"
	case "route":
		return Route
	case "record-route":
		return RecordRoute
	case "expires":
		return Expires
	case "require":
		return Require
	case "proxy-require":
		return ProxyRequire
	case "unsupported":
		return "Unsupported"
	case "allow":
		return "Allow"
	case "authorization":
		return Authorization
	case "proxy-authorization":
		return ProxyAuthorization
	case "www-authenticate":
		return WWWAuthenticate
	case "proxy-authenticate":
		return ProxyAuthenticate
	case "authentication-info":
		return AuthenticationInfo
	case "user-agent":
		return "User-Agent"
	case "server":
		return "Server"
	case "path":
		return Path
	case "service-route":
		return ServiceRoute
	case "p-asserted-identity":
		return PAssertedIdentity
	case "p-preferred-identity":
		return PPreferredIdentity
	case "p-associated-uri":
		return PAssociatedURI
	case "p-called-party-id":
		return PCalledPartyID
	case "p-visited-network-id":
		return PVisitedNetworkID
	case "p-access-network-info":
		return PAccessNetworkInfo
	case "p-charging-function-addresses":
		return PChargingFunctionAddresses
	case "p-charging-vector":
		return PChargingVector
	case "security-client":
		return SecurityClient
	case "security-server":
		return SecurityServer
	case "security-verify":
		return SecurityVerify
	}
	return strings.TrimSpace(name)
}

// isList reports whether the header's grammar is a comma-separated list (RFC 3261 §7.3.1), so
// that one line may carry several values. Authorization, WWW-Authenticate and the like are not:
// their commas separate parameters. Neither are P-Charging-Vector and
// P-Charging-Function-Addresses, whose parameters are ';'-separated.
func isList(k string) bool {
	switch k {
	case "via", "contact", "route", "record-route", "path", "service-route",
		"p-asserted-identity", "p-preferred-identity", "p-associated-uri",
		"p-visited-network-id", "p-access-network-info",
		"security-client", "security-server", "security-verify",
		"supported", "require", "proxy-require", "unsupported", "allow", "allow-events",
		"accept", "accept-encoding", "accept-language", "content-encoding", "content-language",
		"accept-contact", "reject-contact", "request-disposition",
		"alert-info", "call-info", "error-info", "in-reply-to", "warning",
		"history-info", "reason", "feature-caps", "geolocation", "recv-info",
		"p-early-media", "p-media-authorization":
		return true
	}
	return false
}
