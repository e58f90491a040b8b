package peer

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"slices"
	"time"

	"github.com/fiorix/go-diameter/v4/diam"
	"github.com/fiorix/go-diameter/v4/diam/avp"
	"github.com/fiorix/go-diameter/v4/diam/datatype"
	"go.uber.org/zap"

	"github.com/imscore/imscore/diameter"
	"github.com/imscore/imscore/internal/logging"
)

// route is what a request is routed by.
type route struct {
	app, code   uint32
	host, realm string // Destination-Host, Destination-Realm
}

// Request sends req to a peer and returns its answer, whatever its Result-Code.
//
// The peer is chosen among open connections that negotiated req's Application-Id: the one
// whose Origin-Host is req's Destination-Host if it is open; else, when req names no
// Destination-Host, those in req's Destination-Realm (or any, when req names no realm).
// A Destination-Host or Destination-Realm that no direct peer matches is reached only through
// a peer that advertised the Relay application (RFC 6733 §6.1); without one, ErrNoPeer.
// Equal candidates take turns.
//
// req is not modified: the message sent carries a fresh End-to-End Identifier (RFC 6733 §3),
// a Hop-by-Hop Identifier of the connection, and Origin-Host/Origin-Realm if req has none.
// If the connection is lost (or its watchdog turns SUSPECT) before the answer, the request is
// sent once more, on another peer, with the 'T' flag and the same End-to-End Identifier
// (RFC 6733 §5.5.4); a Destination-Host naming the lost peer then falls back to its realm.
//
// The whole exchange, failover included, is bounded by ctx and Config.RequestTimeout
// (ErrTimeout). Other errors: ErrNoPeer, ErrConnectionLost, ErrMalformedAnswer, ErrClosed.
func (n *Node) Request(ctx context.Context, req *diam.Message) (*diam.Message, error) {
	if req == nil || req.Header == nil {
		return nil, fmt.Errorf("diameter request: %w: nil message", ErrNotRequest)
	}
	if req.Header.CommandFlags&flagRequest == 0 {
		return nil, fmt.Errorf("diameter request %d: %w", req.Header.CommandCode, ErrNotRequest)
	}
	if n.isClosing() {
		return nil, ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("diameter request %d: %w", req.Header.CommandCode, err)
	}
	frame, rt, err := n.prepare(req)
	if err != nil {
		return nil, fmt.Errorf("diameter request %d: %w", req.Header.CommandCode, err)
	}
	var ans *diam.Message
	_, err = n.exchange(ctx, frame, rt, func(b []byte) error {
		m, derr := decodeMessage(b, n.cfg.Dictionary)
		if derr != nil {
			n.log.Warn("diameter answer does not decode", zap.Uint32("command", req.Header.CommandCode), zap.Error(derr))
			return fmt.Errorf("%w: %w", ErrMalformedAnswer, derr)
		}
		ans = m
		return nil
	})
	if err != nil {
		return nil, err
	}
	return ans, nil
}

// RequestBinary is Request for a request already in wire form (RFC 6733 §3), as cx's
// AppendBinary writes it, and returns the answer frame as received for the caller to decode
// (cx's UnmarshalBinary checks every bound and AVP rule itself): no go-diameter message is built
// either way. req must be a whole request ('R' set, Message Length its length); it is copied, so
// the caller may reuse it at once. Hop-by-Hop and End-to-End Identifiers are set here; an
// Origin-Host or Origin-Realm req lacks is added. The answer's header has been checked (a frame,
// version 1, matching identifiers); its AVPs have not.
func (n *Node) RequestBinary(ctx context.Context, req []byte) ([]byte, error) {
	if n.isClosing() {
		return nil, ErrClosed
	}
	frame, rt, err := n.prepareBinary(req)
	if err != nil {
		return nil, fmt.Errorf("diameter request: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("diameter request %d: %w", rt.code, err)
	}
	return n.exchange(ctx, frame, rt, nil)
}

// exchange sends an encoded request and waits for its answer frame, reporting the outcome to
// the Observer. check, when set, judges the answer before it counts as received.
func (n *Node) exchange(ctx context.Context, frame []byte, rt route, check func([]byte) error) ([]byte, error) {
	h := parseHeader(frame)
	start := time.Now()
	// A caller whose own deadline comes first needs no timer of ours (one per request otherwise).
	if dl, ok := ctx.Deadline(); !ok || dl.Sub(start) > n.cfg.RequestTimeout {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, n.cfg.RequestTimeout, ErrTimeout)
		defer cancel()
	}
	ans, peer, err := n.send(ctx, frame, h, rt)
	if err == nil && check != nil {
		err = check(ans)
	}
	if err != nil {
		if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
			err = ctxError(ctx, n.cfg.RequestTimeout)
		}
		err = fmt.Errorf("diameter request %d (session %q): %w", h.code, rawSessionID(frame), err)
		n.obs.Observe(Event{Kind: EventRequestFailed, Peer: peer, AppID: h.app, Command: h.code, Err: err})
		return nil, err
	}
	code, _, _ := rawResult(ans)
	n.obs.Observe(Event{Kind: EventAnswerReceived, Peer: peer, AppID: h.app, Command: h.code, Result: code, Latency: time.Since(start)})
	return ans, nil
}

// send transmits frame on the chosen peer, failing over once. It returns the peer last used.
func (n *Node) send(ctx context.Context, frame []byte, h header, rt route) ([]byte, string, error) {
	var tried []*conn
	var lost error
	for {
		c := n.pick(rt, tried, lost != nil)
		if c == nil {
			if lost != nil {
				return nil, "", lost
			}
			return nil, "", fmt.Errorf("%w: application %d, Destination-Host %q, Destination-Realm %q", ErrNoPeer, rt.app, rt.host, rt.realm)
		}
		tried = append(tried, c)
		if lost != nil {
			// RFC 6733 §5.5.4: retransmitted "with the T flag set", same End-to-End Identifier.
			frame[4] |= flagRetransmit
			c.logger().Info("diameter request failed over", zap.Uint32("command", h.code), zap.Uint32("e2e", h.e2e), zap.Error(lost))
			n.obs.Observe(Event{Kind: EventFailover, Peer: c.peer.host, AppID: h.app, Command: h.code, Err: lost})
		}
		n.obs.Observe(Event{Kind: EventRequestSent, Peer: c.peer.host, AppID: h.app, Command: h.code})
		ans, err := c.roundTrip(ctx, frame, h.e2e)
		switch {
		case err == nil:
			return ans, c.peer.host, nil
		case errors.Is(err, errNotOpen):
			continue // nothing was sent: choose again, no retransmission flag
		case errors.Is(err, ErrConnectionLost) && lost == nil:
			lost = err
			continue
		default:
			return nil, c.peer.host, err
		}
	}
}

// ctxError explains why ctx ended: our own timeout, or the caller's context.
func ctxError(ctx context.Context, timeout time.Duration) error {
	if cause := context.Cause(ctx); errors.Is(cause, ErrTimeout) {
		return fmt.Errorf("%w (%v): %w", ErrTimeout, timeout, context.DeadlineExceeded)
	}
	return ctx.Err()
}

// prepare copies req with the header and AVPs this node must set, encodes it and reads its route.
func (n *Node) prepare(req *diam.Message) ([]byte, route, error) {
	m := *req
	h := *req.Header
	m.Header = &h
	h.Version = diameterVersion
	h.CommandFlags = h.CommandFlags&^(flagRetransmit|flagError|flagsReserved) | flagRequest
	h.EndToEndID = n.nextEndToEnd()
	h.HopByHopID = 0 // set per connection
	if findAVP(req.AVP, avpOriginHost) == nil || findAVP(req.AVP, avpOriginRealm) == nil {
		m.AVP = slices.Clone(req.AVP)
		if findAVP(req.AVP, avpOriginHost) == nil {
			m.AVP = append(m.AVP, newAVP(avpOriginHost, avp.Mbit, datatype.DiameterIdentity(n.cfg.OriginHost)))
		}
		if findAVP(req.AVP, avpOriginRealm) == nil {
			m.AVP = append(m.AVP, newAVP(avpOriginRealm, avp.Mbit, datatype.DiameterIdentity(n.cfg.OriginRealm)))
		}
	}
	frame, err := encode(&m)
	if err != nil {
		return nil, route{}, err
	}
	rt := route{app: h.ApplicationID, code: h.CommandCode}
	rt.host, _ = avpString(findAVP(req.AVP, avpDestinationHost))
	rt.realm, _ = avpString(findAVP(req.AVP, avpDestinationRealm))
	return frame, rt, nil
}

// pick chooses an open connection for rt, skipping those already tried.
func (n *Node) pick(rt route, tried []*conn, failover bool) *conn {
	open := n.open.Load()
	if open == nil {
		return nil
	}
	usable := func(c *conn) bool { return c.supports(rt.app) && !slices.Contains(tried, c) && c.routable() }
	// RFC 6733 §6.1.4–6.1.6: a request for a host we are not connected to, or for a realm none
	// of our peers belongs to, may only leave through a relay (or proxy) agent, which advertises
	// the Relay application. Sending it to another direct peer would hand, say, an HSS's RTR for
	// one S-CSCF to a different S-CSCF or to the I-CSCF, which shares the realm. A request
	// whose connection was lost before the answer is the exception: RFC 6733 §5.5.4 resends it
	// to an alternate peer, which for a host gone mid-request is another one of its realm.
	relayOnly := false
	if rt.host != "" {
		for _, c := range *open {
			if c.peer.host == rt.host && usable(c) {
				return c
			}
		}
		relayOnly = !failover
	}
	var buf [16]*conn
	candidates := buf[:0]
	add := func(match func(*conn) bool) {
		for _, c := range *open {
			if usable(c) && match(c) && (!relayOnly || c.isRelay()) {
				candidates = append(candidates, c)
			}
		}
	}
	if rt.realm != "" {
		add(func(c *conn) bool { return c.peer.realm == rt.realm })
		if len(candidates) == 0 {
			relayOnly = true
			add(func(*conn) bool { return true })
		}
	} else {
		add(func(*conn) bool { return true })
	}
	if len(candidates) == 0 {
		return nil
	}
	return candidates[n.rr.Add(1)%uint32(len(candidates))]
}

// handle runs the Handler and returns the encoded answer and its result code. This is the one
// place where handler errors become answers and are logged.
func (n *Node) handle(ctx context.Context, req *diam.Message, from PeerInfo, log *zap.Logger) ([]byte, uint32) {
	h := header{version: diameterVersion, flags: req.Header.CommandFlags, code: req.Header.CommandCode,
		app: req.Header.ApplicationID, hbh: req.Header.HopByHopID, e2e: req.Header.EndToEndID}
	sid := sessionIDOf(req)
	log = log.With(logging.SessionID(sid))
	return n.encodeAnswer(h, req, nil, n.callHandler(ctx, req, from, h, log), log)
}

// encodeAnswer serialises an answer to req (or, when req did not decode, to frame); one that cannot be is
// answered DIAMETER_UNABLE_TO_COMPLY. It returns the frame and its Result-Code.
func (n *Node) encodeAnswer(h header, req *diam.Message, frame []byte, ans *diam.Message, log *zap.Logger) ([]byte, uint32) {
	out, err := encode(ans)
	if err != nil {
		log.Error("diameter handler answer cannot be encoded", zap.Uint32("command", h.code), zap.Error(err))
		ans = n.errorAnswer(h, req, frame, &diameter.Error{Code: diameter.UnableToComply}, "")
		out, _ = encode(ans) // built from known-good parts
	}
	code, _, _ := resultOf(ans)
	return out, code
}

func (n *Node) callHandler(ctx context.Context, req *diam.Message, from PeerInfo, h header, log *zap.Logger) (ans *diam.Message) {
	defer func() {
		if r := recover(); r != nil {
			log.Error("diameter handler panic", zap.Uint32("command", h.code), zap.Any("panic", r), zap.ByteString("stack", debug.Stack()))
			ans = n.errorAnswer(h, req, nil, &diameter.Error{Code: diameter.UnableToComply}, "")
		}
	}()
	a, err := n.handler.ServeDiameter(ctx, req, from)
	if err != nil {
		return n.answerError(h, req, nil, err, log)
	}
	if a == nil {
		log.Warn("diameter handler returned neither answer nor error", zap.Uint32("command", h.code))
		return n.errorAnswer(h, req, nil, &diameter.Error{Code: diameter.UnableToComply}, "")
	}
	n.finishAnswer(req, a)
	return a
}

// answerError logs a handler's error once and answers it: its *diameter.Error, else
// DIAMETER_UNABLE_TO_COMPLY.
func (n *Node) answerError(h header, req *diam.Message, frame []byte, err error, log *zap.Logger) *diam.Message {
	de := asDiameterError(err)
	if de.Code == diameter.UnableToComply && de.VendorID == 0 {
		log.Warn("diameter handler failed", zap.Uint32("command", h.code), zap.Error(err))
	} else {
		log.Debug("diameter handler answered an error", zap.Uint32("command", h.code),
			zap.Uint32("code", uint32(de.Code)), zap.Uint32("vendor", de.VendorID), zap.Error(err))
	}
	return n.errorAnswer(h, req, frame, de, "")
}

// buildDWR is the Device-Watchdog-Request, RFC 6733 §5.5.1.
func (n *Node) buildDWR() *diam.Message {
	m := diam.NewRequest(cmdDeviceWatchdog, 0, n.cfg.Dictionary)
	m.AddAVP(newAVP(avpOriginHost, avp.Mbit, datatype.DiameterIdentity(n.cfg.OriginHost)))
	m.AddAVP(newAVP(avpOriginRealm, avp.Mbit, datatype.DiameterIdentity(n.cfg.OriginRealm)))
	m.AddAVP(newAVP(avpOriginStateID, avp.Mbit, datatype.Unsigned32(n.stateID)))
	return m
}
