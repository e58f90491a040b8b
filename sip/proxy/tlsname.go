package proxy

// SIP domain identities of a certificate and their comparison (RFC 5922 §7). Go's own name check
// (x509.Certificate.VerifyHostname) does not fit SIP: it ignores subjectAltName URIs, accepts wildcards and never
// looks at the Subject; RFC 5922 reads sip: URIs first, DNS names only when there is none, the Common Name only
// when the certificate has no subjectAltName at all, and no wildcards.

import (
	"crypto/x509"
	"encoding/asn1"
	"fmt"
	"net/netip"
	"strings"
)

// oidSubjectAltName is the subjectAltName extension (RFC 5280 §4.2.1.6).
var oidSubjectAltName = asn1.ObjectIdentifier{2, 5, 29, 17}

// NameError is a peer certificate that does not name the SIP domain (or address) it was expected to serve
// (RFC 5922 §7.3 server identity). Have lists the identities it does carry.
type NameError struct {
	Want string
	Have []string
}

func (e *NameError) Error() string {
	return fmt.Sprintf("tls certificate names %v, not %q (RFC 5922 §7)", e.Have, e.Want)
}

// SIPDomainIdentities returns the SIP domain identities of cert, lower-cased (RFC 5922 §7.1):
//   - every subjectAltName URI of scheme sip without a user part gives its host;
//   - if there is none, every subjectAltName dNSName ("if and only if no other identity is found that matches
//     the sip URI type");
//   - if and only if the certificate has no subjectAltName extension, the Subject's Common Name.
//
// Names with a wildcard are left out: RFC 5922 §7.2 forbids matching them.
func SIPDomainIdentities(cert *x509.Certificate) []string {
	var ids []string
	for _, u := range cert.URIs {
		if u == nil || !strings.EqualFold(u.Scheme, "sip") {
			continue // §7.1: a URI of another scheme (sips, http, ...) is not a SIP domain identity
		}
		if d, ok := sipURIDomain(u.Opaque); ok {
			ids = append(ids, d)
		}
	}
	if len(ids) > 0 {
		return ids
	}
	for _, d := range cert.DNSNames {
		if d, ok := domainIdentity(d); ok {
			ids = append(ids, d)
		}
	}
	if len(ids) > 0 || hasSAN(cert) {
		return ids // no CN fallback when a subjectAltName exists (§7.1)
	}
	if d, ok := domainIdentity(cert.Subject.CommonName); ok {
		ids = append(ids, d)
	}
	return ids
}

// sipURIDomain reads the domain of the opaque part of a sip URI in a certificate ("example.com",
// "example.com;transport=tls"): RFC 5922 §7.1 accepts only a URI with no user part; a port is dropped.
func sipURIDomain(opaque string) (string, bool) {
	if strings.HasPrefix(opaque, "//") {
		return "", false // "sip://..." is no SIP URI (RFC 3261 §25.1: sip:userinfo@hostport)
	}
	if strings.ContainsAny(opaque, "@?") {
		return "", false // a user part, or headers: an identity of a user, not of a domain
	}
	host, _, _ := strings.Cut(opaque, ";")
	if strings.HasPrefix(host, "[") {
		return "", false // an IPv6 reference names an address, not a domain
	}
	if h, _, ok := strings.Cut(host, ":"); ok {
		host = h
	}
	return domainIdentity(host)
}

// domainIdentity checks that s is a plain domain name (letters, digits, '-' and '.', no wildcard) and lower-cases
// it, without a trailing dot.
func domainIdentity(s string) (string, bool) {
	s = strings.TrimSuffix(s, ".")
	if s == "" || len(s) > 253 {
		return "", false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '.':
		default:
			return "", false // '*' among others: §7.2, no wildcards
		}
	}
	if strings.HasPrefix(s, ".") || strings.Contains(s, "..") {
		return "", false
	}
	return strings.ToLower(s), true
}

func hasSAN(cert *x509.Certificate) bool {
	for _, e := range cert.Extensions {
		if e.Id.Equal(oidSubjectAltName) {
			return true
		}
	}
	return false
}

// matchPeer checks that cert names want: a domain among its SIP domain identities, compared case-insensitively
// and exactly (RFC 5922 §7.2), or, for a next hop known only by its address (a lab's numeric URI, which RFC 5922
// does not cover), an iPAddress subjectAltName.
func matchPeer(cert *x509.Certificate, want string) error {
	if ip, err := netip.ParseAddr(strings.Trim(want, "[]")); err == nil {
		var have []string
		for _, a := range cert.IPAddresses {
			if b, ok := netip.AddrFromSlice(a); ok && b.Unmap() == ip.Unmap() {
				return nil
			}
			have = append(have, a.String())
		}
		return &NameError{Want: want, Have: have}
	}
	w := strings.ToLower(strings.TrimSuffix(want, "."))
	ids := SIPDomainIdentities(cert)
	for _, id := range ids {
		if id == w {
			return nil
		}
	}
	return &NameError{Want: want, Have: ids}
}
