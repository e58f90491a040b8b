package paa

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"sync"

	"go.uber.org/zap"

	"github.com/imscore/imscore/services/paa/pana"
)

// sessionQueue is the datagrams buffered for one session; more are dropped (the PaC retransmits).
const sessionQueue = 16

// agent owns the sessions: one goroutine per UDP listener reads and dispatches, one per session runs it.
type agent struct {
	cfg     Config
	log     *zap.Logger
	eap     EAPServer
	pusher  TokenPusher
	metrics *metrics

	mu       sync.Mutex
	sessions map[uint32]*session
	byPeer   map[netip.AddrPort]*session // sessions not yet open, to ignore a retransmitted PCI
	wg       sync.WaitGroup
}

func newAgent(cfg Config, log *zap.Logger, e EAPServer, p TokenPusher, m *metrics) *agent {
	return &agent{cfg: cfg, log: log, eap: e, pusher: p, metrics: m,
		sessions: map[uint32]*session{}, byPeer: map[netip.AddrPort]*session{}}
}

// serve reads conn until it is closed.
func (a *agent) serve(ctx context.Context, conn *net.UDPConn) error {
	buf := make([]byte, pana.MaxLen)
	for {
		n, from, err := conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) || ctx.Err() != nil {
				return nil
			}
			return err
		}
		raw := append([]byte(nil), buf[:n]...)
		m, err := pana.Parse(raw)
		if err != nil { // RFC 5191 §5.4 (invalid messages are discarded)
			a.metrics.invalid.Inc()
			a.log.Debug("invalid pana message discarded", zap.Stringer("from", from), zap.Error(err))
			continue
		}
		a.dispatch(ctx, conn, from, datagram{raw: raw, msg: m})
	}
}

func (a *agent) dispatch(ctx context.Context, conn *net.UDPConn, from netip.AddrPort, d datagram) {
	if d.msg.Type < pana.TypeClientInitiation || d.msg.Type > pana.TypeNotification { // RFC 5191 §7: four types
		a.metrics.invalid.Inc()
		return
	}
	a.metrics.messages.WithLabelValues("in", d.msg.Name()).Inc()
	a.mu.Lock()
	defer a.mu.Unlock()
	if d.msg.Type == pana.TypeClientInitiation {
		if d.msg.SessionID != 0 || d.msg.IsRequest() { // RFC 5191 §7.1: the PCI has no R flag and session 0
			a.metrics.invalid.Inc()
			return
		}
		if _, ok := a.byPeer[from]; ok {
			return // a retransmitted PCI: the initial PAR is on its own retransmission timer
		}
		if len(a.sessions) >= a.cfg.MaxSessions {
			a.metrics.refused.Inc()
			a.log.Warn("pana sessions at max_sessions, PCI ignored", zap.Stringer("from", from))
			return
		}
		a.start(ctx, conn, from)
		return
	}
	s, ok := a.sessions[d.msg.SessionID]
	if !ok || s.peer != from { // no mobility here: a session stays at the PaC's address
		a.log.Debug("pana message for no session here, discarded", zap.Stringer("from", from), zap.Uint32("session", d.msg.SessionID))
		return
	}
	select {
	case s.in <- d:
	default:
		a.metrics.dropped.Inc()
	}
}

// start makes a session for a PCI; a.mu is held.
func (a *agent) start(ctx context.Context, conn *net.UDPConn, from netip.AddrPort) {
	id := randUint32()
	for id == 0 || a.sessions[id] != nil {
		id = randUint32()
	}
	s := &session{a: a, id: id, peer: from, conn: conn, in: make(chan datagram, sessionQueue), eap: a.eap.NewSession(),
		log: a.log.With(zap.Uint32("pana_session", id), zap.Stringer("pac", from))}
	a.sessions[id] = s
	a.byPeer[from] = s
	a.metrics.sessions.Inc()
	a.wg.Go(func() { s.run(ctx) })
}

// opened forgets the PCI de-duplication of s.
func (a *agent) opened(s *session) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.byPeer[s.peer] == s {
		delete(a.byPeer, s.peer)
	}
}

func (a *agent) remove(s *session) {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.sessions, s.id)
	if a.byPeer[s.peer] == s {
		delete(a.byPeer, s.peer)
	}
	a.metrics.sessions.Dec()
}

// count is the number of sessions.
func (a *agent) count() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.sessions)
}
