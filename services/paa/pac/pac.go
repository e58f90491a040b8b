// Package pac is the PANA Client (RFC 5191) of a handset: it authenticates to a PAA with EAP-TLS (eaptls),
// derives the PANA SA, and keeps the session: it answers the PAA's pings and termination, pings and
// terminates on request, and ends at the session lifetime. The access token exported from the EAP-TLS
// session is what the UE presents to the IMS core (docs/fastreg.md).
package pac

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/imscore/imscore/services/paa/eaptls"
	"github.com/imscore/imscore/services/paa/pana"
)

// Errors of Authenticate and of an open session.
var (
	ErrRejected = errors.New("pana: authentication rejected")
	ErrClosed   = errors.New("pana: session closed")
	ErrTimeout  = errors.New("pana: no answer")
	errProtocol = errors.New("pana protocol error")
)

// Config configures a PaC.
type Config struct {
	// PAA is the PAA's address, host:port (port 716 by default).
	PAA string
	// EAP is the EAP-TLS peer: identity (the IMPI), client certificate, operator CA, server name.
	EAP eaptls.PeerConfig
	// Retransmit are the timers of the PaC's requests (RFC 5191 §9, default pana.DefaultRequestRetransmit);
	// PCIRetransmit those of the PCI (default pana.DefaultPCIRetransmit, but at most 10 tries here).
	Retransmit, PCIRetransmit pana.Retransmit
	// Algorithms are the PRF and integrity algorithms accepted, by preference (default pana.DefaultAlgorithms).
	Algorithms pana.Algorithms
	Log        *zap.Logger
}

// Session is an open PANA session.
type Session struct {
	cfg     Config
	conn    *net.UDPConn
	log     *zap.Logger
	in      chan datagram
	id      uint32
	sa      pana.SA
	seq     uint32 // the PaC's last request
	paaSeq  uint32 // the PAA's last request answered
	lastAns []byte

	// IMPI, Token and MSK are the EAP-TLS result; Lifetime is the Session-Lifetime the PAA granted.
	IMPI     string
	Token    []byte
	MSK      []byte
	Lifetime time.Duration
	Expires  time.Time

	ops  chan op
	done chan struct{}
	wg   sync.WaitGroup
	mu   sync.Mutex
	end  error
	once sync.Once
	quit chan struct{}
}

type datagram struct {
	raw []byte
	msg *pana.Message
}

type op struct {
	msg    *pana.Message
	result chan error
}

func randUint32() uint32 {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return binary.BigEndian.Uint32(b[:])
}

// Authenticate runs PANA with EAP-TLS against the PAA and returns the open session (RFC 5191 §4.1-§4.3).
// ctx bounds the authentication; the session lives until Terminate, Close, the PAA's termination or its
// lifetime.
func Authenticate(ctx context.Context, cfg Config) (*Session, error) {
	if cfg.Log == nil {
		cfg.Log = zap.NewNop()
	}
	cfg.Retransmit = cfg.Retransmit.WithDefaults(pana.DefaultRequestRetransmit)
	cfg.PCIRetransmit = cfg.PCIRetransmit.WithDefaults(pana.DefaultPCIRetransmit)
	if cfg.PCIRetransmit.MRC == 0 {
		cfg.PCIRetransmit.MRC = 10
	}
	if len(cfg.Algorithms.PRFs) == 0 || len(cfg.Algorithms.Integrity) == 0 {
		cfg.Algorithms = pana.DefaultAlgorithms
	}
	raddr, err := net.ResolveUDPAddr("udp", cfg.PAA)
	if err != nil {
		return nil, fmt.Errorf("pana: paa %s: %w", cfg.PAA, err)
	}
	conn, err := net.DialUDP("udp", nil, raddr)
	if err != nil {
		return nil, fmt.Errorf("pana: %w", err)
	}
	s := &Session{cfg: cfg, conn: conn, log: cfg.Log.With(zap.String("paa", cfg.PAA), zap.String("impi", cfg.EAP.Identity)),
		in: make(chan datagram, 16), ops: make(chan op), done: make(chan struct{}), quit: make(chan struct{}),
		seq: randUint32()}
	s.wg.Go(s.read)
	if err := s.authenticate(ctx); err != nil {
		s.stop(err)
		s.wg.Wait()
		return nil, err
	}
	s.wg.Go(s.serve)
	return s, nil
}

// read hands datagrams to the session until the socket closes.
func (s *Session) read() {
	buf := make([]byte, pana.MaxLen)
	for {
		n, err := s.conn.Read(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue // an ICMP error surfaced on the connected socket: the PAA may come up; retransmission goes on
		}
		raw := append([]byte(nil), buf[:n]...)
		m, err := pana.Parse(raw)
		if err != nil {
			s.log.Debug("invalid pana message discarded", zap.Error(err))
			continue
		}
		select {
		case s.in <- datagram{raw: raw, msg: m}:
		case <-s.quit:
			return
		}
	}
}

func (s *Session) send(raw []byte) {
	if _, err := s.conn.Write(raw); err != nil && !errors.Is(err, net.ErrClosed) {
		s.log.Debug("pana send", zap.Error(err))
	}
}

// answer sends the answer to the PAA's request req and keeps it for a retransmitted req (RFC 5191 §5.2).
func (s *Session) answer(req, m *pana.Message) ([]byte, error) {
	m.SessionID, m.Seq = req.SessionID, req.Seq
	raw, err := s.sa.Seal(m)
	if err != nil {
		return nil, err
	}
	s.paaSeq, s.lastAns = req.Seq, raw
	s.send(raw)
	return raw, nil
}

func (s *Session) authenticate(ctx context.Context) error {
	peer := eaptls.NewPeer(s.cfg.EAP)
	defer peer.Close()
	pci, _ := (&pana.Message{Type: pana.TypeClientInitiation}).Marshal()
	s.send(pci) // RFC 5191 §4.1
	rt := s.cfg.PCIRetransmit.Next(0)
	timer := time.NewTimer(rt)
	defer timer.Stop()
	count := 0
	started := false
	var iPAR, iPAN, paaNonce, pacNonce []byte
	for {
		var d datagram
		select {
		case <-ctx.Done():
			return fmt.Errorf("pana: authentication: %w", ctx.Err())
		case <-timer.C:
			if started {
				continue
			}
			if s.cfg.PCIRetransmit.Exhausted(count) {
				return fmt.Errorf("pana: PCI unanswered after %d tries: %w", count+1, ErrTimeout)
			}
			count++
			s.send(pci)
			rt = s.cfg.PCIRetransmit.Next(rt)
			timer.Reset(rt)
			continue
		case d = <-s.in:
		}
		m := d.msg
		if !m.IsRequest() || m.Type != pana.TypeAuth {
			continue
		}
		if started && m.SessionID == s.id && m.Seq == s.paaSeq {
			s.send(s.lastAns) // the PAA retransmitted: our PAN was lost
			continue
		}
		if !started {
			if !m.Has(pana.FlagStart) {
				continue
			}
			prf, integ, err := s.cfg.Algorithms.Choose(m)
			if err != nil {
				return err
			}
			s.sa.PRF, s.sa.Integrity, s.id = prf, integ, m.SessionID
			iPAR = d.raw[:m.Len()]
			ans := &pana.Message{Flags: pana.FlagStart, Type: pana.TypeAuth}
			ans.AddUint32(pana.CodePRFAlgorithm, uint32(prf))
			ans.AddUint32(pana.CodeIntegrityAlgorithm, uint32(integ))
			if e := m.Find(pana.CodeEAPPayload); e != nil {
				resp, err := peer.Handle(e.Value)
				if err != nil {
					return fmt.Errorf("pana: eap: %w", err)
				}
				ans.Add(pana.CodeEAPPayload, resp)
			}
			raw, err := s.answer(m, ans)
			if err != nil {
				return err
			}
			iPAN, started = raw, true
			timer.Stop()
			continue
		}
		if m.SessionID != s.id || m.Seq != s.paaSeq+1 {
			continue
		}
		if n := m.Find(pana.CodeNonce); n != nil && paaNonce == nil {
			paaNonce = append([]byte(nil), n.Value...)
		}
		var resp []byte
		var eapErr error
		if e := m.Find(pana.CodeEAPPayload); e != nil {
			resp, eapErr = peer.Handle(e.Value)
		}
		if !m.Has(pana.FlagComplete) {
			if eapErr != nil {
				return fmt.Errorf("pana: eap: %w", eapErr)
			}
			ans := &pana.Message{Type: pana.TypeAuth}
			if pacNonce == nil { // RFC 5191 §4.1: the first non-initial PAN carries the PaC's Nonce
				pacNonce = make([]byte, 32)
				_, _ = rand.Read(pacNonce)
				ans.Add(pana.CodeNonce, pacNonce)
			}
			if resp != nil {
				ans.Add(pana.CodeEAPPayload, resp)
			}
			if _, err := s.answer(m, ans); err != nil {
				return err
			}
			continue
		}
		// The PAR with C: the result (RFC 5191 §4.3).
		rc, _ := m.Uint32(pana.CodeResultCode)
		res, resErr := peer.Result()
		if rc != pana.ResultSuccess || eapErr != nil || resErr != nil {
			_, _ = s.answer(m, &pana.Message{Flags: pana.FlagComplete, Type: pana.TypeAuth})
			return fmt.Errorf("%w: result code %d: %w", ErrRejected, rc, errors.Join(eapErr, resErr))
		}
		keyID, ok := m.Uint32(pana.CodeKeyID)
		if !ok {
			return fmt.Errorf("pana: PAR with C and no Key-Id: %w", errProtocol)
		}
		s.sa.KeyID = keyID
		if err := s.sa.Establish(pana.KeyInput{MSK: res.MSK, IPAR: iPAR, IPAN: iPAN, PaCNonce: pacNonce, PAANonce: paaNonce}); err != nil {
			return err
		}
		if err := s.sa.Check(d.raw, m); err != nil {
			return fmt.Errorf("pana: the PAR with EAP-Success: %w", err)
		}
		lifetime, _ := m.Uint32(pana.CodeSessionLifetime)
		s.IMPI, s.Token, s.MSK = res.IMPI, res.Token, res.MSK
		s.Lifetime = time.Duration(lifetime) * time.Second
		s.Expires = time.Now().Add(s.Lifetime)
		ans := &pana.Message{Flags: pana.FlagComplete, Type: pana.TypeAuth}
		ans.AddUint32(pana.CodeKeyID, keyID)
		if _, err := s.answer(m, ans); err != nil {
			return err
		}
		s.log.Info("pana session open", zap.Uint32("pana_session", s.id), zap.Duration("lifetime", s.Lifetime))
		return nil
	}
}

// serve runs the open session: answers the PAA, sends our requests, ends at the lifetime.
func (s *Session) serve() {
	life := time.NewTimer(s.Lifetime)
	defer life.Stop()
	retrans := time.NewTimer(time.Hour)
	retrans.Stop()
	defer retrans.Stop()
	var pending *op
	var raw []byte
	var rt time.Duration
	count := 0
	finish := func(err error) {
		if pending != nil {
			pending.result <- err
			pending = nil
		}
	}
	for {
		select {
		case <-s.quit:
			finish(ErrClosed)
			return
		case <-life.C:
			s.log.Info("pana session lifetime expired")
			finish(ErrClosed)
			s.stop(fmt.Errorf("pana: session lifetime expired: %w", ErrClosed))
			return
		case o := <-s.ops:
			if pending != nil {
				o.result <- fmt.Errorf("pana: a request is outstanding: %w", errProtocol)
				continue
			}
			s.seq++
			o.msg.SessionID, o.msg.Seq = s.id, s.seq
			var err error
			if raw, err = s.sa.Seal(o.msg); err != nil {
				o.result <- err
				continue
			}
			pending, count, rt = &o, 0, s.cfg.Retransmit.Next(0)
			retrans.Reset(rt)
			s.send(raw)
		case <-retrans.C:
			if pending == nil {
				continue
			}
			if s.cfg.Retransmit.Exhausted(count) {
				finish(fmt.Errorf("pana: %s unanswered: %w", pending.msg.Name(), ErrTimeout))
				s.stop(fmt.Errorf("pana: the PAA does not answer: %w", ErrClosed))
				return
			}
			count++
			rt = s.cfg.Retransmit.Next(rt)
			retrans.Reset(rt)
			s.send(raw)
		case d := <-s.in:
			m := d.msg
			if m.SessionID != s.id {
				continue
			}
			if m.IsRequest() && m.Seq == s.paaSeq {
				s.send(s.lastAns)
				continue
			}
			if err := s.sa.Check(d.raw, m); err != nil {
				s.log.Info("pana message failed AUTH, discarded", zap.String("msg", m.Name()), zap.Error(err))
				continue
			}
			if !m.IsRequest() {
				if pending != nil && m.Seq == pending.msg.Seq && m.Type == pending.msg.Type {
					retrans.Stop()
					done := m.Type == pana.TypeTermination
					finish(nil)
					if done {
						s.stop(fmt.Errorf("pana: terminated: %w", ErrClosed))
						return
					}
				}
				continue
			}
			if m.Seq != s.paaSeq+1 {
				continue
			}
			switch {
			case m.Type == pana.TypeNotification && m.Has(pana.FlagPing):
				_, _ = s.answer(m, &pana.Message{Flags: pana.FlagPing, Type: pana.TypeNotification})
			case m.Type == pana.TypeTermination:
				_, _ = s.answer(m, &pana.Message{Type: pana.TypeTermination})
				s.log.Info("pana session terminated by the PAA")
				finish(ErrClosed)
				s.stop(fmt.Errorf("pana: terminated by the PAA: %w", ErrClosed))
				return
			}
		}
	}
}

func (s *Session) do(ctx context.Context, m *pana.Message) error {
	o := op{msg: m, result: make(chan error, 1)}
	select {
	case s.ops <- o:
	case <-s.done:
		return s.Err()
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-o.result:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Ping sends a PANA-Notification-Request with the P flag and waits for its answer (RFC 5191 §4.2).
func (s *Session) Ping(ctx context.Context) error {
	return s.do(ctx, &pana.Message{Flags: pana.FlagRequest | pana.FlagPing, Type: pana.TypeNotification})
}

// Terminate ends the session with a PANA-Termination-Request, cause LOGOUT (RFC 5191 §4.4).
func (s *Session) Terminate(ctx context.Context) error {
	m := &pana.Message{Flags: pana.FlagRequest, Type: pana.TypeTermination}
	m.AddUint32(pana.CodeTerminationCause, pana.TerminationLogout)
	err := s.do(ctx, m)
	s.Close()
	return err
}

// Done is closed when the session has ended.
func (s *Session) Done() <-chan struct{} { return s.done }

// Err says why the session ended, nil while it is open.
func (s *Session) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.end
}

func (s *Session) stop(err error) {
	s.once.Do(func() {
		s.mu.Lock()
		s.end = err
		s.mu.Unlock()
		close(s.quit)
		close(s.done)
		_ = s.conn.Close()
	})
}

// Close ends the session without telling the PAA and waits for its goroutines.
func (s *Session) Close() {
	s.stop(ErrClosed)
	s.wg.Wait()
}
