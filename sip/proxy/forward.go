package proxy

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"

	"github.com/imscore/imscore/sip/header"

	"github.com/emiago/sipgo/sip"
	"go.uber.org/zap"
)

// buildCopy applies RFC 3261 §16.6 steps 1–3, 5 and 6 for one target and returns the copy and the URI its next
// hop is derived from. Via and Record-Route (steps 4 and 8) depend on the outgoing interface: see prepareOutbound.
func (p *Proxy) buildCopy(orig *sip.Request, d *Decision, t *Target) (*sip.Request, sip.Uri) {
	// Step 1: copy.
	req := copyRequest(orig)

	// Step 2: Request-URI.
	if t.URI != nil {
		req.Recipient = *t.URI.Clone()
	}
	// Step 3: Max-Forwards, decremented or added.
	if mf := req.MaxForwards(); mf != nil {
		mf.Dec()
	} else {
		v := sip.MaxForwardsHeader(p.cfg.MaxForwards)
		req.AppendHeader(&v)
	}
	// Step 3 (pre-loaded route): the router's Route values go on top.
	pushRoutes(req, t.Route)
	// Step 5: optional headers.
	for _, name := range d.RemoveHeaders {
		header.Remove(req, name)
	}
	for _, h := range d.AddHeaders {
		req.AppendHeader(sip.HeaderClone(h))
	}
	for _, h := range t.AddHeaders {
		req.AppendHeader(sip.HeaderClone(h))
	}
	if len(d.Body) > 0 {
		req.SetBody(d.Body)
	}
	// Step 6: strict-router fix-up, then step 7: the next hop.
	return req, nextHopURI(req)
}

// copyRequest is sipgo's Request.Clone without the routing fields, which a forwarded copy sets itself: Clone
// copies the inbound transport, source and resolved address, and works out the original's destination (a
// lookup of its Route header that lower-cases every header name when there is none, and a formatted host:port),
// all of it thrown away at once: a tenth of a proxied REGISTER's allocations (issue 12).
func copyRequest(orig *sip.Request) *sip.Request {
	req := sip.NewRequest(orig.Method, orig.Recipient) // NewRequest copies the URI's parameters
	req.SipVersion = orig.SipVersion
	for _, h := range orig.CloneHeaders() {
		req.AppendHeader(h)
	}
	req.SetBody(slices.Clone(orig.Body()))
	return req
}

// outbound is a request ready to go: its transport, destination and the connection to write it on.
type outbound struct {
	transport string
	dst       netip.AddrPort
	conn      sip.Connection // the caller owns one reference
}

// prepareOutbound resolves the next hop, picks the listener and transport, stamps Via and Record-Route (RFC 3261
// §16.6 steps 4 and 8) and returns a connection. in is the listener the request arrived on (nil for requests the
// proxy originates); recordRoute asks for Record-Route.
//
// Transport follows RFC 3261 §18.1.1: a request for UDP larger than Config.UDPMaxRequest bytes goes over TCP
// instead, with Via (and our outgoing Record-Route) saying so. The clause has no exception for an explicit
// transport=udp: RFC 3263 §4.1 only says that parameter SHOULD be used, and §18.1.1 is a MUST. If the TCP
// connect then fails the request falls back to UDP, which every element MUST accept up to 65,535 bytes.
func (p *Proxy) prepareOutbound(ctx context.Context, req *sip.Request, hopURI sip.Uri, nh *NextHop, in *listener,
	recordRoute bool, branch string) (*outbound, error) {
	h, err := p.resolveHop(ctx, hopURI, nh)
	if err != nil {
		return nil, err
	}
	l, err := p.pickListener(h.transport, h.dst.Addr(), h.local)
	if err != nil {
		return nil, err
	}
	stamp(req, l, in, recordRoute, branch)
	ensureContentLength(req)
	if h.transport == transportTLS { // tls.go
		conn, err := p.tlsConnTo(ctx, h.dst, h.serverName)
		if err != nil {
			return nil, err
		}
		return p.finishOutbound(req, transportTLS, h.dst, conn), nil
	}

	var udp *udpConn
	if h.transport == transportUDP {
		udp = &udpConn{p: p, l: l, dst: h.dst}
	}
	if h.transport == transportUDP && p.cfg.UDPMaxRequest > 0 {
		// With a pinned local address (a P-CSCF's protected client port towards a UE's protected server port) the
		// TCP connection is dialled from that same address and port: the SAs cover both transports (TS 33.203
		// §7.1), and TS 24.229 §5.2.2 has the P-CSCF send a large request to a UE that registered over UDP so.
		// Serialized once: the bytes measured are the bytes sent, and re-sent by Timer A or E.
		if size := udp.prepare(req); size > p.cfg.UDPMaxRequest {
			if tl, err := p.pickListener(transportTCP, h.dst.Addr(), h.local); err == nil {
				udp.release()
				unstamp(req, l, in, recordRoute)
				stamp(req, tl, in, recordRoute, branch)
				conn, err := p.tcpConnTo(ctx, h.dst, h.local)
				if err == nil {
					p.log.Debug("request over MTU limit sent over tcp (RFC 3261 §18.1.1)", zap.Int("bytes", size),
						zap.Stringer("to", h.dst))
					return p.finishOutbound(req, transportTCP, h.dst, conn), nil
				}
				p.log.Info("tcp for a large request failed, falling back to udp", zap.Int("bytes", size),
					zap.Stringer("to", h.dst), zap.Error(err))
				unstamp(req, tl, in, recordRoute)
				stamp(req, l, in, recordRoute, branch)
			}
		}
	}
	if h.transport == transportTCP {
		conn, err := p.tcpConnTo(ctx, h.dst, h.local)
		if err != nil {
			return nil, err
		}
		return p.finishOutbound(req, transportTCP, h.dst, conn), nil
	}
	return p.finishOutbound(req, transportUDP, h.dst, udp), nil
}

func (p *Proxy) finishOutbound(req *sip.Request, transport string, dst netip.AddrPort, conn sip.Connection) *outbound {
	req.SetTransport(transport)
	req.SetDestination(dst.String())
	ensureContentLength(req)
	return &outbound{transport: transport, dst: dst, conn: conn}
}

// ensureContentLength gives req a Content-Length (RFC 3261 §16.6 step 9 / §20.14: always present, 0 without a
// body) before it is serialized.
func ensureContentLength(req *sip.Request) {
	if req.Body() == nil {
		req.SetBody(nil) // no edit when it already says 0
	}
}

// stamp adds our Record-Route (RFC 3261 §16.6 step 4) and Via (step 8) for sending from out.
//
// Record-Route carries lr (loose routing, §16.12) and the transport parameter. Its address is the interface the
// request leaves on, because the far end uses it for requests coming back; when the request arrived on another
// interface or transport, a second value for the incoming side goes below it, so that requests in the other
// direction enter through the interface they should (a double Record-Route, as RFC 5658 describes).
func stamp(req *sip.Request, out, in *listener, recordRoute bool, branch string) {
	if recordRoute {
		secure := isSIPS(req) // §16.6 step 4: a sips Request-URI or top Route asks for a sips Record-Route
		if in != nil && in != out {
			req.PrependHeader(&sip.RecordRouteHeader{Address: in.rrURI(secure)})
		}
		req.PrependHeader(&sip.RecordRouteHeader{Address: out.rrURI(secure)})
	}
	params := sip.NewParams()
	params.Add("branch", branch)
	req.PrependHeader(&sip.ViaHeader{
		ProtocolName:    "SIP",
		ProtocolVersion: "2.0",
		Transport:       out.transport,
		Host:            out.host,
		Port:            out.port(),
		Params:          params,
	})
}

// unstamp removes what stamp added (ours are the topmost values).
func unstamp(req *sip.Request, out, in *listener, recordRoute bool) {
	req.RemoveHeader("Via")
	if recordRoute {
		req.RemoveHeader("Record-Route")
		if in != nil && in != out {
			req.RemoveHeader("Record-Route")
		}
	}
}

// statusForSendError maps a failure to reach a next hop to the response the branch is treated as having
// received: 503 for anything the transport reports (RFC 3261 §16.9), 504 when a DNS server did not answer
// (§21.5.5, an external server timing out), 416 when the next hop is not a SIP URI at all.
func statusForSendError(err error) *StatusError {
	switch {
	case errors.Is(err, errDNSTimeout):
		return &StatusError{Code: sip.StatusGatewayTimeout, Reason: reasonPhrase(sip.StatusGatewayTimeout), Err: err}
	case errors.Is(err, ErrNoRoute) && !errors.Is(err, ErrTransport):
		if errors.Is(err, errNotSIPURI) {
			return &StatusError{Code: 416, Reason: reasonPhrase(416), Err: err}
		}
		return &StatusError{Code: sip.StatusServiceUnavailable, Reason: reasonPhrase(sip.StatusServiceUnavailable), Err: err}
	default:
		return &StatusError{Code: sip.StatusServiceUnavailable, Reason: reasonPhrase(sip.StatusServiceUnavailable), Err: err}
	}
}

var errNotSIPURI = fmt.Errorf("next hop is not a SIP URI: %w", ErrNoRoute)
