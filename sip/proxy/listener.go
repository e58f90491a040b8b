package proxy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"

	"github.com/emiago/sipgo/sip"

	"github.com/imscore/imscore/internal/dscp"
)

// Transports this proxy speaks, as they appear in Via (RFC 3261 §20.42).
const (
	transportUDP = "UDP"
	transportTCP = "TCP"
)

// listener is one bound socket: UDP (read by the proxy itself) or TCP (served by sipgo's transport).
type listener struct {
	transport string
	bound     netip.AddrPort // actual bound address (port filled in when 0 was asked)
	host      string         // advertised host for Via and Record-Route
	udp       *net.UDPConn
	tcp       *net.TCPListener
}

func (l *listener) port() int { return int(l.bound.Port()) }

// is4 reports the address family the listener serves.
func (l *listener) is4() bool { return l.bound.Addr().Unmap().Is4() }

// ListenAddr is one bound listener, as reported by Proxy.Listeners.
type ListenAddr struct {
	Transport string // "UDP" or "TCP"
	Addr      netip.AddrPort
	Advertise string
}

// bindPair binds UDP and TCP on the same port. With port 0 the kernel picks the UDP port and TCP is bound to the
// same number; if that one is taken, try again with another.
func bindPair(l Listen, code uint8) (*listener, *listener, error) {
	want, err := netip.ParseAddrPort(l.Addr)
	if err != nil {
		return nil, nil, fmt.Errorf("listen %q: %w", l.Addr, err)
	}
	const attempts = 20
	var lastErr error
	for range attempts {
		u, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(want))
		if err != nil {
			return nil, nil, fmt.Errorf("listen udp %s: %w", want, err)
		}
		bound := u.LocalAddr().(*net.UDPAddr).AddrPort()
		if err := dscp.Set(u, code); err != nil {
			_ = u.Close()
			return nil, nil, fmt.Errorf("listen udp %s: dscp: %w", want, err)
		}
		// reuseAddrControl: our own outgoing TCP may later bind this port too (a P-CSCF's port-c).
		lc := net.ListenConfig{Control: dscp.Control(reuseAddrControl, code)}
		tln, err := lc.Listen(context.Background(), "tcp", netip.AddrPortFrom(want.Addr(), bound.Port()).String())
		if err != nil {
			_ = u.Close()
			lastErr = err
			if want.Port() != 0 {
				break
			}
			continue
		}
		host := l.Advertise
		if host == "" {
			host = bound.Addr().Unmap().String()
		}
		ul := &listener{transport: transportUDP, bound: bound, host: host, udp: u}
		t := tln.(*net.TCPListener)
		tl := &listener{transport: transportTCP, bound: t.Addr().(*net.TCPAddr).AddrPort(), host: host, tcp: t}
		return ul, tl, nil
	}
	return nil, nil, fmt.Errorf("listen tcp %s: %w", want, lastErr)
}

// sentBy is host:port as written in Via and Record-Route.
func (l *listener) uri() sip.Uri { return l.rrURI(false) }

// rrURI is the listener's URI as written in Record-Route. A TLS listener's is a sips URI when the request is for
// a sips URI (RFC 3261 §16.6 step 4: then the Record-Route MUST be sips too), else sip with transport=tls (the
// same step forbids a sips Record-Route on a request without one; RFC 5630 §3.1.3 deprecates the parameter, but
// it is the only way left to keep the hop on TLS, and every SIP stack still reads it).
func (l *listener) rrURI(secure bool) sip.Uri {
	params := sip.NewParams()
	if l.transport == transportTLS && secure {
		params.Add("lr", "")
		return sip.Uri{Scheme: "sips", Host: l.host, Port: l.port(), UriParams: params}
	}
	params.Add("transport", strings.ToLower(l.transport))
	params.Add("lr", "")
	return sip.Uri{Scheme: "sip", Host: l.host, Port: l.port(), UriParams: params}
}

// udpConn is a sip.Connection that writes through a UDP listener to one fixed peer. Each client and server
// transaction over UDP gets its own: RFC 3261 §17.1.1.3 wants the ACK (built by sipgo) sent where the INVITE
// went, and §18.2.2 wants responses sent where the request's Via says, whatever the message itself carries.
// Unlike sipgo's UDPConnection it does not refuse messages over 1300 bytes: that limit is for requests, which the
// proxy moves to TCP itself (§18.1.1), while a large response must still go back over UDP.
type udpConn struct {
	p   *Proxy
	l   *listener
	dst netip.AddrPort

	// The last message written, serialized once into a pooled buffer: a retransmission (Timer A, E or G,
	// RFC 3261 §17.1.1.2, §17.1.2.2, §17.2.1) and the first send after prepare write the same bytes again. A
	// message is not edited once handed to a transaction, so its pointer identifies its bytes.
	mu     sync.Mutex
	wire   *bytes.Buffer
	wireOf sip.Message

	// noKeep is set for the responses of a non-INVITE server transaction: one is sent again only when the
	// request is retransmitted (RFC 3261 §17.2.2), which is rare, while the transaction lives on for Timer J
	// (64*T1 = 32 s over UDP). Keeping its bytes held a buffer per request for 32 s — at 100 registrations/s
	// ~6,400 buffers, ~3 KiB of heap per registered UE measured at the I-CSCF — so they go back at once and a
	// retransmission serializes again.
	noKeep bool
}

func (c *udpConn) LocalAddr() net.Addr { return c.l.udp.LocalAddr() }

// serializeLocked returns msg's bytes, serializing it only if it is not the message last serialized (c.mu held).
func (c *udpConn) serializeLocked(msg sip.Message) []byte {
	if c.wire == nil {
		c.wire = c.p.getBuf()
	} else if c.wireOf == msg {
		return c.wire.Bytes()
	} else {
		c.wire.Reset()
	}
	msg.StringWrite(c.wire)
	c.wireOf = msg
	return c.wire.Bytes()
}

// prepare serializes msg ahead of its first write and returns its size (RFC 3261 §18.1.1 decides on it).
func (c *udpConn) prepare(msg sip.Message) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.serializeLocked(msg))
}

func (c *udpConn) WriteMsg(msg sip.Message) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	b := c.serializeLocked(msg)
	c.p.traceOut(msg, transportUDP, c.dst) // before the write: the peer may act on it at once
	_, err := c.l.udp.WriteToUDPAddrPort(b, c.dst)
	if c.noKeep {
		c.releaseLocked()
	}
	if err != nil {
		return fmt.Errorf("udp send to %s: %w", c.dst, err)
	}
	return nil
}

// release returns the buffer to the pool; a later write serializes again.
func (c *udpConn) release() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.releaseLocked()
}

func (c *udpConn) releaseLocked() {
	if c.wire != nil {
		c.p.putBuf(c.wire)
		c.wire, c.wireOf = nil, nil
	}
}

func (c *udpConn) Ref(int) int { return 1 }

// TryClose is called when the transaction using the connection ends (or after a one-off write): the bytes
// kept for retransmissions are no longer needed.
func (c *udpConn) TryClose() (int, error) { c.release(); return 1, nil }
func (c *udpConn) Close() error           { c.release(); return nil }
func (c *udpConn) String() string         { return "udp " + c.l.bound.String() + "->" + c.dst.String() }

// tcpConn wraps a sipgo TCP (or TLS) connection from its pool so that every message written is traced and counted.
type tcpConn struct {
	sip.Connection
	p         *Proxy
	remote    netip.AddrPort
	transport string // "" is TCP
}

func (c *tcpConn) WriteMsg(msg sip.Message) error {
	t := c.transport
	if t == "" {
		t = transportTCP
	}
	c.p.traceOut(msg, t, c.remote) // before the write: the peer may act on it at once
	if err := c.Connection.WriteMsg(msg); err != nil {
		return fmt.Errorf("%s send to %s: %w", strings.ToLower(t), c.remote, err)
	}
	return nil
}

// tcpInjector is a net.Listener that hands sipgo connections the proxy dialled itself. Served by sipgo's TCP
// transport like an accepted socket, an injected connection is framed, read and pooled (by remote address) by
// sipgo, while the proxy decides where it is dialled from. sipgo's own dialer cannot bind a chosen local port
// safely: it looks an existing connection up by local address alone, so every connection from one local port
// looks the same to it.
type tcpInjector struct {
	ch     chan injection
	closed chan struct{}
	once   sync.Once
	prev   chan struct{} // only touched by the Accept goroutine
}

type injection struct {
	conn net.Conn
	done chan struct{} // closed once sipgo has registered conn (it calls Accept again right after)
}

func newTCPInjector() *tcpInjector {
	return &tcpInjector{ch: make(chan injection), closed: make(chan struct{})}
}

func (t *tcpInjector) Accept() (net.Conn, error) {
	if t.prev != nil {
		close(t.prev)
		t.prev = nil
	}
	select {
	case in := <-t.ch:
		t.prev = in.done
		return in.conn, nil
	case <-t.closed:
		return nil, net.ErrClosed
	}
}

func (t *tcpInjector) Close() error {
	t.once.Do(func() { close(t.closed) })
	return nil
}

func (t *tcpInjector) Addr() net.Addr { return &net.TCPAddr{IP: net.IPv4zero, Port: 0} }

// inject hands conn to sipgo and waits until sipgo has put it in its pool.
func (t *tcpInjector) inject(ctx context.Context, conn net.Conn) error {
	in := injection{conn: conn, done: make(chan struct{})}
	select {
	case t.ch <- in:
	case <-t.closed:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-in.done:
		return nil
	case <-t.closed:
		return ErrClosed
	}
}

// tcpConnTo returns a pooled TCP connection to dst, dialling one (from local, when valid) if there is none. The
// caller owns one reference and must TryClose it (a sipgo transaction does so when it ends).
func (p *Proxy) tcpConnTo(ctx context.Context, dst netip.AddrPort, local netip.AddrPort) (sip.Connection, error) {
	return p.streamConnTo(ctx, "tcp", transportTCP, dst, local, nil, func() error { return p.dialAndInject(ctx, dst, local) })
}

// streamConnTo returns a connection to dst from sipgo's pool of network ("tcp", "tls"), calling dial when there is
// none; usable, when set, must accept a pooled connection before it is reused (TLS: the peer it authenticated).
func (p *Proxy) streamConnTo(ctx context.Context, network, transport string, dst, local netip.AddrPort,
	usable func(sip.Connection) error, dial func() error) (sip.Connection, error) {
	key := dst.String()
	wrap := func(c sip.Connection) (sip.Connection, error) {
		if usable != nil {
			if err := usable(c); err != nil {
				_, _ = c.TryClose()
				return nil, err
			}
		}
		w := &tcpConn{Connection: c, p: p, remote: dst}
		if transport != transportTCP {
			w.transport = transport
		}
		return w, nil
	}
	for {
		if c, err := p.tpl.GetConnection(network, key); err == nil && c != nil {
			if !local.IsValid() || addrPortOf(c.LocalAddr()) == local {
				return wrap(c)
			}
			_, _ = c.TryClose() // wrong local address: dial another one
		}
		// One dial per destination at a time; others wait and then find it in the pool.
		p.dialMu.Lock()
		wait, busy := p.dialing[network+key]
		if !busy {
			wait = make(chan struct{})
			p.dialing[network+key] = wait
		}
		p.dialMu.Unlock()
		if busy {
			select {
			case <-wait:
				continue
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		err := dial()
		p.dialMu.Lock()
		delete(p.dialing, network+key)
		close(wait)
		p.dialMu.Unlock()
		if err != nil {
			return nil, err
		}
		c, err := p.tpl.GetConnection(network, key)
		if err != nil || c == nil {
			return nil, fmt.Errorf("%s %s: connection closed right after connect: %w", network, dst, ErrTransport)
		}
		return wrap(c)
	}
}

func (p *Proxy) dialAndInject(ctx context.Context, dst, local netip.AddrPort) error {
	conn, err := p.dialTCP(ctx, dst, local)
	if err != nil {
		return err
	}
	return p.injectDialled(ctx, p.injector, conn, dst)
}

// dialTCP connects to dst (from local, when valid), inside Config.InNamespace when set.
func (p *Proxy) dialTCP(ctx context.Context, dst, local netip.AddrPort) (net.Conn, error) {
	d := net.Dialer{Timeout: p.cfg.TCPConnectTimeout, Control: dscp.Control(nil, p.cfg.DSCP)}
	if local.IsValid() {
		d.LocalAddr = net.TCPAddrFromAddrPort(local)
		d.Control = dscp.Control(reuseAddrControl, p.cfg.DSCP)
	}
	var conn net.Conn
	dial := func() (err error) {
		conn, err = d.DialContext(ctx, "tcp", dst.String())
		return err
	}
	var err error
	if p.cfg.InNamespace != nil {
		err = p.cfg.InNamespace(dial)
	} else {
		err = dial()
	}
	if err != nil {
		return nil, fmt.Errorf("tcp connect %s: %w: %w", dst, ErrTransport, err)
	}
	return conn, nil
}

// injectDialled counts a dialled connection in (never shed, Limits.MaxConnections) and hands it to sipgo.
func (p *Proxy) injectDialled(ctx context.Context, inj *tcpInjector, conn net.Conn, dst netip.AddrPort) error {
	lc := p.conns.dialled(conn)
	if err := inj.inject(ctx, lc); err != nil {
		_ = lc.Close()
		return fmt.Errorf("tcp %s: hand connection to transport: %w", dst, err)
	}
	return nil
}

func addrPortOf(a net.Addr) netip.AddrPort {
	switch v := a.(type) {
	case *net.TCPAddr:
		return unmapAP(v.AddrPort())
	case *net.UDPAddr:
		return unmapAP(v.AddrPort())
	}
	ap, _ := netip.ParseAddrPort(a.String())
	return unmapAP(ap)
}

func unmapAP(ap netip.AddrPort) netip.AddrPort {
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}

// parseHostPort parses "ip:port" as sipgo writes Source(); zero value if it is not one.
func parseHostPort(s string) netip.AddrPort {
	ap, err := netip.ParseAddrPort(s)
	if err != nil {
		return netip.AddrPort{}
	}
	return unmapAP(ap)
}

func (p *Proxy) getBuf() *bytes.Buffer {
	p.wireBufs.Add(1)
	b := p.bufs.Get().(*bytes.Buffer)
	b.Reset()
	return b
}

func (p *Proxy) putBuf(b *bytes.Buffer) {
	p.wireBufs.Add(-1)
	if b.Cap() <= 64<<10 {
		p.bufs.Put(b)
	}
}

func isClosedErr(err error) bool {
	return errors.Is(err, net.ErrClosed)
}

func portString(p int) string { return strconv.Itoa(p) }

var (
	_ sip.Connection = (*udpConn)(nil)
	_ sip.Connection = (*tcpConn)(nil)
	_ net.Listener   = (*tcpInjector)(nil)
)
