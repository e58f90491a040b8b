package paa

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"

	"go.uber.org/zap"

	"github.com/imscore/imscore/services/paa/eap"
	"github.com/imscore/imscore/services/paa/pana"
)

// state is the PAA session state, named after RFC 5609 §5.
type state uint8

const (
	stateInitial  state = iota // INITIAL: PCI received
	stateAuth                  // WAIT_EAP_MSG / WAIT_PAN_OR_PAR: EAP running, one PAR outstanding at a time
	stateWaitSucc              // WAIT_SUCC_PAN: PAR with C and EAP-Success sent
	stateWaitFail              // WAIT_FAIL_PAN: PAR with C and EAP-Failure sent
	stateOpen                  // OPEN: authenticated, lifetime running
	stateSessTerm              // SESS_TERM: PTR sent, waiting for the PTA
	stateClosed                // CLOSED
)

func (s state) String() string {
	return [...]string{"INITIAL", "WAIT_EAP_MSG", "WAIT_SUCC_PAN", "WAIT_FAIL_PAN", "OPEN", "SESS_TERM", "CLOSED"}[s]
}

// datagram is one received PANA message with its bytes (AUTH covers them as received).
type datagram struct {
	raw []byte
	msg *pana.Message
}

// outstanding is the one request a PANA entity has unanswered (RFC 5191 §5.2), with its retransmission.
type outstanding struct {
	msg   *pana.Message
	raw   []byte
	count int
	rt    time.Duration
}

// session is one PANA session on the PAA. Its goroutine (run) owns every field but in.
type session struct {
	a    *agent
	id   uint32
	peer netip.AddrPort
	conn *net.UDPConn
	in   chan datagram
	log  *zap.Logger

	state      state
	eap        EAPSession
	sa         pana.SA
	seq        uint32 // sequence number of our last request (RFC 5191 §5.1)
	peerSeq    uint32 // of the PaC's last request we answered
	hasPeerSeq bool
	lastAnswer []byte // our answer to peerSeq, resent when the PaC retransmits (RFC 5191 §5.2)
	pending    *outstanding
	retrans    *time.Timer
	life       *time.Timer

	iPAR, iPAN         []byte
	paaNonce, pacNonce []byte
	nonceSent          bool
	pendingGrant       *Grant // of the PAR with C and EAP-Success, until its PAN
	grant              *Grant // pushed, to drop at the end
}

func randUint32() uint32 {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return binary.BigEndian.Uint32(b[:])
}

// run drives the session until it closes or ctx ends; at the end the token pushed, if any, is dropped.
func (s *session) run(ctx context.Context) {
	s.retrans = time.NewTimer(time.Hour)
	s.retrans.Stop()
	s.life = time.NewTimer(s.a.cfg.AuthTimeout) // the authentication must finish in time; then the lifetime runs
	defer func() {
		s.retrans.Stop()
		s.life.Stop()
		s.dropGrant()
		s.eap.Close()
		s.a.remove(s)
	}()
	s.start(ctx)
	for s.state != stateClosed {
		select {
		case <-ctx.Done():
			return
		case d := <-s.in:
			s.handle(ctx, d)
		case <-s.retrans.C:
			s.retransmit()
		case <-s.life.C:
			if s.state != stateOpen {
				s.log.Info("pana authentication not finished in time, session closed", zap.Stringer("state", s.state))
				s.a.metrics.ended.WithLabelValues("auth_timeout").Inc()
			} else {
				s.log.Info("pana session lifetime expired") // RFC 5191 §4.3: the session is deleted at its lifetime's end
				s.a.metrics.ended.WithLabelValues("lifetime").Inc()
			}
			s.state = stateClosed
		}
	}
}

// start answers the PCI with the initial PAR: S flag, the algorithms offered and the first EAP request
// (RFC 5191 §4.1).
func (s *session) start(ctx context.Context) {
	first, err := s.eap.Start(ctx)
	if err != nil {
		s.log.Warn("eap start", zap.Error(err))
		s.state = stateClosed
		return
	}
	s.seq = randUint32() - 1 // the ISN is random (RFC 5191 §5.1)
	m := &pana.Message{Flags: pana.FlagRequest | pana.FlagStart, Type: pana.TypeAuth}
	s.a.cfg.Algorithms.Offer(m)
	m.Add(pana.CodeEAPPayload, first)
	s.iPAR = s.request(m)
	s.state = stateAuth
}

func (s *session) handle(ctx context.Context, d datagram) {
	m := d.msg
	if m.IsRequest() {
		s.handleRequest(ctx, d)
		return
	}
	p := s.pending
	if p == nil || m.Seq != p.msg.Seq || m.Type != p.msg.Type {
		s.log.Debug("pana answer to no outstanding request, discarded", zap.String("msg", m.Name()), zap.Uint32("seq", m.Seq))
		return
	}
	if err := s.sa.Check(d.raw, m); err != nil { // RFC 5191 §5.3: a message failing AUTH is discarded
		s.log.Info("pana answer failed AUTH, discarded", zap.String("msg", m.Name()), zap.Error(err))
		s.a.metrics.authFailed.Inc()
		return
	}
	s.pending = nil
	s.retrans.Stop()
	switch s.state {
	case stateAuth:
		if p.msg.Has(pana.FlagStart) {
			if err := s.chooseAlgorithms(m); err != nil {
				s.log.Info("pana initial PAN refused", zap.Error(err))
				s.state = stateClosed
				return
			}
			s.iPAN = append([]byte(nil), d.raw[:m.Len()]...)
		} else if s.pacNonce == nil {
			if n := m.Find(pana.CodeNonce); n != nil {
				s.pacNonce = append([]byte(nil), n.Value...)
			}
		}
		if e := m.Find(pana.CodeEAPPayload); e != nil {
			s.eapResponse(ctx, e.Value)
		} // else the PaC sends its EAP response in a PAR of its own (RFC 5191 §4.3)
	case stateWaitSucc:
		if keyID, ok := m.Uint32(pana.CodeKeyID); !m.Has(pana.FlagComplete) || !ok || keyID != s.sa.KeyID {
			s.log.Info("PAN to the PAR with C without the C flag or the Key-Id, session closed") // RFC 5191 §4.3
			s.state = stateClosed
			return
		}
		s.open(ctx)
	case stateWaitFail, stateSessTerm:
		s.state = stateClosed
	}
}

// chooseAlgorithms reads the PaC's choice from the initial PAN: one PRF and one integrity algorithm, of
// those offered (RFC 5191 §4.1).
func (s *session) chooseAlgorithms(m *pana.Message) error {
	if !m.Has(pana.FlagStart) {
		return fmt.Errorf("initial PAN without the S flag: %w", errProtocol)
	}
	prf, integ, err := s.a.cfg.Algorithms.Choose(m)
	if err != nil {
		return err
	}
	s.sa.PRF, s.sa.Integrity = prf, integ
	return nil
}

func (s *session) handleRequest(ctx context.Context, d datagram) {
	m := d.msg
	if s.hasPeerSeq && m.Seq == s.peerSeq && s.lastAnswer != nil {
		s.write(s.lastAnswer) // a retransmission: the same answer again (RFC 5191 §5.2)
		return
	}
	if s.hasPeerSeq && m.Seq != s.peerSeq+1 {
		s.log.Debug("pana request out of sequence, discarded", zap.Uint32("seq", m.Seq), zap.Uint32("last", s.peerSeq))
		return
	}
	if err := s.sa.Check(d.raw, m); err != nil {
		s.log.Info("pana request failed AUTH, discarded", zap.String("msg", m.Name()), zap.Error(err))
		s.a.metrics.authFailed.Inc()
		return
	}
	switch {
	case m.Type == pana.TypeNotification && m.Has(pana.FlagPing) && s.state == stateOpen:
		s.answer(m, &pana.Message{Flags: pana.FlagPing, Type: pana.TypeNotification}) // RFC 5191 §4.2
	case m.Type == pana.TypeTermination && (s.state == stateOpen || s.state == stateSessTerm):
		cause, _ := m.Uint32(pana.CodeTerminationCause)
		s.log.Info("pana session terminated by the PaC", zap.Uint32("cause", cause))
		s.answer(m, &pana.Message{Type: pana.TypeTermination}) // RFC 5191 §4.4
		s.a.metrics.ended.WithLabelValues("terminated").Inc()
		s.state = stateClosed
	case m.Type == pana.TypeAuth && s.state == stateAuth && s.pending == nil:
		s.answer(m, &pana.Message{Type: pana.TypeAuth}) // the PaC's PAR with its EAP response (RFC 5191 §4.3)
		if e := m.Find(pana.CodeEAPPayload); e != nil {
			s.eapResponse(ctx, e.Value)
		}
	default:
		s.log.Debug("pana request not expected in this state, discarded", zap.String("msg", m.Name()), zap.Stringer("state", s.state))
	}
}

// eapResponse hands the PaC's EAP response to the EAP server and sends what it answers.
func (s *session) eapResponse(ctx context.Context, resp []byte) {
	out, res, err := s.eap.Handle(ctx, resp)
	switch {
	case err != nil:
		s.log.Info("eap authentication failed", zap.String("impi", s.identity()), zap.Error(err))
		s.a.metrics.auth.WithLabelValues("rejected").Inc()
		if out == nil {
			out = (&eap.Packet{Code: eap.CodeFailure}).Marshal()
		}
		m := &pana.Message{Flags: pana.FlagRequest | pana.FlagComplete, Type: pana.TypeAuth}
		m.AddUint32(pana.CodeResultCode, pana.ResultAuthenticationRejected) // RFC 5191 §4.3
		m.Add(pana.CodeEAPPayload, out)
		s.request(m)
		s.state = stateWaitFail
	case res != nil:
		s.succeed(out, res)
	default:
		m := &pana.Message{Flags: pana.FlagRequest, Type: pana.TypeAuth}
		if !s.nonceSent { // RFC 5191 §4.1: the first non-initial PAR carries the PAA's Nonce
			s.paaNonce = make([]byte, 32)
			_, _ = rand.Read(s.paaNonce)
			m.Add(pana.CodeNonce, s.paaNonce)
			s.nonceSent = true
		}
		m.Add(pana.CodeEAPPayload, out)
		s.request(m)
	}
}

// succeed derives PANA_AUTH_KEY from the MSK and sends the PAR with C, EAP-Success, Key-Id,
// Session-Lifetime and AUTH (RFC 5191 §4.3, §5.3).
func (s *session) succeed(out []byte, res *Outcome) {
	lifetime := s.a.cfg.SessionLifetime
	if res.Lifetime > 0 && res.Lifetime < lifetime {
		lifetime = res.Lifetime
	}
	s.sa.KeyID = randUint32()
	if err := s.sa.Establish(pana.KeyInput{MSK: res.MSK, IPAR: s.iPAR, IPAN: s.iPAN, PaCNonce: s.pacNonce, PAANonce: s.paaNonce}); err != nil {
		s.log.Error("pana key", zap.Error(err))
		s.state = stateClosed
		return
	}
	g := Grant{IMPI: res.IMPI, Token: res.Token, Lifetime: lifetime}
	s.log = s.log.With(zap.String("impi", res.IMPI))
	m := &pana.Message{Flags: pana.FlagRequest | pana.FlagComplete, Type: pana.TypeAuth}
	m.AddUint32(pana.CodeResultCode, pana.ResultSuccess)
	m.Add(pana.CodeEAPPayload, out)
	m.AddUint32(pana.CodeKeyID, s.sa.KeyID)
	m.AddUint32(pana.CodeSessionLifetime, uint32(lifetime/time.Second)) // RFC 5191 §8.8: seconds
	s.request(m)
	s.state = stateWaitSucc
	s.pendingGrant = &g
}

// open enters OPEN on the PaC's PAN with C: the token goes to the core and the lifetime starts.
func (s *session) open(ctx context.Context) {
	g := s.pendingGrant
	s.state = stateOpen
	s.a.opened(s)
	s.life.Reset(g.Lifetime)
	s.a.metrics.auth.WithLabelValues("success").Inc()
	s.log.Info("pana session open", zap.Duration("lifetime", g.Lifetime), zap.Bool("token", g.Token != nil))
	if g.Token == nil { // the EAP server (the HSS) keeps the token itself
		s.grant = g
		return
	}
	pctx, cancel := context.WithTimeout(ctx, s.a.cfg.PushTimeout)
	defer cancel()
	if err := s.a.pusher.Push(pctx, *g); err != nil {
		s.a.metrics.push.WithLabelValues("push", "error").Inc()
		s.log.Error("token push failed: the UE will fall back to the standard registration", zap.Error(err))
		return
	}
	s.a.metrics.push.WithLabelValues("push", "ok").Inc()
	s.grant = g
}

// terminator is an EAP session whose server keeps the token itself (relay.go): it ends the session there.
type terminator interface {
	Terminate(ctx context.Context) error
}

func (s *session) dropGrant() {
	if s.grant == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.a.cfg.PushTimeout)
	defer cancel()
	drop := func() error { return s.a.pusher.Drop(ctx, *s.grant) }
	if t, ok := s.eap.(terminator); ok && s.grant.Token == nil {
		drop = func() error { return t.Terminate(ctx) }
	}
	if err := drop(); err != nil {
		s.a.metrics.push.WithLabelValues("drop", "error").Inc()
		s.log.Error("token drop failed", zap.Error(err))
		return
	}
	s.a.metrics.push.WithLabelValues("drop", "ok").Inc()
	s.log.Info("token dropped")
	s.grant = nil
}

func (s *session) identity() string {
	if i, ok := s.eap.(interface{ Identity() string }); ok {
		return i.Identity()
	}
	return ""
}

// request sends a new request: the next sequence number, AUTH once the SA has a key, retransmitted per
// RFC 5191 §9 until answered. It returns the bytes sent.
func (s *session) request(m *pana.Message) []byte {
	s.seq++
	m.SessionID, m.Seq = s.id, s.seq
	raw, err := s.sa.Seal(m)
	if err != nil {
		s.log.Error("pana encode", zap.String("msg", m.Name()), zap.Error(err))
		s.state = stateClosed
		return nil
	}
	s.pending = &outstanding{msg: m, raw: raw}
	s.pending.rt = s.a.cfg.Retransmit.Next(0)
	s.retrans.Reset(s.pending.rt)
	s.send(m, raw)
	return raw
}

// answer sends the answer to the PaC's request req and keeps it for a retransmitted req.
func (s *session) answer(req, m *pana.Message) {
	m.SessionID, m.Seq = s.id, req.Seq
	raw, err := s.sa.Seal(m)
	if err != nil {
		s.log.Error("pana encode", zap.String("msg", m.Name()), zap.Error(err))
		return
	}
	s.peerSeq, s.hasPeerSeq, s.lastAnswer = req.Seq, true, raw
	s.send(m, raw)
}

func (s *session) retransmit() {
	p := s.pending
	if p == nil {
		return
	}
	if s.a.cfg.Retransmit.Exhausted(p.count) {
		s.log.Info("pana retransmissions exhausted, session closed", zap.String("msg", p.msg.Name()), zap.Int("count", p.count))
		s.a.metrics.ended.WithLabelValues("unanswered").Inc()
		s.state = stateClosed
		return
	}
	p.count++
	p.rt = s.a.cfg.Retransmit.Next(p.rt)
	s.retrans.Reset(p.rt)
	s.a.metrics.retransmissions.Inc()
	s.send(p.msg, p.raw)
}

func (s *session) send(m *pana.Message, raw []byte) {
	s.a.metrics.messages.WithLabelValues("out", m.Name()).Inc()
	s.write(raw)
}

func (s *session) write(raw []byte) {
	if _, err := s.conn.WriteToUDPAddrPort(raw, s.peer); err != nil && !errors.Is(err, net.ErrClosed) {
		s.log.Info("pana send", zap.Error(err))
	}
}
