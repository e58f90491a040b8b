package proxy

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"

	"github.com/imscore/imscore/sip/header"

	"github.com/emiago/sipgo/sip"
)

// isOurURI reports whether a URI names this proxy: its host and port (5060 when absent) are one of our listeners'
// advertised addresses or a configured alias.
func (p *Proxy) isOurURI(u *sip.Uri) bool {
	if u == nil || (u.Scheme != "" && !strings.EqualFold(u.Scheme, "sip") && !strings.EqualFold(u.Scheme, "sips")) {
		return false
	}
	host := strings.ToLower(strings.Trim(u.Host, "[]"))
	if u.Port == 0 {
		if p.aliases[host] {
			return true
		}
		if strings.EqualFold(u.Scheme, "sips") {
			return p.aliases[host+":"+strconv.Itoa(DefaultTLSPort)] // RFC 3261 §19.1.2: 5061 for sips
		}
		return p.aliases[host+":"+strconv.Itoa(sip.DefaultUdpPort)]
	}
	return p.aliases[host+":"+strconv.Itoa(u.Port)]
}

// preprocessRoute applies RFC 3261 §16.4 and returns the Route value naming us that it removed, if any.
//
// A Request-URI we put into a Record-Route means the previous hop was a strict router: the real Request-URI is
// the last Route value. Then a top Route naming us is removed; when the next one names us too (the double
// Record-Route written when a request changed interface or transport) it goes as well.
func (p *Proxy) preprocessRoute(req *sip.Request) *sip.Uri {
	routes := routeHeaders(req)
	if p.isOurURI(&req.Recipient) && len(routes) > 0 {
		last := routes[len(routes)-1]
		req.Recipient = *last.Address.Clone()
		removeHeaderInstance(req, last)
	}
	var consumed *sip.Uri
	for {
		top := header.TopRoute(req)
		if top == nil || !p.isOurURI(&top.Address) {
			return consumed
		}
		if consumed == nil {
			consumed = top.Address.Clone()
		}
		req.RemoveHeader("Route")
	}
}

// routeHeaders returns the typed Route values in order.
func routeHeaders(req *sip.Request) []*sip.RouteHeader {
	var out []*sip.RouteHeader
	for _, h := range req.Headers() {
		if r, ok := h.(*sip.RouteHeader); ok {
			out = append(out, r)
		}
	}
	return out
}

// removeHeaderInstance removes exactly h (sipgo's RemoveHeader removes the first of a name).
func removeHeaderInstance(req *sip.Request, h sip.Header) {
	var keep []sip.Header
	for _, x := range req.Headers() {
		if x != h {
			keep = append(keep, x)
		}
	}
	// Rebuild through sipgo's API so its quick-access pointers stay right.
	for len(header.Fields(req, h.Name())) > 0 {
		if !req.RemoveHeader(h.Name()) {
			break
		}
	}
	for _, x := range keep {
		if header.Key(x.Name()) == header.Key(h.Name()) {
			req.AppendHeader(x)
		}
	}
}

// pushRoutes puts routes on top of the Route set, first value topmost (RFC 3261 §16.6 step 3, pre-loaded route).
// One at a time in reverse: sipgo's PrependHeader with several values points its Route() at the wrong one.
func pushRoutes(req *sip.Request, routes []sip.Uri) {
	for i := len(routes) - 1; i >= 0; i-- {
		req.PrependHeader(&sip.RouteHeader{Address: *routes[i].Clone()})
	}
}

// nextHopURI applies RFC 3261 §16.6 step 6 and returns the URI the request is sent towards (step 7). When the
// top Route has no lr parameter the next hop is a strict router: the Request-URI moves to the end of the Route set
// and the top Route becomes the Request-URI (§16.12 describes the loose-routing alternative we prefer).
func nextHopURI(req *sip.Request) sip.Uri {
	top := header.TopRoute(req)
	if top == nil {
		return req.Recipient
	}
	if _, lr := paramValue(top.Address.UriParams, "lr"); lr {
		return top.Address
	}
	strict := *top.Address.Clone()
	req.RemoveHeader("Route")
	req.AppendHeader(&sip.RouteHeader{Address: *req.Recipient.Clone()})
	req.Recipient = strict
	return strict
}

// hop is a resolved next hop (RFC 3263 reduced to what a core network needs: explicit transport parameter,
// numeric host or A/AAAA, SRV when no port is given).
type hop struct {
	transport  string // "UDP", "TCP" or "TLS"
	dst        netip.AddrPort
	local      netip.AddrPort // valid when the router asked for a source address
	serverName string         // TLS: the identity the next hop's certificate must carry (RFC 5922 §7.3)
}

// resolveHop turns a next-hop URI (or an explicit NextHop) into a transport and an address.
func (p *Proxy) resolveHop(ctx context.Context, u sip.Uri, nh *NextHop) (hop, error) {
	if nh != nil {
		t := strings.ToUpper(nh.Transport)
		if t == "" {
			t = transportUDP
			if v, ok := uriTransport(u); ok {
				t = v
			}
		}
		if (t == transportTLS && p.tls == nil) || (t != transportUDP && t != transportTCP && t != transportTLS) {
			return hop{}, fmt.Errorf("next hop transport %q: %w", nh.Transport, ErrUnsupportedTransport)
		}
		if !nh.Addr.IsValid() {
			return hop{}, fmt.Errorf("next hop without address: %w", ErrNoRoute)
		}
		h := hop{transport: t, dst: unmapAP(nh.Addr), local: nh.Local, serverName: nh.ServerName}
		if h.serverName == "" {
			h.serverName = strings.Trim(u.Host, "[]")
		}
		return h, nil
	}
	scheme := strings.ToLower(uriScheme(u))
	switch scheme {
	case "sip", "sips":
	default:
		return hop{}, fmt.Errorf("%s: %w", u.String(), errNotSIPURI)
	}
	t, explicit := uriTransport(u)
	if !explicit {
		t = transportUDP // RFC 3263 §4.1: UDP when nothing says otherwise and no NAPTR is used
	}
	if scheme == "sips" || t == transportTLS {
		// RFC 3261 §26.2: a sips URI is reached over TLS, with transport=tcp meaning TLS over TCP (RFC 5630
		// §3.1.3); transport=tls is the older way of saying the same for one hop.
		if p.tls == nil {
			return hop{}, fmt.Errorf("%s: needs TLS, not configured: %w", u.String(), ErrUnsupportedTransport)
		}
		if explicit && t != transportTCP && t != transportTLS {
			return hop{}, fmt.Errorf("%s: transport %q: %w", u.String(), t, ErrUnsupportedTransport)
		}
		t = transportTLS
	}
	if t != transportUDP && t != transportTCP && t != transportTLS {
		return hop{}, fmt.Errorf("%s: transport %q: %w", u.String(), t, ErrUnsupportedTransport)
	}
	host := strings.Trim(u.Host, "[]")
	if host == "" {
		return hop{}, fmt.Errorf("%s: empty host: %w", u.String(), ErrNoRoute)
	}
	// RFC 5922 §7.3: the certificate must name the URI's host (its domain), whatever SRV and A records say.
	if ip, err := netip.ParseAddr(host); err == nil {
		return hop{transport: t, dst: netip.AddrPortFrom(ip.Unmap(), portFor(t, u.Port)), serverName: host}, nil
	}
	if u.Port == 0 {
		// RFC 3263 §4.2: no port and a name: SRV first (_sips._tcp for TLS).
		service, proto := "sip", strings.ToLower(t)
		if t == transportTLS {
			service, proto = "sips", "tcp"
		}
		if _, srvs, err := p.cfg.Resolver.LookupSRV(ctx, service, proto, host); err == nil && len(srvs) > 0 {
			ips, err := p.lookupHost(ctx, strings.TrimSuffix(srvs[0].Target, "."))
			if err == nil {
				return hop{transport: t, dst: netip.AddrPortFrom(ips, srvs[0].Port), serverName: host}, nil
			}
		}
	}
	ip, err := p.lookupHost(ctx, host)
	if err != nil {
		return hop{}, err
	}
	return hop{transport: t, dst: netip.AddrPortFrom(ip, portFor(t, u.Port)), serverName: host}, nil
}

// errDNSTimeout marks a resolver that did not answer: the request gets 504 (RFC 3261 §21.5.5).
var errDNSTimeout = errors.New("dns timeout")

func (p *Proxy) lookupHost(ctx context.Context, host string) (netip.Addr, error) {
	ips, err := p.cfg.Resolver.LookupNetIP(ctx, "ip", host)
	if err != nil {
		var de *net.DNSError
		if errors.As(err, &de) && de.IsTimeout {
			return netip.Addr{}, fmt.Errorf("resolve %s: %w: %w", host, errDNSTimeout, err)
		}
		return netip.Addr{}, fmt.Errorf("resolve %s: %w: %w", host, ErrNoRoute, err)
	}
	// Prefer an address family we have a listener for, IPv4 first.
	for _, want4 := range []bool{true, false} {
		for _, ip := range ips {
			ip = ip.Unmap()
			if ip.Is4() == want4 && p.hasFamily(ip.Is4()) {
				return ip, nil
			}
		}
	}
	return netip.Addr{}, fmt.Errorf("resolve %s: no address of a family we listen on: %w", host, ErrNoRoute)
}

func (p *Proxy) hasFamily(is4 bool) bool {
	for _, l := range p.udp {
		if l.is4() == is4 {
			return true
		}
	}
	return false
}

// portFor is the URI's port, else the transport's default (RFC 3261 §19.1.2: 5060, 5061 for TLS).
func portFor(transport string, port int) uint16 {
	if port <= 0 || port > 65535 {
		if transport == transportTLS {
			return DefaultTLSPort
		}
		return uint16(sip.DefaultUdpPort)
	}
	return uint16(port)
}

// uriTransport reads the transport URI parameter (RFC 3261 §19.1.1), upper-cased.
func uriTransport(u sip.Uri) (string, bool) {
	v, ok := paramValue(u.UriParams, "transport")
	if !ok || v == "" {
		return "", false
	}
	return strings.ToUpper(v), true
}

// pickListener returns the listener to send from: the one bound to local when asked (required for UDP), else the first of the
// transport and the destination's address family.
func (p *Proxy) pickListener(transport string, dst netip.Addr, local netip.AddrPort) (*listener, error) {
	ls := p.udp
	switch transport {
	case transportTCP:
		ls = p.tcp
	case transportTLS:
		ls = p.tlsListeners()
	}
	if local.IsValid() {
		// The listener of the local address when there is one (for TCP, Via then names the port the
		// connection is dialled from); UDP can send from nothing else.
		for _, l := range ls {
			if l.bound == unmapAP(local) {
				return l, nil
			}
		}
		if transport == transportUDP {
			return nil, fmt.Errorf("udp from %s: %w", local, ErrNoListener)
		}
	}
	is4 := dst.Unmap().Is4()
	for _, l := range ls {
		if l.is4() == is4 {
			return l, nil
		}
	}
	return nil, fmt.Errorf("%s to %s: %w", transport, dst, ErrNoListener)
}

// Resolve finds where a request to u goes, as the proxy routes by a URI (RFC 3263: the transport parameter,
// else UDP; an IP address, else SRV when there is no port, then A/AAAA): for a router or a caller of Send that
// must also choose the local address (NextHop.Local) towards a URI that may name a host.
func (p *Proxy) Resolve(ctx context.Context, u sip.Uri) (NextHop, error) {
	h, err := p.resolveHop(ctx, u, nil)
	if err != nil {
		return NextHop{}, err
	}
	return NextHop{Transport: h.transport, Addr: h.dst, ServerName: h.serverName}, nil
}
