package peer

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fiorix/go-diameter/v4/diam"
	"go.uber.org/zap"

	"github.com/imscore/imscore/internal/logging"
	"github.com/imscore/imscore/internal/workers"
)

// Handler serves the requests peers send to this node.
//
// ServeDiameter is called concurrently, at most Config.MaxConcurrentRequests at a time, with
// the decoded request (already checked for header bits, application, command and AVP format)
// and the peer it came from. ctx ends when the connection closes or the node shuts down; a
// handler must return soon after.
//
// The answer is typically req.Answer(uint32(diameter.Success)) with the command's AVPs added.
// The peer layer makes it fit the request: Hop-by-Hop and End-to-End Identifiers, Command-Code
// and Application-Id copied, 'R' cleared, 'P' as in the request, the request's Session-Id first,
// Origin-Host and Origin-Realm added if missing.
//
// An error instead of an answer is turned into one: a *diameter.Error found with errors.As
// gives its Result-Code (or Experimental-Result when VendorID is set) and Failed-AVP, with the
// 'E' bit for a 3xxx code; any other error gives DIAMETER_UNABLE_TO_COMPLY (5012). The error is
// logged here, once. A panic is recovered and answered 5012.
type Handler interface {
	ServeDiameter(ctx context.Context, req *diam.Message, from PeerInfo) (*diam.Message, error)
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(ctx context.Context, req *diam.Message, from PeerInfo) (*diam.Message, error)

// ServeDiameter implements Handler.
func (f HandlerFunc) ServeDiameter(ctx context.Context, req *diam.Message, from PeerInfo) (*diam.Message, error) {
	return f(ctx, req, from)
}

// PeerState is the state of a connection with a peer: RFC 6733 §5.6 for the capabilities
// exchange and disconnection, RFC 3539 §3.4.1 for the watchdog.
type PeerState uint8

// Peer states.
const (
	// StateDown: a dialled peer without a connection, waiting to redial.
	StateDown PeerState = 1
	// StateConnecting: a dialled peer whose TCP connection is being set up.
	StateConnecting PeerState = 2
	// StateWaitCEA: CER sent, waiting for the CEA (Wait-I-CEA).
	StateWaitCEA PeerState = 3
	// StateWaitCER: connection accepted, waiting for the peer's CER.
	StateWaitCER PeerState = 4
	// StateOpen: capabilities exchanged, watchdog OKAY; requests are routed here.
	StateOpen PeerState = 5
	// StateSuspect: a DWA is overdue (RFC 3539 SUSPECT); no new requests, pending ones failed over.
	StateSuspect PeerState = 6
	// StateClosing: DPR sent or received; no new requests.
	StateClosing PeerState = 7
	// StateClosed: the connection is gone.
	StateClosed PeerState = 8
)

func (s PeerState) String() string {
	switch s {
	case StateDown:
		return "down"
	case StateConnecting:
		return "connecting"
	case StateWaitCEA:
		return "wait-cea"
	case StateWaitCER:
		return "wait-cer"
	case StateOpen:
		return "open"
	case StateSuspect:
		return "suspect"
	case StateClosing:
		return "closing"
	case StateClosed:
		return "closed"
	}
	return "unknown"
}

// PeerInfo describes a connection with a peer, or a dialled peer that has none at the moment.
type PeerInfo struct {
	// OriginHost and OriginRealm are what the peer announced in its CER or CEA; before that,
	// the expected values of its PeerConfig (if any).
	OriginHost, OriginRealm string
	// Address is the peer's transport address.
	Address string
	// State is the connection state; Since is when it was entered.
	State PeerState
	Since time.Time
	// Dialled is true for connections this node opened (Connect), false for accepted ones (Serve).
	Dialled bool
	// Applications are the applications both sides advertised.
	Applications []Application
	// OriginStateID is the peer's Origin-State-Id (RFC 6733 §8.16), 0 if it sent none.
	OriginStateID uint32
	// Unresponsive is true while the connection is out of routing because its last
	// Config.MaxConsecutiveTimeouts application requests timed out.
	Unresponsive bool
	// Roles are the peer's roles: those of the AllowedPeer its CER matched, or of its PeerConfig.
	Roles []string
}

// Node is one Diameter node: its listeners, its dialled peers and every connection with a peer.
// All methods are safe for concurrent use.
type Node struct {
	cfg     Config
	peers   []allowedPeer // Config.Peers, sources parsed
	handler Handler
	log     *zap.Logger
	obs     Observer
	stateID uint32        // Origin-State-Id, RFC 6733 §8.16
	e2e     atomic.Uint32 // last End-to-End Identifier issued
	rr      atomic.Uint32 // round-robin among equal candidates
	sem     chan struct{} // bounds handlers running at once
	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup // every goroutine the node starts
	workers *workers.Pool  // runs request handlers on goroutines whose stacks have grown already
	done    chan struct{}  // closed when every goroutine has stopped after Close
	open    atomic.Pointer[[]*conn]

	mu        sync.Mutex
	closing   bool
	conns     map[*conn]struct{}
	dialers   map[*dialer]struct{}
	listeners map[net.Listener]struct{}
	changed   chan struct{} // closed and replaced on every connection state change
}

// New validates cfg, applies the defaults and returns a Node that serves incoming requests with h.
// It starts nothing: call Serve and Connect.
func New(cfg Config, h Handler) (*Node, error) {
	if h == nil {
		return nil, fmt.Errorf("%w: Handler is nil", ErrInvalidConfig)
	}
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	peers, err := compilePeers(cfg.Peers)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	n := &Node{
		cfg:       cfg,
		peers:     peers,
		handler:   h,
		log:       cfg.Log.Named("diameter"),
		obs:       cfg.Observer,
		stateID:   uint32(now.Unix()),
		sem:       make(chan struct{}, cfg.MaxConcurrentRequests),
		done:      make(chan struct{}),
		conns:     make(map[*conn]struct{}),
		dialers:   make(map[*dialer]struct{}),
		listeners: make(map[net.Listener]struct{}),
		changed:   make(chan struct{}),
		workers:   workers.New(0, 0),
	}
	// RFC 6733 §3: End-to-End Identifier "MAY set the high order 12 bits to contain the low order
	// 12 bits of current time, and the low order 20 bits to a random value"; then it increments.
	n.e2e.Store(uint32(now.Unix())&0xfff<<20 | rand.Uint32()&0xfffff)
	n.ctx, n.cancel = context.WithCancel(context.Background())
	return n, nil
}

// Serve accepts connections on ln and runs each as a responder (the peer sends CER). It
// returns when ln fails, when ctx ends (ctx.Err()) or when Close is called (ErrClosed); it
// closes ln. When ctx ends, the connections it accepted are disconnected with DPR too.
func (n *Node) Serve(ctx context.Context, ln net.Listener) error {
	n.mu.Lock()
	if n.closing {
		n.mu.Unlock()
		ln.Close()
		return ErrClosed
	}
	n.listeners[ln] = struct{}{}
	n.mu.Unlock()
	defer func() {
		n.mu.Lock()
		delete(n.listeners, ln)
		n.mu.Unlock()
		ln.Close()
	}()
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	n.log.Info("diameter listening", zap.Stringer("addr", ln.Addr()))
	var delay time.Duration
	var lastWarn time.Time
	for {
		nc, err := ln.Accept()
		if err != nil {
			switch {
			case n.isClosing():
				return ErrClosed
			case ctx.Err() != nil:
				return ctx.Err()
			case errors.Is(err, net.ErrClosed):
				return fmt.Errorf("diameter accept on %s: %w", ln.Addr(), err)
			}
			// Out of file descriptors (EMFILE, ENFILE), a connection aborted before it was accepted, or
			// anything else a peer can cause: back off as net/http does and go on. A node never stops
			// because of what its peers did.
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			if time.Since(lastWarn) >= 10*time.Second {
				lastWarn = time.Now()
				n.log.Warn("diameter accept failing, backing off", zap.Stringer("addr", ln.Addr()),
					zap.Duration("delay", delay), zap.Int("connections", n.connCount()), zap.Error(err))
			}
			select {
			case <-time.After(delay):
			case <-ctx.Done():
			}
			continue
		}
		delay = 0
		stranger, why := n.admitConn(nc)
		if why != "" {
			n.obs.Observe(Event{Kind: EventPeerRefused, Err: fmt.Errorf("connection from %s closed at once: %s", nc.RemoteAddr(), why)})
			if time.Since(lastWarn) >= 10*time.Second {
				lastWarn = time.Now()
				n.log.Warn("diameter connection refused", zap.Stringer("remote", nc.RemoteAddr()), zap.String("reason", why))
			}
			nc.Close()
			continue
		}
		if n.cfg.TLS != nil {
			// The handshake runs in the connection's reader, never in this loop.
			nc = tls.Server(nc, n.serverTLS())
		}
		c := newConn(n, nc, false, PeerConfig{}, ctx)
		c.stranger = stranger
		if !n.start(c, nil) {
			nc.Close()
			return ErrClosed
		}
	}
}

// Connect keeps a connection with the peer p: it dials, exchanges capabilities and, whenever
// the connection is lost, redials with exponential backoff between ReconnectMin and
// ReconnectMax, until ctx ends or Close is called (the connection is then disconnected with
// DPR). After the peer's DPR with cause BUSY or DO_NOT_WANT_TO_TALK_TO_YOU it waits
// DisconnectHoldoff first (RFC 6733 §5.4.3). While another connection with the same peer is
// open (the peer dialled us, or won an election) it does not dial. Connect returns at once;
// an error means p is invalid or the node is closed. Use WaitPeer to wait for the peer.
func (n *Node) Connect(ctx context.Context, p PeerConfig) error {
	if err := p.validate(); err != nil {
		return err
	}
	if n.cfg.TLS != nil && p.Host == "" {
		return fmt.Errorf("%w: PeerConfig.Host is required over TLS: the server's certificate must name it", ErrInvalidConfig)
	}
	dctx, cancel := context.WithCancel(ctx)
	d := &dialer{cfg: p, cancel: cancel, host: p.Host, state: StateDown, since: time.Now()}
	n.mu.Lock()
	if n.closing {
		n.mu.Unlock()
		cancel()
		return ErrClosed
	}
	n.dialers[d] = struct{}{}
	n.wg.Add(1) // under mu, so that Close's Wait never races this Add
	n.mu.Unlock()
	go func() {
		defer n.wg.Done()
		defer cancel()
		n.runDialer(dctx, d)
	}()
	return nil
}

// Peers lists every connection and every dialled peer that has no connection at the moment,
// sorted by Origin-Host then address.
func (n *Node) Peers() []PeerInfo {
	n.mu.Lock()
	defer n.mu.Unlock()
	infos := make([]PeerInfo, 0, len(n.conns)+len(n.dialers))
	hosts := make(map[string]bool, len(n.conns))
	for c := range n.conns {
		info := c.Info()
		infos = append(infos, info)
		hosts[info.OriginHost] = true
	}
	for d := range n.dialers {
		if d.conn != nil || (d.host != "" && hosts[d.host]) {
			continue
		}
		infos = append(infos, PeerInfo{OriginHost: d.host, OriginRealm: d.cfg.Realm, Address: d.cfg.Address,
			State: d.state, Since: d.since, Dialled: true})
	}
	slices.SortFunc(infos, func(a, b PeerInfo) int {
		return cmp.Or(cmp.Compare(a.OriginHost, b.OriginHost), cmp.Compare(a.Address, b.Address))
	})
	return infos
}

// WaitPeer waits until a connection with Origin-Host host is open and returns it.
func (n *Node) WaitPeer(ctx context.Context, host string) (PeerInfo, error) {
	for {
		n.mu.Lock()
		if n.closing {
			n.mu.Unlock()
			return PeerInfo{}, ErrClosed
		}
		for c := range n.conns {
			if info := c.Info(); info.OriginHost == host && info.State == StateOpen {
				n.mu.Unlock()
				return info, nil
			}
		}
		changed := n.changed
		n.mu.Unlock()
		select {
		case <-changed:
		case <-ctx.Done():
			return PeerInfo{}, fmt.Errorf("wait for peer %s: %w", host, ctx.Err())
		}
	}
}

// Close shuts the node down: it stops accepting and dialling, refuses new requests, lets the
// answers to requests in flight arrive, sends DPR (Disconnect-Cause REBOOTING) to every open
// peer and waits for its DPA (RFC 6733 §5.4), closes every connection and waits for every
// goroutine, handlers included. When ctx ends first, whatever is left is closed at once and
// Close returns ctx's error without waiting further. Calling Close again waits for the first.
func (n *Node) Close(ctx context.Context) error {
	n.mu.Lock()
	if n.closing {
		n.mu.Unlock()
		select {
		case <-n.done:
			return nil
		case <-ctx.Done():
			return fmt.Errorf("diameter close: %w", ctx.Err())
		}
	}
	n.closing = true
	var lns []net.Listener
	for ln := range n.listeners {
		lns = append(lns, ln)
	}
	var conns []*conn
	for c := range n.conns {
		conns = append(conns, c)
	}
	for d := range n.dialers {
		d.cancel()
	}
	n.mu.Unlock()
	n.log.Info("diameter node closing", zap.Int("connections", len(conns)))

	for _, ln := range lns {
		ln.Close()
	}
	var dpr sync.WaitGroup
	for _, c := range conns {
		dpr.Go(func() { c.disconnect(ctx, causeRebooting) })
	}
	dpr.Wait()
	n.mu.Lock()
	conns = conns[:0]
	for c := range n.conns {
		conns = append(conns, c)
	}
	n.mu.Unlock()
	for _, c := range conns {
		c.shutdown(ErrClosed)
	}
	n.cancel()
	go func() {
		n.wg.Wait()
		n.workers.Close()
		close(n.done)
	}()
	select {
	case <-n.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("diameter close: %w", ctx.Err())
	}
}

func (n *Node) isClosing() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.closing
}

// admitConn applies the connection limits to an accepted connection before anything is read from it:
// at most MaxConnections in all, and at most MaxStrangerConnections from addresses that are no
// configured peer's source (such a connection can only end in DIAMETER_UNKNOWN_PEER; the few admitted
// get that answer and a log line, the rest are closed at once so that a flood cannot crowd out the peers).
// It reports whether the connection comes from a stranger, and why it is refused ("" to admit it).
func (n *Node) admitConn(nc net.Conn) (stranger bool, why string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if len(n.conns) >= n.cfg.MaxConnections {
		return false, fmt.Sprintf("%d connections open (MaxConnections)", len(n.conns))
	}
	if len(n.peers) == 0 {
		return false, ""
	}
	var src netip.Addr
	if a, ok := nc.RemoteAddr().(*net.TCPAddr); ok {
		src = a.AddrPort().Addr().Unmap()
	}
	for _, p := range n.peers {
		if slices.ContainsFunc(p.sources, func(pfx netip.Prefix) bool { return pfx.Contains(src) }) {
			return false, ""
		}
	}
	strangers := 0
	for c := range n.conns {
		if c.stranger {
			strangers++
		}
	}
	if strangers >= n.cfg.MaxStrangerConnections {
		return true, fmt.Sprintf("%d connections from addresses of no configured peer already wait for their CER", strangers)
	}
	return true, ""
}

func (n *Node) connCount() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return len(n.conns)
}

// start registers c and runs its reader and supervisor; false when the node is closing.
func (n *Node) start(c *conn, d *dialer) bool {
	n.mu.Lock()
	if n.closing {
		n.mu.Unlock()
		return false
	}
	n.conns[c] = struct{}{}
	if d != nil {
		d.conn = c
	}
	n.wg.Add(2)
	n.mu.Unlock()
	c.logger().Debug("diameter connection", zap.Bool("dialled", c.dialled))
	go func() {
		defer n.wg.Done()
		c.readLoop()
	}()
	go func() {
		defer n.wg.Done()
		c.supervise()
	}()
	return true
}

// forget removes a closed connection.
func (n *Node) forget(c *conn) {
	n.mu.Lock()
	defer n.mu.Unlock()
	delete(n.conns, c)
	for d := range n.dialers {
		if d.conn == c {
			d.conn = nil
		}
	}
	n.refreshLocked()
}

// refresh publishes connection state changes to routing and to WaitPeer.
func (n *Node) refresh() {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.refreshLocked()
}

func (n *Node) refreshLocked() {
	open := make([]*conn, 0, len(n.conns))
	for c := range n.conns {
		if c.State() == StateOpen {
			open = append(open, c)
		}
	}
	slices.SortFunc(open, func(a, b *conn) int { return cmp.Compare(a.remote, b.remote) })
	n.open.Store(&open)
	close(n.changed)
	n.changed = make(chan struct{})
}

// admit decides whether c, whose capabilities exchange with caps.host just succeeded, becomes
// a connection with that peer, and opens it if so. It returns the connections to close.
//
// Two connections between the same two hosts are not kept (RFC 6733 §5.6.4). When the other
// one is still in Wait-I-CEA this is the election; when it is already open the same rule is
// applied, so that both hosts, each deciding alone, keep the same one: the connection opened by
// the host whose Origin-Host is lower ("the local Origin-Host lexicographically succeeds the
// received Origin-Host" wins the election and keeps the connection the other host opened).
// Two connections opened by the same side mean the peer gave up the older one: the new one is
// kept. An open connection whose peer now announces another Origin-State-Id belongs to a peer
// that restarted (RFC 6733 §8.16) and is closed whatever the rule says.
func (n *Node) admit(c *conn, caps capabilities, common []Application) (ok bool, victims []*conn) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closing {
		return false, nil
	}
	local := n.cfg.OriginHost
	openedByLower := func(x *conn) bool { return x.dialled == (local < caps.host) }
	for o := range n.conns {
		if o == c {
			continue
		}
		o.mu.Lock()
		st, host, sid := o.state, o.peer.host, o.peer.stateID
		if st == StateWaitCEA {
			host = o.expect.Host
		}
		o.mu.Unlock()
		if host != caps.host || (st != StateWaitCEA && st != StateOpen && st != StateSuspect) {
			continue
		}
		if st != StateWaitCEA && sid != 0 && caps.stateID != 0 && sid != caps.stateID {
			victims = append(victims, o)
			continue
		}
		if openedByLower(o) && !openedByLower(c) {
			return false, victims
		}
		victims = append(victims, o)
	}
	now := time.Now()
	c.mu.Lock()
	c.peer, c.common, c.state, c.since = caps, common, StateOpen, now
	c.mu.Unlock()
	info := c.Info()
	c.info.Store(&info)
	c.lastRx.Store(now.UnixNano())
	c.log.Store(c.logger().With(logging.Peer(caps.host)))
	n.refreshLocked()
	return true, victims
}

// liveConnTo returns a connection with host that is open, suspect or closing, or nil.
func (n *Node) liveConnTo(host string) *conn {
	n.mu.Lock()
	defer n.mu.Unlock()
	for c := range n.conns {
		c.mu.Lock()
		h, st := c.peer.host, c.state
		c.mu.Unlock()
		if h == host && (st == StateOpen || st == StateSuspect || st == StateClosing) {
			return c
		}
	}
	return nil
}

// watchdogDelay is Tw with jitter: RFC 3539 §3.4.1 adds a random -2..+2 s; a Tw below 8 s
// (tests) gets ±Tw/4 so that it stays positive.
func (n *Node) watchdogDelay() time.Duration {
	tw := n.cfg.WatchdogInterval
	j := min(watchdogJitter, tw/4)
	if j <= 0 {
		return tw
	}
	return tw - j + rand.N(2*j+1)
}

// nextEndToEnd issues an End-to-End Identifier, unique per node (RFC 6733 §3).
func (n *Node) nextEndToEnd() uint32 { return n.e2e.Add(1) }

var _ Handler = HandlerFunc(nil)
