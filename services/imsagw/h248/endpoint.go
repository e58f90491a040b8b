package h248

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"sync"
	"time"

	"go.uber.org/zap"
)

// Transport defaults (H.248.1 Annex D.1.3 leaves the values to the implementation; these suit a LAN between
// the P-CSCF and its AGW).
const (
	// DefaultInitialRetransmit is the first retransmission interval of a request; it doubles up to
	// DefaultMaxRetransmit.
	DefaultInitialRetransmit = 500 * time.Millisecond
	DefaultMaxRetransmit     = 4 * time.Second
	// DefaultLongTimer is how long a request is retransmitted before it fails, and how long a receiver
	// keeps a reply to answer a retransmitted request with it (Annex D.1.4 "LONG-TIMER").
	DefaultLongTimer = 30 * time.Second
	// DefaultMaxInFlight bounds the requests served at once; beyond it a request is answered with error
	// 510 "Insufficient resources" (H.248.8).
	DefaultMaxInFlight = 256
)

// Error codes this endpoint answers with (H.248.8 §3).
const (
	ErrCodeSyntax        = 400 // Syntax error in message
	ErrCodeInsufficient  = 510 // Insufficient resources
	ErrCodeInternalError = 500 // Internal software failure in the MG
)

// Handler serves one transaction request: it returns the Context nodes of the reply (one per action) or an
// *Error for the whole transaction. It runs on its own goroutine per request, bounded by MaxInFlight.
type Handler func(ctx context.Context, from netip.AddrPort, req Transaction) ([]*Node, error)

// EndpointConfig configures an Endpoint.
type EndpointConfig struct {
	// Listen is the local UDP address; MID the mId written in every message sent ("[addr]:port" or
	// "<name>:port").
	Listen netip.AddrPort
	MID    string
	// Peers are the addresses requests are accepted from (the trust boundary of the Iq interface, TS 29.334
	// §5.13); a request from elsewhere is dropped with a log line.
	Peers []netip.Addr
	// Retransmission and reply keeping, defaults above.
	InitialRetransmit time.Duration
	MaxRetransmit     time.Duration
	LongTimer         time.Duration
	MaxInFlight       int
}

// Endpoint is one side of an H.248 control association over UDP (H.248.1 Annex D.1): it sends requests and
// retransmits them until a reply, and serves requests with a Handler, answering retransmissions from the
// replies it keeps and with TransactionPending while the first copy is being served.
type Endpoint struct {
	cfg     EndpointConfig
	conn    *net.UDPConn
	handler Handler
	log     *zap.Logger

	mu       sync.Mutex
	nextTID  uint32
	waiting  map[uint32]*outgoing
	served   map[servedKey]*served
	inFlight int
}

type outgoing struct {
	to      netip.AddrPort
	reply   chan Transaction
	pending chan struct{}
}

type servedKey struct {
	from netip.AddrPort
	tid  uint32
}

// served is a request received: in progress (reply nil) or answered (reply kept until expires).
type served struct {
	reply   []byte
	expires time.Time
}

// Listen opens the endpoint's socket. Run must be called to receive.
func Listen(cfg EndpointConfig, h Handler, log *zap.Logger) (*Endpoint, error) {
	if log == nil {
		log = zap.NewNop()
	}
	if cfg.InitialRetransmit <= 0 {
		cfg.InitialRetransmit = DefaultInitialRetransmit
	}
	if cfg.MaxRetransmit <= 0 {
		cfg.MaxRetransmit = DefaultMaxRetransmit
	}
	if cfg.LongTimer <= 0 {
		cfg.LongTimer = DefaultLongTimer
	}
	if cfg.MaxInFlight <= 0 {
		cfg.MaxInFlight = DefaultMaxInFlight
	}
	conn, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(cfg.Listen))
	if err != nil {
		return nil, fmt.Errorf("h248: listen %s: %w", cfg.Listen, err)
	}
	if cfg.MID == "" {
		ap := netip.MustParseAddrPort(conn.LocalAddr().String())
		cfg.MID = "[" + ap.Addr().String() + "]:" + fmt.Sprint(ap.Port())
	}
	return &Endpoint{cfg: cfg, conn: conn, handler: h, log: log, nextTID: 1,
		waiting: map[uint32]*outgoing{}, served: map[servedKey]*served{}}, nil
}

// Addr is the local address.
func (e *Endpoint) Addr() netip.AddrPort { return netip.MustParseAddrPort(e.conn.LocalAddr().String()) }

// Close releases the socket of an endpoint whose Run was never called (Run closes it when ctx ends).
func (e *Endpoint) Close() { _ = e.conn.Close() }

// Run receives until ctx ends, then closes the socket. Request handlers it started are waited for.
func (e *Endpoint) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	stop := context.AfterFunc(ctx, func() { _ = e.conn.Close() })
	defer stop()
	sweep := time.NewTicker(e.cfg.LongTimer / 4)
	defer sweep.Stop()
	buf := make([]byte, MaxMessageSize)
	for {
		n, from, err := e.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			wg.Wait()
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("h248: read: %w", err)
		}
		select {
		case <-sweep.C:
			e.sweepServed(time.Now())
		default:
		}
		from = netip.AddrPortFrom(from.Addr().Unmap(), from.Port())
		e.receive(ctx, &wg, from, slices.Clone(buf[:n]))
	}
}

func (e *Endpoint) receive(ctx context.Context, wg *sync.WaitGroup, from netip.AddrPort, b []byte) {
	m, err := Parse(b)
	if err != nil {
		e.log.Warn("H.248 message refused", zap.Stringer("from", from), zap.Error(err))
		if e.trusted(from.Addr()) {
			e.send(from, []*Node{ErrorDescriptor(ErrCodeSyntax, "Syntax error in message")})
		}
		return
	}
	ts, err := Transactions(m)
	if err != nil {
		e.log.Warn("H.248 message refused", zap.Stringer("from", from), zap.String("mid", m.MID), zap.Error(err))
		return
	}
	for _, t := range ts {
		switch t.Kind {
		case KindReply, KindPending:
			e.answer(from, t)
		case KindRequest:
			e.serve(ctx, wg, from, t)
		}
	}
}

// answer delivers a reply or pending to the request waiting for it, if it went to from.
func (e *Endpoint) answer(from netip.AddrPort, t Transaction) {
	e.mu.Lock()
	o := e.waiting[t.ID]
	e.mu.Unlock()
	if o == nil || o.to != from {
		e.log.Debug("H.248 reply to no request of ours", zap.Stringer("from", from), zap.Uint32("transaction", t.ID))
		return
	}
	ch := o.reply
	if t.Kind == KindPending {
		select {
		case o.pending <- struct{}{}:
		default:
		}
		return
	}
	select {
	case ch <- t:
	default: // a duplicate reply
	}
}

func (e *Endpoint) trusted(a netip.Addr) bool {
	return slices.Contains(e.cfg.Peers, a)
}

// serve runs the handler once per transaction: a retransmitted request gets the kept reply, or
// TransactionPending while the first copy is in progress (H.248.1 §8.2.3, Annex D.1.4).
func (e *Endpoint) serve(ctx context.Context, wg *sync.WaitGroup, from netip.AddrPort, t Transaction) {
	if !e.trusted(from.Addr()) {
		e.log.Warn("H.248 request from an address that is not a configured peer, dropped",
			zap.Stringer("from", from), zap.Uint32("transaction", t.ID))
		return
	}
	k := servedKey{from: from, tid: t.ID}
	e.mu.Lock()
	if s, ok := e.served[k]; ok {
		reply := s.reply
		e.mu.Unlock()
		if reply == nil {
			e.send(from, []*Node{Pending(t.ID)})
		} else {
			_, _ = e.conn.WriteToUDPAddrPort(reply, from)
		}
		return
	}
	if e.inFlight >= e.cfg.MaxInFlight {
		e.mu.Unlock()
		e.log.Warn("H.248 request refused: too many in progress", zap.Stringer("from", from),
			zap.Uint32("transaction", t.ID), zap.Int("in_flight", e.cfg.MaxInFlight))
		e.send(from, []*Node{ErrorReply(t.ID, ErrCodeInsufficient, "Insufficient resources")})
		return
	}
	e.inFlight++
	e.served[k] = &served{}
	e.mu.Unlock()
	wg.Add(1)
	go func() {
		defer wg.Done()
		reply := e.runHandler(ctx, from, t)
		b := e.encode([]*Node{reply})
		e.mu.Lock()
		e.inFlight--
		e.served[k] = &served{reply: b, expires: time.Now().Add(e.cfg.LongTimer)}
		e.mu.Unlock()
		if _, err := e.conn.WriteToUDPAddrPort(b, from); err != nil && ctx.Err() == nil {
			e.log.Warn("H.248 reply not sent", zap.Stringer("to", from), zap.Uint32("transaction", t.ID), zap.Error(err))
		}
	}()
}

func (e *Endpoint) runHandler(ctx context.Context, from netip.AddrPort, t Transaction) (reply *Node) {
	defer func() {
		if r := recover(); r != nil {
			e.log.Error("H.248 handler panicked", zap.Stringer("from", from), zap.Uint32("transaction", t.ID), zap.Any("panic", r))
			reply = ErrorReply(t.ID, ErrCodeInternalError, "Internal software failure")
		}
	}()
	actions, err := e.handler(ctx, from, t)
	var he *Error
	switch {
	case errors.As(err, &he):
		return ErrorReply(t.ID, he.Code, he.Text)
	case err != nil:
		e.log.Warn("H.248 request failed", zap.Stringer("from", from), zap.Uint32("transaction", t.ID), zap.Error(err))
		return ErrorReply(t.ID, ErrCodeInternalError, "Internal software failure")
	}
	if len(actions) == 0 { // Annex B: a reply holds an error descriptor or at least one action reply
		e.log.Error("H.248 handler returned no action reply", zap.Stringer("from", from), zap.Uint32("transaction", t.ID))
		return ErrorReply(t.ID, ErrCodeInternalError, "Internal software failure")
	}
	r := Assign("Reply", fmt.Sprint(t.ID), actions...)
	r.HasBody = true
	return r
}

func (e *Endpoint) sweepServed(now time.Time) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for k, s := range e.served {
		if s.reply != nil && now.After(s.expires) {
			delete(e.served, k)
		}
	}
}

func (e *Endpoint) encode(body []*Node) []byte {
	return Encode(&Message{Version: Version, MID: e.cfg.MID, Body: body})
}

func (e *Endpoint) send(to netip.AddrPort, body []*Node) {
	if _, err := e.conn.WriteToUDPAddrPort(e.encode(body), to); err != nil {
		e.log.Debug("H.248 send failed", zap.Stringer("to", to), zap.Error(err))
	}
}

// ErrNoReply means a request was retransmitted for LongTimer without a reply.
var ErrNoReply = errors.New("h248: no reply")

// Request sends one transaction of commands on contextID to the peer and waits for its reply, retransmitting
// with exponential backoff (Annex D.1.3) and waiting without retransmitting after a TransactionPending. An
// error reply is returned as *Error.
func (e *Endpoint) Request(ctx context.Context, to netip.AddrPort, contextID string, commands ...*Node) (Transaction, error) {
	o := &outgoing{to: to, reply: make(chan Transaction, 1), pending: make(chan struct{}, 1)}
	e.mu.Lock()
	tid := e.nextTID
	e.nextTID++
	if e.nextTID == 0 {
		e.nextTID = 1 // 0 is not a transaction id in requests we send
	}
	e.waiting[tid] = o
	e.mu.Unlock()
	defer func() {
		e.mu.Lock()
		delete(e.waiting, tid)
		e.mu.Unlock()
	}()
	b := e.encode([]*Node{Request(tid, contextID, commands...)})
	deadline := time.NewTimer(e.cfg.LongTimer)
	defer deadline.Stop()
	interval := e.cfg.InitialRetransmit
	retransmit := time.NewTimer(0)
	defer retransmit.Stop()
	for {
		select {
		case <-ctx.Done():
			return Transaction{}, fmt.Errorf("h248: transaction %d to %s: %w", tid, to, ctx.Err())
		case <-deadline.C:
			return Transaction{}, fmt.Errorf("h248: transaction %d to %s: %w within %s", tid, to, ErrNoReply, e.cfg.LongTimer)
		case t := <-o.reply:
			if t.Error != nil {
				return t, t.Error
			}
			return t, nil
		case <-o.pending:
			// §8.2.3: the receiver works on it; wait the longest interval before asking again.
			retransmit.Reset(e.cfg.MaxRetransmit)
		case <-retransmit.C:
			if _, err := e.conn.WriteToUDPAddrPort(b, to); err != nil {
				return Transaction{}, fmt.Errorf("h248: transaction %d to %s: %w", tid, to, err)
			}
			retransmit.Reset(interval)
			interval = min(2*interval, e.cfg.MaxRetransmit)
		}
	}
}
