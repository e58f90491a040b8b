package proxy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/emiago/sipgo/sip"
	"go.uber.org/zap"

	"github.com/imscore/imscore/internal/logging"
	"github.com/imscore/imscore/internal/workers"
)

// Proxy is a stateful SIP proxy (RFC 3261 §16) over UDP, TCP and TLS. Create it with New, serve with Run, stop with
// Close. It holds no package-level state: several proxies run side by side in one process.
type Proxy struct {
	cfg     Config
	log     *zap.Logger
	slog    *slog.Logger // sipgo's loggers, bridged into log
	router  Router
	tagger  OptionTagger // nil when the router declares no option-tags
	metrics Metrics

	parser   *sip.Parser
	tpl      *sip.TransportLayer // TCP only: framing, connection pool, per-connection readers
	injector *tcpInjector
	conns    *connLimiter // every TCP connection, accepted or dialled (Limits)
	rate     *rateLog     // limit log lines, rate-limited per reason
	inflight atomic.Int64 // server transactions without a final response (Limits.MaxTransactions)

	udp     []*listener
	tcp     []*listener
	tls     *tlsTransport   // nil without Config.TLS (tls.go)
	aliases map[string]bool // lower-case host and host:port values that mean "this proxy"

	servers *txStore[*proxyCtx]
	clients *txStore[*clientEntry]

	bufs sync.Pool
	// wireBufs counts the serialized-message buffers taken from bufs and not yet given back (tests check that
	// none is held once the transactions that needed them are over).
	wireBufs atomic.Int64

	dialMu  sync.Mutex
	dialing map[string]chan struct{}

	base       context.Context // cancelled by Close
	cancelBase context.CancelFunc

	mu      sync.Mutex // guards running, closing and wg.Add
	running bool
	closing atomic.Bool
	wg      sync.WaitGroup
	workers *workers.Pool // runs what spawn is given, on goroutines whose stacks have grown already
	done    chan struct{}
	once    sync.Once
}

// New validates cfg, binds every listener (so that Listeners is known at once, port 0 included) and returns a
// Proxy ready for Run. Close releases the sockets even if Run is never called.
func New(cfg Config, log *zap.Logger) (*Proxy, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("sip proxy config: %w", err)
	}
	cfg = cfg.withDefaults()
	if log == nil {
		log = zap.NewNop()
	}
	log = log.Named("proxy")
	p := &Proxy{
		cfg:      cfg,
		log:      log,
		slog:     newSlogBridge(log.Named("sipgo")),
		router:   cfg.Router,
		metrics:  cfg.Metrics,
		parser:   newParser(),
		injector: newTCPInjector(),
		aliases:  make(map[string]bool),
		servers:  newTxStore[*proxyCtx](),
		clients:  newTxStore[*clientEntry](),
		dialing:  make(map[string]chan struct{}),
		workers:  workers.New(0, 0),
		done:     make(chan struct{}),
	}
	p.bufs.New = func() any { return new(bytes.Buffer) }
	p.rate = newRateLog()
	p.parser.MaxMessageLength = cfg.Limits.MaxMessageSize // RFC 3261 §18.3 framing in sipgo agrees with ours
	nofile := fileLimit()
	maxConns, reserve := effectiveMaxConns(cfg.Limits.MaxConnections, nofile)
	p.conns = newConnLimiter(p, cfg.Limits, maxConns)
	log.Info("sip limits", zap.Int("max_connections", maxConns), zap.Int("max_connections_configured", cfg.Limits.MaxConnections),
		zap.Uint64("rlimit_nofile", nofile), zap.Uint64("fd_reserve", reserve),
		zap.Int("max_connections_per_source", cfg.Limits.MaxConnectionsPerSource),
		zap.Duration("idle_timeout", cfg.Limits.IdleTimeout), zap.Duration("header_timeout", cfg.Limits.HeaderTimeout),
		zap.Duration("message_timeout", cfg.Limits.MessageTimeout), zap.Int("max_message_size", cfg.Limits.MaxMessageSize),
		zap.Int("max_transactions", cfg.Limits.MaxTransactions))
	if t, ok := cfg.Router.(OptionTagger); ok {
		p.tagger = t
	}
	p.base, p.cancelBase = context.WithCancel(context.Background())
	p.tpl = sip.NewTransportLayer(cfg.Resolver, p.parser, nil,
		sip.WithTransportLayerLogger(p.slog),
		sip.WithTransportLayerConnectionReuse(true))
	p.tpl.OnMessage(p.receiveStream)

	for _, l := range cfg.Listen {
		u, t, err := bindPair(l, cfg.DSCP)
		if err != nil {
			p.closeSockets()
			return nil, fmt.Errorf("sip proxy: %w", err)
		}
		p.udp = append(p.udp, u)
		p.tcp = append(p.tcp, t)
		p.addAlias(u.host, u.port())
	}
	if cfg.TLS.Enabled() {
		if err := p.setupTLS(); err != nil { // tls.go
			p.closeSockets()
			return nil, fmt.Errorf("sip proxy: %w", err)
		}
	}
	for _, a := range cfg.Aliases {
		a = strings.ToLower(strings.TrimSpace(a))
		if a != "" {
			p.aliases[a] = true
		}
	}
	return p, nil
}

func (p *Proxy) addAlias(host string, port int) {
	h := strings.ToLower(strings.Trim(host, "[]"))
	p.aliases[h+":"+portString(port)] = true
	if port == sip.DefaultUdpPort {
		p.aliases[h] = true
	}
}

// Listeners returns the bound addresses, UDP and TCP, in configuration order.
func (p *Proxy) Listeners() []ListenAddr {
	out := make([]ListenAddr, 0, len(p.udp)+len(p.tcp))
	for i := range p.udp {
		out = append(out,
			ListenAddr{Transport: transportUDP, Addr: p.udp[i].bound, Advertise: p.udp[i].host},
			ListenAddr{Transport: transportTCP, Addr: p.tcp[i].bound, Advertise: p.tcp[i].host})
	}
	for _, l := range p.tlsListeners() {
		out = append(out, ListenAddr{Transport: transportTLS, Addr: l.bound, Advertise: l.host})
	}
	return out
}

// Run serves until ctx ends or Close is called, then closes the proxy. It returns nil after a clean stop, or the
// first error that stopped a listener.
func (p *Proxy) Run(ctx context.Context) error {
	p.mu.Lock()
	if p.closing.Load() {
		p.mu.Unlock()
		return ErrClosed
	}
	if p.running {
		p.mu.Unlock()
		return ErrAlreadyRunning
	}
	p.running = true
	errc := make(chan error, len(p.tcp)+len(p.tlsListeners())+2)
	for _, l := range p.udp {
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			p.serveUDP(l)
		}()
	}
	for _, l := range p.tcp {
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			if err := p.tpl.ServeTCP(p.conns.listen(l.tcp)); err != nil && !p.closing.Load() {
				errc <- fmt.Errorf("serve tcp %s: %w", l.bound, err)
			}
		}()
	}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		if err := p.tpl.ServeTCP(p.injector); err != nil && !p.closing.Load() && !isClosedErr(err) {
			errc <- fmt.Errorf("serve dialled tcp: %w", err)
		}
	}()
	if p.tls != nil {
		p.tls.run(errc)
	}
	p.mu.Unlock()
	for _, l := range p.Listeners() {
		p.log.Info("listening", zap.String("transport", l.Transport), zap.Stringer("addr", l.Addr),
			zap.String("advertise", l.Advertise))
	}

	var err error
	select {
	case <-ctx.Done():
	case <-p.done:
	case err = <-errc:
		p.log.Error("listener failed, stopping", zap.Error(err))
	}
	if cerr := p.Close(); err == nil && cerr != nil && !errors.Is(cerr, ErrClosed) {
		err = cerr
	}
	return err
}

// Close stops the proxy: listeners close, every transaction is terminated (pending Send calls return),
// connections close and all goroutines the proxy started have returned when it returns. Safe to call twice.
func (p *Proxy) Close() error {
	var err error
	p.once.Do(func() {
		p.mu.Lock()
		p.closing.Store(true) // no goroutine is started after this point
		p.mu.Unlock()
		close(p.done)
		p.conns.stop()
		p.cancelBase()
		p.closeSockets()
		p.servers.close() // terminates every server transaction and stops branch timers
		p.clients.close()
		err = p.tpl.Close()
		p.wg.Wait()
		p.workers.Close()
		p.log.Info("stopped")
	})
	return err
}

func (p *Proxy) closeSockets() {
	for _, l := range p.udp {
		_ = l.udp.Close()
	}
	for _, l := range p.tcp {
		_ = l.tcp.Close()
	}
	_ = p.injector.Close()
	if p.tls != nil {
		p.tls.closeSockets()
	}
}

// spawn runs f on a goroutine owned by the proxy (a worker of p.workers), unless the proxy is closing.
func (p *Proxy) spawn(f func()) bool {
	p.mu.Lock()
	if p.closing.Load() {
		p.mu.Unlock()
		return false
	}
	p.wg.Add(1)
	p.mu.Unlock()
	if !p.workers.Go(func() {
		defer p.wg.Done()
		defer p.recoverPanic("goroutine", nil)
		f()
	}) {
		p.wg.Done() // only after Close, which waits for wg first: not reached
		return false
	}
	return true
}

// recoverPanic turns a panic (a bug, or a library tripping on input) into a log line; the proxy keeps serving.
func (p *Proxy) recoverPanic(where string, callID *string) {
	if r := recover(); r != nil {
		fields := []zap.Field{zap.String("where", where), zap.Any("panic", r), zap.ByteString("stack", debug.Stack())}
		if callID != nil && *callID != "" {
			fields = append(fields, logging.CallID(*callID))
		}
		p.log.Error("recovered from panic", fields...)
	}
}

// traceIn counts and logs (Debug) one received message.
func (p *Proxy) traceIn(msg sip.Message, transport string, src netip.AddrPort) {
	p.trace(DirectionIn, msg, transport, src)
}

// traceOut counts and logs (Debug) one sent message.
func (p *Proxy) traceOut(msg sip.Message, transport string, dst netip.AddrPort) {
	p.trace(DirectionOut, msg, transport, dst)
}

func (p *Proxy) trace(dir Direction, msg sip.Message, transport string, peer netip.AddrPort) {
	method := ""
	if cs := msg.CSeq(); cs != nil {
		method = string(cs.MethodName)
	}
	switch m := msg.(type) {
	case *sip.Request:
		p.metrics.Request(dir, string(m.Method))
		if ce := p.log.Check(zap.DebugLevel, "sip request"); ce != nil {
			ce.Write(zap.Stringer("dir", dir), zap.String("method", string(m.Method)),
				zap.String("ruri", m.Recipient.String()), zap.String("transport", transport),
				zap.Stringer("peer", peer), logging.CallID(callIDOf(m)))
		}
	case *sip.Response:
		p.metrics.Response(dir, method, m.StatusCode)
		if ce := p.log.Check(zap.DebugLevel, "sip response"); ce != nil {
			ce.Write(zap.Stringer("dir", dir), zap.Int("code", m.StatusCode), zap.String("method", method),
				zap.String("transport", transport), zap.Stringer("peer", peer), logging.CallID(callIDOf(m)))
		}
	}
}

func callIDOf(m sip.Message) string {
	if c := m.CallID(); c != nil {
		return string(*c)
	}
	return ""
}

// txStore holds sipgo transactions (or the response contexts wrapping them) by key. Once closed it refuses new
// entries, so nothing outlives Close.
type txStore[T comparable] struct {
	mu     sync.Mutex
	items  map[string]T
	closed bool
}

func newTxStore[T comparable]() *txStore[T] {
	return &txStore[T]{items: make(map[string]T)}
}

func (s *txStore[T]) get(key string) (T, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.items[key]
	return v, ok
}

// getOrCreate returns the entry under key, or stores the one mk builds (mk runs under the store lock: keep it
// cheap). created reports which happened.
func (s *txStore[T]) getOrCreate(key string, mk func() (T, error)) (v T, created bool, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return v, false, ErrClosed
	}
	if v, ok := s.items[key]; ok {
		return v, false, nil
	}
	v, err = mk()
	if err != nil {
		return v, false, err
	}
	s.items[key] = v
	return v, true, nil
}

func (s *txStore[T]) put(key string, v T) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	s.items[key] = v
	return nil
}

// dropIf removes key if it still holds v (a new transaction may have taken the key since).
func (s *txStore[T]) dropIf(key string, v T) {
	s.mu.Lock()
	if cur, ok := s.items[key]; ok && cur == v {
		delete(s.items, key)
	}
	s.mu.Unlock()
}

func (s *txStore[T]) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.items)
}

// close refuses further entries and returns what was stored (the caller terminates them outside the lock:
// termination calls back into drop).
func (s *txStore[T]) close() []T {
	s.mu.Lock()
	s.closed = true
	out := make([]T, 0, len(s.items))
	for _, v := range s.items {
		out = append(out, v)
	}
	s.mu.Unlock()
	for _, v := range out {
		if t, ok := any(v).(interface{ Terminate() }); ok {
			t.Terminate()
		}
	}
	return out
}

// clientEntry is a client transaction in the store, with ordered delivery of its responses: each one is handed to
// sipgo on its own goroutine (sipgo blocks until the transaction's reader takes it), chained so that a 180 read
// before a 200 is also delivered before it.
type clientEntry struct {
	tx   *sip.ClientTx
	mu   sync.Mutex
	last chan struct{} // closed once the previously queued response has been delivered
}

// addClientTx registers tx under its key; it leaves the store when it terminates.
func (p *Proxy) addClientTx(key string, tx *sip.ClientTx) error {
	e := &clientEntry{tx: tx}
	if err := p.clients.put(key, e); err != nil {
		return err
	}
	tx.OnTerminate(func(k string, _ error) { p.clients.dropIf(k, e) })
	return nil
}

// deliver queues res for e's transaction in arrival order.
func (p *Proxy) deliver(e *clientEntry, res *sip.Response) {
	e.mu.Lock()
	prev, mine := e.last, make(chan struct{})
	e.last = mine
	e.mu.Unlock()
	ok := p.spawn(func() {
		defer close(mine)
		if prev != nil {
			select {
			case <-prev:
			case <-e.tx.Done():
				return
			}
		}
		e.tx.Receive(res)
	})
	if !ok {
		close(mine)
	}
}

// Terminate ends the transaction; used when the proxy closes.
func (e *clientEntry) Terminate() { e.tx.Terminate() }
