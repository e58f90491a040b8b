package proxy

// Transport limits (Limits): no peer may make the proxy hold unbounded connections, descriptors or buffers, nor
// stop it. sipgo's TCP transport serves our listeners and stops serving (and the node with it) at the first
// Accept error, keeps idle connections forever and has no read timeouts; limitListener and limitedConn wrap what
// it is given so that it never sees an Accept error and every connection is bounded in time and size.

import (
	"bytes"
	"container/list"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/emiago/sipgo/sip"
	"go.uber.org/zap"
)

// LimitReason names a limit that acted, as counted by Metrics.Limited.
type LimitReason string

// Limit reasons. The values are metric labels.
const (
	// LimitPerSource: an accepted connection was closed at once, its source IP had MaxConnectionsPerSource.
	LimitPerSource LimitReason = "per_source"
	// LimitTotal: an accepted connection was closed at once, MaxConnections were open and none was idle.
	LimitTotal LimitReason = "total"
	// LimitShed: an idle connection was closed to admit a new one (MaxConnections, or Accept out of descriptors).
	LimitShed LimitReason = "shed"
	// LimitIdle: a connection carried nothing for IdleTimeout and was closed.
	LimitIdle LimitReason = "idle"
	// LimitSlow: a message was not read within HeaderTimeout or MessageTimeout, or a write within WriteTimeout.
	LimitSlow LimitReason = "slow"
	// LimitOversize: a message over MaxMessageSize closed its connection, or its datagram was dropped.
	LimitOversize LimitReason = "oversize"
	// LimitAcceptError: Accept failed (EMFILE, ENFILE, ...) and was retried after a back-off.
	LimitAcceptError LimitReason = "accept_error"
	// LimitOverload: a request was answered 503 because MaxTransactions were in flight.
	LimitOverload LimitReason = "overload"
)

// Accept back-off after an error: doubled from min to max, as net/http's Server does.
const (
	acceptBackoffMin = 5 * time.Millisecond
	acceptBackoffMax = time.Second
	// limitLogEvery lets one log line per reason through per interval; the others are counted in it.
	limitLogEvery = 10 * time.Second
)

// effectiveMaxConns caps the configured connection limit to what the descriptor limit allows, keeping a reserve
// (a tenth of it, 64 to 4096) for UDP sockets, Diameter, HTTP, storage and the connections dialled meanwhile.
func effectiveMaxConns(configured int, nofile uint64) (max int, reserve uint64) {
	if nofile == 0 {
		return configured, 0
	}
	reserve = min(max64(nofile/10, 64), 4096)
	if nofile <= reserve {
		return 1, reserve
	}
	if avail := nofile - reserve; uint64(configured) > avail {
		return int(avail), reserve
	}
	return configured, reserve
}

func max64(a, b uint64) uint64 {
	if a > b {
		return a
	}
	return b
}

// rateLog lets one log line per reason through per interval and counts what it held back meanwhile.
type rateLog struct {
	mu   sync.Mutex
	last map[LimitReason]time.Time
	held map[LimitReason]int
}

func newRateLog() *rateLog {
	return &rateLog{last: make(map[LimitReason]time.Time), held: make(map[LimitReason]int)}
}

// allow reports whether a line for reason may be written now, and how many were held back since the last one.
func (r *rateLog) allow(reason LimitReason) (ok bool, suppressed int) {
	now := time.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	if last, seen := r.last[reason]; seen && now.Sub(last) < limitLogEvery {
		r.held[reason]++
		return false, 0
	}
	r.last[reason] = now
	suppressed = r.held[reason]
	r.held[reason] = 0
	return true, suppressed
}

// limited counts one limit acting and logs it, rate-limited per reason.
func (p *Proxy) limited(reason LimitReason, msg string, fields ...zap.Field) {
	p.metrics.Limited(reason)
	ok, suppressed := p.rate.allow(reason)
	if !ok {
		return
	}
	fields = append(fields, zap.String("limit", string(reason)), zap.Int("suppressed", suppressed))
	if reason == LimitAcceptError {
		p.log.Warn(msg, fields...)
		return
	}
	p.log.Info(msg, fields...)
}

// connLimiter holds the TCP connections of one proxy: counts in total and per source IP, and the idle accepted
// ones in the order they may be shed.
type connLimiter struct {
	p    *Proxy
	lim  Limits
	max  int           // effective MaxConnections
	done chan struct{} // closed by Proxy.Close: Accept stops waiting out a back-off

	mu        sync.Mutex
	total     int
	perSource map[netip.Addr]int
	// Idle accepted connections, least recently active at the front. silent ones never carried a whole message
	// (a flood's, or a UE's that has not spoken yet) and are shed before those that did (registered UEs).
	silent list.List
	idle   list.List
}

func newConnLimiter(p *Proxy, lim Limits, max int) *connLimiter {
	return &connLimiter{p: p, lim: lim, max: max, done: make(chan struct{}), perSource: make(map[netip.Addr]int)}
}

// listen wraps l so that sipgo is handed only admitted, limited connections and never an Accept error but the
// listener's closing.
func (cl *connLimiter) listen(l *net.TCPListener) net.Listener {
	return &limitListener{TCPListener: l, cl: cl}
}

// admit counts a new accepted connection in, shedding an idle one at the total limit; nil if it was refused (and
// closed).
func (cl *connLimiter) admit(conn net.Conn) *limitedConn {
	src := addrPortOf(conn.RemoteAddr())
	cl.mu.Lock()
	if n := cl.perSource[src.Addr()]; n >= cl.lim.MaxConnectionsPerSource {
		cl.mu.Unlock()
		cl.p.limited(LimitPerSource, "refused tcp connection: too many from its source", zap.Stringer("from", src),
			zap.Int("max_connections_per_source", cl.lim.MaxConnectionsPerSource))
		_ = conn.Close()
		return nil
	}
	var victim *limitedConn
	if cl.total >= cl.max {
		if victim = cl.oldestIdleLocked(); victim == nil {
			cl.mu.Unlock()
			cl.p.limited(LimitTotal, "refused tcp connection: connection limit reached, none idle",
				zap.Stringer("from", src), zap.Int("max_connections", cl.max))
			_ = conn.Close()
			return nil
		}
		cl.releaseLocked(victim)
	}
	c := cl.newConn(conn, src, true)
	cl.total++
	cl.perSource[src.Addr()]++
	c.elem, c.list = cl.silent.PushBack(c), &cl.silent
	cl.mu.Unlock()
	if victim != nil {
		victim.kill(LimitShed, "closed idle tcp connection to admit a new one", zap.Int("max_connections", cl.max))
	}
	return c
}

// dialled counts in a connection the proxy opened itself. It is never refused nor shed: it carries what the core
// sends (requests to a UE or the next CSCF, in-dialog ones included), and a stranger's connection must not cost
// that. It still counts towards the total, so strangers get fewer.
func (cl *connLimiter) dialled(conn net.Conn) *limitedConn {
	c := cl.newConn(conn, addrPortOf(conn.RemoteAddr()), false)
	cl.mu.Lock()
	cl.total++
	cl.mu.Unlock()
	return c
}

func (cl *connLimiter) newConn(conn net.Conn, src netip.AddrPort, accepted bool) *limitedConn {
	now := time.Now()
	return &limitedConn{Conn: conn, cl: cl, src: src, accepted: accepted, fr: newFramer(cl.lim.MaxMessageSize),
		opened: now, lastRead: now}
}

// oldestIdleLocked picks the connection to shed: the silent one idle the longest, else the idle one.
func (cl *connLimiter) oldestIdleLocked() *limitedConn {
	if e := cl.silent.Front(); e != nil {
		return e.Value.(*limitedConn)
	}
	if e := cl.idle.Front(); e != nil {
		return e.Value.(*limitedConn)
	}
	return nil
}

func (cl *connLimiter) releaseLocked(c *limitedConn) {
	if c.released {
		return
	}
	c.released = true
	cl.total--
	if c.accepted {
		if n := cl.perSource[c.src.Addr()] - 1; n > 0 {
			cl.perSource[c.src.Addr()] = n
		} else {
			delete(cl.perSource, c.src.Addr())
		}
	}
	if c.list != nil {
		c.list.Remove(c.elem)
		c.elem, c.list = nil, nil
	}
}

// activity moves an accepted connection in the shedding order after a read: to the back of its idle list when it
// is between messages, off the lists while a message is under way.
func (cl *connLimiter) activity(c *limitedConn, inMessage, spoke bool) {
	if !c.accepted {
		return
	}
	cl.mu.Lock()
	defer cl.mu.Unlock()
	if c.released {
		return
	}
	if c.list != nil {
		c.list.Remove(c.elem)
		c.elem, c.list = nil, nil
	}
	if inMessage {
		return
	}
	l := &cl.silent
	if spoke {
		l = &cl.idle
	}
	c.elem, c.list = l.PushBack(c), l
}

// acceptFailed handles an Accept error: out of descriptors, one idle connection is shed to make room.
func (cl *connLimiter) acceptFailed(addr net.Addr, err error, backoff time.Duration) {
	if errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) {
		cl.mu.Lock()
		victim := cl.oldestIdleLocked()
		if victim != nil {
			cl.releaseLocked(victim)
		}
		cl.mu.Unlock()
		if victim != nil {
			victim.kill(LimitShed, "closed idle tcp connection: out of file descriptors")
		}
	}
	cl.p.limited(LimitAcceptError, "tcp accept failed, retrying", zap.Stringer("addr", addr), zap.Error(err),
		zap.Duration("backoff", backoff))
}

func (cl *connLimiter) stop() { close(cl.done) }

// open reports the connections counted in, for tests.
func (cl *connLimiter) open() (total, silent, idle int) {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	return cl.total, cl.silent.Len(), cl.idle.Len()
}

// limitListener is the net.Listener sipgo serves: it admits connections through the limiter and retries every
// Accept error but the listener's closing, so that sipgo's accept loop (which returns on any error, ending the
// node) never ends because of what peers did.
type limitListener struct {
	*net.TCPListener
	cl *connLimiter
	// wrap, when set, wraps each accepted socket before it is admitted (the TLS server side, tls.go).
	wrap func(net.Conn) net.Conn
}

func (l *limitListener) Accept() (net.Conn, error) {
	var backoff time.Duration
	for {
		conn, err := l.TCPListener.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil, err
			}
			backoff = min(max(2*backoff, acceptBackoffMin), acceptBackoffMax)
			l.cl.acceptFailed(l.Addr(), err, backoff)
			t := time.NewTimer(backoff)
			select {
			case <-t.C:
			case <-l.cl.done:
				t.Stop()
				return nil, net.ErrClosed
			}
			continue
		}
		backoff = 0
		if l.wrap != nil {
			conn = l.wrap(conn)
		}
		if c := l.cl.admit(conn); c != nil {
			return c, nil
		}
	}
}

// limitedConn is one TCP connection as sipgo reads and writes it: its reads are followed by a framer so that an
// idle connection, a slow message and an oversized one each close it.
type limitedConn struct {
	net.Conn
	cl       *connLimiter
	src      netip.AddrPort
	accepted bool

	// Touched only by the reading goroutine (sipgo reads each connection from one goroutine).
	fr       *framer
	opened   time.Time
	msgStart time.Time // when the message under way began
	lastRead time.Time
	pend     []byte // read from the connection, not yet handed to sipgo
	ends     []int  // where in pend the messages framed in full end
	curLeft  int    // bytes of the message in cur still to hand to sipgo

	// cur is the message last handed to sipgo (whole messages only, one per Read) until sipgo reads again: if it
	// closes the connection instead, its stream parser refused cur, which Close then answers.
	cur atomic.Pointer[[]byte]

	lastWrite atomic.Int64 // unix nanoseconds; writes keep a connection from being idle
	killed    atomic.Bool
	closeOnce sync.Once

	// Guarded by cl.mu.
	released bool
	elem     *list.Element
	list     *list.List
}

// Read reads from the connection within the deadline its state allows. A limit that acts closes the connection
// and reads as io.EOF, which sipgo takes as the peer's close.
//
// sipgo is handed whole messages, one per Read (and CR/LF keep-alives between them as they come): when its stream
// parser refuses one, it closes the connection without a word, and Close then knows which message to answer with
// 400 (RFC 4475 §3.1.2.7 to §3.1.2.10: a 400 on the connection, not a silent close).
func (c *limitedConn) Read(b []byte) (int, error) {
	if c.curLeft == 0 {
		c.cur.Store(nil) // sipgo read on: it took the last message
	}
	for {
		if c.killed.Load() {
			return 0, io.EOF
		}
		if n := c.handOut(b); n > 0 {
			return n, nil
		}
		_ = c.Conn.SetReadDeadline(c.readDeadline())
		n, err := c.Conn.Read(b)
		if n > 0 {
			now := time.Now()
			c.lastRead = now
			wasIn, done := c.fr.inMessage(), c.fr.completed
			at := len(c.pend)
			c.pend = append(c.pend, b[:n]...)
			for data := b[:n]; len(data) > 0; {
				k, ended, ferr := c.fr.step(data)
				if ferr != nil {
					c.kill(LimitOversize, "closed tcp connection: message too large",
						zap.Int("max_message_size", c.cl.lim.MaxMessageSize))
					return 0, io.EOF
				}
				at += k
				if ended {
					c.ends = append(c.ends, at)
				}
				data = data[k:]
			}
			if c.fr.inMessage() && (!wasIn || c.fr.completed != done) {
				c.msgStart = now // a message began in this read
			}
			c.cl.activity(c, c.fr.inMessage(), c.fr.completed > 0)
			continue
		}
		if err == nil {
			return 0, nil
		}
		if c.killed.Load() {
			return 0, io.EOF
		}
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			return 0, err
		}
		if c.silent() {
			c.kill(LimitIdle, "closed tcp connection: no message since it was opened",
				zap.Duration("message_timeout", c.cl.lim.MessageTimeout))
			return 0, io.EOF
		}
		if !c.fr.inMessage() {
			if time.Since(c.lastActive()) < c.cl.lim.IdleTimeout {
				continue // written to meanwhile
			}
			c.kill(LimitIdle, "closed idle tcp connection", zap.Duration("idle_timeout", c.cl.lim.IdleTimeout))
			return 0, io.EOF
		}
		c.kill(LimitSlow, "closed tcp connection: message not received in time",
			zap.Bool("in_header", c.fr.inHead()), zap.Duration("header_timeout", c.cl.lim.HeaderTimeout),
			zap.Duration("message_timeout", c.cl.lim.MessageTimeout))
		return 0, io.EOF
	}
}

// handOut copies into b what sipgo may read next: the rest of the message under way to it, else the next message
// framed in full (and the keep-alives before it), else keep-alives alone. 0: nothing is ready.
func (c *limitedConn) handOut(b []byte) int {
	for c.curLeft == 0 {
		switch {
		case len(c.ends) > 0:
			msg := c.pend[:c.ends[0]:c.ends[0]]
			c.ends = c.ends[1:]
			c.curLeft = len(msg)
			if err := startLineRefused(c.cl.p.parser, msg); err != nil {
				// sipgo would close the connection on it, and every answer still owed on it would be lost: a
				// request is answered here and passed over, the stream goes on at the next message (RFC 3261
				// §18.3 frames it). Anything else (not SIP at all) goes to sipgo, which closes the connection.
				if c.cl.p.rejectUnparseable(msg, transportTCP, c.src, err, c.writeRejection) {
					c.curLeft = 0
					c.advance(len(msg))
				}
				continue
			}
			c.cur.Store(&msg)
		case len(c.pend) > 0 && !c.fr.inMessage():
			n := copy(b, c.pend) // keep-alives only (RFC 5626 §3.5.1): sipgo answers a CRLFCRLF ping
			c.advance(n)
			return n
		default:
			return 0
		}
	}
	n := copy(b, c.pend[:c.curLeft])
	c.curLeft -= n
	c.advance(n)
	return n
}

// advance drops n handed-out bytes from pend.
func (c *limitedConn) advance(n int) {
	c.pend = c.pend[n:]
	for i := range c.ends {
		c.ends[i] -= n
	}
	if len(c.pend) == 0 {
		c.pend, c.ends = nil, nil // an idle connection holds no buffer
	}
}

// refused answers the message sipgo's stream parser refused (it is closing the connection) with 400, on the
// connection (RFC 3261 §18.2.2), when its start line and top Via can be read, as UDP's rejectUnparseable does.
func (c *limitedConn) refused() {
	msg := c.cur.Swap(nil)
	if msg == nil || c.killed.Load() || c.cl.p.closing.Load() {
		return
	}
	c.cl.p.rejectUnparseable(*msg, transportTCP, c.src, errors.New("sip stream parser refused the message"),
		c.writeRejection)
}

// writeRejection sends the answer to a message read from this connection on it (RFC 3261 §18.2.2).
func (c *limitedConn) writeRejection(raw *rawRequest) error {
	_, err := c.Write(raw.response())
	return err
}

// startLineRefused reports why sipgo's stream parser would refuse msg's start line (RFC 3261 §7.5: CRLFs before
// it are ignored), nil if it would not.
func startLineRefused(parser *sip.Parser, msg []byte) error {
	msg = bytes.TrimLeft(msg, "\r\n")
	line, _, _ := bytes.Cut(msg, []byte("\r\n"))
	if _, err := parser.ParseSIP(append(line[:len(line):len(line)], "\r\n\r\n"...)); err != nil {
		return fmt.Errorf("start line: %w", err)
	}
	return nil
}

// readDeadline: before the first message of an accepted connection the message timeout from its opening; between
// messages the idle timeout from the last traffic either way; within one, the header and message timeouts from
// its first byte.
func (c *limitedConn) readDeadline() time.Time {
	if c.silent() {
		return c.opened.Add(c.cl.lim.MessageTimeout)
	}
	if !c.fr.inMessage() {
		return c.lastActive().Add(c.cl.lim.IdleTimeout)
	}
	d := c.msgStart.Add(c.cl.lim.MessageTimeout)
	if h := c.msgStart.Add(c.cl.lim.HeaderTimeout); c.fr.inHead() && h.Before(d) {
		d = h
	}
	return d
}

// silent reports an accepted connection that has not begun a message yet. It gets message_timeout from its
// opening, not idle_timeout: a UE sends its REGISTER as soon as it connects (RFC 5626 §4.2 flows, TS 33.203
// §7.1 after the 401), so only a connection opened to hold a descriptor stays silent.
func (c *limitedConn) silent() bool {
	return c.accepted && c.fr.completed == 0 && !c.fr.inMessage()
}

func (c *limitedConn) lastActive() time.Time {
	if w := time.Unix(0, c.lastWrite.Load()); w.After(c.lastRead) {
		return w
	}
	return c.lastRead
}

// Write writes within WriteTimeout: a peer that stops reading cannot hold a sender forever.
func (c *limitedConn) Write(b []byte) (int, error) {
	now := time.Now()
	c.lastWrite.Store(now.UnixNano())
	_ = c.Conn.SetWriteDeadline(now.Add(c.cl.lim.WriteTimeout))
	n, err := c.Conn.Write(b)
	if err != nil && errors.Is(err, os.ErrDeadlineExceeded) {
		c.kill(LimitSlow, "closed tcp connection: peer does not read", zap.Duration("write_timeout", c.cl.lim.WriteTimeout))
	}
	return n, err
}

// kill closes the connection because a limit acted; the reader sees io.EOF.
func (c *limitedConn) kill(reason LimitReason, msg string, fields ...zap.Field) {
	if !c.killed.CompareAndSwap(false, true) {
		return
	}
	c.cl.p.limited(reason, msg, append(fields, zap.Stringer("peer", c.src), zap.Bool("dialled", !c.accepted))...)
	_ = c.Close()
}

// Close closes the connection and counts it out. Only the first call closes: sipgo closes a connection again
// after its reader sees the close, and its pool once more when the proxy stops.
func (c *limitedConn) Close() error {
	err := net.ErrClosed
	c.closeOnce.Do(func() {
		c.refused()
		c.cl.mu.Lock()
		c.cl.releaseLocked(c)
		c.cl.mu.Unlock()
		err = c.Conn.Close()
	})
	if errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}

var (
	_ net.Listener = (*limitListener)(nil)
	_ net.Conn     = (*limitedConn)(nil)
)
