package imsagw

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"go.uber.org/zap/zaptest"

	"github.com/imscore/imscore/services/imsagw/h248"
	"github.com/imscore/imscore/services/imsagw/msrp"
)

// wait bounds every blocking step of a test; it is never what a test asserts.
const wait = 20 * time.Second

// startAGW runs an AGW on loopback with mutate applied to its configuration; it stops at cleanup.
func startAGW(t testing.TB, mutate func(*Config)) *Node {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Iq.Listen = "127.0.0.1:0"
	cfg.HTTPListen = ""
	if mutate != nil {
		mutate(&cfg)
	}
	ctx, cancel := context.WithCancel(context.Background())
	n, err := Start(ctx, cfg, zaptest.NewLogger(t))
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		waitStopped(t, n)
	})
	return n
}

// waitStopped waits for n's Run to return; a goroutine that does not stop fails the test with the stacks.
func waitStopped(t testing.TB, n *Node) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- n.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("AGW stopped with %v", err)
		}
	case <-time.After(wait):
		buf := make([]byte, 1<<20)
		k := runtime.Stack(buf, true)
		t.Fatalf("the AGW did not stop:\n%s", stacksOf(string(buf[:k])))
	}
}

// controller is the IMS-ALG side of Iq in tests: an H.248 endpoint that sends commands and answers Notify.
type controller struct {
	t        testing.TB
	ep       *h248.Endpoint
	agw      netip.AddrPort
	stop     context.CancelFunc
	done     chan struct{}
	notifies chan notified
	seen     []notified // received, not yet waited for (test goroutine only)
}

type notified struct {
	context, termination, cause string
}

func startController(t testing.TB, agw netip.AddrPort, listen string) *controller {
	t.Helper()
	c := &controller{t: t, agw: agw, done: make(chan struct{}), notifies: make(chan notified, 16)}
	ep, err := h248.Listen(h248.EndpointConfig{Listen: netip.MustParseAddrPort(listen),
		Peers: []netip.Addr{netip.MustParseAddr("127.0.0.1")}, InitialRetransmit: 200 * time.Millisecond}, c.serve, zaptest.NewLogger(t).Named("alg"))
	if err != nil {
		t.Fatal(err)
	}
	c.ep = ep
	ctx, cancel := context.WithCancel(context.Background())
	c.stop = cancel
	go func() {
		defer close(c.done)
		_ = ep.Run(ctx)
	}()
	t.Cleanup(c.close)
	return c
}

// close stops the controller: the P-CSCF going away.
func (c *controller) close() {
	c.stop()
	<-c.done
}

func (c *controller) serve(_ context.Context, _ netip.AddrPort, tr h248.Transaction) ([]*h248.Node, error) {
	var out []*h248.Node
	for _, a := range tr.Actions {
		var replies []*h248.Node
		for _, cmd := range a.Commands {
			if !strings.EqualFold(cmd.Name, "Notify") {
				return nil, &h248.Error{Code: 443, Text: "only Notify"}
			}
			n := notified{context: a.Context, termination: cmd.Value}
			if oe := cmd.Child("ObservedEvents"); oe != nil {
				if ev := oe.Child(EventCause); ev != nil {
					n.cause, _ = ev.Property("Generalcause")
				}
			}
			select {
			case c.notifies <- n:
			default:
			}
			replies = append(replies, h248.Assign("Notify", cmd.Value))
		}
		out = append(out, h248.Assign("Context", a.Context, replies...))
	}
	return out, nil
}

func (c *controller) request(contextID string, cmds ...*h248.Node) (h248.Transaction, error) {
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	return c.ep.Request(ctx, c.agw, contextID, cmds...)
}

func (c *controller) must(contextID string, cmds ...*h248.Node) h248.Transaction {
	c.t.Helper()
	tr, err := c.request(contextID, cmds...)
	if err != nil {
		c.t.Fatalf("Iq request on context %s: %v", contextID, err)
	}
	return tr
}

func (c *controller) waitNotify(termination string) notified {
	c.t.Helper()
	timeout := time.After(wait)
	for {
		for i, n := range c.seen {
			if n.termination == termination {
				c.seen = append(c.seen[:i], c.seen[i+1:]...)
				return n
			}
		}
		select {
		case n := <-c.notifies:
			c.seen = append(c.seen, n)
		case <-timeout:
			c.t.Fatalf("no Notify for %s (seen %+v)", termination, c.seen)
		}
	}
}

// added is what the AGW answered to an Add: the termination and its Local descriptor.
type added struct {
	context string
	id      string
	local   media
}

func addsOf(t testing.TB, tr h248.Transaction) []added {
	t.Helper()
	var out []added
	for _, a := range tr.Actions {
		for _, cmd := range a.Commands {
			if commandName(cmd.Name) != "Add" {
				continue
			}
			ss := h248.Streams(cmd)
			if len(ss) != 1 {
				t.Fatalf("Add reply without one stream: %+v", cmd)
			}
			l, err := parseSDP(ss[0].Local)
			if err != nil {
				t.Fatalf("Add reply Local: %v\n%s", err, ss[0].Local)
			}
			out = append(out, added{context: a.Context, id: cmd.Value, local: l})
		}
	}
	return out
}

func (a added) addr(t testing.TB) string {
	t.Helper()
	return net.JoinHostPort(a.local.Addr, a.local.Port)
}

// SDP the controller sends.
func localT1(setup string) string {
	return "v=0\r\nc=IN IP4 $\r\nm=message $ TCP/TLS/MSRP *\r\na=accept-types:message/cpim\r\na=setup:" + setup + "\r\na=fingerprint:$\r\n"
}

func localT2(setup string) string {
	return "v=0\r\nc=IN IP4 $\r\nm=message $ TCP/MSRP *\r\na=accept-types:message/cpim\r\na=setup:" + setup + "\r\n"
}

func remoteSDP(proto, addr string, port int, setup, fingerprint string) string {
	ipv, host := "IP4", addr
	if strings.Contains(addr, ":") {
		ipv, host = "IP6", "["+addr+"]"
	}
	s := fmt.Sprintf("v=0\r\nc=IN %s %s\r\nm=message %d %s *\r\na=accept-types:message/cpim\r\na=path:msrp://%s:%d/s%d;tcp\r\na=setup:%s\r\n",
		ipv, addr, port, proto, host, port, port, setup)
	if fingerprint != "" {
		s += "a=fingerprint:" + fingerprint + "\r\n"
	}
	return s
}

func stream(local, remote string, props ...*h248.Node) []h248.Stream {
	return []h248.Stream{{ID: 1, Mode: h248.ModeSendReceive, Properties: props, Local: local, Remote: remote}}
}

func events(id string) *h248.Node { return h248.Assign("Events", id, h248.Token(EventCause)) }

// ue is the UE's side of MSRP over TLS: a self-signed certificate whose fingerprint goes into the SDP.
type ue struct {
	cert        tls.Certificate
	fingerprint string
}

func newUE(t testing.TB) ue {
	t.Helper()
	cert, err := SelfSigned("ue")
	if err != nil {
		t.Fatal(err)
	}
	return ue{cert: cert, fingerprint: Fingerprint(cert.Certificate[0])}
}

// dial opens the UE's TLS connection to T1 from source (":0" style, "" for any) and checks the AGW's
// certificate against the fingerprint the AGW gave the ALG (what the UE finds in the SDP).
func (u ue) dial(t testing.TB, to, source, agwFingerprint string) (*tls.Conn, error) {
	t.Helper()
	d := net.Dialer{Timeout: wait}
	if source != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(source)}
	}
	raw, err := d.Dial("tcp", to)
	if err != nil {
		return nil, err
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{u.cert}, InsecureSkipVerify: true,
		VerifyPeerCertificate: func(raw [][]byte, _ [][]*x509.Certificate) error {
			if len(raw) == 0 || Fingerprint(raw[0]) != agwFingerprint {
				return errors.New("AGW certificate does not match its fingerprint")
			}
			return nil
		}}
	c := tls.Client(raw, cfg)
	t.Cleanup(func() { _ = raw.Close() })
	_ = c.SetDeadline(time.Now().Add(wait))
	if err := c.Handshake(); err != nil {
		_ = raw.Close()
		return nil, err
	}
	// TLS 1.3: the server's verdict on our certificate arrives with the first read.
	return c, nil
}

// core is the core side's MSRP peer: a plain TCP listener the AGW connects to.
type core struct {
	ln *net.TCPListener
}

func newCore(t testing.TB) *core { return newCoreOn(t, "127.0.0.1") }

func newCoreOn(t testing.TB, ip string) *core {
	t.Helper()
	ln, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.ParseIP(ip)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	return &core{ln: ln}
}

func (c *core) port() int { return c.ln.Addr().(*net.TCPAddr).Port }

// accept waits up to d for the AGW's connection; nil when none came.
func (c *core) accept(t testing.TB, d time.Duration) net.Conn {
	t.Helper()
	_ = c.ln.SetDeadline(time.Now().Add(d))
	conn, err := c.ln.Accept()
	if err != nil {
		return nil
	}
	t.Cleanup(func() { _ = conn.Close() })
	_ = conn.SetDeadline(time.Now().Add(wait))
	return conn
}

var tidSeq struct {
	sync.Mutex
	n int
}

func newTID() string {
	tidSeq.Lock()
	defer tidSeq.Unlock()
	tidSeq.n++
	return fmt.Sprintf("tid%05d", tidSeq.n)
}

// exchange sends an MSRP SEND from one side and its 200 back, and checks both arrive whole.
func exchange(t testing.TB, from, to net.Conn, text string) {
	t.Helper()
	tid := newTID()
	send := &msrp.Message{TransactionID: tid, Method: "SEND", Headers: []msrp.Header{
		{Name: "To-Path", Value: "msrp://core.example:7777/b;tcp"}, {Name: "From-Path", Value: "msrp://ue.example:7777/a;tcp"},
		{Name: "Message-ID", Value: tid}, {Name: "Byte-Range", Value: fmt.Sprintf("1-%d/%d", len(text), len(text))},
		{Name: "Content-Type", Value: "text/plain"}}, Body: []byte(text)}
	if _, err := from.Write(msrp.Encode(send)); err != nil {
		t.Fatalf("write SEND: %v", err)
	}
	got, err := msrp.NewReader(to).Read()
	if err != nil {
		t.Fatalf("read SEND: %v", err)
	}
	if got.Method != "SEND" || got.TransactionID != tid || string(got.Body) != text {
		t.Fatalf("SEND arrived as %+v", got)
	}
	ok := &msrp.Message{TransactionID: tid, Status: 200, Comment: "OK", Headers: []msrp.Header{
		{Name: "To-Path", Value: got.Get("From-Path")}, {Name: "From-Path", Value: got.Get("To-Path")}}}
	if _, err := to.Write(msrp.Encode(ok)); err != nil {
		t.Fatalf("write 200: %v", err)
	}
	resp, err := msrp.NewReader(from).Read()
	if err != nil || resp.Status != 200 || resp.TransactionID != tid {
		t.Fatalf("200 arrived as %+v, %v", resp, err)
	}
}

// counterValue reads one counter.
func counterValue(c prometheus.Counter) float64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		return -1
	}
	return m.GetCounter().GetValue()
}

func dialTCP(addr string) (net.Conn, error) { return net.DialTimeout("tcp", addr, wait) }

// connectedCall sets up an interlinked originating call and connects the UE (TLS) and the core through it.
func connectedCall(t testing.TB, alg *controller) (call, net.Conn, net.Conn) {
	t.Helper()
	u, cr := newUE(t), newCore(t)
	c := reserveOriginating(t, alg, u, "127.0.0.1",
		remoteSDP(ProtoTCPMSRP, "127.0.0.1", cr.port(), SetupPassive, ""), h248.Prop(PropEstab, estabInterlinked))
	ueConn, err := u.dial(t, c.t1.addr(t), "", c.t1.local.Fingerprint)
	if err != nil {
		t.Fatal(err)
	}
	coreConn := cr.accept(t, wait)
	if coreConn == nil {
		t.Fatal("no core connection")
	}
	return c, ueConn, coreConn
}
