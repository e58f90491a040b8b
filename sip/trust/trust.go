// Package trust is the one rule every node applies at the edge of its trust domain (RFC 3325 §2.3,
// TS 24.229 §4.4): which peers are inside it, and which header fields only a peer inside it may send.
//
// A node keeps a Domain built from its configuration (trusted_networks). A message from a source
// outside the Domain has its trust-domain header fields removed before the node reads any of them
// (Strip), so that an identity asserted by a stranger is never believed and never passed on. The
// P-CSCF applies the same Strip to everything a UE sends: a UE is never inside the trust domain
// (RFC 3325 §5, TS 24.229 §5.2.6.3.1).
package trust

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/emiago/sipgo/sip"

	"github.com/imscore/imscore/sip/header"
)

// DefaultNetworks is the trust domain of a node whose configuration names none: the loopback
// networks, where the default configuration runs every node. On one host every local process is
// then inside the trust domain; a deployment with UEs or other operators on a network of their own
// names its core networks instead (docs/security.md).
func DefaultNetworks() []string { return []string{"127.0.0.0/8", "::1/128"} }

// Domain is a set of networks whose SIP nodes are trusted to assert identities. The zero Domain
// trusts no one.
type Domain struct {
	prefixes []netip.Prefix
}

// ErrInvalidNetwork is wrapped by ParseDomain for an entry that is neither an address nor a prefix.
var ErrInvalidNetwork = errors.New("not an IP address or CIDR prefix")

// ParseDomain builds a Domain from configuration entries: CIDR prefixes ("10.0.0.0/8",
// "2001:db8::/32") or single addresses ("192.0.2.10", "::1"). IPv4-mapped IPv6 sources match
// their IPv4 entries.
func ParseDomain(entries []string) (Domain, error) {
	var d Domain
	var errs []error
	for i, e := range entries {
		e = strings.TrimSpace(e)
		if strings.Contains(e, "/") {
			p, err := netip.ParsePrefix(e)
			if err != nil {
				errs = append(errs, fmt.Errorf("trusted_networks[%d] %q: %w: %w", i, e, ErrInvalidNetwork, err))
				continue
			}
			d.prefixes = append(d.prefixes, netip.PrefixFrom(p.Addr().Unmap(), unmappedBits(p)).Masked())
			continue
		}
		a, err := netip.ParseAddr(e)
		if err != nil {
			errs = append(errs, fmt.Errorf("trusted_networks[%d] %q: %w: %w", i, e, ErrInvalidNetwork, err))
			continue
		}
		a = a.Unmap()
		d.prefixes = append(d.prefixes, netip.PrefixFrom(a, a.BitLen()))
	}
	if len(errs) > 0 {
		return Domain{}, errors.Join(errs...)
	}
	return d, nil
}

// unmappedBits is p's length once an IPv4-mapped IPv6 prefix is written as IPv4.
func unmappedBits(p netip.Prefix) int {
	if p.Addr().Is4In6() {
		return max(p.Bits()-96, 0)
	}
	return p.Bits()
}

// Contains reports whether a node at addr is inside the trust domain.
func (d Domain) Contains(addr netip.Addr) bool {
	addr = addr.Unmap()
	for _, p := range d.prefixes {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// Networks returns the domain's prefixes, for logs and --dump-config.
func (d Domain) Networks() []netip.Prefix { return append([]netip.Prefix(nil), d.prefixes...) }

// String lists the prefixes, comma-separated.
func (d Domain) String() string {
	s := make([]string, len(d.prefixes))
	for i, p := range d.prefixes {
		s[i] = p.String()
	}
	return strings.Join(s, ",")
}

// headers are the header fields that only a node inside the trust domain may send, and that a node
// removes from a message arriving from outside it, in requests and responses alike.
var headers = [...]string{
	header.PAssertedIdentity,          // RFC 3325 §5, TS 24.229 §4.4.2
	header.PAccessNetworkInfo,         // RFC 7315 §4.4, TS 24.229 §4.4.3 (the P-CSCF keeps a UE's own: Strip's keep)
	"P-Asserted-Service",              // RFC 6050 §4, TS 24.229 §4.4.5
	"P-Profile-Key",                   // RFC 5002 §5, TS 24.229 §4.4.8
	"P-Served-User",                   // RFC 5502 §6, TS 24.229 §4.4.9
	"P-Private-Network-Indication",    // RFC 7316 §4, TS 24.229 §4.4.10
	header.PChargingVector,            // RFC 7315 §5.6: not passed outside the trust domain
	header.PChargingFunctionAddresses, // RFC 7315 §5.5
}

// Headers returns the trust-domain header fields (RFC 3325 §2.3, TS 24.229 §4.4) in canonical spelling.
func Headers() []string { return append([]string(nil), headers[:]...) }

// Strip removes every trust-domain header field (Headers) from msg, in any case or compact form, but
// those named in keep, and returns the canonical names of those it removed, for the caller's log line.
// The P-CSCF keeps a UE's P-Access-Network-Info (TS 24.229 §5.2.6.3.1 passes it on); no one else
// keeps anything.
func Strip(msg sip.Message, keep ...string) []string {
	var removed []string
	for _, h := range Names(keep...) {
		if header.Remove(msg, h) > 0 {
			removed = append(removed, h)
		}
	}
	return removed
}

// Names returns the header fields Strip(msg, keep...) removes, for a proxy that removes them from the
// copies it forwards (the P-CSCF's proxy.Decision.RemoveHeaders) rather than from the request it received.
func Names(keep ...string) []string {
	var out []string
	for _, h := range headers {
		if !slices.ContainsFunc(keep, func(k string) bool { return header.SameName(k, h) }) {
			out = append(out, h)
		}
	}
	return out
}
