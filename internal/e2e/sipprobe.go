package e2e

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
)

// SIPProbe sends raw SIP text to a node over UDP and reads what comes back, without any SIP stack in between:
// what a test sends is byte for byte what the node receives (a torture message, a forged request).
//
// A response to a request that came over UDP goes to the request's source address and the port its top Via
// names, 5060 when it names none (RFC 3261 §18.2.2; RFC 3581 only when the Via asks for rport). Messages
// written for a test (RFC 4475's among them) carry Via sent-bys of their own, so the probe is bound to port
// 5060 of an address of its own in 127.0.0.0/8: whatever the Via says, the answer lands on it, and the
// message does not have to be touched.
type SIPProbe struct {
	t    testing.TB
	conn *net.UDPConn
	Addr netip.AddrPort // where the probe listens (and sends from)
}

// probePort is the port a SIP response goes to when the Via names none (RFC 3261 §18.2.2, §19.1.2).
const probePort = 5060

// NewSIPProbe binds a UDP socket in the network namespace ns (nil: the test's own) to port 5060 of a random
// 127.x.y.z (not 127.0.0.1, which a node under test may use), trying other addresses while one is taken. It is
// closed when the test ends.
func NewSIPProbe(t testing.TB, ns Namespace) *SIPProbe {
	t.Helper()
	return newSIPProbe(t, ns, probePort)
}

// NewSIPProbeFor is NewSIPProbe on the port the top Via of msg names (5060 when it names none): where the
// answer to msg goes when msg comes from the probe's address.
func NewSIPProbeFor(t testing.TB, ns Namespace, msg []byte) *SIPProbe {
	t.Helper()
	return newSIPProbe(t, ns, viaPort(msg))
}

// randomLoopback is a random address of 127.0.0.0/8 other than 127.0.0.1 (Linux routes all of it to lo): a
// source of its own for one test client.
func randomLoopback() netip.Addr {
	return netip.AddrFrom4([4]byte{127, byte(1 + rand.IntN(254)), byte(rand.IntN(256)), byte(1 + rand.IntN(254))})
}

func newSIPProbe(t testing.TB, ns Namespace, port uint16) *SIPProbe {
	t.Helper()
	for range 100 {
		ip := randomLoopback()
		var c *net.UDPConn
		err := inNamespace(ns, func() (err error) {
			c, err = net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(ip, port)))
			return err
		})
		if errors.Is(err, syscall.EADDRINUSE) {
			continue
		}
		if err != nil {
			t.Fatalf("sip probe: %v", err)
		}
		p := &SIPProbe{t: t, conn: c, Addr: netip.AddrPortFrom(ip, port)}
		t.Cleanup(func() { _ = c.Close() })
		return p
	}
	t.Fatalf("sip probe: port %d taken on every loopback address tried (a process bound to 0.0.0.0:%d?)",
		port, port)
	return nil
}

// topVia finds the sent-by of the first Via header field (long or compact name, RFC 3261 §20.42, §7.3.3) in
// a message whose header lines may be folded (§7.3.1) and spaced around "/" and ":" (§25.1).
var topVia = regexp.MustCompile(`(?im)^(?:via|v)[ \t]*:[ \t]*SIP[ \t]*/[ \t]*[0-9.]+[ \t]*/[ \t]*[^ \t]+[ \t]+([^;,? \t]+)`)

// folding is a line break followed by whitespace: a header line continued (RFC 3261 §7.3.1).
var folding = regexp.MustCompile(`\r\n[ \t]+`)

// viaPort is the port of the top Via's sent-by, 5060 when it has none or none can be read.
func viaPort(msg []byte) uint16 {
	head, _, _ := bytes.Cut(msg, []byte("\r\n\r\n"))
	unfolded := folding.ReplaceAll(head, []byte(" "))
	m := topVia.FindSubmatch(unfolded)
	if m == nil {
		return probePort
	}
	ap, err := netip.ParseAddrPort(string(m[1]))
	if err == nil {
		return ap.Port()
	}
	host := string(m[1])
	if i := strings.LastIndexByte(host, ':'); i >= 0 && !strings.HasSuffix(host, "]") {
		if n, err := strconv.ParseUint(host[i+1:], 10, 16); err == nil && n > 0 {
			return uint16(n)
		}
	}
	return probePort
}

// Send writes msg as one datagram to dst ("127.0.0.1:port").
func (p *SIPProbe) Send(dst string, msg []byte) {
	p.t.Helper()
	ap, err := netip.ParseAddrPort(dst)
	if err != nil {
		p.t.Fatalf("sip probe: destination %q: %v", dst, err)
	}
	if _, err := p.conn.WriteToUDPAddrPort(msg, ap); err != nil {
		p.t.Fatalf("sip probe: send to %s: %v", dst, err)
	}
}

// Read returns the next datagram the probe receives within wait, parsed, or nil when none came. A datagram
// that does not parse fails the test: a node must answer in a form a SIP peer can read.
func (p *SIPProbe) Read(wait time.Duration) sip.Message {
	p.t.Helper()
	buf := make([]byte, 65535)
	if err := p.conn.SetReadDeadline(time.Now().Add(wait)); err != nil {
		p.t.Fatalf("sip probe: %v", err)
	}
	n, _, err := p.conn.ReadFromUDPAddrPort(buf)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return nil
	}
	if err != nil {
		p.t.Fatalf("sip probe: read: %v", err)
	}
	msg, err := sip.ParseMessage(buf[:n])
	if err != nil {
		p.t.Fatalf("sip probe: the node sent what sipgo cannot parse: %v\n%q", err, buf[:n])
	}
	return msg
}

// Final waits up to wait for the first final response (provisional ones skipped) and returns it, or nil when
// none came. What had already arrived is read even when wait is over (a test collecting the answers to many
// messages sent at once shares one deadline among them). A request sent to the probe (a node forwarding
// something to it) fails the test.
func (p *SIPProbe) Final(wait time.Duration) *sip.Response {
	p.t.Helper()
	deadline := time.Now().Add(wait)
	for {
		left, ok := readWindow(deadline)
		if !ok {
			return nil
		}
		msg := p.Read(left)
		switch m := msg.(type) {
		case nil:
			return nil
		case *sip.Response:
			if m.StatusCode >= 200 {
				return m
			}
		case *sip.Request:
			p.t.Fatalf("sip probe: the node sent a request to the probe:\n%s", m)
		}
	}
}

// readWindow is how long the next read before deadline may wait: at least a moment, so that what is already
// queued is still read once the deadline has passed, and not at all a while after it (provisional responses
// arriving without end must not keep a reader going).
func readWindow(deadline time.Time) (time.Duration, bool) {
	const grace = time.Millisecond
	if time.Since(deadline) > time.Second {
		return 0, false
	}
	return max(time.Until(deadline), grace), true
}

// SIPStream is one TCP connection to a node carrying raw SIP text, framed on the way back by Content-Length
// (RFC 3261 §18.3).
type SIPStream struct {
	t    testing.TB
	conn net.Conn
	r    *bufio.Reader
}

// DialSIPStream connects to addr over TCP from the network namespace ns (nil: the test's own), from a random
// 127.x.y.z of its own: each stream is a client of its own to the node, which a per-source connection limit
// counts apart. The connection is closed when the test ends.
func DialSIPStream(t testing.TB, ns Namespace, addr string) *SIPStream {
	t.Helper()
	d := net.Dialer{LocalAddr: net.TCPAddrFromAddrPort(netip.AddrPortFrom(randomLoopback(), 0)), Timeout: 2 * time.Second}
	var c net.Conn
	err := inNamespace(ns, func() (err error) {
		c, err = d.Dial("tcp", addr)
		return err
	})
	if err != nil {
		t.Fatalf("sip stream: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return &SIPStream{t: t, conn: c, r: bufio.NewReader(c)}
}

// DialSIPStreamFrom is DialSIPStream from the local address from (another loopback address than a flood's),
// in the test's own network namespace, failing the test only if no attempt connects within wait.
func DialSIPStreamFrom(t testing.TB, from netip.Addr, addr string, wait time.Duration) *SIPStream {
	t.Helper()
	d := net.Dialer{LocalAddr: net.TCPAddrFromAddrPort(netip.AddrPortFrom(from, 0)), Timeout: time.Second}
	deadline := time.Now().Add(wait)
	for {
		c, err := d.Dial("tcp", addr)
		if err == nil {
			t.Cleanup(func() { _ = c.Close() })
			return &SIPStream{t: t, conn: c, r: bufio.NewReader(c)}
		}
		if time.Now().After(deadline) {
			t.Fatalf("sip stream from %s: no connection to %s within %v: %v", from, addr, wait, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// LocalAddr is the connection's local address (for the Via of what is sent on it).
func (s *SIPStream) LocalAddr() netip.AddrPort { return s.conn.LocalAddr().(*net.TCPAddr).AddrPort() }

// Conn is the underlying connection (to close it, or to write to it slowly).
func (s *SIPStream) Conn() net.Conn { return s.conn }

// Send writes msg to the connection.
func (s *SIPStream) Send(msg []byte) {
	s.t.Helper()
	if err := s.conn.SetWriteDeadline(time.Now().Add(2 * time.Second)); err != nil {
		s.t.Fatalf("sip stream: %v", err)
	}
	if _, err := s.conn.Write(msg); err != nil {
		s.t.Fatalf("sip stream: write: %v", err)
	}
}

// ErrStreamClosed is what Read reports when the node closed the connection.
var ErrStreamClosed = errors.New("connection closed by the node")

// Read returns the next message on the connection within wait: nil and no error when nothing came,
// ErrStreamClosed when the node closed the connection. A message that does not parse fails the test.
func (s *SIPStream) Read(wait time.Duration) (sip.Message, error) {
	s.t.Helper()
	if err := s.conn.SetReadDeadline(time.Now().Add(wait)); err != nil {
		s.t.Fatalf("sip stream: %v", err)
	}
	raw, err := readStreamMessage(s.r)
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded):
		return nil, nil
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, syscall.ECONNRESET):
		return nil, ErrStreamClosed
	case err != nil:
		s.t.Fatalf("sip stream: read: %v", err)
	}
	msg, err := sip.ParseMessage(raw)
	if err != nil {
		s.t.Fatalf("sip stream: the node sent what sipgo cannot parse: %v\n%q", err, raw)
	}
	return msg, nil
}

// Final is SIPProbe.Final for the stream: the first final response within wait (or already queued), nil when
// none came; closed reports that the node closed the connection instead.
func (s *SIPStream) Final(wait time.Duration) (res *sip.Response, closed bool) {
	s.t.Helper()
	deadline := time.Now().Add(wait)
	for {
		left, ok := readWindow(deadline)
		if !ok {
			return nil, false
		}
		msg, err := s.Read(left)
		if errors.Is(err, ErrStreamClosed) {
			return nil, true
		}
		switch m := msg.(type) {
		case nil:
			return nil, false
		case *sip.Response:
			if m.StatusCode >= 200 {
				return m, false
			}
		case *sip.Request:
			s.t.Fatalf("sip stream: the node sent a request on the test's connection:\n%s", m)
		}
	}
}

// readStreamMessage reads one message: the header up to the empty line, then Content-Length octets.
func readStreamMessage(r *bufio.Reader) ([]byte, error) {
	var head bytes.Buffer
	length := 0
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			if head.Len() > 0 && errors.Is(err, io.EOF) {
				return nil, io.ErrUnexpectedEOF
			}
			return nil, err
		}
		if head.Len() == 0 && strings.TrimSpace(line) == "" {
			continue // keep-alive CRLFs between messages (RFC 5626 §3.5.1)
		}
		head.WriteString(line)
		if line == "\r\n" || line == "\n" {
			break
		}
		name, value, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		if n := strings.ToLower(strings.TrimSpace(name)); n == "content-length" || n == "l" {
			v, err := strconv.Atoi(strings.TrimSpace(value))
			if err != nil || v < 0 {
				return nil, fmt.Errorf("content-length %q from the node", strings.TrimSpace(value))
			}
			length = v
		}
	}
	body := make([]byte, length)
	if _, err := io.ReadFull(r, body); err != nil {
		return nil, err
	}
	return append(head.Bytes(), body...), nil
}

// Options is a well-formed OPTIONS for the node at addr (RFC 3261 §11) from the probe, with a fresh branch,
// tag and Call-ID: the ordinary request a test sends to see whether a node still serves.
func (p *SIPProbe) Options(addr string) []byte {
	return SIPRequest("OPTIONS", "sip:"+addr, "UDP", p.Addr, "<sip:"+addr+">")
}

// SIPRequest is a well-formed request without a body (RFC 3261 §8.1.1) sent over transport from the address
// from: a fresh branch, tag and Call-ID, From the user "probe" at from's host, To the given value, and for a
// REGISTER a Contact at from and an Expires.
func SIPRequest(method, requestURI, transport string, from netip.AddrPort, to string) []byte {
	id := strconv.FormatUint(rand.Uint64(), 36)
	var b strings.Builder
	b.WriteString(method + " " + requestURI + " SIP/2.0\r\n")
	b.WriteString("Via: SIP/2.0/" + transport + " " + from.String() + ";branch=z9hG4bK-probe-" + id + ";rport\r\n")
	b.WriteString("Max-Forwards: 70\r\n")
	if method == "REGISTER" {
		b.WriteString("From: " + to + ";tag=" + id + "\r\n")
		b.WriteString("Contact: <sip:probe@" + from.String() + ";transport=" + strings.ToLower(transport) + ">\r\n")
		b.WriteString("Expires: 600\r\n")
	} else {
		b.WriteString("From: <sip:probe@" + from.Addr().String() + ">;tag=" + id + "\r\n")
	}
	b.WriteString("To: " + to + "\r\n")
	b.WriteString("Call-ID: probe-" + id + "\r\n")
	b.WriteString("CSeq: 1 " + method + "\r\n")
	b.WriteString("Content-Length: 0\r\n\r\n")
	return []byte(b.String())
}

// CheckServing fails the test unless the node p, listening for SIP at addr, is still running, logged no
// panic, and answers an OPTIONS sent over UDP from the namespace ns with a final response within 5 s.
func CheckServing(t testing.TB, ns Namespace, p *Process, addr string) {
	t.Helper()
	if !p.Running() {
		t.Fatalf("%s is no longer running: %v", p.Name, p.err)
	}
	p.CheckNoPanic(t)
	probe := NewSIPProbe(t, ns)
	probe.Send(addr, probe.Options(addr))
	if res := probe.Final(5 * time.Second); res == nil {
		t.Fatalf("%s no longer answers an OPTIONS", p.Name)
	} else {
		t.Logf("%s still serving: OPTIONS answered %d %s", p.Name, res.StatusCode, res.Reason)
	}
}
