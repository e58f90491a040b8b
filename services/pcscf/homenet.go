package pcscf

// The home network's I-CSCF (TS 24.229 §5.2.2.1): "the P-CSCF shall forward the REGISTER request to the
// I-CSCF in the home network as indicated by the Request-URI". With Config.ICSCF "dns" it is found by DNS
// from the Request-URI (RFC 3263 through sip/resolve: NAPTR, SRV, A/AAAA), so that one P-CSCF serves
// visitors of several home networks, the addresses tried in order when one fails (RFC 3263 §4.3, the proxy's
// Target.Failover); otherwise every REGISTER goes to the configured address (labs, one home network).

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"

	"github.com/emiago/sipgo/sip"

	"github.com/imscore/imscore/sip/proxy"
	"github.com/imscore/imscore/sip/resolve"
)

// ICSCFByDNS as Config.ICSCF finds the home network's I-CSCF by DNS from the REGISTER's Request-URI.
const ICSCFByDNS = "dns"

// Answers when the home network cannot be found.
var (
	// The Request-URI's domain has no SIP server (RFC 3263 §4.1 failed): no home network we can reach.
	statusNoHomeNetwork = &proxy.StatusError{Code: sip.StatusNotFound, Reason: "Not Found"}
	// DNS did not answer (RFC 3261 §21.5.5: a server this one consulted timed out).
	statusDNSTimeout = &proxy.StatusError{Code: sip.StatusGatewayTimeout, Reason: "Server Time-out"}
)

// byDNS reports whether the I-CSCF is found by DNS.
func (c Config) byDNS() bool { return strings.EqualFold(c.ICSCF, ICSCFByDNS) }

// homeICSCF is the branch towards the I-CSCF of the home network u names (the REGISTER's Request-URI, or a
// public identity's domain): the configured address, or every address DNS gives, in RFC 3263 order.
func (n *Node) homeICSCF(ctx context.Context, u sip.Uri) (proxy.Target, error) {
	if n.resolver == nil {
		return proxy.Target{NextHop: &proxy.NextHop{Transport: strings.ToUpper(n.cfg.ICSCFTransport), Addr: n.icscf}}, nil
	}
	// RFC 3263 §4 on the URI's host alone: the Request-URI of a REGISTER names the home domain ("sip:home.net",
	// TS 24.229 §5.1.1.2.1); its user part and parameters other than transport are not for us.
	q, err := resolve.QueryFromURI(u)
	if err != nil {
		return proxy.Target{}, withCause(statusNoHomeNetwork, err)
	}
	targets, err := n.resolver.Resolve(ctx, q)
	switch {
	case errors.Is(err, resolve.ErrTimeout):
		return proxy.Target{}, withCause(statusDNSTimeout, err)
	case err != nil:
		return proxy.Target{}, withCause(statusNoHomeNetwork, err)
	}
	t := proxy.Target{NoResponseTimeout: n.cfg.ICSCFAttemptTimeout} // RFC 3263 §4.3: a timeout tries the next
	if !n.resolver.Into(&t, targets) {
		return proxy.Target{}, withCause(statusNoHomeNetwork, fmt.Errorf("%s: only TLS servers (no TLS here): %w", q.Host, resolve.ErrNotFound))
	}
	return t, nil
}

// serviceRouteTarget is the branch of a roaming UE's originating request when its Service-Route's first entry
// names a host by name (a home network's hidden Service-Route, sip:TOKEN@home.example, TS 24.229 §5.10.4):
// every address DNS gives for it, in RFC 3263 order, with failover and ICSCFAttemptTimeout, as for the
// REGISTER (homeICSCF). Without it the proxy sends to the first address alone, and a dead first I-CSCF of the
// home network would take the roamer's calls with it. ok is false when the P-CSCF does not resolve by DNS
// (a static ICSCF), the entry is an address, or DNS gives nothing usable: the proxy then routes as before.
// The lookup is bounded by the resolver's timeout and attempts; it is usually an answer from its cache, the
// REGISTER having asked for the same name.
func (n *Node) serviceRouteTarget(top sip.Uri) (proxy.Target, bool) {
	if n.resolver == nil {
		return proxy.Target{}, false
	}
	if _, err := netip.ParseAddr(strings.Trim(top.Host, "[]")); err == nil {
		return proxy.Target{}, false
	}
	t, err := n.resolver.Branch(context.Background(), top)
	if err != nil {
		return proxy.Target{}, false
	}
	t.NoResponseTimeout = n.cfg.ICSCFAttemptTimeout
	return t, true
}

// withCause is se with err as its cause (a copy: the sentinels are shared).
func withCause(se *proxy.StatusError, err error) *proxy.StatusError {
	c := *se
	c.Err = err
	return &c
}

// dnsResolver is the resolver the proxy uses for the host names of Route and Request-URI (a hidden
// Service-Route, sip:TOKEN@home.net, is one): with ICSCF "dns" and DNS servers configured, those servers (the
// first one; the proxy's own lookups are A/AAAA and SRV), so that the P-CSCF sees one DNS; otherwise the
// system's (nil).
func dnsResolver(cfg Config) *net.Resolver {
	if !cfg.byDNS() || len(cfg.DNS.Servers) == 0 {
		return nil
	}
	server := cfg.DNS.Servers[0]
	if _, err := netip.ParseAddrPort(server); err != nil {
		server = net.JoinHostPort(strings.Trim(server, "[]"), "53")
	}
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, server)
	}}
}
