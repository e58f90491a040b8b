package proxy

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"go.uber.org/zap"
)

// The hot-path benchmarks (issue 12) drive one proxy with recorded messages over loopback: a REGISTER
// transaction, and a call (INVITE, 200, ACK, BYE, 200), over UDP and over TCP. The UAC and the UAS around the
// proxy write from byte templates and match responses by bytes, without parsing, so that allocations per
// operation are (nearly all) the proxy's own. TestHotPathAllocBudget holds each to a ceiling.

// hotRig is a proxy between a byte-level UAC and UAS on one transport.
type hotRig struct {
	p         *Proxy
	transport string
	uac       *bytePeer
	uas       *bytePeer
	proxyAt   netip.AddrPort
	register  []byte // the recorded REGISTER, with placeholders
	buf       []byte // the request being written
}

// newHotRig starts a proxy forwarding every request to a UAS over transport ("udp" or "tcp").
func newHotRig(tb testing.TB, transport string) *hotRig {
	tb.Helper()
	rec, err := os.ReadFile("testdata/register.sip")
	if err != nil {
		tb.Fatal(err)
	}
	uas := startBytePeer(tb, transport, "", true)
	target := sip.Uri{Scheme: "sip", User: "bob", Host: "127.0.0.1", Port: int(uas.local.Port())}
	if transport == transportTCP {
		target.UriParams = sip.NewParams()
		target.UriParams.Add("transport", "tcp")
	}
	p, err := New(Config{Listen: []Listen{{Addr: "127.0.0.1:0"}}, Router: hotRouter{target: &target}}, zap.NewNop())
	if err != nil {
		tb.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); _ = p.Run(context.Background()) }()
	tb.Cleanup(func() { _ = p.Close(); <-done })
	r := &hotRig{p: p, transport: transport, uas: uas, proxyAt: p.addr(transport), register: templateOf(rec)}
	r.uac = startBytePeer(tb, transport, r.proxyAt.String(), false)
	return r
}

// hotRouter forwards every request to target and knows sec-agree (the recorded REGISTER's Proxy-Require), as a
// P-CSCF does.
type hotRouter struct{ target *sip.Uri }

func (h hotRouter) Route(context.Context, *sip.Request, Source) (Decision, error) {
	return Forward(Target{URI: h.target}), nil
}

func (hotRouter) OptionTags(*sip.Request) ([]string, bool) { return []string{"sec-agree"}, false }

// templateOf turns a recorded request into a template: its Via sent-by, branch and Call-ID become
// placeholders the rig fills per operation.
func templateOf(rec []byte) []byte {
	rec = bytes.ReplaceAll(rec, []byte("\r\n"), []byte("\n"))
	rec = bytes.ReplaceAll(rec, []byte("\n"), []byte("\r\n"))
	lines := bytes.Split(rec, []byte("\r\n"))
	for i, l := range lines {
		switch {
		case bytes.HasPrefix(l, []byte("Via:")):
			lines[i] = []byte("Via: SIP/2.0/@T @A;branch=z9hG4bK@B;rport")
		case bytes.HasPrefix(l, []byte("Call-ID:")):
			lines[i] = []byte("Call-ID: @C")
		}
	}
	return bytes.Join(lines, []byte("\r\n"))
}

// fill writes tmpl into r.buf with the placeholders replaced: @T transport, @A the UAC's address, @B the branch
// and @C the Call-ID (both made of tag and n).
func (r *hotRig) fill(tmpl []byte, tag string, n int) []byte {
	b := r.buf[:0]
	for i := 0; i < len(tmpl); i++ {
		if tmpl[i] != '@' || i+1 == len(tmpl) {
			b = append(b, tmpl[i])
			continue
		}
		i++
		switch tmpl[i] {
		case 'T':
			if r.transport == transportTCP {
				b = append(b, "TCP"...)
			} else {
				b = append(b, "UDP"...)
			}
		case 'A':
			b = append(b, r.uac.localStr...)
		case 'B':
			b = append(b, tag...)
			b = strconv.AppendInt(b, int64(n), 10)
		case 'C':
			b = append(b, "hot-"...)
			b = strconv.AppendInt(b, int64(n), 10)
		default:
			b = append(b, '@', tmpl[i])
		}
	}
	r.buf = b
	return b
}

// doRegister runs one REGISTER transaction: the recorded REGISTER through the proxy, 200 back.
func (r *hotRig) doRegister(n int) error {
	if err := r.uac.send(r.fill(r.register, "reg", n), r.proxyAt); err != nil {
		return err
	}
	return r.uac.awaitFinal(200)
}

const (
	callInvite = "INVITE sip:bob@ims.mnc001.mcc001.3gppnetwork.org SIP/2.0\r\n" +
		"Via: SIP/2.0/@T @A;branch=z9hG4bK@B;rport\r\n" +
		"Max-Forwards: 70\r\n" +
		"From: \"Alice\" <sip:alice@ims.mnc001.mcc001.3gppnetwork.org>;tag=a1\r\n" +
		"To: <sip:bob@ims.mnc001.mcc001.3gppnetwork.org>\r\n" +
		"Call-ID: @C\r\n" +
		"CSeq: 1 INVITE\r\n" +
		"Contact: <sip:alice@@A>\r\n" +
		"P-Preferred-Identity: <sip:alice@ims.mnc001.mcc001.3gppnetwork.org>\r\n" +
		"Supported: 100rel, timer\r\n" +
		"Content-Type: application/sdp\r\n" +
		"Content-Length: 123\r\n\r\n" +
		"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0 8\r\na=rtpmap:0 PCMU/8000\r\na=sendrecv\r\n"
	callAck = "ACK sip:bob@ims.mnc001.mcc001.3gppnetwork.org SIP/2.0\r\n" +
		"Via: SIP/2.0/@T @A;branch=z9hG4bK@B;rport\r\n" +
		"Max-Forwards: 70\r\n" +
		"From: \"Alice\" <sip:alice@ims.mnc001.mcc001.3gppnetwork.org>;tag=a1\r\n" +
		"To: <sip:bob@ims.mnc001.mcc001.3gppnetwork.org>;tag=uas\r\n" +
		"Call-ID: @C\r\n" +
		"CSeq: 1 ACK\r\n" +
		"Content-Length: 0\r\n\r\n"
	callBye = "BYE sip:bob@ims.mnc001.mcc001.3gppnetwork.org SIP/2.0\r\n" +
		"Via: SIP/2.0/@T @A;branch=z9hG4bK@B;rport\r\n" +
		"Max-Forwards: 70\r\n" +
		"From: \"Alice\" <sip:alice@ims.mnc001.mcc001.3gppnetwork.org>;tag=a1\r\n" +
		"To: <sip:bob@ims.mnc001.mcc001.3gppnetwork.org>;tag=uas\r\n" +
		"Call-ID: @C\r\n" +
		"CSeq: 2 BYE\r\n" +
		"Content-Length: 0\r\n\r\n"
)

// doCall runs one call: INVITE (100 from the proxy, 200 from the UAS), the ACK for the 2xx (forwarded
// statelessly), BYE and its 200.
func (r *hotRig) doCall(n int) error {
	if err := r.uac.send(r.fill([]byte(callInvite), "inv", n), r.proxyAt); err != nil {
		return err
	}
	if err := r.uac.awaitFinal(200); err != nil {
		return fmt.Errorf("INVITE: %w", err)
	}
	if err := r.uac.send(r.fill([]byte(callAck), "ack", n), r.proxyAt); err != nil {
		return err
	}
	if err := r.uac.send(r.fill([]byte(callBye), "bye", n), r.proxyAt); err != nil {
		return err
	}
	if err := r.uac.awaitFinal(200); err != nil {
		return fmt.Errorf("BYE: %w", err)
	}
	return r.uas.awaitAck()
}

func BenchmarkHotPath(b *testing.B) {
	for _, tr := range []string{transportUDP, transportTCP} {
		b.Run("register/"+tr, func(b *testing.B) {
			r := newHotRig(b, tr)
			b.ReportAllocs()
			n := 0
			for b.Loop() {
				n++
				if err := r.doRegister(n); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("call/"+tr, func(b *testing.B) {
			r := newHotRig(b, tr)
			b.ReportAllocs()
			n := 0
			for b.Loop() {
				n++
				if err := r.doCall(n); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// bytePeer is a UAC or UAS that speaks SIP from bytes: over UDP a socket, over TCP one connection (the UAC
// dials the proxy; the UAS accepts the proxy's connection). A UAS answers every request but ACK with 200,
// built from the request's own Via, From, To, Call-ID and CSeq lines; what it reads goes to in.
type bytePeer struct {
	transport string
	local     netip.AddrPort
	localStr  string
	udp       *net.UDPConn
	tcpLn     net.Listener
	mu        sync.Mutex
	tcp       net.Conn
	in        chan []byte // UAC: responses; UAS: ACKs
	pool      sync.Pool
}

func startBytePeer(tb testing.TB, transport, dial string, uas bool) *bytePeer {
	tb.Helper()
	bp := &bytePeer{transport: transport, in: make(chan []byte, 64)}
	bp.pool.New = func() any { return make([]byte, 0, 2048) }
	var wg sync.WaitGroup
	var closers []io.Closer
	switch {
	case transport == transportUDP:
		c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			tb.Fatal(err)
		}
		bp.udp = c
		bp.local = c.LocalAddr().(*net.UDPAddr).AddrPort()
		closers = append(closers, c)
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 65535)
			for {
				n, from, err := c.ReadFromUDPAddrPort(buf)
				if err != nil {
					return
				}
				bp.handle(buf[:n], uas, func(b []byte) { _, _ = c.WriteToUDPAddrPort(b, from) })
			}
		}()
	case uas:
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			tb.Fatal(err)
		}
		bp.tcpLn = ln
		bp.local = ln.Addr().(*net.TCPAddr).AddrPort()
		closers = append(closers, ln)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				conn, err := ln.Accept()
				if err != nil {
					return
				}
				bp.mu.Lock()
				closers = append(closers, conn)
				bp.mu.Unlock()
				wg.Add(1)
				go func() {
					defer wg.Done()
					bp.readStream(conn, uas)
				}()
			}
		}()
	default:
		conn, err := net.Dial("tcp", dial)
		if err != nil {
			tb.Fatal(err)
		}
		bp.tcp = conn
		bp.local = conn.LocalAddr().(*net.TCPAddr).AddrPort()
		closers = append(closers, conn)
		wg.Add(1)
		go func() {
			defer wg.Done()
			bp.readStream(conn, uas)
		}()
	}
	bp.localStr = bp.local.String()
	tb.Cleanup(func() {
		bp.mu.Lock()
		for _, c := range closers {
			_ = c.Close()
		}
		bp.mu.Unlock()
		wg.Wait()
	})
	return bp
}

func (bp *bytePeer) readStream(conn net.Conn, uas bool) {
	r := bufio.NewReaderSize(conn, 65536)
	var msg []byte
	for {
		msg = msg[:0]
		length := -1
		for {
			line, err := r.ReadSlice('\n')
			if err != nil {
				return
			}
			msg = append(msg, line...)
			if len(line) <= 2 && len(msg) > 2 { // the empty line ending the headers
				break
			}
			if v, ok := headerValueBytes(line, "Content-Length", "l"); ok {
				length, _ = strconv.Atoi(string(bytes.TrimSpace(v)))
			}
		}
		if length > 0 {
			start := len(msg)
			msg = append(msg, make([]byte, length)...)
			if _, err := io.ReadFull(r, msg[start:]); err != nil {
				return
			}
		}
		bp.handle(msg, uas, func(b []byte) { _, _ = conn.Write(b) })
	}
}

// headerValueBytes returns the value of line when it is the header name (or its compact form).
func headerValueBytes(line []byte, name, compact string) ([]byte, bool) {
	colon := bytes.IndexByte(line, ':')
	if colon < 0 {
		return nil, false
	}
	n := bytes.TrimSpace(line[:colon])
	if !bytes.EqualFold(n, []byte(name)) && !bytes.EqualFold(n, []byte(compact)) {
		return nil, false
	}
	return line[colon+1:], true
}

func (bp *bytePeer) handle(msg []byte, uas bool, reply func([]byte)) {
	if !uas {
		if bytes.HasPrefix(msg, []byte("SIP/2.0 1")) {
			return // provisional
		}
		bp.in <- append(bp.pool.Get().([]byte)[:0], msg...)
		return
	}
	if bytes.HasPrefix(msg, []byte("ACK ")) {
		bp.in <- nil
		return
	}
	if bytes.HasPrefix(msg, []byte("SIP/")) {
		return
	}
	out := bp.pool.Get().([]byte)[:0]
	out = append(out, "SIP/2.0 200 OK\r\n"...)
	for len(msg) > 0 {
		i := bytes.Index(msg, []byte("\r\n"))
		if i <= 0 {
			break
		}
		line := msg[:i+2]
		msg = msg[i+2:]
		colon := bytes.IndexByte(line, ':')
		if colon < 0 {
			continue
		}
		switch n := string(bytes.TrimSpace(line[:colon])); n { // no allocation: compared, not kept
		case "Via", "v", "From", "f", "Call-ID", "i", "CSeq", "Record-Route":
			out = append(out, line...)
		case "To", "t":
			out = append(out, line[:len(line)-2]...)
			if !bytes.Contains(line, []byte("tag=")) {
				out = append(out, ";tag=uas"...)
			}
			out = append(out, "\r\n"...)
		}
	}
	out = append(out, "Contact: <sip:bob@"...)
	out = append(out, bp.localStr...)
	out = append(out, ">\r\nContent-Length: 0\r\n\r\n"...)
	reply(out)
	bp.pool.Put(out) //nolint:staticcheck // a slice header is small; the benchmark does not count this
}

func (bp *bytePeer) send(b []byte, to netip.AddrPort) error {
	if bp.udp != nil {
		_, err := bp.udp.WriteToUDPAddrPort(b, to)
		return err
	}
	_, err := bp.tcp.Write(b)
	return err
}

var errHotTimeout = errors.New("no response within 5 s")

// awaitFinal waits for the next final response and checks its code.
func (bp *bytePeer) awaitFinal(code int) error {
	select {
	case msg := <-bp.in:
		defer bp.pool.Put(msg) //nolint:staticcheck
		want := "SIP/2.0 " + strconv.Itoa(code) + " "
		if !bytes.HasPrefix(msg, []byte(want)) {
			end := bytes.IndexByte(msg, '\r')
			if end < 0 {
				end = len(msg)
			}
			return fmt.Errorf("got %q, want %d", msg[:end], code)
		}
		return nil
	case <-time.After(5 * time.Second):
		return errHotTimeout
	}
}

// awaitAck waits until the UAS has seen the ACK.
func (bp *bytePeer) awaitAck() error {
	select {
	case <-bp.in:
		return nil
	case <-time.After(5 * time.Second):
		return fmt.Errorf("ACK: %w", errHotTimeout)
	}
}

// BenchmarkParseValidate measures what the proxy does with a received request before any transaction: parse
// (with the proxy's lenient header parsers), the edge checks and RFC 3261 §16.3 validation.
func BenchmarkParseValidate(b *testing.B) {
	for _, name := range []string{"register.sip", "invite.sip"} {
		b.Run(name, func(b *testing.B) {
			p, data := newValidateRig(b, name)
			b.ReportAllocs()
			for b.Loop() {
				if err := p.parseValidate(data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func newValidateRig(tb testing.TB, name string) (*Proxy, []byte) {
	tb.Helper()
	rec, err := os.ReadFile("testdata/" + name)
	if err != nil {
		tb.Fatal(err)
	}
	data := bytes.ReplaceAll(bytes.ReplaceAll(rec, []byte("\r\n"), []byte("\n")), []byte("\n"), []byte("\r\n"))
	p, err := New(Config{Listen: []Listen{{Addr: "127.0.0.1:0"}}, Router: hotRouter{}}, zap.NewNop())
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = p.Close() })
	return p, data
}

// parseValidate is the receive path of one request up to the router, without sockets.
func (p *Proxy) parseValidate(data []byte) error {
	msg, err := p.parser.ParseSIP(data)
	if err != nil {
		return err
	}
	v := newView(msg.(*sip.Request))
	if se := p.checkEdge(v); se != nil {
		return se
	}
	if !v.typedOK("via") || !v.typedOK("cseq") {
		return errors.New("malformed via or cseq")
	}
	if se := p.checkView(v); se != nil {
		return se
	}
	return nil
}
