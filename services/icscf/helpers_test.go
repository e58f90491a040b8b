package icscf

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"github.com/fiorix/go-diameter/v4/diam"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/imscore/imscore/diameter/cx"
	"github.com/imscore/imscore/diameter/peer"
	"github.com/imscore/imscore/sip/proxy"
)

const testDomain = "ims.mnc001.mcc001.3gppnetwork.org"

func testLogger(t testing.TB) *zap.Logger {
	if tt, ok := t.(*testing.T); ok {
		return zaptest.NewLogger(tt, zaptest.Level(zap.InfoLevel))
	}
	return zap.NewNop()
}

// fakeHSS is a Cx server over real TCP (diameter/peer) whose answers the test decides.
type fakeHSS struct {
	addr string
	mu   sync.Mutex
	uar  func(*cx.UAR) *cx.UAA
	lir  func(*cx.LIR) *cx.LIA
	uars []cx.UAR
	lirs []cx.LIR
	// stop closes the HSS (DPR to its peers, listener closed); called again at cleanup, it does nothing.
	stop func()
}

func startFakeHSS(t *testing.T) *fakeHSS { return startFakeHSSAt(t, "127.0.0.1:0") }

// startFakeHSSAt is startFakeHSS on a given address (an HSS coming back where it was).
func startFakeHSSAt(t *testing.T, addr string) *fakeHSS {
	t.Helper()
	d, err := cx.NewDictionary()
	if err != nil {
		t.Fatal(err)
	}
	h := &fakeHSS{}
	node, err := peer.New(peer.Config{
		OriginHost: "hss." + testDomain, OriginRealm: testDomain, VendorID: cx.Vendor3GPP, ProductName: "fake-hss",
		Applications: []peer.Application{{ID: cx.AppID, VendorID: cx.Vendor3GPP}}, Dictionary: d,
		RequestTimeout: 2 * time.Second, Log: testLogger(t).Named("fakehss"),
		Peers: []peer.AllowedPeer{{Host: DefaultOriginHost, Realm: testDomain, Sources: []string{"127.0.0.1"}}},
	}, peer.HandlerFunc(func(ctx context.Context, req *diam.Message, _ peer.PeerInfo) (*diam.Message, error) {
		m, err := cx.Parse(req)
		if err != nil {
			return nil, err
		}
		h.mu.Lock()
		defer h.mu.Unlock()
		switch r := m.(type) {
		case *cx.UAR:
			h.uars = append(h.uars, *r)
			if h.uar == nil {
				return nil, fmt.Errorf("no UAR behaviour")
			}
			a := h.uar(r)
			a.SessionID, a.OriginHost, a.OriginRealm = r.SessionID, "hss."+testDomain, testDomain
			return a.Marshal(d)
		case *cx.LIR:
			h.lirs = append(h.lirs, *r)
			if h.lir == nil {
				return nil, fmt.Errorf("no LIR behaviour")
			}
			a := h.lir(r)
			a.SessionID, a.OriginHost, a.OriginRealm = r.SessionID, "hss."+testDomain, testDomain
			return a.Marshal(d)
		}
		return nil, fmt.Errorf("unexpected %T", m)
	}))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	h.addr = ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = node.Serve(ctx, ln) }()
	h.stop = sync.OnceFunc(func() {
		cancel()
		cctx, ccancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer ccancel()
		_ = node.Close(cctx)
		<-done
	})
	t.Cleanup(h.stop)
	return h
}

func (h *fakeHSS) onUAR(f func(*cx.UAR) *cx.UAA) { h.mu.Lock(); h.uar = f; h.mu.Unlock() }
func (h *fakeHSS) onLIR(f func(*cx.LIR) *cx.LIA) { h.mu.Lock(); h.lir = f; h.mu.Unlock() }

func (h *fakeHSS) seenUARs() []cx.UAR {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]cx.UAR(nil), h.uars...)
}

func (h *fakeHSS) seenLIRs() []cx.LIR {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]cx.LIR(nil), h.lirs...)
}

// uaa builds an answer with an Experimental-Result (vendor 10415) or, for vendor 0, a Result-Code.
func uaa(vendor uint32, code uint32, serverName string, caps *cx.ServerCapabilities) *cx.UAA {
	a := &cx.UAA{ServerName: serverName, ServerCapabilities: caps}
	if vendor == 0 {
		a.SetResultCode(resultCode(code))
	} else {
		a.SetExperimentalResult(vendor, resultCode(code))
	}
	return a
}

func lia(vendor uint32, code uint32, serverName string, caps *cx.ServerCapabilities) *cx.LIA {
	a := &cx.LIA{ServerName: serverName, ServerCapabilities: caps}
	if vendor == 0 {
		a.SetResultCode(resultCode(code))
	} else {
		a.SetExperimentalResult(vendor, resultCode(code))
	}
	return a
}

// fakeSCSCF is a sipgo server standing in for an S-CSCF: it records requests and answers with respond.
type fakeSCSCF struct {
	name    string
	addr    netip.AddrPort
	reqs    chan *sip.Request
	respond func(req *sip.Request) *sip.Response // nil: 200 OK
	silent  bool                                 // black hole: never answer
}

func startFakeSCSCF(t *testing.T, label string, silent bool) *fakeSCSCF {
	t.Helper()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	ua, err := sipgo.NewUA(sipgo.WithUserAgentTransactionLayerOptions(sip.WithTransactionLayerLogger(quiet)),
		sipgo.WithUserAgentTransportLayerOptions(sip.WithTransportLayerLogger(quiet)))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := sipgo.NewServer(ua, sipgo.WithServerLogger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	udp, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeSCSCF{addr: udp.LocalAddr().(*net.UDPAddr).AddrPort(), reqs: make(chan *sip.Request, 64), silent: silent}
	f.name = fmt.Sprintf("sip:%s.%s:%d", label, testDomain, f.addr.Port())
	handle := func(req *sip.Request, tx sip.ServerTransaction) {
		f.reqs <- req
		if f.silent || req.IsAck() {
			return
		}
		var res *sip.Response
		if f.respond != nil {
			res = f.respond(req)
		} else {
			res = sip.NewResponseFromRequest(req, 200, "OK", nil)
		}
		_ = tx.Respond(res)
	}
	for _, m := range []sip.RequestMethod{sip.INVITE, sip.ACK, sip.BYE, sip.MESSAGE, sip.OPTIONS, sip.REGISTER, sip.SUBSCRIBE} {
		srv.OnRequest(m, handle)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); _ = srv.ServeUDP(udp) }()
	t.Cleanup(func() {
		_ = udp.Close()
		_ = ua.Close()
		wg.Wait()
	})
	return f
}

func (f *fakeSCSCF) config(caps ...uint32) SCSCF {
	return SCSCF{Name: f.name, Address: f.addr.String(), Capabilities: caps}
}

// next returns the next request the fake S-CSCF received, failing after a while.
func (f *fakeSCSCF) next(t *testing.T) *sip.Request {
	t.Helper()
	select {
	case r := <-f.reqs:
		return r
	case <-time.After(5 * time.Second):
		t.Fatalf("%s: no request", f.name)
		return nil
	}
}

// received tells whether a request arrived, without waiting.
func (f *fakeSCSCF) received() bool {
	select {
	case r := <-f.reqs:
		f.reqs <- r
		return true
	default:
		return false
	}
}

// startICSCF runs the node on loopback port 0 against hss with the given S-CSCFs.
func startICSCF(t *testing.T, hss *fakeHSS, scscfs []SCSCF, mutate ...func(*Config)) *Node {
	t.Helper()
	cfg := DefaultConfig()
	cfg.SIP.Listen = []proxy.Listen{{Addr: "127.0.0.1:0"}}
	cfg.SIP.TimerF = 2 * time.Second
	cfg.HTTPListen = "127.0.0.1:0"
	cfg.Diameter.HSS = []string{hss.addr}
	cfg.Diameter.Listen = "127.0.0.1:0"
	cfg.Diameter.Peers = []peer.AllowedPeer{{Host: "dra." + testDomain, Realm: testDomain, Sources: []string{"127.0.0.1"}}}
	cfg.Diameter.RequestTimeout = time.Second
	cfg.SCSCFs = scscfs
	cfg.AttemptTimeout = 700 * time.Millisecond
	cfg.SIP.RouteTimeout = 0 // recomputed from the attempt timeout
	for _, m := range mutate {
		m(&cfg)
	}
	ctx, cancel := context.WithCancel(context.Background())
	n, err := Start(ctx, cfg, testLogger(t))
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		if err := n.Wait(); err != nil {
			t.Errorf("icscf stopped with error: %v", err)
		}
	})
	deadline := time.Now().Add(5 * time.Second)
	for !n.Ready() {
		if time.Now().After(deadline) {
			t.Fatal("icscf not ready: no Cx connection")
		}
		time.Sleep(10 * time.Millisecond)
	}
	return n
}

func sipAddr(n *Node, transport string) netip.AddrPort {
	for _, l := range n.SIPListeners() {
		if l.Transport == transport {
			return l.Addr
		}
	}
	return netip.AddrPort{}
}

// ue is a raw UDP client that sends text requests and reads responses.
type ue struct {
	t    *testing.T
	conn *net.UDPConn
	seq  int
}

func newUE(t *testing.T) *ue { return newUEAt(t, "127.0.0.1") }

// newUEAt is newUE bound to ip: another loopback address (127.0.0.2 ...) plays a peer outside a trust
// domain of 127.0.0.1/32 (Linux answers the whole of 127.0.0.0/8 without setup).
func newUEAt(t *testing.T, ip string) *ue {
	c, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(netip.MustParseAddr(ip), 0)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return &ue{t: t, conn: c}
}

func (u *ue) local() string { return u.conn.LocalAddr().String() }

// request formats a request: extra lines are added as they are.
func (u *ue) request(method, ruri, to string, extra ...string) string {
	u.seq++
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s SIP/2.0\r\n", method, ruri)
	fmt.Fprintf(&b, "Via: SIP/2.0/UDP %s;branch=z9hG4bK-ue-%d-%d;rport\r\n", u.local(), time.Now().UnixNano(), u.seq)
	b.WriteString("Max-Forwards: 70\r\n")
	fmt.Fprintf(&b, "From: <sip:001010000000001@%s>;tag=ue%d\r\n", testDomain, u.seq)
	fmt.Fprintf(&b, "To: <%s>\r\n", to)
	fmt.Fprintf(&b, "Call-ID: call-%d-%d@test\r\n", time.Now().UnixNano(), u.seq)
	fmt.Fprintf(&b, "CSeq: %d %s\r\n", u.seq, method)
	fmt.Fprintf(&b, "Contact: <sip:ue@%s>\r\n", u.local())
	for _, e := range extra {
		b.WriteString(e + "\r\n")
	}
	b.WriteString("Content-Length: 0\r\n\r\n")
	return b.String()
}

// send sends text to the I-CSCF and returns the final response.
func (u *ue) send(to netip.AddrPort, text string) *sip.Response {
	u.t.Helper()
	if _, err := u.conn.WriteToUDPAddrPort([]byte(text), to); err != nil {
		u.t.Fatal(err)
	}
	buf := make([]byte, 65535)
	_ = u.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		n, _, err := u.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			u.t.Fatalf("no final response: %v", err)
		}
		m, err := sip.ParseMessage(buf[:n])
		if err != nil {
			u.t.Fatalf("unparseable response: %v\n%s", err, buf[:n])
		}
		res, ok := m.(*sip.Response)
		if !ok {
			u.t.Fatalf("got a request: %s", m)
		}
		if res.StatusCode >= 200 {
			return res
		}
	}
}
