package peer

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fiorix/go-diameter/v4/diam"
	"github.com/fiorix/go-diameter/v4/diam/avp"
	"github.com/fiorix/go-diameter/v4/diam/datatype"
	"go.uber.org/zap"

	"github.com/imscore/imscore/diameter"
	"github.com/imscore/imscore/internal/logging"
)

// result is what a pending request gets: the answer frame as received (its header checked,
// its AVPs not yet decoded: the waiter decodes them, off the reader goroutine) or the reason
// there is none.
type result struct {
	frame []byte
	err   error
}

// pending is a request waiting for its answer, keyed by Hop-by-Hop Identifier.
type pending struct {
	e2e      uint32
	internal bool        // CER, DWR, DPR: not failed over, not counted as application traffic
	ch       chan result // buffered: the one delivery never blocks
	// processed, when set (the CER), is closed once the waiter has acted on the answer. The
	// reader waits for it before reading on: a peer may send its first request right behind
	// the CEA, and that request must find the connection already open (RFC 6733 §5.6).
	processed chan struct{}
}

// conn is one transport connection with a peer, in either direction. Its reader goroutine
// reads frames and dispatches them; its supervisor goroutine runs the capabilities-exchange
// deadline, then the watchdog. Writers share the connection under wmu, one frame per Write.
type conn struct {
	n       *Node
	nc      net.Conn
	dialled bool
	// stranger: accepted from an address that is no configured peer's source (Node.admitConn).
	stranger bool
	expect   PeerConfig      // dialled: what the peer must announce
	remote   string          // remote transport address
	scope    context.Context // the Serve or Connect call's context; its end disconnects
	ctx      context.Context // handlers' context; ends at shutdown
	cancel   context.CancelFunc
	log      atomic.Pointer[zap.Logger]
	// info is the peer as handlers see it, fixed by admit.
	info atomic.Pointer[PeerInfo]

	hbh     atomic.Uint32 // last Hop-by-Hop Identifier used
	lastRx  atomic.Int64  // unix nanoseconds of the last frame received
	suspect atomic.Bool   // mirrors state == StateSuspect for the reader's fast path
	benched atomic.Bool   // mirrors unresponsive for routing's fast path
	wake    chan struct{} // reader → watchdog: traffic arrived while SUSPECT
	opened  chan struct{} // closed when the capabilities exchange succeeds
	closed  chan struct{} // closed by shutdown

	openOnce, closeOnce sync.Once
	wmu                 sync.Mutex

	outgoing inflight // our application requests awaiting answers
	incoming inflight // peer's requests being served

	mu        sync.Mutex
	state     PeerState
	since     time.Time
	peer      capabilities  // set once, by admit
	common    []Application // set once, by admit
	roles     []string      // the peer's roles (Config.Permissions): PeerConfig.Roles or the AllowedPeer's
	pending   map[uint32]*pending
	peerCause disconnectCause // Disconnect-Cause of the peer's DPR
	downCause error
	announced string // Origin-Host in the CEA, kept even when admit refuses the connection
	// Application-level liveness (Config.MaxConsecutiveTimeouts, watchdog.go): requests in a row
	// that timed out, whether the connection is out of routing for that, until when, and the one
	// probe request let through after that.
	strikes      int
	unresponsive bool
	benchUntil   time.Time
	probeOut     bool
	probeHbH     uint32
}

func newConn(n *Node, nc net.Conn, dialled bool, expect PeerConfig, scope context.Context) *conn {
	c := &conn{
		n:         n,
		nc:        nc,
		dialled:   dialled,
		expect:    expect,
		remote:    nc.RemoteAddr().String(),
		scope:     scope,
		wake:      make(chan struct{}, 1),
		opened:    make(chan struct{}),
		closed:    make(chan struct{}),
		state:     StateWaitCER,
		since:     time.Now(),
		pending:   make(map[uint32]*pending),
		peerCause: causeNone,
		roles:     expect.Roles,
	}
	if dialled {
		c.state = StateWaitCEA
	}
	// RFC 6733 §3: the Hop-by-Hop Identifier "SHOULD" start at a random value, then increase.
	c.hbh.Store(rand.Uint32())
	c.ctx, c.cancel = context.WithCancel(n.ctx)
	c.log.Store(n.log.With(zap.String("remote", c.remote)))
	return c
}

func (c *conn) logger() *zap.Logger { return c.log.Load() }

// State returns the connection state.
func (c *conn) State() PeerState {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.state
}

// Info describes the connection.
func (c *conn) Info() PeerInfo {
	c.mu.Lock()
	defer c.mu.Unlock()
	info := PeerInfo{OriginHost: c.peer.host, OriginRealm: c.peer.realm, Address: c.remote, State: c.state,
		Since: c.since, Dialled: c.dialled, Applications: slices.Clone(c.common), OriginStateID: c.peer.stateID,
		Unresponsive: c.unresponsive, Roles: slices.Clone(c.roles)}
	if info.OriginHost == "" {
		info.OriginHost, info.OriginRealm = c.expect.Host, c.expect.Realm
	}
	return info
}

// supports reports whether both sides advertised app; common is fixed once the connection is open.
// isRelay reports whether the peer advertised the Relay application (RFC 6733 §2.4): a relay
// or proxy agent that forwards requests for hosts and realms beyond it.
func (c *conn) isRelay() bool { return slices.Contains(c.peer.apps, relayApplicationID) }

func (c *conn) supports(app uint32) bool {
	if app == 0 {
		return true
	}
	for _, a := range c.common {
		if a.ID == app {
			return true
		}
	}
	return false
}

func (c *conn) localAddr() netip.Addr {
	if a, ok := c.nc.LocalAddr().(*net.TCPAddr); ok {
		return a.AddrPort().Addr().Unmap()
	}
	return netip.Addr{}
}

// write sends one whole frame. A failed write leaves the stream unusable: the caller shuts down.
func (c *conn) write(frame []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.writeLocked(frame)
}

func (c *conn) writeLocked(frame []byte) error {
	// A peer that stops reading must not block writers forever.
	if err := c.nc.SetWriteDeadline(time.Now().Add(c.n.cfg.RequestTimeout)); err != nil {
		return err
	}
	_, err := c.nc.Write(frame)
	return err
}

// send encodes and writes m; a write failure shuts the connection down.
func (c *conn) send(m *diam.Message) error {
	frame, err := encode(m)
	if err != nil {
		c.logger().Error("diameter message cannot be encoded", zap.Uint32("command", m.Header.CommandCode), zap.Error(err))
		return err
	}
	if err := c.write(frame); err != nil {
		c.shutdown(fmt.Errorf("write: %w", err))
		return err
	}
	c.debugMessage("diameter message out", parseHeader(frame), sessionIDOf(m))
	return nil
}

// debugFrame is debugMessage for a frame: the Session-Id is only looked for when debug is on.
func (c *conn) debugFrame(msg string, h header, frame []byte) {
	if ce := c.logger().Check(zap.DebugLevel, msg); ce != nil {
		ce.Write(zap.Uint32("command", h.code), zap.Uint32("app", h.app), zap.Bool("request", h.isRequest()),
			zap.Uint8("flags", h.flags), zap.Uint32("hbh", h.hbh), zap.Uint32("e2e", h.e2e), logging.SessionID(rawSessionID(frame)))
	}
}

func (c *conn) debugMessage(msg string, h header, sessionID string) {
	if ce := c.logger().Check(zap.DebugLevel, msg); ce != nil {
		ce.Write(zap.Uint32("command", h.code), zap.Uint32("app", h.app), zap.Bool("request", h.isRequest()),
			zap.Uint8("flags", h.flags), zap.Uint32("hbh", h.hbh), zap.Uint32("e2e", h.e2e), logging.SessionID(sessionID))
	}
}

// shutdown closes the connection once: state Closed, transport closed, handlers' context
// cancelled, every pending request failed with ErrConnectionLost (so that Request fails over).
func (c *conn) shutdown(cause error) {
	c.closeOnce.Do(func() {
		c.mu.Lock()
		prev := c.state
		c.state, c.since, c.downCause = StateClosed, time.Now(), cause
		pend := c.pending
		c.pending = nil
		host := c.peer.host
		c.mu.Unlock()
		c.suspect.Store(false)
		c.nc.Close()
		c.cancel()
		for _, p := range pend {
			if !p.internal {
				c.outgoing.done()
			}
			p.ch <- result{err: fmt.Errorf("%w: %w", ErrConnectionLost, cause)}
		}
		close(c.closed)
		c.n.forget(c)
		select {
		case <-c.opened:
			c.logger().Info("diameter peer down", zap.Stringer("was", prev), zap.Error(cause))
			c.n.obs.Observe(Event{Kind: EventPeerDown, Peer: host, Err: cause})
		default:
			c.logger().Info("diameter connection closed before capabilities exchange", zap.Error(cause))
		}
	})
}

// lingerClose ends a connection after a final message (an error answer or CEA) written by the
// reader: half-close, then read and discard until the peer closes or a second passes, so that
// unread input does not turn our close into a reset that destroys the final message.
func (c *conn) lingerClose(cause error) {
	c.mu.Lock()
	if c.state != StateClosed {
		c.state, c.since = StateClosing, time.Now()
	}
	c.mu.Unlock()
	c.n.refresh()
	// *net.TCPConn half-closes; *tls.Conn sends close_notify.
	if hc, ok := c.nc.(interface{ CloseWrite() error }); ok {
		if hc.CloseWrite() == nil && c.nc.SetReadDeadline(time.Now().Add(min(time.Second, c.n.cfg.RequestTimeout))) == nil {
			_, _ = io.Copy(io.Discard, io.LimitReader(c.nc, 1<<20))
		}
	}
	c.shutdown(cause)
}

// touch records received traffic for the watchdog (RFC 3539 §3.4.1: any message resets Tw).
func (c *conn) touch() {
	c.lastRx.Store(time.Now().UnixNano())
	if c.suspect.Load() {
		select {
		case c.wake <- struct{}{}:
		default:
		}
	}
}

func (c *conn) lastRxTime() time.Time { return time.Unix(0, c.lastRx.Load()) }

// readLoop reads frames until the connection ends.
func (c *conn) readLoop() {
	if err := c.handshakeAccepted(); err != nil {
		c.shutdown(err)
		return
	}
	br := bufio.NewReaderSize(c.nc, 64<<10)
	for {
		frame, err := readFrame(br, c.n.cfg.MaxMessageSize)
		if err != nil {
			var fe *frameError
			if errors.As(err, &fe) {
				c.logger().Warn("diameter framing lost, closing connection", zap.String("reason", fe.reason),
					zap.Uint32("command", fe.hdr.code), zap.Uint8("flags", fe.hdr.flags))
				if fe.hdr.isRequest() {
					de := &diameter.Error{Code: diameter.InvalidMessageLength}
					if c.send(c.n.errorAnswer(fe.hdr, nil, nil, de, fe.reason)) == nil {
						c.n.obs.Observe(Event{Kind: EventProtocolError, Peer: c.peerHost(), AppID: fe.hdr.app, Command: fe.hdr.code, Result: uint32(de.Code)})
					}
				}
				c.lingerClose(err)
				return
			}
			c.mu.Lock()
			st, cause := c.state, c.peerCause
			c.mu.Unlock()
			switch {
			case cause != causeNone:
				err = fmt.Errorf("%w (Disconnect-Cause %s): %w", ErrPeerDisconnected, cause, err)
			case st == StateClosing:
				err = fmt.Errorf("closed during disconnection: %w", err)
			case errors.Is(err, io.EOF):
				err = fmt.Errorf("peer closed the connection: %w", err)
			}
			c.shutdown(err)
			return
		}
		c.touch()
		h := parseHeader(frame)
		if h.isRequest() {
			c.handleRequest(h, frame)
		} else {
			c.handleAnswer(h, frame)
		}
	}
}

func (c *conn) peerHost() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.peer.host
}

// handleAnswer hands an answer to the request waiting for it, matched by Hop-by-Hop and
// End-to-End Identifiers (RFC 6733 §6.2); anything else is logged and dropped.
func (c *conn) handleAnswer(h header, frame []byte) {
	p, why := c.take(h.hbh, h.e2e)
	if p == nil {
		c.logger().Info("diameter answer dropped", zap.String("reason", why), zap.Uint32("command", h.code),
			zap.Uint32("hbh", h.hbh), zap.Uint32("e2e", h.e2e))
		c.n.obs.Observe(Event{Kind: EventUnknownAnswer, Peer: c.peerHost(), AppID: h.app, Command: h.code})
		return
	}
	if !p.internal {
		c.answered()
	}
	if h.version != diameterVersion {
		p.ch <- result{err: fmt.Errorf("%w: version %d", ErrMalformedAnswer, h.version)}
		return
	}
	c.debugFrame("diameter message in", h, frame)
	// The frame is this answer's alone (readFrame allocates one per message): it is handed over.
	p.ch <- result{frame: frame}
	if p.processed != nil {
		select {
		case <-p.processed:
		case <-c.closed:
		}
	}
}

// take removes and returns the request waiting for (hbh, e2e), or nil and why.
func (c *conn) take(hbh, e2e uint32) (*pending, string) {
	c.mu.Lock()
	p := c.pending[hbh]
	switch {
	case p == nil:
		c.mu.Unlock()
		return nil, "no request with this Hop-by-Hop Identifier is outstanding"
	case p.e2e != e2e:
		c.mu.Unlock()
		return nil, "End-to-End Identifier does not match the request's"
	}
	delete(c.pending, hbh)
	c.mu.Unlock()
	if !p.internal {
		c.outgoing.done()
	}
	return p, ""
}

// remove forgets a request that stopped waiting (timeout, SUSPECT).
func (c *conn) remove(hbh uint32) {
	c.mu.Lock()
	p := c.pending[hbh]
	if p != nil {
		delete(c.pending, hbh)
	}
	c.mu.Unlock()
	if p != nil && !p.internal {
		c.outgoing.done()
	}
}

// handleRequest runs in the reader goroutine: base protocol requests are answered here, the
// others are checked, decoded and handed to the Handler in their own goroutine.
func (c *conn) handleRequest(h header, frame []byte) {
	switch c.State() {
	case StateWaitCEA:
		// RFC 6733 §5.6, Wait-I-CEA: I-Rcv-Non-CEA → Error → Closed.
		c.logger().Warn("diameter request before CEA, closing", zap.Uint32("command", h.code))
		c.shutdown(fmt.Errorf("request %d received before the CEA", h.code))
		return
	case StateWaitCER:
		if h.code != cmdCapabilitiesExchange {
			// Only R-Conn-CER opens a responder connection (§5.6); anything else first is a protocol violation.
			c.logger().Warn("diameter request before CER, closing", zap.Uint32("command", h.code))
			c.shutdown(fmt.Errorf("request %d received before the CER", h.code))
			return
		}
		c.handleCER(h, frame)
		return
	case StateClosed:
		return
	}
	if bh := c.n.binaryHandler(h); bh != nil {
		c.handleBinary(h, frame, bh)
		return
	}
	req, derr := decodeRequest(frame, c.n.cfg.Dictionary, c.supports)
	if derr != nil {
		c.reject(h, nil, frame, derr)
		return
	}
	c.debugMessage("diameter message in", h, sessionIDOf(req))
	if de := c.n.authorize(c.info.Load().Roles, h.app, h.code); de != nil {
		c.refuse(h, req, de)
		return
	}
	if h.app == 0 {
		switch h.code {
		case cmdCapabilitiesExchange:
			// Capabilities are exchanged once per connection (§5.3); there is no renegotiation.
			de := diameter.Errorf(diameter.UnableToComply, "capabilities were already exchanged on this connection")
			c.logger().Info("diameter CER on an open connection rejected")
			_ = c.send(c.n.buildCEA(h, de, c.localAddr()))
			return
		case cmdDeviceWatchdog:
			_ = c.send(c.n.baseAnswer(h, true))
			return
		case cmdDisconnectPeer:
			c.handleDPR(h, req)
			return
		}
	}
	c.serve(h, req, nil, sessionIDOf(req), func(ctx context.Context, from PeerInfo) ([]byte, uint32) {
		return c.n.handle(ctx, req, from, c.logger())
	})
}

// reject answers a request the peer layer refuses, with the protocol's code, and keeps going.
func (c *conn) reject(h header, req *diam.Message, frame []byte, de *diameter.Error) {
	reason := ""
	if de.Err != nil {
		reason = de.Err.Error()
	}
	c.logger().Info("diameter request rejected", zap.Uint32("code", uint32(de.Code)), zap.Uint32("command", h.code),
		zap.Uint32("app", h.app), zap.String("reason", reason), logging.SessionID(rawSessionID(frame)))
	if c.send(c.n.errorAnswer(h, req, frame, de, reason)) == nil {
		c.n.obs.Observe(Event{Kind: EventProtocolError, Peer: c.peerHost(), AppID: h.app, Command: h.code, Result: uint32(de.Code)})
	}
}

// refuse answers a request whose command the peer's roles may not send (Config.Permissions).
func (c *conn) refuse(h header, req *diam.Message, de *diameter.Error) {
	from := c.info.Load()
	c.logger().Warn("diameter request refused: not permitted for the peer's roles", zap.Uint32("code", uint32(de.Code)),
		zap.Uint32("command", h.code), zap.Uint32("app", h.app), zap.Strings("roles", from.Roles),
		zap.String("origin_realm", from.OriginRealm), logging.SessionID(sessionIDOf(req)), zap.Error(de.Err))
	// Counted before the answer leaves: a refusal is one whether or not the answer can be written.
	c.n.obs.Observe(Event{Kind: EventRequestRefused, Peer: from.OriginHost, AppID: h.app, Command: h.code, Result: uint32(de.Code)})
	_ = c.send(c.n.errorAnswer(h, req, nil, de, de.Err.Error()))
}

// handleCER is the responder side of the capabilities exchange (RFC 6733 §5.3).
func (c *conn) handleCER(h header, frame []byte) {
	n := c.n
	local := c.localAddr()
	req, derr := decodeRequest(frame, n.cfg.Dictionary, func(uint32) bool { return true })
	var caps capabilities
	var common []Application
	if derr == nil {
		caps, derr = parseCapabilities(req)
	}
	if derr == nil && caps.host == n.cfg.OriginHost {
		derr = diameter.Errorf(diameter.UnableToComply, "peer announces our own Origin-Host %s", caps.host)
	}
	var roles []string
	if derr == nil {
		if roles, derr = n.acceptPeer(c, caps); derr != nil {
			// RFC 6733 §5.6.1: the CER's Origin-Host is the identity of an incoming connection; one
			// that is not configured gets DIAMETER_UNKNOWN_PEER (§7.1.3) and, as after
			// DIAMETER_NO_COMMON_APPLICATION (§5.3), the connection is closed after the CEA.
			c.logger().Warn("diameter CER from an unknown peer refused", zap.String("origin_host", caps.host),
				zap.String("origin_realm", caps.realm), zap.Uint32("code", uint32(derr.Code)), zap.Error(derr.Err))
			n.obs.Observe(Event{Kind: EventPeerRefused, Peer: caps.host, Result: uint32(derr.Code), Err: derr.Err})
			_ = c.send(n.buildCEA(h, derr, local))
			c.lingerClose(fmt.Errorf("capabilities exchange: %w", derr))
			return
		}
		c.mu.Lock()
		c.roles = roles
		c.mu.Unlock()
	}
	if derr == nil {
		if common = commonApplications(n.cfg.Applications, caps.apps); len(common) == 0 {
			// §5.3: "MUST return a CEA with DIAMETER_NO_COMMON_APPLICATION and SHOULD disconnect".
			derr = diameter.Errorf(diameter.NoCommonApplication, "no application in common: peer advertised %v", caps.apps)
		}
	}
	if derr != nil {
		c.logger().Info("diameter CER rejected", zap.String("origin_host", caps.host), zap.Uint32("code", uint32(derr.Code)), zap.Error(derr.Err))
		_ = c.send(n.buildCEA(h, derr, local))
		c.lingerClose(fmt.Errorf("capabilities exchange: %w", derr))
		return
	}
	// Hold the write lock across admission and the CEA, so that no request routed to the
	// newly open connection reaches the peer before its CEA.
	c.wmu.Lock()
	ok, victims := n.admit(c, caps, common)
	de := &diameter.Error{Code: diameter.Success}
	if !ok {
		de = diameter.Errorf(diameter.ElectionLost, "another connection with %s is kept (RFC 6733 §5.6.4)", caps.host)
	}
	cea, err := encode(n.buildCEA(h, de, local))
	if err == nil {
		err = c.writeLocked(cea)
	}
	c.wmu.Unlock()
	for _, v := range victims {
		v.shutdown(fmt.Errorf("%w: another connection with %s was kept", ErrElectionLost, caps.host))
	}
	switch {
	case err != nil:
		c.shutdown(fmt.Errorf("write CEA: %w", err))
	case !ok:
		c.logger().Info("diameter connection refused: election lost", zap.String("origin_host", caps.host))
		c.lingerClose(ErrElectionLost)
	default:
		c.markOpen()
	}
}

// markOpen finishes a successful capabilities exchange: the supervisor starts the watchdog.
func (c *conn) markOpen() {
	c.openOnce.Do(func() {
		c.mu.Lock()
		caps := c.peer
		apps := make([]uint32, 0, len(c.common))
		for _, a := range c.common {
			apps = append(apps, a.ID)
		}
		c.mu.Unlock()
		close(c.opened)
		c.logger().Info("diameter peer up", zap.String("realm", caps.realm), zap.Bool("dialled", c.dialled),
			zap.Uint32s("applications", apps), zap.String("product", caps.product), zap.Uint32("origin_state_id", caps.stateID))
		c.n.obs.Observe(Event{Kind: EventPeerUp, Peer: caps.host})
	})
}

// handshake is the initiator side of the capabilities exchange (RFC 6733 §5.3).
func (c *conn) handshake(ctx context.Context) error {
	n := c.n
	processed := make(chan struct{})
	defer close(processed) // the reader waits for this before it reads the frame after the CEA
	ans, err := c.exchangeThen(ctx, n.buildCER(c.localAddr()), processed)
	if err != nil {
		return fmt.Errorf("capabilities exchange with %s: %w", c.remote, err)
	}
	caps, derr := parseCapabilities(ans)
	if derr == nil {
		// Known even from a refusal (4003 after an election): the dialler then waits for the
		// connection the peer kept instead of dialling again.
		c.mu.Lock()
		c.announced = caps.host
		c.mu.Unlock()
	}
	code, _, _ := resultOf(ans)
	if diameter.ResultCode(code) != diameter.Success {
		reason, _ := avpString(findAVP(ans.AVP, avpErrorMessage))
		return &CapabilitiesError{Address: c.remote, Code: diameter.ResultCode(code), Reason: reason}
	}
	if derr != nil {
		return &CapabilitiesError{Address: c.remote, Code: derr.Code, Reason: derr.Err.Error()}
	}
	switch {
	case c.expect.Host != "" && caps.host != c.expect.Host:
		return &CapabilitiesError{Address: c.remote, Code: diameter.UnknownPeer,
			Reason: fmt.Sprintf("peer announced Origin-Host %s, expected %s", caps.host, c.expect.Host)}
	case c.expect.Realm != "" && caps.realm != c.expect.Realm:
		return &CapabilitiesError{Address: c.remote, Code: diameter.UnknownPeer,
			Reason: fmt.Sprintf("peer announced Origin-Realm %s, expected %s", caps.realm, c.expect.Realm)}
	case caps.host == n.cfg.OriginHost:
		return &CapabilitiesError{Address: c.remote, Code: diameter.UnableToComply, Reason: "peer announces our own Origin-Host"}
	}
	common := commonApplications(n.cfg.Applications, caps.apps)
	if len(common) == 0 {
		return &CapabilitiesError{Address: c.remote, Code: diameter.NoCommonApplication,
			Reason: fmt.Sprintf("no application in common: peer advertised %v", caps.apps)}
	}
	ok, victims := n.admit(c, caps, common)
	for _, v := range victims {
		v.shutdown(fmt.Errorf("%w: another connection with %s was kept", ErrElectionLost, caps.host))
	}
	if !ok {
		return fmt.Errorf("connection to %s (%s): %w", caps.host, c.remote, ErrElectionLost)
	}
	c.markOpen()
	return nil
}

// startInternal sends a base protocol request (CER, DWR, DPR) and returns where its answer will
// be delivered. Internal requests are allowed in every state but Closed.
func (c *conn) startInternal(m *diam.Message) (uint32, <-chan result, error) {
	return c.startInternalThen(m, nil)
}

// startInternalThen is startInternal with the pending.processed hand-back of the answer.
func (c *conn) startInternalThen(m *diam.Message, processed chan struct{}) (uint32, <-chan result, error) {
	hbh := c.hbh.Add(1)
	e2e := c.n.nextEndToEnd()
	m.Header.HopByHopID, m.Header.EndToEndID = hbh, e2e
	frame, err := encode(m)
	if err != nil {
		return 0, nil, err
	}
	p := &pending{e2e: e2e, internal: true, ch: make(chan result, 1), processed: processed}
	c.mu.Lock()
	if c.pending == nil {
		c.mu.Unlock()
		return 0, nil, fmt.Errorf("%w: connection closed", ErrConnectionLost)
	}
	c.pending[hbh] = p
	c.mu.Unlock()
	if err := c.write(frame); err != nil {
		c.shutdown(fmt.Errorf("write: %w", err)) // delivers the failure to p
	} else {
		c.debugMessage("diameter message out", parseHeader(frame), "")
	}
	return hbh, p.ch, nil
}

// exchange sends a base protocol request and waits for its answer.
func (c *conn) exchange(ctx context.Context, m *diam.Message) (*diam.Message, error) {
	return c.exchangeThen(ctx, m, nil)
}

// exchangeThen is exchange for a caller that closes processed once it has acted on the answer.
func (c *conn) exchangeThen(ctx context.Context, m *diam.Message, processed chan struct{}) (*diam.Message, error) {
	hbh, ch, err := c.startInternalThen(m, processed)
	if err != nil {
		return nil, err
	}
	select {
	case r := <-ch:
		return c.decodeAnswer(r)
	case <-ctx.Done():
		c.remove(hbh)
		return nil, ctx.Err()
	}
}

// decodeAnswer decodes the answer frame a waiter got, in the waiter's goroutine.
func (c *conn) decodeAnswer(r result) (*diam.Message, error) {
	if r.err != nil {
		return nil, r.err
	}
	m, derr := decodeMessage(r.frame, c.n.cfg.Dictionary)
	if derr != nil {
		c.logger().Warn("diameter answer does not decode", zap.Uint32("command", parseHeader(r.frame).code), zap.Error(derr))
		return nil, fmt.Errorf("%w: %w", ErrMalformedAnswer, derr)
	}
	return m, nil
}

// errNotOpen: the connection left StateOpen between routing and sending; nothing was sent.
var errNotOpen = fmt.Errorf("%w: connection no longer open", ErrConnectionLost)

// roundTrip sends an application request frame with a fresh Hop-by-Hop Identifier and waits
// for the answer; on ctx's end the pending entry is removed.
func (c *conn) roundTrip(ctx context.Context, frame []byte, e2e uint32) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err // out of time before a (re)transmission: send nothing
	}
	hbh := c.hbh.Add(1)
	putUint32(frame[12:16], hbh)
	p := &pending{e2e: e2e, ch: make(chan result, 1)}
	c.mu.Lock()
	if c.state != StateOpen {
		c.mu.Unlock()
		return nil, errNotOpen
	}
	if c.unresponsive {
		// Out of routing (watchdog.go): only the probe, one at a time, once the wait is over.
		if c.probeOut || time.Now().Before(c.benchUntil) {
			c.mu.Unlock()
			return nil, errNotOpen
		}
		c.probeOut, c.probeHbH = true, hbh
	}
	c.pending[hbh] = p
	c.outgoing.add()
	c.mu.Unlock()
	if err := c.write(frame); err != nil {
		c.shutdown(fmt.Errorf("write: %w", err)) // fails p with ErrConnectionLost
	}
	select {
	case r := <-p.ch:
		return r.frame, r.err
	case <-ctx.Done():
		c.remove(hbh)
		select {
		case r := <-p.ch: // delivered while we were giving up
			return r.frame, r.err
		default:
		}
		// From here on an answer with this Hop-by-Hop Identifier finds nothing pending and is dropped
		// (handleAnswer): nobody acts on the answer to a request that was already failed.
		c.gaveUp(hbh, errors.Is(ctx.Err(), context.DeadlineExceeded))
		return nil, ctx.Err()
	}
}

func putUint32(b []byte, v uint32) {
	b[0], b[1], b[2], b[3] = byte(v>>24), byte(v>>16), byte(v>>8), byte(v)
}

// serve runs a request's handler (run) on a worker goroutine (n.workers), within the node's concurrency bound, and writes
// the answer it returns. req, when decoded, or else frame is what a DIAMETER_TOO_BUSY answer is built from;
// sid names the request in debug lines.
func (c *conn) serve(h header, req *diam.Message, frame []byte, sid string, run func(ctx context.Context, from PeerInfo) ([]byte, uint32)) {
	n := c.n
	select {
	case n.sem <- struct{}{}:
	default:
		// Queuing would stall the reader, and with it DWA and answers to our own requests.
		c.reject(h, req, frame, diameter.Errorf(diameter.TooBusy, "%d requests already in progress", cap(n.sem)))
		return
	}
	c.incoming.add()
	from := *c.info.Load()
	n.obs.Observe(Event{Kind: EventRequestReceived, Peer: from.OriginHost, AppID: h.app, Command: h.code})
	n.wg.Add(1)
	if !n.workers.Go(func() {
		defer func() {
			<-n.sem
			c.incoming.done()
			n.wg.Done()
		}()
		ans, code := run(c.ctx, from)
		if err := c.write(ans); err != nil {
			c.logger().Debug("diameter answer not sent", zap.Uint32("command", h.code), zap.Error(err))
			c.shutdown(fmt.Errorf("write: %w", err))
			return
		}
		c.debugMessage("diameter message out", parseHeader(ans), sid)
		n.obs.Observe(Event{Kind: EventAnswerSent, Peer: from.OriginHost, AppID: h.app, Command: h.code, Result: code})
	}) {
		// The pool closes only after every goroutine of the node (this reader's too) has returned.
		<-n.sem
		c.incoming.done()
		n.wg.Done()
	}
}

// handleDPR answers the peer's Disconnect-Peer-Request (RFC 6733 §5.4) and closes the
// connection once the answers in flight in both directions are through (bounded by
// RequestTimeout). The cause decides when a dialled peer is redialled.
func (c *conn) handleDPR(h header, req *diam.Message) {
	cause := causeRebooting
	if v, ok := avpUint32(findAVP(req.AVP, avpDisconnectCause)); ok {
		cause = disconnectCause(v)
	}
	c.mu.Lock()
	c.peerCause = cause
	st := c.state
	if st == StateOpen || st == StateSuspect {
		c.state, c.since = StateClosing, time.Now()
	}
	c.mu.Unlock()
	c.n.refresh()
	c.logger().Info("diameter peer sent DPR", zap.Stringer("cause", cause))
	_ = c.send(c.n.baseAnswer(h, false))
	if st != StateOpen && st != StateSuspect {
		return // we are disconnecting too; that disconnection closes the connection
	}
	c.n.wg.Go(func() {
		ctx, cancel := context.WithTimeout(context.Background(), c.n.cfg.RequestTimeout)
		defer cancel()
		c.outgoing.wait(ctx)
		c.incoming.wait(ctx)
		c.shutdown(fmt.Errorf("%w (Disconnect-Cause %s)", ErrPeerDisconnected, cause))
	})
}

// disconnect is the local side of RFC 6733 §5.4: no new requests; the answers to ours in
// flight arrive; DPR; DPA (or ctx's end); our answers to the peer's requests are written;
// close. Concurrent calls wait for the first.
func (c *conn) disconnect(ctx context.Context, cause disconnectCause) {
	c.mu.Lock()
	switch c.state {
	case StateOpen, StateSuspect:
		c.state, c.since = StateClosing, time.Now()
		c.mu.Unlock()
		c.n.refresh()
	case StateClosing:
		c.mu.Unlock()
		select {
		case <-c.closed:
		case <-ctx.Done():
		}
		return
	case StateClosed:
		c.mu.Unlock()
		return
	default:
		c.mu.Unlock()
		c.shutdown(ErrClosed)
		return
	}
	c.outgoing.wait(ctx)
	dpr := diam.NewRequest(cmdDisconnectPeer, 0, c.n.cfg.Dictionary)
	dpr.AddAVP(newAVP(avpOriginHost, avp.Mbit, datatype.DiameterIdentity(c.n.cfg.OriginHost)))
	dpr.AddAVP(newAVP(avpOriginRealm, avp.Mbit, datatype.DiameterIdentity(c.n.cfg.OriginRealm)))
	dpr.AddAVP(newAVP(avpDisconnectCause, avp.Mbit, datatype.Enumerated(cause)))
	// RFC 6733 §5.4 sets no timer for the DPA. A peer that never answers (Kamailio 5.6 does not) must not
	// turn a clean stop into a failed one: wait a request timeout at most, and never more than half of what
	// is left of ctx, so that the connection is still closed in time.
	wait := c.n.cfg.RequestTimeout
	if dl, ok := ctx.Deadline(); ok {
		wait = min(wait, time.Until(dl)/2)
	}
	dctx, cancel := context.WithTimeout(ctx, wait)
	_, err := c.exchange(dctx, dpr)
	cancel()
	if err != nil {
		c.logger().Info("diameter DPR not answered, closing anyway", zap.Duration("waited", wait), zap.Error(err))
	}
	c.incoming.wait(ctx)
	c.shutdown(fmt.Errorf("disconnected by this node (Disconnect-Cause %s)", cause))
}

// baseAnswer is a DWA (RFC 6733 §5.5.2, with Origin-State-Id) or DPA (§5.4.2) with DIAMETER_SUCCESS.
func (n *Node) baseAnswer(h header, withStateID bool) *diam.Message {
	m := diam.NewMessage(h.code, 0, h.app, h.hbh, h.e2e, n.cfg.Dictionary)
	m.Header.HopByHopID, m.Header.EndToEndID = h.hbh, h.e2e
	m.AddAVP(newAVP(avpResultCode, avp.Mbit, datatype.Unsigned32(diameter.Success)))
	m.AddAVP(newAVP(avpOriginHost, avp.Mbit, datatype.DiameterIdentity(n.cfg.OriginHost)))
	m.AddAVP(newAVP(avpOriginRealm, avp.Mbit, datatype.DiameterIdentity(n.cfg.OriginRealm)))
	if withStateID {
		m.AddAVP(newAVP(avpOriginStateID, avp.Mbit, datatype.Unsigned32(n.stateID)))
	}
	return m
}
