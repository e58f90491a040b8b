package imsagw

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
)

// Values of the private properties this AGW reads from a stream's LocalControl (profile.go).
const (
	estabNow         = "now"
	estabInterlinked = "interlinked"
)

// maxHeld bounds the connections one termination holds while it waits for its Remote descriptor.
const maxHeld = 2

// relayBuffer is the copy buffer of one direction of a relay: one MSRP chunk of the usual size (RFC 4975
// §7.1.1 suggests 2048 bytes or more per chunk) fits several times.
const relayBuffer = 16 << 10

// termination is one end of a context (H.248.1 §6.2): T1 towards the UE in the access realm or T2 towards the
// core. It owns its listener and, once established, its connection.
type termination struct {
	id     string
	realm  string
	access bool
	cx     *agwContext
	ln     *net.TCPListener // TCP terminations
	udp    *net.UDPConn     // RTP terminations: RTP and RTCP sockets
	rtcp   *net.UDPConn
	log    *zap.Logger

	// Guarded by cx.mu.
	local      media  // as answered to the ALG: our address, port, setup and fingerprint
	remote     *media // nil until a Remote descriptor came
	props      properties
	eventsID   uint32 // request id of the Events descriptor asking for g/cause
	notify     bool
	conn       net.Conn // the established leg (TLS done on T1)
	busy       bool     // the AGW's own connection is being set up (dial, then handshake)
	handshakes int      // accepted connections in their TLS handshake (at most maxHeld)
	held       []heldConn
	subtracted bool
	// RTP terminations: the sources latched onto (TS 23.334 §6.2.5).
	latched, latchedRTCP netip.AddrPort
}

type heldConn struct {
	conn  *net.TCPConn
	timer *time.Timer
}

// properties are the stream's LocalControl settings (profile.go).
type properties struct {
	latch bool   // Latching Requirement (TS 23.334 §6.2.5): the first connection's source is the peer
	saf   bool   // Remote source address filtering (TS 23.334 §6.2.4)
	spf   bool   // Remote source port filtering (TS 23.334 §6.2.4)
	estab string // when the AGW opens its active connection: now, or interlinked with the other termination
}

// agwContext is one H.248 context: at most two terminations whose connections are relayed to each other.
type agwContext struct {
	id  uint32
	n   *Node
	log *zap.Logger
	ctx context.Context // ends when the context is removed; its dials stop then
	end context.CancelFunc

	mu       sync.Mutex
	ctrl     netip.AddrPort // where Notify goes: the sender of the latest command
	terms    []*termination
	lastCmd  time.Time
	relaying bool
	released bool
	closed   bool
	lastRTP  time.Time
}

func (cx *agwContext) find(id string) *termination {
	for _, t := range cx.terms {
		if t.id == id {
			return t
		}
	}
	return nil
}

func (t *termination) other() *termination {
	for _, o := range t.cx.terms {
		if o != t {
			return o
		}
	}
	return nil
}

// agwActive tells whether the AGW opens the TCP connection of this termination (RFC 4145 §4.1): the setup the
// ALG gave in Local, or, for actpass or none, the opposite of the remote side's.
func (t *termination) agwActive() bool {
	switch t.local.Setup {
	case SetupActive:
		return true
	case SetupPassive:
		return false
	}
	return t.remote != nil && t.remote.Setup == SetupPassive
}

// bearerUp tells whether the context relays (under cx.mu). A leg that is up while the other never comes does
// not count: setup_timeout removes such a context like one that never saw a connection.
func (cx *agwContext) bearerUp() bool { return cx.relaying }

// acceptLoop serves the termination's listener until it is closed.
func (t *termination) acceptLoop() {
	for {
		c, err := t.ln.AcceptTCP()
		if err != nil {
			return
		}
		t.cx.accepted(t, c)
	}
}

func (cx *agwContext) refuse(t *termination, c net.Conn, reason string) {
	cx.n.metrics.refused.WithLabelValues(reason).Inc()
	t.log.Info("connection refused", zap.Stringer("from", c.RemoteAddr()), zap.String("reason", reason))
	_ = c.Close()
}

// accepted handles an incoming connection (a SYN that completed at a termination).
func (cx *agwContext) accepted(t *termination, c *net.TCPConn) {
	cx.mu.Lock()
	defer cx.mu.Unlock()
	switch {
	case cx.closed || t.subtracted:
		_ = c.Close()
	case cx.released:
		cx.refuse(t, c, refusedReleased)
	case t.conn != nil || t.busy || t.handshakes >= maxHeld:
		// TS 23.334 §6.2.10.3.1.1.1 step 10': a further SYN while the bearer is up is not relayed; the
		// connection in place stays. Up to maxHeld handshakes run side by side, so that a peer that connects
		// and says nothing does not hold the UE off; the first to complete wins.
		cx.refuse(t, c, refusedRepeated)
	case t.remote == nil:
		// A SYN before the Remote descriptor (the UE may connect as soon as it sent its answer): held for
		// config_hold, then judged as any other.
		if len(t.held) >= maxHeld {
			cx.refuse(t, c, refusedRepeated)
			return
		}
		h := heldConn{conn: c}
		h.timer = time.AfterFunc(cx.n.cfg.ConfigHold, func() { cx.holdExpired(t, c) })
		t.held = append(t.held, h)
	case t.agwActive():
		cx.refuse(t, c, refusedUnexpected)
	default:
		cx.admit(t, c)
	}
}

func (cx *agwContext) holdExpired(t *termination, c *net.TCPConn) {
	cx.mu.Lock()
	defer cx.mu.Unlock()
	for i, h := range t.held {
		if h.conn == c {
			t.held = append(t.held[:i], t.held[i+1:]...)
			cx.refuse(t, c, refusedUnconfigured)
			return
		}
	}
}

// releaseHeld judges the connections held for a Remote descriptor that came now (under cx.mu).
func (cx *agwContext) releaseHeld(t *termination) {
	held := t.held
	t.held = nil
	for _, h := range held {
		h.timer.Stop()
		switch {
		case t.conn != nil || t.busy || t.handshakes >= maxHeld:
			cx.refuse(t, h.conn, refusedRepeated)
		case t.agwActive():
			cx.refuse(t, h.conn, refusedUnexpected)
		default:
			cx.admit(t, h.conn)
		}
	}
}

// admit applies source filtering and latching to an incoming connection and starts its TLS handshake (under
// cx.mu).
func (cx *agwContext) admit(t *termination, c *net.TCPConn) {
	from := c.RemoteAddr().(*net.TCPAddr).AddrPort()
	from = netip.AddrPortFrom(from.Addr().Unmap(), from.Port())
	if !t.sourceAllowed(from) {
		cx.refuse(t, c, refusedSource)
		return
	}
	t.handshakes++
	t.log.Info("connection accepted", zap.Stringer("from", from))
	cx.n.wg.Go(func() { cx.establish(t, c, false) })
}

// sourceAllowed is remote source address and port filtering (TS 23.334 §6.2.4): against the address and port of
// the Remote descriptor. Without filtering, any source is latched (TS 23.334 §6.2.5: the first connection's
// source becomes the peer, a NATed UE's included).
func (t *termination) sourceAllowed(from netip.AddrPort) bool {
	if t.remote == nil {
		return false
	}
	if t.props.saf {
		want, err := netip.ParseAddr(t.remote.Addr)
		if err != nil || want.Unmap() != from.Addr() {
			return false
		}
	}
	if t.props.spf && t.remote.Port != fmt.Sprint(from.Port()) {
		return false
	}
	return true
}

// establish completes a connection of t: the TLS handshake on a TLS termination (the AGW is TLS server when it
// accepted, client when it dialled, RFC 4975 §14 / RFC 4572 §6.1), then hands it to the context.
func (cx *agwContext) establish(t *termination, c net.Conn, dialled bool) {
	cx.mu.Lock()
	useTLS := t.local.tls()
	var want string
	if t.remote != nil {
		want = t.remote.Fingerprint
	}
	cx.mu.Unlock()
	if useTLS {
		tc, err := cx.n.handshake(cx.ctx, c, want, dialled)
		if err != nil {
			cx.n.metrics.refused.WithLabelValues(refusedTLS).Inc()
			t.log.Warn("TLS refused", zap.Stringer("peer", c.RemoteAddr()), zap.Error(err))
			_ = c.Close()
			cx.mu.Lock()
			t.settled(dialled)
			cx.mu.Unlock()
			if dialled {
				cx.setupFailed(t, "TLS session establishment failed")
			}
			return
		}
		c = tc
	}
	cx.legUp(t, c, dialled)
}

// settled ends the setup of one connection (under cx.mu).
func (t *termination) settled(dialled bool) {
	if dialled {
		t.busy = false
	} else {
		t.handshakes--
	}
}

// legUp records an established connection; with both up the relay starts, and an interlinked termination
// whose AGW side is active dials now (H.248.89 §8 interlinkage, TS 23.334 §6.2.10.3.1.1.1).
func (cx *agwContext) legUp(t *termination, c net.Conn, dialled bool) {
	cx.mu.Lock()
	defer cx.mu.Unlock()
	t.settled(dialled)
	if cx.closed || t.subtracted || cx.released {
		_ = c.Close()
		return
	}
	if t.conn != nil { // another handshake of this termination completed first
		cx.refuse(t, c, refusedRepeated)
		return
	}
	t.conn = c
	t.log.Info("bearer leg up", zap.Stringer("peer", c.RemoteAddr()))
	o := t.other()
	if o == nil {
		return
	}
	if o.conn != nil {
		cx.startRelay(t, o)
		return
	}
	if o.props.estab == estabInterlinked {
		cx.tryDial(o, true)
	}
}

// tryDial opens the AGW's connection of t if it is the active side, its Remote is known and nothing is up yet
// (under cx.mu). triggered says the other termination's connection is up (interlinkage).
func (cx *agwContext) tryDial(t *termination, triggered bool) {
	if t.ln == nil || cx.closed || cx.released || t.subtracted || t.conn != nil || t.busy || t.remote == nil || !t.agwActive() {
		return
	}
	if t.props.estab == estabInterlinked && !triggered {
		return
	}
	to, err := netip.ParseAddr(t.remote.Addr)
	if err != nil {
		t.log.Warn("no remote address to connect to", zap.String("address", t.remote.Addr))
		return
	}
	if cx.n.dialAllowed != nil && !cx.n.dialAllowed(to) {
		return
	}
	var port uint16
	if _, err := fmt.Sscan(t.remote.Port, &port); err != nil || port == 0 {
		t.log.Warn("no remote port to connect to", zap.String("port", t.remote.Port))
		return
	}
	t.busy = true
	local := t.ln.Addr().(*net.TCPAddr).AddrPort().Addr()
	dst := netip.AddrPortFrom(to, port)
	cx.n.wg.Go(func() {
		d := net.Dialer{Timeout: cx.n.cfg.DialTimeout, LocalAddr: net.TCPAddrFromAddrPort(netip.AddrPortFrom(local, 0))}
		c, err := d.DialContext(cx.ctx, "tcp", dst.String())
		if err != nil {
			cx.n.metrics.dialFailed.Inc()
			t.log.Warn("outgoing TCP connection failed", zap.Stringer("to", dst), zap.Error(err))
			cx.mu.Lock()
			t.busy = false
			cx.mu.Unlock()
			cx.setupFailed(t, "TCP connection establishment failed")
			return
		}
		t.log.Info("outgoing TCP connection up", zap.Stringer("to", dst))
		cx.establish(t, c, true)
	})
}

// setupFailed reports a failed establishment: Notify g/cause with Generalcause FT (profile.go).
func (cx *agwContext) setupFailed(t *termination, text string) {
	cx.mu.Lock()
	defer cx.mu.Unlock()
	if !cx.closed && !t.subtracted {
		cx.n.notify(cx, t, causeFailureTemporary, text)
	}
}

// startRelay copies between the two connections (under cx.mu).
func (cx *agwContext) startRelay(a, b *termination) {
	cx.relaying = true
	t1, t2 := a, b
	if !t1.access && t2.access {
		t1, t2 = t2, t1
	}
	ca, cb := t1.conn, t2.conn
	cx.n.metrics.bearers.WithLabelValues("established").Inc()
	cx.log.Info("relay up", zap.String("t1", t1.id), zap.String("t2", t2.id))
	var last atomic.Int64
	last.Store(time.Now().UnixNano())
	var once sync.Once
	stop := func(why error) {
		once.Do(func() {
			_ = ca.Close()
			_ = cb.Close()
			cx.relayEnded(why)
		})
	}
	idle := cx.n.cfg.IdleTimeout
	pump := func(dst, src net.Conn, dir string) {
		buf := make([]byte, relayBuffer)
		counter := cx.n.metrics.bytes.WithLabelValues(dir)
		for {
			_ = src.SetReadDeadline(time.Unix(0, last.Load()).Add(idle))
			n, err := src.Read(buf)
			if n > 0 {
				last.Store(time.Now().UnixNano())
				counter.Add(float64(n))
				if _, werr := dst.Write(buf[:n]); werr != nil {
					stop(fmt.Errorf("%s: write: %w", dir, werr))
					return
				}
			}
			if err != nil {
				var ne net.Error
				if errors.As(err, &ne) && ne.Timeout() && time.Since(time.Unix(0, last.Load())) < idle {
					continue // the other direction carried traffic: not idle
				}
				if errors.Is(err, io.EOF) {
					err = fmt.Errorf("%s: closed by peer", dir)
				}
				stop(err)
				return
			}
		}
	}
	cx.n.wg.Go(func() { pump(cb, ca, "towards_core") })
	cx.n.wg.Go(func() { pump(ca, cb, "towards_access") })
}

// relayEnded is the bearer released: each termination that asked for g/cause gets a Notify with Generalcause
// NR (TS 23.334 "Notify Released Bearer"); the terminations stay until the ALG subtracts them (or
// setup_timeout removes the context).
func (cx *agwContext) relayEnded(why error) {
	cx.mu.Lock()
	defer cx.mu.Unlock()
	cx.relaying = false
	cx.released = true
	cx.lastCmd = time.Now()
	cx.n.metrics.bearers.WithLabelValues("released").Inc()
	cx.log.Info("relay ended, bearer released", zap.Error(why))
	for _, t := range cx.terms {
		t.conn = nil
		if !cx.closed && !t.subtracted {
			cx.n.notify(cx, t, causeNormalRelease, "bearer released")
		}
	}
}

// closeTermination closes what t owns (under cx.mu).
func (t *termination) close() {
	if t.ln != nil {
		_ = t.ln.Close()
	}
	if t.udp != nil {
		_ = t.udp.Close()
		_ = t.rtcp.Close()
	}
	if t.conn != nil {
		_ = t.conn.Close()
		t.conn = nil
	}
	for _, h := range t.held {
		h.timer.Stop()
		_ = h.conn.Close()
	}
	t.held = nil
}

// handshake runs TLS on c towards the UE: the AGW's certificate, TLS 1.2 or later, and the peer's certificate
// checked against the a=fingerprint of the Remote descriptor (RFC 8122 §5, TS 33.328 §7.3.4: the fingerprint in
// the SDP is what authenticates a self-signed UE certificate, so no CA is consulted).
func (n *Node) handshake(ctx context.Context, c net.Conn, fingerprint string, client bool) (*tls.Conn, error) {
	want, err := parseFingerprint(fingerprint)
	if err != nil {
		return nil, err
	}
	verify := func(raw [][]byte, _ [][]*x509.Certificate) error {
		if len(raw) == 0 {
			return errors.New("no certificate")
		}
		if sum := sha256.Sum256(raw[0]); string(sum[:]) != string(want) {
			return fmt.Errorf("certificate fingerprint %s does not match a=fingerprint %s", formatFingerprint(sum[:]), fingerprint)
		}
		return nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{n.cert},
		ClientAuth: tls.RequireAnyClientCert, VerifyPeerCertificate: verify,
		InsecureSkipVerify: true} // the fingerprint check above replaces chain verification (RFC 4572 §6.1)
	var tc *tls.Conn
	if client {
		tc = tls.Client(c, cfg)
	} else {
		tc = tls.Server(c, cfg)
	}
	hctx, cancel := context.WithTimeout(ctx, n.cfg.HandshakeTimeout)
	defer cancel()
	if err := tc.HandshakeContext(hctx); err != nil {
		return nil, fmt.Errorf("tls handshake: %w", err)
	}
	return tc, nil
}

// parseFingerprint reads "sha-256 AB:CD:…" (RFC 8122 §5).
func parseFingerprint(v string) ([]byte, error) {
	hash, hex, ok := strings.Cut(strings.TrimSpace(v), " ")
	if !ok || !strings.EqualFold(hash, FingerprintHash) {
		return nil, fmt.Errorf("a=fingerprint %q: want %s", v, FingerprintHash)
	}
	var out []byte
	for _, h := range strings.Split(strings.TrimSpace(hex), ":") {
		var b byte
		if len(h) != 2 {
			return nil, fmt.Errorf("a=fingerprint %q: bad byte %q", v, h)
		}
		if _, err := fmt.Sscanf(h, "%02X", &b); err != nil {
			return nil, fmt.Errorf("a=fingerprint %q: bad byte %q", v, h)
		}
		out = append(out, b)
	}
	if len(out) != sha256.Size {
		return nil, fmt.Errorf("a=fingerprint %q: %d bytes, want %d", v, len(out), sha256.Size)
	}
	return out, nil
}

// formatFingerprint writes a digest as RFC 8122 §5 does: upper-case hex bytes separated by colons.
func formatFingerprint(sum []byte) string {
	parts := make([]string, len(sum))
	for i, b := range sum {
		parts[i] = fmt.Sprintf("%02X", b)
	}
	return strings.Join(parts, ":")
}

// Fingerprint is the a=fingerprint value of a DER certificate ("sha-256 AB:CD:…").
func Fingerprint(der []byte) string {
	sum := sha256.Sum256(der)
	return FingerprintHash + " " + formatFingerprint(sum[:])
}
