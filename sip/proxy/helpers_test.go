package proxy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/imscore/imscore/sip/header"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// waitLong bounds every wait in these tests. It is a deadline against hangs, never an assertion about speed.
const waitLong = 10 * time.Second

// testLogger collects debug logs and prints them only when the test fails. Writes after the test are harmless.
func testLogger(t testing.TB) *zap.Logger {
	t.Helper()
	var mu sync.Mutex
	var buf bytes.Buffer
	ws := zapcore.AddSync(writerFunc(func(p []byte) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		return buf.Write(p)
	}))
	enc := zap.NewDevelopmentEncoderConfig()
	core := zapcore.NewCore(zapcore.NewConsoleEncoder(enc), ws, zapcore.DebugLevel)
	t.Cleanup(func() {
		if t.Failed() || os.Getenv("SIPPROXY_TEST_LOGS") != "" {
			mu.Lock()
			t.Log("proxy log:\n" + buf.String())
			mu.Unlock()
		}
	})
	return zap.New(core)
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// startProxy builds and runs a proxy on 127.0.0.1:0 with short timers; Close runs at cleanup.
func startProxy(t testing.TB, router Router, mutate ...func(*Config)) *Proxy {
	t.Helper()
	return startProxyLog(t, testLogger(t), router, mutate...)
}

// startProxyLog is startProxy with the given logger (a test that checks what is logged).
func startProxyLog(t testing.TB, log *zap.Logger, router Router, mutate ...func(*Config)) *Proxy {
	t.Helper()
	cfg := Config{
		Listen:            []Listen{{Addr: "127.0.0.1:0"}},
		Router:            router,
		TimerC:            5 * time.Second,
		TimerF:            2 * time.Second,
		TCPConnectTimeout: 2 * time.Second,
	}
	for _, m := range mutate {
		m(&cfg)
	}
	p, err := New(cfg, log)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	runErr := make(chan error, 1)
	go func() { runErr <- p.Run(context.Background()) }()
	t.Cleanup(func() {
		if err := p.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		select {
		case err := <-runErr:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(waitLong):
			t.Errorf("Run did not return after Close")
		}
	})
	return p
}

// addr returns the proxy's bound address for a transport.
func (p *Proxy) addr(transport string) netip.AddrPort {
	for _, l := range p.Listeners() {
		if l.Transport == transport {
			return l.Addr
		}
	}
	panic("no listener " + transport)
}

// uriOf is the loose-routing URI of a proxy's listener, as a Route value.
func uriOf(p *Proxy, transport string) sip.Uri {
	a := p.addr(transport)
	params := sip.NewParams()
	params.Add("lr", "")
	if transport == transportTCP {
		params.Add("transport", "tcp")
	}
	return sip.Uri{Scheme: "sip", Host: a.Addr().String(), Port: int(a.Port()), UriParams: params}
}

func mustURI(t testing.TB, s string) sip.Uri {
	t.Helper()
	var u sip.Uri
	if err := sip.ParseUri(s, &u); err != nil {
		t.Fatalf("parse uri %q: %v", s, err)
	}
	return u
}

// rawUA is a test user agent on a raw socket: it writes exactly what the test builds and hands back every
// parsed message, so the wire format is checked, not a library's view of it.
type rawUA struct {
	t      testing.TB
	udp    *net.UDPConn
	tcp    net.Conn
	local  netip.AddrPort
	msgs   chan sip.Message
	done   chan struct{}
	closed sync.Once
}

func newRawUDP(t testing.TB, bind string) *rawUA {
	t.Helper()
	c, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.MustParseAddrPort(bind)))
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	ua := &rawUA{t: t, udp: c, local: c.LocalAddr().(*net.UDPAddr).AddrPort(), msgs: make(chan sip.Message, 64), done: make(chan struct{})}
	go func() {
		defer close(ua.done)
		buf := make([]byte, 65535)
		parser := sip.NewParser()
		for {
			n, _, err := c.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			msg, err := parser.ParseSIP(buf[:n])
			if err != nil {
				t.Errorf("raw ua: unparseable message from proxy: %v\n%s", err, buf[:n])
				continue
			}
			ua.msgs <- msg
		}
	}()
	t.Cleanup(ua.close)
	return ua
}

func newRawTCP(t testing.TB, server netip.AddrPort) *rawUA {
	t.Helper()
	c, err := net.Dial("tcp", server.String())
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	return rawTCPOver(t, c)
}

// rawTCPOver is a raw UA on a TCP connection already open.
func rawTCPOver(t testing.TB, c net.Conn) *rawUA {
	t.Helper()
	ua := &rawUA{t: t, tcp: c, local: c.LocalAddr().(*net.TCPAddr).AddrPort(), msgs: make(chan sip.Message, 64), done: make(chan struct{})}
	go func() {
		defer close(ua.done)
		stream := sip.NewParser().NewSIPStream()
		buf := make([]byte, 65535)
		for {
			n, err := c.Read(buf)
			if err != nil {
				return
			}
			if err := stream.ParseSIPStream(buf[:n], func(m sip.Message) { ua.msgs <- m }); err != nil && !errors.Is(err, sip.ErrParseSipPartial) {
				t.Errorf("raw ua: bad stream from proxy: %v", err)
				return
			}
		}
	}()
	t.Cleanup(ua.close)
	return ua
}

func (ua *rawUA) close() {
	ua.closed.Do(func() {
		if ua.udp != nil {
			_ = ua.udp.Close()
		}
		if ua.tcp != nil {
			_ = ua.tcp.Close()
		}
		<-ua.done
	})
}

func (ua *rawUA) transport() string {
	if ua.tcp != nil {
		return "TCP"
	}
	return "UDP"
}

func (ua *rawUA) sendRaw(data []byte, to netip.AddrPort) {
	ua.t.Helper()
	var err error
	if ua.tcp != nil {
		_, err = ua.tcp.Write(data)
	} else {
		_, err = ua.udp.WriteToUDPAddrPort(data, to)
	}
	if err != nil {
		ua.t.Fatalf("send: %v", err)
	}
}

func (ua *rawUA) send(m sip.Message, to netip.AddrPort) {
	ua.t.Helper()
	ua.sendRaw([]byte(m.String()), to)
}

// next returns the next message, failing the test after waitLong.
func (ua *rawUA) next() sip.Message {
	ua.t.Helper()
	select {
	case m := <-ua.msgs:
		return m
	case <-time.After(waitLong):
		ua.t.Fatalf("no message within %v", waitLong)
		return nil
	}
}

// response returns the next response with the given status code, skipping others listed in skip.
func (ua *rawUA) response(code int, skip ...int) *sip.Response {
	ua.t.Helper()
	for {
		m := ua.next()
		res, ok := m.(*sip.Response)
		if !ok {
			ua.t.Fatalf("want response %d, got request %s", code, m.(*sip.Request).StartLine())
		}
		if res.StatusCode == code {
			return res
		}
		skipped := false
		for _, s := range skip {
			if res.StatusCode == s {
				skipped = true
			}
		}
		if !skipped {
			ua.t.Fatalf("want response %d, got %s", code, res.StartLine())
		}
	}
}

// final returns the next final response, skipping provisional ones.
func (ua *rawUA) final() *sip.Response {
	ua.t.Helper()
	for {
		m := ua.next()
		res, ok := m.(*sip.Response)
		if !ok {
			ua.t.Fatalf("want response, got request %s", m.(*sip.Request).StartLine())
		}
		if res.StatusCode >= 200 {
			return res
		}
	}
}

// reqOpts builds test requests.
type reqOpts struct {
	method    sip.RequestMethod
	ruri      string
	callID    string
	cseq      uint32
	branch    string
	toTag     string
	maxFwd    int // -1: omit
	routes    []sip.Uri
	body      []byte
	extra     []sip.Header
	transport string
}

var testSeq struct {
	sync.Mutex
	n int
}

func uniq(prefix string) string {
	testSeq.Lock()
	defer testSeq.Unlock()
	testSeq.n++
	return fmt.Sprintf("%s-%d-%d", prefix, testSeq.n, time.Now().UnixNano())
}

// request builds a request as a UA at ua would send it.
func (ua *rawUA) request(o reqOpts) *sip.Request {
	ua.t.Helper()
	if o.callID == "" {
		o.callID = uniq("call")
	}
	if o.cseq == 0 {
		o.cseq = 1
	}
	if o.branch == "" {
		o.branch = sip.RFC3261BranchMagicCookie + uniq("ua")
	}
	req := sip.NewRequest(o.method, mustURI(ua.t, o.ruri))
	params := sip.NewParams()
	params.Add("branch", o.branch)
	req.AppendHeader(&sip.ViaHeader{ProtocolName: "SIP", ProtocolVersion: "2.0", Transport: ua.transport(),
		Host: ua.local.Addr().String(), Port: int(ua.local.Port()), Params: params})
	for _, r := range o.routes {
		req.AppendHeader(&sip.RouteHeader{Address: r})
	}
	if o.maxFwd >= 0 {
		mf := sip.MaxForwardsHeader(70)
		if o.maxFwd > 0 {
			mf = sip.MaxForwardsHeader(o.maxFwd)
		}
		req.AppendHeader(&mf)
	}
	fromParams := sip.NewParams()
	fromParams.Add("tag", "alice-tag")
	req.AppendHeader(&sip.FromHeader{Address: mustURI(ua.t, "sip:alice@ims.mnc001.mcc001.3gppnetwork.org"), Params: fromParams})
	toParams := sip.NewParams()
	if o.toTag != "" {
		toParams.Add("tag", o.toTag)
	}
	req.AppendHeader(&sip.ToHeader{Address: mustURI(ua.t, "sip:bob@ims.mnc001.mcc001.3gppnetwork.org"), Params: toParams})
	cid := sip.CallIDHeader(o.callID)
	req.AppendHeader(&cid)
	req.AppendHeader(&sip.CSeqHeader{SeqNo: o.cseq, MethodName: o.method})
	contact := sip.Uri{Scheme: "sip", User: "alice", Host: ua.local.Addr().String(), Port: int(ua.local.Port())}
	if ua.tcp != nil {
		contact.UriParams = sip.NewParams()
		contact.UriParams.Add("transport", "tcp")
	}
	req.AppendHeader(&sip.ContactHeader{Address: contact})
	for _, h := range o.extra {
		req.AppendHeader(h)
	}
	req.SetBody(o.body)
	return req
}

// testUAS is a sipgo server playing the far end: it proves interoperation with another SIP stack.
type testUAS struct {
	t    testing.TB
	ua   *sipgo.UserAgent
	srv  *sipgo.Server
	addr netip.AddrPort
	uri  sip.Uri
	reqs chan *sip.Request // every request handed to a handler, in order
	stop func()

	// Handlers in flight. sipgo runs each request on an untracked goroutine that opens a new socket (and a
	// reader goroutine nobody closes) when it answers after the listener closed — a sipgo shutdown race that
	// made TestSerialForwarding fail its leak check in CI; stop waits for them and closes the transport again
	// while such a socket exists.
	mu       sync.Mutex
	closed   bool
	inflight sync.WaitGroup
}

type uasHandlers map[sip.RequestMethod]func(u *testUAS, req *sip.Request, tx sip.ServerTransaction)

// startUAS serves UDP (and TCP on the same port when withTCP) on 127.0.0.1:0. Methods without a handler get
// 200 OK. A request that arrives while the UAS stops is not handled; one being handled is finished first.
func startUAS(t testing.TB, withTCP bool, handlers uasHandlers) *testUAS {
	t.Helper()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	uasLog := newSlogBridge(testLogger(t).Named("uas"))
	ua, err := sipgo.NewUA(sipgo.WithUserAgentTransactionLayerOptions(sip.WithTransactionLayerLogger(uasLog)),
		sipgo.WithUserAgentTransportLayerOptions(sip.WithTransportLayerLogger(uasLog)))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := sipgo.NewServer(ua, sipgo.WithServerLogger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	u := &testUAS{t: t, ua: ua, srv: srv, reqs: make(chan *sip.Request, 64)}
	var udp *net.UDPConn
	var tcp *net.TCPListener
	for range 20 {
		udp, err = net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		if !withTCP {
			break
		}
		tcp, err = net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: udp.LocalAddr().(*net.UDPAddr).Port})
		if err == nil {
			break
		}
		_ = udp.Close()
	}
	u.addr = udp.LocalAddr().(*net.UDPAddr).AddrPort()
	u.uri = sip.Uri{Scheme: "sip", User: "bob", Host: "127.0.0.1", Port: int(u.addr.Port())}
	handle := func(req *sip.Request, tx sip.ServerTransaction) {
		u.mu.Lock()
		if u.closed {
			u.mu.Unlock()
			return
		}
		u.inflight.Add(1)
		u.mu.Unlock()
		defer u.inflight.Done()
		u.reqs <- req
		if h, ok := handlers[req.Method]; ok {
			h(u, req, tx)
			return
		}
		if req.IsAck() {
			return
		}
		u.respond(req, tx, 200, "OK")
	}
	for _, m := range []sip.RequestMethod{sip.INVITE, sip.ACK, sip.BYE, sip.MESSAGE, sip.OPTIONS, sip.REGISTER, sip.NOTIFY, sip.SUBSCRIBE, sip.INFO} {
		srv.OnRequest(m, handle)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); _ = srv.ServeUDP(udp) }()
	if tcp != nil {
		wg.Add(1)
		go func() { defer wg.Done(); _ = srv.ServeTCP(tcp) }()
	}
	u.stop = sync.OnceFunc(func() {
		u.mu.Lock()
		u.closed = true
		u.mu.Unlock()
		_ = udp.Close()
		if tcp != nil {
			_ = tcp.Close()
		}
		_ = ua.Close() // ends every transaction, so handlers waiting on tx.Done return
		wg.Wait()
		// A handler that answered after the listener closed made sipgo open a socket the Close above may have
		// missed; once every handler has returned, closing the transport again closes that one too.
		waitGroupOrTimeout(t, &u.inflight, "the UAS's handlers to return")
		_ = ua.TransportLayer().Close()
		// sipgo also looks a response's connection up before any handler runs, on a goroutine of its own
		// (TransactionLayer.handleRequestBackground): a request read just before the listener closed makes it
		// open a new socket after. While such a socket's reader exists, close the transport again (bounded;
		// nothing to do, and no wait, in the usual case).
		for range 50 {
			if !sipgoDialledUDPReaders() {
				break
			}
			_ = ua.TransportLayer().Close()
			time.Sleep(10 * time.Millisecond)
		}
	})
	t.Cleanup(u.stop)
	return u
}

// sipgoDialledUDPReaders reports whether a reader of a UDP socket sipgo opened itself (not a listener) runs.
func sipgoDialledUDPReaders() bool {
	buf := make([]byte, 1<<20)
	return strings.Contains(string(buf[:runtime.Stack(buf, true)]), "sip.(*TransportUDP).readUDPConnection")
}

// waitGroupOrTimeout waits for wg, failing the test (instead of hanging it) after waitLong.
func waitGroupOrTimeout(t testing.TB, wg *sync.WaitGroup, what string) {
	t.Helper()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	waitClosed(t, done, what)
}

// respond answers req with a response carrying our Contact (a dialog needs one, RFC 3261 §12.1.1).
func (u *testUAS) respond(req *sip.Request, tx sip.ServerTransaction, code int, reason string, headers ...sip.Header) {
	res := sip.NewResponseFromRequest(req, code, reason, nil)
	if req.IsInvite() && code < 300 {
		res.AppendHeader(&sip.ContactHeader{Address: u.uri})
	}
	for _, h := range headers {
		res.AppendHeader(h)
	}
	if err := tx.Respond(res); err != nil {
		u.t.Logf("uas respond %d: %v", code, err) // the test may already be tearing the UAS down
	}
}

// ringUntilCancelled answers 180 and waits: sipgo's UAS answers a CANCEL with 200 and the INVITE with 487, then
// absorbs the ACK for it. onRing runs once the 180 is out, onCancel at the CANCEL; done is closed once the ACK
// is in (or the transaction ends), so a test can wait for it before the UAS is stopped.
func (u *testUAS) ringUntilCancelled(req *sip.Request, tx sip.ServerTransaction, onRing, onCancel func(), done chan<- struct{}) {
	defer close(done)
	tx.OnCancel(func(*sip.Request) { onCancel() })
	u.respond(req, tx, 180, "Ringing")
	if onRing != nil {
		onRing()
	}
	select {
	case <-tx.Acks():
	case <-tx.Done():
	}
}

func waitClosed(t testing.TB, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(waitLong):
		t.Fatalf("timed out waiting for %s", what)
	}
}

// next returns the next request the UAS handled.
func (u *testUAS) next() *sip.Request {
	u.t.Helper()
	select {
	case r := <-u.reqs:
		return r
	case <-time.After(waitLong):
		u.t.Fatalf("uas: no request within %v", waitLong)
		return nil
	}
}

// nextOf returns the next request of a method, skipping others.
func (u *testUAS) nextOf(m sip.RequestMethod) *sip.Request {
	u.t.Helper()
	for {
		if r := u.next(); r.Method == m {
			return r
		}
	}
}

func headerValues(m sip.Message, name string) []string {
	var out []string
	for _, h := range header.Fields(m, name) {
		out = append(out, h.Value())
	}
	return out
}

// checkLeaksAtEnd registers a leak check that runs after every other cleanup of the test (cleanups run last
// registered first), so each test proves it leaves no goroutine behind.
// Goroutines that were running before the test started are not its leaks: one test's leak is reported by
// that test alone instead of failing every later one.
func checkLeaksAtEnd(t *testing.T) {
	t.Helper()
	before := goroutineIDs()
	t.Cleanup(func() { checkNoLeaksSince(t, before) })
}

// goroutineIDs returns the ids of the goroutines running now.
func goroutineIDs() map[string]bool {
	buf := make([]byte, 1<<20)
	ids := map[string]bool{}
	for _, g := range strings.Split(string(buf[:runtime.Stack(buf, true)]), "\n\n") {
		ids[goroutineID(g)] = true
	}
	return ids
}

// goroutineID reads N from a stack's first line, "goroutine N [state]:".
func goroutineID(stack string) string {
	id, _, _ := strings.Cut(strings.TrimPrefix(stack, "goroutine "), " ")
	return id
}

// checkNoLeaks fails when goroutines of this package or sipgo are still running (polling: goroutines finish
// asynchronously after Close returns). Call it after every proxy and peer of the test is closed.
func checkNoLeaks(t testing.TB) { checkNoLeaksSince(t, nil) }

func checkNoLeaksSince(t testing.TB, before map[string]bool) {
	t.Helper()
	deadline := time.Now().Add(waitLong)
	for {
		buf := make([]byte, 1<<20)
		stacks := string(buf[:runtime.Stack(buf, true)])
		var leaked []string
		for _, g := range strings.Split(stacks, "\n\n") {
			if strings.Contains(g, "imscore/sip/proxy.checkNoLeaks") || strings.Contains(g, "testing.tRunner") && !strings.Contains(g, "sip/proxy.(*") {
				continue
			}
			if before[goroutineID(g)] {
				continue
			}
			if strings.Contains(g, "imscore/sip/proxy.") || strings.Contains(g, "emiago/sipgo") {
				leaked = append(leaked, g)
			}
		}
		if len(leaked) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines leaked:\n%s", len(leaked), strings.Join(leaked, "\n\n"))
		}
		time.Sleep(20 * time.Millisecond)
	}
}
