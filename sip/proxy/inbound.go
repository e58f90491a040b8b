package proxy

import (
	"bytes"
	"errors"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/imscore/imscore/sip/header"

	"github.com/emiago/sipgo/sip"
	"go.uber.org/zap"

	"github.com/imscore/imscore/internal/logging"
)

// inbound is where one message came from.
type inbound struct {
	transport string
	remote    netip.AddrPort
	l         *listener // UDP: the socket; TCP: the listener of the connection's local address (or same family)
	local     netip.AddrPort
	tlsPeer   []string // TLS: the SIP domain identities of the peer's certificate
}

func (in inbound) source() Source {
	return Source{Transport: in.transport, Remote: in.remote, Local: in.local, TLSPeer: in.tlsPeer}
}

// serveUDP reads one UDP socket until it is closed. sipgo's UDP transport is not used: the proxy must answer
// unparseable requests with 400 (sipgo logs and drops them) and send responses over 1300 bytes (sipgo refuses).
func (p *Proxy) serveUDP(l *listener) {
	buf := make([]byte, 65535) // RFC 3261 §18.1.1: handle datagrams up to the maximum size
	for {
		n, src, err := l.udp.ReadFromUDPAddrPort(buf)
		if err != nil {
			if isClosedErr(err) || p.closing.Load() {
				return
			}
			p.log.Warn("udp read failed", zap.Stringer("addr", l.bound), zap.Error(err))
			continue
		}
		if n > p.cfg.Limits.MaxMessageSize {
			p.limited(LimitOversize, "dropped udp datagram: message too large", zap.Stringer("from", unmapAP(src)),
				zap.Int("bytes", n), zap.Int("max_message_size", p.cfg.Limits.MaxMessageSize))
			continue
		}
		p.receiveDatagram(buf[:n], l, unmapAP(src))
	}
}

// receiveDatagram parses one datagram and dispatches it. The parser copies what it keeps, so buf may be reused.
func (p *Proxy) receiveDatagram(data []byte, l *listener, src netip.AddrPort) {
	defer p.recoverPanic("udp receive", nil)
	if isKeepAlive(data) {
		return
	}
	in := inbound{transport: transportUDP, remote: src, l: l, local: l.bound}
	msg, err := p.parser.ParseSIP(data)
	if err != nil {
		// RFC 3261 §18.3: a datagram shorter than its Content-Length is an error; a request gets a 400.
		if req, ok := msg.(*sip.Request); ok && errors.Is(err, sip.ErrParseReadBodyIncomplete) && req.Via() != nil {
			req.SetTransport(transportUDP)
			req.SetSource(src.String())
			p.traceIn(req, transportUDP, src)
			p.replyStateless(req, in, &StatusError{Code: sip.StatusBadRequest, Reason: "Content-Length Exceeds Body", Err: err})
			return
		}
		p.rejectUnparseable(data, transportUDP, src, err, func(raw *rawRequest) error {
			_, err := l.udp.WriteToUDPAddrPort(raw.response(), raw.destination(src))
			return err
		})
		return
	}
	restoreMethod(msg, data)
	msg.SetTransport(transportUDP)
	msg.SetSource(src.String())
	p.receive(msg, in)
}

// rejectUnparseable answers a request sipgo could not parse with 400 when enough of it can be read to know
// where to send the answer (a start line and a Via); anything else is dropped (RFC 3261 §18.2.2 needs a Via).
// send writes the answer: over UDP to where the Via says, over TCP on the connection. It reports whether the
// message was read as a request (answered, or an ACK dropped).
func (p *Proxy) rejectUnparseable(data []byte, transport string, src netip.AddrPort, perr error, send func(*rawRequest) error) bool {
	raw, err := readRawRequest(data)
	if err != nil {
		p.log.Info("dropped unparseable message", zap.String("transport", transport), zap.Stringer("from", src),
			zap.Int("bytes", len(data)), zap.NamedError("parse_error", perr))
		return false
	}
	fields := []zap.Field{zap.String("transport", transport), zap.Stringer("from", src), zap.String("method", raw.method),
		zap.Int("code", raw.code), zap.String("reason", raw.reason), zap.NamedError("parse_error", perr)}
	if raw.callID != "" {
		fields = append(fields, logging.CallID(raw.callID))
	}
	if raw.method == string(sip.ACK) { // an ACK is never answered (RFC 3261 §17.2.3)
		p.log.Info("dropped malformed ACK", fields...)
		return true
	}
	if err := send(raw); err != nil {
		fields = append(fields, zap.Error(err))
	}
	p.metrics.Request(DirectionIn, raw.method)
	p.metrics.Response(DirectionOut, raw.method, raw.code)
	p.log.Info("rejected malformed request", fields...)
	return true
}

// restoreMethod gives a request the method as its Request-Line spells it: sipgo upper-cases it, but method names
// are case-sensitive (RFC 3261 §7.1; RFC 4475 §3.1.1.2), and the CSeq method must match it as written (§8.1.1.5)
// and is forwarded so.
func restoreMethod(msg sip.Message, raw []byte) {
	req, ok := msg.(*sip.Request)
	if !ok {
		return
	}
	raw = bytes.TrimLeft(raw, "\r\n")
	if i := bytes.IndexByte(raw, ' '); i > 0 && string(raw[:i]) != string(req.Method) && strings.EqualFold(string(raw[:i]), string(req.Method)) {
		req.Method = sip.RequestMethod(raw[:i])
	}
}

// receiveStream is sipgo's callback for every message read from a TCP or TLS connection.
func (p *Proxy) receiveStream(msg sip.Message) {
	defer p.recoverPanic("tcp receive", nil)
	remote := parseHostPort(msg.Source())
	network, ls := streamOf(p, msg.Transport()) // tls.go
	in := inbound{transport: strings.ToUpper(network), remote: remote}
	if c, err := p.tpl.GetConnection(network, msg.Source()); err == nil && c != nil {
		if tc, ok := c.(*sip.TCPConnection); ok {
			if lc, ok := tc.Conn.(*limitedConn); ok {
				// sipgo parsed the message it was handed: nothing for Close to answer.
				if raw := lc.cur.Swap(nil); raw != nil {
					restoreMethod(msg, *raw)
				}
			}
		}
		in.local = addrPortOf(c.LocalAddr())
		if tc := tlsConnOf(c); tc != nil {
			in.tlsPeer = peerIdentities(tc) // tls.go
		}
		_, _ = c.TryClose()
	}
	if in.local.IsValid() {
		in.l = streamListenerFor(ls, in.local)
	} else {
		in.l = streamListenerFor(ls, netip.AddrPortFrom(remote.Addr(), 0)) // connection already gone: same family
	}
	if in.l == nil {
		p.log.Warn("stream message with no listener of its address family", zap.String("transport", in.transport),
			zap.Stringer("from", remote))
		return
	}
	if !in.local.IsValid() {
		in.local = in.l.bound
	}
	p.receive(msg, in)
}

// streamListenerFor finds the TCP (or TLS) listener among ls a connection with this local address belongs to: the
// one bound to it, else the first of the same family (a connection the proxy dialled has an ephemeral local port).
func streamListenerFor(ls []*listener, local netip.AddrPort) *listener {
	var family *listener
	for _, l := range ls {
		if l.bound == local || (l.bound.Addr().IsUnspecified() && l.bound.Port() == local.Port()) {
			return l
		}
		if family == nil && l.is4() == local.Addr().Unmap().Is4() {
			family = l
		}
	}
	return family
}

func (p *Proxy) receive(msg sip.Message, in inbound) {
	switch m := msg.(type) {
	case *sip.Request:
		p.receiveRequest(m, in)
	case *sip.Response:
		p.receiveResponse(m, in)
	}
}

// receiveRequest runs on the reading goroutine up to the point where the server transaction exists, so that a
// CANCEL or ACK read after its INVITE on one connection always finds the INVITE's transaction.
func (p *Proxy) receiveRequest(req *sip.Request, in inbound) {
	p.traceIn(req, in.transport, in.remote)
	v := newView(req) // the header index and verdicts every check below shares
	vias := v.ix.Fields("via")
	top, _ := firstOr(vias).(*sip.ViaHeader)
	if !viaSyntaxOK(top) {
		p.rejectUnsoundVia(req, in, vias)
		return
	}
	via := req.Via() // == top
	if se := p.checkEdge(v); se != nil {
		// Rejected before any transaction or router sees it: no node does work for it.
		if req.IsAck() { // never answered (RFC 3261 §17.2.3)
			p.log.Info("dropped ACK", zap.Stringer("from", in.remote), zap.String("reason", se.Reason),
				logging.CallID(callIDOf(req)))
			return
		}
		stampReceived(via, in.remote)
		p.replyStateless(req, in, se)
		return
	}
	if req.CSeq() == nil || !v.typedOK("via") || !v.typedOK("cseq") {
		// Without a sound Via and CSeq there is no transaction to match (RFC 3261 §17.2.3): answer statelessly.
		stampReceived(via, in.remote)
		p.replyStateless(req, in, v.missingOrMalformed())
		return
	}
	stampReceived(via, in.remote)

	switch req.Method {
	case sip.ACK:
		p.receiveAck(v, in)
		return
	case sip.CANCEL:
		p.receiveCancel(req, in)
		return
	}

	key := serverTxKey(req, req.Method)
	pc, created, err := p.servers.getOrCreate(key, func() (*proxyCtx, error) {
		if p.overloaded(req) {
			return nil, errOverload
		}
		return p.newProxyCtx(key, v, in)
	})
	if err != nil {
		if errors.Is(err, errOverload) {
			p.shed(req, in)
			return
		}
		if !errors.Is(err, ErrClosed) {
			p.log.Info("cannot create server transaction", logging.CallID(callIDOf(req)), zap.Error(err))
		}
		return
	}
	if !created {
		// A retransmission: the server transaction re-sends its last response (RFC 3261 §17.2.1, §17.2.2).
		if err := pc.stx.Receive(req); err != nil {
			pc.log.Debug("retransmission not matched", zap.Error(err))
		}
		return
	}
	p.metrics.InFlight(1)
	if !p.spawn(func() { pc.process() }) {
		pc.stx.Terminate()
	}
}

// rejectUnsoundVia answers a request whose top Via is not sound (RFC 4475 §3.1.2.1) with 400 when what RFC 3261
// §18.2.2 routes a response by can still be read from it: the same connection over TCP; over UDP the packet's
// source address (received, §18.2.1) and the sent-by port. The answer carries that Via, cleaned of what does not
// parse (§8.2.6.2 copies the Via; a copy of the broken text would make the answer unreadable in turn). An ACK is
// never answered (§17.2.3), and a Via without a readable sent-by leaves nowhere to answer.
func (p *Proxy) rejectUnsoundVia(req *sip.Request, in inbound, vias []sip.Header) {
	var top *sip.ViaHeader
	if len(vias) > 0 {
		top = salvageVia(vias[0].Value())
	}
	if top == nil || req.IsAck() {
		msg := "dropped request without a usable Via"
		if top != nil {
			msg = "dropped ACK with an unsound Via"
		}
		p.log.Info(msg, zap.Stringer("from", in.remote), zap.String("method", string(req.Method)),
			logging.CallID(callIDOf(req)))
		return
	}
	header.Remove(req, "via")
	keep := []sip.Header{top}
	for _, h := range vias[1:] {
		if v, ok := h.(*sip.ViaHeader); ok && viaSyntaxOK(v) {
			keep = append(keep, h)
		}
	}
	req.PrependHeader(keep...)
	stampReceived(top, in.remote)
	p.replyStateless(req, in, &StatusError{Code: sip.StatusBadRequest, Reason: "Malformed Via Header"})
}

// receiveAck absorbs the ACK for a non-2xx response this proxy sent (it belongs to the INVITE server
// transaction, RFC 3261 §17.2.1) and forwards any other ACK, the end-to-end ACK for a 2xx, statelessly.
func (p *Proxy) receiveAck(v *view, in inbound) {
	req := v.req
	if pc, ok := p.servers.get(serverTxKey(req, sip.INVITE)); ok && !pc.answered2xx() {
		if err := pc.stx.Receive(req); err != nil {
			pc.log.Debug("ack not matched", zap.Error(err))
		}
		return
	}
	p.spawn(func() { p.forwardAck(v, in) })
}

// receiveCancel applies RFC 3261 §16.10: answer 200 at once, then cancel every pending branch; the 487 comes
// back from downstream and is forwarded as the INVITE's final response. A CANCEL that matches nothing gets 481:
// every INVITE goes through this proxy statefully, with a branch of its own downstream, so a CANCEL forwarded
// statelessly (as §16.10 suggests for stateless proxies) could not match anything downstream either.
func (p *Proxy) receiveCancel(req *sip.Request, in inbound) {
	pc, ok := p.servers.get(serverTxKey(req, sip.INVITE))
	if !ok {
		p.replyStateless(req, in, &StatusError{Code: sip.StatusCallTransactionDoesNotExists})
		return
	}
	// The CANCEL is its own non-INVITE transaction but sipgo's server transaction bypasses its state machine
	// for CANCEL responses, so it is answered directly; a retransmitted CANCEL is simply answered again.
	p.replyStateless(req, in, nil)
	p.spawn(pc.cancelFromUpstream)
}

// receiveResponse hands a response to its client transaction (RFC 3261 §17.1.3). A response that matches none
// is dropped: RFC 6026 §7.2 forbids forwarding stray responses to INVITE, and a stateful proxy has no other kind.
func (p *Proxy) receiveResponse(res *sip.Response, in inbound) {
	p.traceIn(res, in.transport, in.remote)
	if !strings.EqualFold(res.SipVersion, sipVersion) {
		// RFC 3261 §7.2, §8.1.3.1: we only ever send SIP/2.0 requests, so no other version can answer one.
		p.log.Info("dropped response of another SIP version", zap.Stringer("from", in.remote),
			zap.String("version", res.SipVersion), logging.CallID(callIDOf(res)))
		return
	}
	via := res.Via()
	if via == nil || res.CSeq() == nil {
		p.log.Debug("dropped response without Via or CSeq", zap.Stringer("from", in.remote))
		return
	}
	// RFC 3261 §18.1.2: a response whose top Via sent-by is not ours is discarded.
	if !p.isOurSentBy(via) {
		p.log.Info("dropped response not addressed to us", zap.Stringer("from", in.remote),
			zap.String("via", via.SentBy()), logging.CallID(callIDOf(res)))
		return
	}
	key, err := sip.ClientTxKeyMake(res)
	if err != nil {
		p.log.Debug("dropped response without branch", zap.Error(err))
		return
	}
	e, ok := p.clients.get(key)
	if !ok {
		p.log.Debug("dropped stray response", zap.Int("code", res.StatusCode), logging.CallID(callIDOf(res)))
		return
	}
	// Receive blocks until the transaction's reader takes the response: keep the socket reader free, keep order.
	p.deliver(e, res)
}

// replyStateless answers req outside any transaction: a 400 for a request too broken to match, a 481 or 200 to a
// CANCEL. se nil means 200 OK.
func (p *Proxy) replyStateless(req *sip.Request, in inbound, se *StatusError) {
	code, reason := sip.StatusOK, reasonPhrase(sip.StatusOK)
	if se != nil {
		code, reason = se.Code, se.Reason
		if reason == "" {
			reason = reasonPhrase(code)
		}
	}
	if req.IsAck() {
		return
	}
	res := sip.NewResponseFromRequest(req, code, reason, nil)
	res.SipVersion = sipVersion // RFC 3261 §7.2: ours, also when answering another version with 505
	sanitizeRejection(res)
	if se != nil {
		for _, h := range se.Headers {
			res.AppendHeader(h)
		}
	}
	if se != nil && !se.quiet {
		fields := []zap.Field{zap.String("method", string(req.Method)), zap.Int("code", code),
			zap.String("reason", reason), zap.Stringer("from", in.remote)}
		if id := callIDOf(req); id != "" {
			fields = append(fields, logging.CallID(id))
		}
		if se.Err != nil {
			fields = append(fields, zap.Error(se.Err))
		}
		p.log.Info("rejected request", fields...)
	}
	conn, err := p.replyConn(req, in)
	if err != nil {
		p.log.Info("cannot answer request", zap.Stringer("from", in.remote), zap.Error(err))
		return
	}
	defer func() { _, _ = conn.TryClose() }()
	if err := conn.WriteMsg(res); err != nil {
		p.log.Info("sending response failed", zap.Stringer("to", in.remote), zap.Error(err))
	}
}

// replyConn returns the connection responses to req go out on (RFC 3261 §18.2.2): the same TCP connection, or
// over UDP the source address with the Via port (rport and received honoured). The caller owns a reference.
func (p *Proxy) replyConn(req *sip.Request, in inbound) (sip.Connection, error) {
	if in.transport == transportTCP || in.transport == transportTLS {
		network := strings.ToLower(in.transport)
		c, err := p.tpl.GetConnection(network, req.Source())
		if err != nil || c == nil {
			return nil, errors.Join(ErrTransport, errors.New(network+" connection to "+req.Source()+" is gone"), err)
		}
		w := &tcpConn{Connection: c, p: p, remote: in.remote}
		if in.transport == transportTLS {
			w.transport = transportTLS
		}
		return w, nil
	}
	return &udpConn{p: p, l: in.l, dst: responseAddr(req.Via(), in.remote), noKeep: !req.IsInvite()}, nil
}

// responseAddr is where an unreliable-transport response goes (RFC 3261 §18.2.2, RFC 3581 §4): the received
// address (always set by stampReceived) and the rport or sent-by port.
func responseAddr(via *sip.ViaHeader, src netip.AddrPort) netip.AddrPort {
	if via == nil {
		return src
	}
	addr := src.Addr()
	if r, ok := paramValue(via.Params, "received"); ok {
		if a, err := netip.ParseAddr(r); err == nil {
			addr = a.Unmap()
		}
	}
	port := via.Port
	if rp, ok := paramValue(via.Params, "rport"); ok {
		if n, err := strconv.Atoi(rp); err == nil && n > 0 && n < 65536 {
			port = n
		} else {
			port = int(src.Port())
		}
	}
	if port <= 0 || port > 65535 {
		port = sip.DefaultUdpPort
	}
	return netip.AddrPortFrom(addr, uint16(port))
}

// stampReceived applies RFC 3261 §18.2.1 (received when sent-by is not the source address) and RFC 3581 §4
// (rport set to the source port when the client asked for it) from the packet's source alone. A received or
// rport value the client wrote into its own Via is removed first: it would steer where responses go (§18.2.2)
// and make this proxy reflect them at any address (RFC 3581 §4: the client MUST NOT give rport a value).
func stampReceived(via *sip.ViaHeader, src netip.AddrPort) {
	if !src.IsValid() {
		return
	}
	rport := false
	kept := via.Params[:0]
	for _, kv := range via.Params {
		switch {
		case strings.EqualFold(kv.K, "received"):
			continue
		case strings.EqualFold(kv.K, "rport"):
			rport = true
			continue
		}
		kept = append(kept, kv)
	}
	via.Params = kept
	if a, err := netip.ParseAddr(strings.Trim(via.Host, "[]")); err != nil || a.Unmap() != src.Addr() {
		via.Params.Add("received", src.Addr().String())
	}
	if rport {
		via.Params.Add("rport", strconv.Itoa(int(src.Port())))
	}
}

// sipVersion is the only SIP-Version this proxy speaks (RFC 3261 §7.1; compared case-insensitively).
const sipVersion = "SIP/2.0"

// singletons are the headers a request carries once (RFC 3261 §7.3.1: only comma-separated list headers may
// repeat). A second one leaves the transaction, dialog or framing ambiguous.
var singletons = [...]string{"call-id", "cseq", "from", "to", "content-length", "max-forwards"}

// checkEdge rejects, before any transaction exists and before the router runs, a request this proxy must not
// process: another SIP version (RFC 3261 §21.5.7 505; RFC 4475 §3.3.14) or a repeated singleton header, two
// Content-Length values included (400 naming it, RFC 3261 §21.4.1; RFC 4475 §3.3.8, §3.3.12). A bad Content-Length
// against the datagram size is answered in receiveDatagram (§18.3).
func (p *Proxy) checkEdge(v *view) *StatusError {
	req := v.req
	if !strings.EqualFold(req.SipVersion, sipVersion) {
		return &StatusError{Code: sip.StatusVersionNotSupported, Reason: reasonPhrase(sip.StatusVersionNotSupported)}
	}
	req.SipVersion = sipVersion // RFC 3261 §7.1: sent in upper case
	for _, key := range singletons {
		hs := v.ix.Fields(key)
		if len(hs) < 2 {
			continue
		}
		reason := "Duplicate " + header.Canonical(key) + " Header"
		if key == "content-length" {
			for _, h := range hs[1:] {
				if strings.TrimSpace(h.Value()) != strings.TrimSpace(hs[0].Value()) {
					reason = "Conflicting Content-Length Values"
				}
			}
		}
		return &StatusError{Code: sip.StatusBadRequest, Reason: reason}
	}
	return nil
}

// errOverload: MaxTransactions are in flight.
var errOverload = errors.New("sip proxy overloaded")

// overloaded reports whether req, a new server transaction, is to be shed: a request outside a dialog (no To tag)
// while MaxTransactions are in flight. In-dialog requests go on: they end calls already set up (RFC 7339 §5.2
// lets a server choose what it sheds).
func (p *Proxy) overloaded(req *sip.Request) bool {
	if p.inflight.Load() < int64(p.cfg.Limits.MaxTransactions) {
		return false
	}
	to := req.To()
	if to == nil {
		return true
	}
	tag, _ := to.Params.Get("tag")
	return tag == ""
}

// shed answers req 503 Service Unavailable with Retry-After at once (RFC 3261 §21.5.4, §20.33), statelessly.
func (p *Proxy) shed(req *sip.Request, in inbound) {
	p.limited(LimitOverload, "shed request: too many transactions in flight", zap.String("method", string(req.Method)),
		zap.Stringer("from", in.remote), logging.CallID(callIDOf(req)), zap.Int("max_transactions", p.cfg.Limits.MaxTransactions))
	secs := int(p.cfg.Limits.RetryAfter / time.Second)
	p.replyStateless(req, in, &StatusError{Code: sip.StatusServiceUnavailable, Reason: reasonPhrase(sip.StatusServiceUnavailable),
		Headers: []sip.Header{sip.NewHeader("Retry-After", strconv.Itoa(secs))}, quiet: true})
}

func firstOr(hs []sip.Header) sip.Header {
	if len(hs) == 0 {
		return nil
	}
	return hs[0]
}

// sanitizeRejection removes from a rejection this proxy generates the copied headers (Via, From, To, Call-ID,
// CSeq) that are malformed: text the lenient parser kept, or values sipgo cannot read back. A strict parser at the
// far end would otherwise drop the whole response and the answer would be lost.
func sanitizeRejection(res *sip.Response) {
	for _, key := range [...]string{"via", "from", "to", "call-id", "cseq"} {
		all := header.Fields(res, key)
		var keep []sip.Header
		for _, h := range all {
			// Any SIP-Version in a Via: the one of a 505 is copied as it came (RFC 3261 §8.2.6.2).
			if typedHeadersSound([]sip.Header{h}, viaSyntaxOK) {
				keep = append(keep, h)
			}
		}
		if len(keep) == len(all) {
			continue
		}
		header.Remove(res, key)
		for i := len(keep) - 1; i >= 0; i-- {
			res.PrependHeader(keep[i])
		}
	}
}
