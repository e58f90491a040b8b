// Package msrp is the UE's MSRP session mode (RFC 4975) for sip/ue: an INVITE with an MSRP stream, one
// TCP or TLS connection per session (RFC 4975 §6, RFC 4572 fingerprints: a self-signed certificate whose
// SHA-256 is the SDP's a=fingerprint), SEND answered by 200. With E2AE the offer asks the P-CSCF for
// end-to-access-edge security (TS 24.229 §6.1.x, TS 33.328: TCP/TLS/MSRP, a=3ge2ae:requested) and the UE
// talks TLS to the IMS-AGW, whose certificate must match the answer's fingerprint.
//
// The UE is always the active side (a=setup:actpass in its offers, active in its answers): it connects, so
// that it works behind a NAT and the AGW's listening termination sees it first.
package msrp

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/imscore/imscore/services/imsagw"
	wire "github.com/imscore/imscore/services/imsagw/msrp"
	"github.com/imscore/imscore/sip/ue"
)

// ErrFingerprint means the peer's certificate does not match the SDP's a=fingerprint (RFC 4572 §5).
var ErrFingerprint = errors.New("msrp: peer certificate does not match a=fingerprint")

// Agent is the MSRP side of one UE: its certificate and its sessions by Call-ID. It implements ue.Media.
type Agent struct {
	// E2AE asks for end-to-access-edge security in offers (TCP/TLS/MSRP, a=3ge2ae:requested); without it the
	// UE offers plain TCP/MSRP.
	E2AE bool
	// DialTimeout bounds the connection and the TLS handshake. Default 10 s.
	DialTimeout time.Duration

	cert tls.Certificate
	fp   string
	log  *zap.Logger

	mu       sync.Mutex
	sessions map[string]*Session
	incoming chan *Session
	wg       sync.WaitGroup
	ctx      context.Context
	cancel   context.CancelFunc
}

// New makes an agent with a fresh self-signed certificate.
func New(e2ae bool, log *zap.Logger) (*Agent, error) {
	cert, err := imsagw.SelfSigned("imsue")
	if err != nil {
		return nil, fmt.Errorf("msrp: certificate: %w", err)
	}
	if log == nil {
		log = zap.NewNop()
	}
	a := &Agent{E2AE: e2ae, DialTimeout: 10 * time.Second, cert: cert, fp: imsagw.Fingerprint(cert.Certificate[0]),
		log: log, sessions: map[string]*Session{}, incoming: make(chan *Session, 16)}
	a.ctx, a.cancel = context.WithCancel(context.Background())
	return a, nil
}

// Fingerprint is the agent's a=fingerprint value ("sha-256 AB:…").
func (a *Agent) Fingerprint() string { return a.fp }

// Close ends every session and waits for the connecting goroutines.
func (a *Agent) Close() {
	a.cancel()
	a.mu.Lock()
	for _, s := range a.sessions {
		s.close()
	}
	a.mu.Unlock()
	a.wg.Wait()
}

// Session is one MSRP session: the connection and both paths.
type Session struct {
	CallID   string
	a        *Agent
	own      string // our a=path URI
	peer     string // the peer's a=path URI
	ready    chan struct{}
	err      error
	conn     net.Conn
	received chan string
	wmu      sync.Mutex
	pending  map[string]chan string // SEND transaction id → status
	pmu      sync.Mutex
	once     sync.Once
}

func (a *Agent) session(callID string) *Session {
	a.mu.Lock()
	defer a.mu.Unlock()
	s := a.sessions[callID]
	if s == nil {
		id := randHex(8)
		s = &Session{CallID: callID, a: a, ready: make(chan struct{}), received: make(chan string, 64),
			pending: map[string]chan string{}, own: id}
		a.sessions[callID] = s
	}
	return s
}

// Offer is the UE's offer (ue.Media).
func (a *Agent) Offer(callID string, local netip.Addr) []byte {
	s := a.session(callID)
	return a.sdp(s, local, "actpass", a.E2AE)
}

// Answer answers an offer with an MSRP stream and connects to it (ue.Media).
func (a *Agent) Answer(callID string, local netip.Addr, offer []byte) []byte {
	s := a.session(callID)
	r, err := parse(offer)
	tlsOn := err == nil && r.tls
	body := a.sdp(s, local, "active", tlsOn)
	if err != nil {
		s.fail(err)
		return body
	}
	a.connect(s, r, true)
	return body
}

// Answered connects to the answer's stream (ue.Media).
func (a *Agent) Answered(callID string, answer []byte) {
	s := a.session(callID)
	r, err := parse(answer)
	if err != nil {
		s.fail(err)
		return
	}
	a.connect(s, r, false)
}

// Accept returns the next session a call to this UE set up.
func (a *Agent) Accept(ctx context.Context) (*Session, error) {
	select {
	case s := <-a.incoming:
		return s, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Session returns the session of a call, once connected.
func (a *Agent) Session(ctx context.Context, callID string) (*Session, error) {
	s := a.session(callID)
	select {
	case <-s.ready:
		return s, s.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (a *Agent) sdp(s *Session, local netip.Addr, setup string, tlsOn bool) []byte {
	ip, host := "IP4", local.String()
	if local.Is6() && !local.Is4In6() {
		ip, host = "IP6", "["+local.String()+"]"
	}
	proto, scheme := "TCP/MSRP", "msrp"
	if tlsOn {
		proto, scheme = "TCP/TLS/MSRP", "msrps"
	}
	// Port 9 (RFC 4145 §4): the active side listens nowhere.
	b := "v=0\r\no=- 1 1 IN " + ip + " " + local.String() + "\r\ns=-\r\nc=IN " + ip + " " + local.String() + "\r\nt=0 0\r\n" +
		"m=message 9 " + proto + " *\r\na=accept-types:text/plain\r\n" +
		"a=path:" + scheme + "://" + host + ":9/" + s.own + ";tcp\r\na=setup:" + setup + "\r\n"
	if tlsOn {
		b += "a=fingerprint:" + a.fp + "\r\n"
		if a.E2AE && setup == "actpass" {
			b += "a=3ge2ae:requested\r\n"
		}
	}
	return []byte(b)
}

// remote is what the UE reads of the peer's SDP.
type remote struct {
	addr        netip.AddrPort
	tls         bool
	fingerprint string
	path        string
}

func parse(body []byte) (remote, error) {
	var r remote
	var host string
	var port uint16
	found := false
	for _, l := range strings.Split(strings.ReplaceAll(string(body), "\r\n", "\n"), "\n") {
		switch {
		case strings.HasPrefix(l, "c="):
			if f := strings.Fields(l); len(f) == 3 {
				host = f[2]
			}
		case strings.HasPrefix(l, "m=message "):
			f := strings.Fields(l)
			if len(f) < 3 {
				return r, fmt.Errorf("msrp: m= line %q", l)
			}
			p, err := strconv.ParseUint(f[1], 10, 16)
			if err != nil {
				return r, fmt.Errorf("msrp: port %q", f[1])
			}
			port, r.tls, found = uint16(p), f[2] == "TCP/TLS/MSRP", true
		case strings.HasPrefix(l, "a=fingerprint:"):
			r.fingerprint = strings.TrimPrefix(l, "a=fingerprint:")
		case strings.HasPrefix(l, "a=path:"):
			// RFC 4975 §8.1: the URIs of the path, the peer's own last; our To-Path is all of them (§7.1.1).
			r.path = strings.Join(strings.Fields(strings.TrimPrefix(l, "a=path:")), " ")
		}
	}
	if !found {
		return r, errors.New("msrp: no MSRP stream in the SDP")
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return r, fmt.Errorf("msrp: c= %q", host)
	}
	r.addr = netip.AddrPortFrom(a, port)
	if r.tls && r.fingerprint == "" {
		return r, errors.New("msrp: TCP/TLS/MSRP without a=fingerprint")
	}
	return r, nil
}

// connect opens the session's connection once (the SDP's address; TLS with our certificate, the peer's
// checked against its fingerprint).
func (a *Agent) connect(s *Session, r remote, incoming bool) {
	a.mu.Lock()
	if s.peer != "" {
		a.mu.Unlock()
		return
	}
	s.peer = r.path
	a.mu.Unlock()
	a.wg.Go(func() {
		ctx, cancel := context.WithTimeout(a.ctx, a.DialTimeout)
		defer cancel()
		c, err := a.dial(ctx, r)
		if err != nil {
			a.log.Info("MSRP connection failed", zap.String("call_id", s.CallID), zap.Stringer("to", r.addr), zap.Error(err))
			s.fail(err)
			return
		}
		s.conn = c
		a.wg.Go(s.read)
		close(s.ready)
		if incoming {
			select {
			case a.incoming <- s:
			default:
			}
		}
	})
}

func (a *Agent) dial(ctx context.Context, r remote) (net.Conn, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", r.addr.String())
	if err != nil || !r.tls {
		return c, err
	}
	want := r.fingerprint
	tc := tls.Client(c, &tls.Config{Certificates: []tls.Certificate{a.cert}, MinVersion: tls.VersionTLS12,
		// RFC 4572 §6.3 (RFC 8122): the certificate is self-signed; what authenticates it is the fingerprint
		// that came in the SDP.
		InsecureSkipVerify: true,
		VerifyPeerCertificate: func(raw [][]byte, _ [][]*x509.Certificate) error {
			if len(raw) == 0 || !strings.EqualFold(imsagw.Fingerprint(raw[0]), want) {
				return ErrFingerprint
			}
			return nil
		}})
	if err := tc.HandshakeContext(ctx); err != nil {
		_ = c.Close()
		return nil, err
	}
	return tc, nil
}

func (s *Session) fail(err error) {
	s.once.Do(func() {
		s.err = err
		close(s.ready)
	})
}

func (s *Session) close() {
	if s.conn != nil {
		_ = s.conn.Close()
	}
}

// Close closes the session's connection.
func (s *Session) Close() { s.close() }

// Send sends text in one SEND (RFC 4975 §7.1.1) and waits for its 200.
func (s *Session) Send(ctx context.Context, text string) error {
	tid := randHex(6)
	done := make(chan string, 1)
	s.pmu.Lock()
	s.pending[tid] = done
	s.pmu.Unlock()
	defer func() {
		s.pmu.Lock()
		delete(s.pending, tid)
		s.pmu.Unlock()
	}()
	m := &wire.Message{TransactionID: tid, Method: "SEND", Headers: []wire.Header{{Name: "To-Path", Value: s.peer},
		{Name: "From-Path", Value: s.ownURI()}, {Name: "Message-ID", Value: randHex(6)},
		{Name: "Byte-Range", Value: fmt.Sprintf("1-%d/%d", len(text), len(text))}, {Name: "Content-Type", Value: "text/plain"}},
		Body: []byte(text), Flag: '$'}
	if err := s.write(wire.Encode(m)); err != nil {
		return err
	}
	select {
	case st := <-done:
		if st != "200" {
			return fmt.Errorf("msrp: SEND answered %s", st)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("msrp: no 200 to SEND %s: %w", tid, ctx.Err())
	}
}

// Receive returns the next message body the peer sent.
func (s *Session) Receive(ctx context.Context) (string, error) {
	select {
	case t := <-s.received:
		return t, nil
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

func (s *Session) ownURI() string { return "msrp://ue/" + s.own + ";tcp" }

func (s *Session) write(b []byte) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	_ = s.conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
	_, err := s.conn.Write(b)
	return err
}

// read answers SENDs with 200 (RFC 4975 §7.2) and hands their bodies over; responses complete Send.
func (s *Session) read() {
	rd := wire.NewReader(s.conn)
	for {
		m, err := rd.Read()
		if err != nil {
			return
		}
		if m.Method == "" {
			s.pmu.Lock()
			ch := s.pending[m.TransactionID]
			s.pmu.Unlock()
			if ch != nil {
				ch <- strconv.Itoa(m.Status)
			}
			continue
		}
		if m.Method != "SEND" {
			continue
		}
		res := &wire.Message{TransactionID: m.TransactionID, Status: 200, Comment: "OK", Headers: []wire.Header{
			{Name: "To-Path", Value: m.Get("From-Path")}, {Name: "From-Path", Value: s.ownURI()}}, Flag: '$'}
		if err := s.write(wire.Encode(res)); err != nil {
			return
		}
		select {
		case s.received <- string(m.Body):
		default:
		}
	}
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

var _ ue.Media = (*Agent)(nil)
