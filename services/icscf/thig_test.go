package icscf

import (
	"net"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"go.uber.org/zap"

	"github.com/imscore/imscore/diameter/cx"
	"github.com/imscore/imscore/sip/header"
	"github.com/imscore/imscore/sip/proxy"
)

// proxyNoSource is a Source with nothing consumed.
var proxyNoSource = proxy.Source{}

// borderPeer is a node of the other network (a visited network's P-CSCF) on 127.0.0.2, on a raw socket: it
// sends what the test writes and hands over every message it gets.
type borderPeer struct {
	t    *testing.T
	conn *net.UDPConn
	msgs chan sip.Message
}

func startBorderPeer(t *testing.T) *borderPeer {
	t.Helper()
	c, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.MustParseAddrPort("127.0.0.2:0")))
	if err != nil {
		t.Fatal(err)
	}
	p := &borderPeer{t: t, conn: c, msgs: make(chan sip.Message, 32)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 65535)
		for {
			n, _, err := c.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			if m, err := sip.ParseMessage(append([]byte(nil), buf[:n]...)); err == nil {
				p.msgs <- m
			}
		}
	}()
	t.Cleanup(func() { _ = c.Close(); <-done })
	return p
}

func (p *borderPeer) addr() netip.AddrPort { return p.conn.LocalAddr().(*net.UDPAddr).AddrPort() }

func (p *borderPeer) write(to netip.AddrPort, m string) {
	p.t.Helper()
	if _, err := p.conn.WriteToUDPAddrPort([]byte(m), to); err != nil {
		p.t.Fatal(err)
	}
}

// next returns the next request, or the next final response, skipping provisional responses.
func (p *borderPeer) next() sip.Message {
	p.t.Helper()
	for {
		select {
		case m := <-p.msgs:
			if res, ok := m.(*sip.Response); ok && res.StatusCode < 200 {
				continue
			}
			return m
		case <-time.After(5 * time.Second):
			p.t.Fatal("the other network got nothing")
			return nil
		}
	}
}

// leaks returns the home network's addresses found in msg's Via, Record-Route, Route, Path and
// Service-Route: anything on 127.0.0.1 but the border itself.
func leaks(msg sip.Message, border netip.AddrPort) []string {
	var out []string
	for _, name := range []string{"Via", "Record-Route", "Route", header.Path, header.ServiceRoute} {
		for _, v := range header.Values(msg, name) {
			if strings.Contains(v, "127.0.0.1") && !strings.Contains(v, border.String()) {
				out = append(out, name+": "+v)
			}
		}
	}
	return out
}

// TestTHIG checks topology hiding at the I-CSCF (TS 24.229 §5.10.4) with real sockets, the other network on
// 127.0.0.2: a visited network's REGISTER gets our Path on top and its 200 a hidden Service-Route, whose
// token routes the visitor's requests back to the S-CSCF; a tampered token is refused with 400; a terminating
// INVITE along the visitor's Path leaves with its Vias and Record-Routes sealed, which the 200 gets back
// restored; the dialog's BYE from the other network follows the restored route set; the other network never
// sees a home address but the border's.
func TestTHIG(t *testing.T) {
	hss := startFakeHSS(t)
	sc := startFakeSCSCF(t, "scscf", false)
	srOrig := "<sip:127.0.0.1:" + strconv.Itoa(int(sc.addr.Port())) + ";lr;orig>"
	sc.respond = func(req *sip.Request) *sip.Response {
		res := sip.NewResponseFromRequest(req, 200, "OK", nil)
		if req.Method == sip.REGISTER {
			res.AppendHeader(sip.NewHeader(header.ServiceRoute, srOrig))
			for _, p := range header.Values(req, header.Path) {
				res.AppendHeader(sip.NewHeader(header.Path, p))
			}
		}
		return res
	}
	hss.onUAR(func(*cx.UAR) *cx.UAA { return uaa(cx.Vendor3GPP, 2001, sc.name, nil) })
	n := startICSCF(t, hss, []SCSCF{sc.config()}, func(c *Config) {
		c.THIG = THIGConfig{Keys: map[int]string{1: strings.Repeat("ab", 32)}, CurrentKey: 1, Networks: []string{"127.0.0.2/32"}}
	})
	border := sipAddr(n, "UDP")
	visited := startBorderPeer(t)
	visitedPath := "<sip:term@" + visited.addr().String() + ";lr>"

	// The visited P-CSCF's REGISTER.
	// Requests of the visited network are written by a formatter on 127.0.0.2 and sent from the peer's socket:
	// their Via has rport, so the answers come to the peer (RFC 3581).
	form := newUEAt(t, "127.0.0.2")
	reg := form.request("REGISTER", "sip:"+testDomain, "sip:001010000000001@"+testDomain,
		"Path: "+visitedPath, `P-Visited-Network-ID: "visited.test"`, "Expires: 600")
	visited.write(border, reg)
	got := sc.next(t)
	if paths := header.Values(got, header.Path); len(paths) != 2 || !strings.Contains(paths[0], border.String()) || paths[1] != visitedPath {
		t.Errorf("Path at the S-CSCF %q, want the border's on top of the visited P-CSCF's", paths)
	}
	res, ok := visited.next().(*sip.Response)
	if !ok || res.StatusCode != 200 {
		t.Fatalf("REGISTER: %v", res)
	}
	srs := header.Values(res, header.ServiceRoute)
	if len(srs) != 1 || !strings.Contains(srs[0], "tokenized-by="+testDomain) {
		t.Fatalf("Service-Route at the visited network %q, want one token", srs)
	}
	if l := leaks(res, border); len(l) > 0 {
		t.Errorf("the 200 to REGISTER shows the home network: %q", l)
	}

	// The visitor's originating MESSAGE along the hidden Service-Route reaches the S-CSCF with it restored.
	msg := form.request("MESSAGE", "sip:bob@"+testDomain, "sip:bob@"+testDomain,
		"Route: "+srs[0], "P-Asserted-Identity: <sip:001010000000001@"+testDomain+">")
	visited.write(border, msg)
	got = sc.next(t)
	if r := header.Values(got, "Route"); len(r) == 0 || r[0] != srOrig {
		t.Errorf("Route at the S-CSCF %q, want the restored Service-Route %s", r, srOrig)
	}
	if res, ok := visited.next().(*sip.Response); !ok || res.StatusCode != 200 {
		t.Fatalf("MESSAGE along the hidden Service-Route: %v", res)
	}

	// A tampered token is refused.
	tampered := strings.Replace(msg, "Route: <sip:", "Route: <sip:A", 1)
	tampered = strings.Replace(strings.Replace(tampered, "call-", "call-x", 1), "branch=z9hG4bK-ue-", "branch=z9hG4bK-ue-x", 1)
	visited.write(border, tampered)
	if res, ok := visited.next().(*sip.Response); !ok || res.StatusCode != 400 {
		t.Errorf("a tampered Service-Route token: %v, want 400", res)
	}
	if sc.received() {
		t.Error("a request with a tampered token reached the S-CSCF")
	}

	// A terminating INVITE from the S-CSCF along the visitor's Path leaves with the home network hidden.
	home := newUE(t) // the S-CSCF's side of the dialog
	homeRR := "<sip:" + home.local() + ";lr>"
	inv := home.request("INVITE", "sip:ue@192.0.2.99", "sip:001010000000001@"+testDomain,
		"Route: <sip:"+border.String()+";lr>", "Route: "+visitedPath, "Record-Route: "+homeRR,
		"Via: SIP/2.0/UDP 127.0.0.1:5998;branch=z9hG4bK-homepcscf")
	answered := make(chan *sip.Response, 1)
	go func() { answered <- home.send(border, inv) }()
	out, ok := visited.next().(*sip.Request)
	if !ok || out.Method != sip.INVITE {
		t.Fatalf("the visited network got %v, want the INVITE", out)
	}
	if l := leaks(out, border); len(l) > 0 {
		t.Errorf("the INVITE leaving the home network shows it: %q", l)
	}
	if vias := header.Values(out, "Via"); len(vias) != 2 {
		t.Errorf("Vias leaving: %q, want the border's and one token", vias)
	}
	ok200 := sip.NewResponseFromRequest(out, 200, "OK", nil)
	ok200.AppendHeader(sip.NewHeader("Contact", "<sip:ue@"+visited.addr().String()+">"))
	if to := ok200.To(); !to.Params.Has("tag") {
		to.Params.Add("tag", "visited")
	}
	visited.write(border, ok200.String())
	var back *sip.Response
	select {
	case back = <-answered:
	case <-time.After(10 * time.Second):
		t.Fatal("no 200 at the S-CSCF")
	}
	if back.StatusCode != 200 {
		t.Fatalf("INVITE: %d", back.StatusCode)
	}
	if vias := header.Values(back, "Via"); len(vias) != 2 || !strings.Contains(vias[1], "127.0.0.1:5998") {
		t.Errorf("Vias of the 200 at the S-CSCF %q, want the two it sent, restored", vias)
	}
	rrs := header.Values(back, "Record-Route")
	if len(rrs) < 2 || rrs[len(rrs)-1] != homeRR {
		t.Errorf("Record-Route of the 200 at the S-CSCF %q, want %s restored last", rrs, homeRR)
	}

	// The BYE from the visited network follows the route set it learnt: the border, then the token.
	outRRs := header.Values(out, "Record-Route")
	if len(outRRs) != 2 || !strings.Contains(outRRs[1], "tokenized-by") {
		t.Fatalf("Record-Route leaving %q, want the border's and a token", outRRs)
	}
	bye := form.request("BYE", "sip:"+home.local(), "sip:x@"+testDomain,
		"Route: "+outRRs[0], "Route: "+outRRs[1])
	visited.write(border, bye)
	buf := make([]byte, 65535)
	_ = home.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	nr, _, err := home.conn.ReadFromUDPAddrPort(buf)
	if err != nil {
		t.Fatalf("the BYE did not come back to the home network: %v", err)
	}
	m, err := sip.ParseMessage(buf[:nr])
	if err != nil {
		t.Fatal(err)
	}
	if r, ok := m.(*sip.Request); !ok || r.Method != sip.BYE {
		t.Fatalf("the home side got %v", m)
	}
}

// TestTHIGRegisterFailover: when the S-CSCF the HSS named is silent and the I-CSCF tries another (TS 24.229
// §5.3.1.3, a further Decision from OnFailure), the second REGISTER gets the border's Path as well and the 200
// its Service-Route hidden.
func TestTHIGRegisterFailover(t *testing.T) {
	hss := startFakeHSS(t)
	dead := startFakeSCSCF(t, "scscf-dead", true)
	alive := startFakeSCSCF(t, "scscf-alive", false)
	alive.respond = func(req *sip.Request) *sip.Response {
		res := sip.NewResponseFromRequest(req, 200, "OK", nil)
		res.AppendHeader(sip.NewHeader(header.ServiceRoute, "<sip:"+alive.addr.String()+";lr;orig>"))
		return res
	}
	hss.onUAR(func(r *cx.UAR) *cx.UAA {
		if r.UserAuthorizationType != nil && *r.UserAuthorizationType == cx.UATRegistrationAndCapabilities {
			return uaa(cx.Vendor3GPP, 2001, "", &cx.ServerCapabilities{})
		}
		return uaa(cx.Vendor3GPP, 2002, dead.name, nil)
	})
	n := startICSCF(t, hss, []SCSCF{dead.config(), alive.config()}, func(c *Config) {
		c.THIG = THIGConfig{Keys: map[int]string{7: strings.Repeat("cd", 32)}, CurrentKey: 7, Networks: []string{"127.0.0.2/32"}}
	})
	border := sipAddr(n, "UDP")
	visited := newUEAt(t, "127.0.0.2")
	res := visited.send(border, visited.request("REGISTER", "sip:"+testDomain, testIMPU, "Path: <sip:term@127.0.0.2:5060;lr>"))
	if res.StatusCode != 200 {
		t.Fatalf("REGISTER: %d, want 200 from the second S-CSCF", res.StatusCode)
	}
	dead.next(t)
	got := alive.next(t)
	if paths := header.Values(got, header.Path); len(paths) != 2 || !strings.Contains(paths[0], border.String()) {
		t.Errorf("Path at the second S-CSCF %q, want the border's on top", paths)
	}
	if l := leaks(res, border); len(l) > 0 {
		t.Errorf("the 200 shows the home network: %q", l)
	}
}

// FuzzTHIGRestore feeds arbitrary Route, Via and Record-Route values from the other network through the
// restoring side of the border: a token is restored, refused or left alone, never a panic.
func FuzzTHIGRestore(f *testing.F) {
	cfg := THIGConfig{Keys: map[int]string{1: strings.Repeat("ab", 32)}, CurrentKey: 1, Networks: []string{"127.0.0.2/32"}}
	h, err := newHider(cfg, testDomain, nil, func() (sip.Uri, bool) { return sip.Uri{}, false }, testLogger(f))
	if err != nil {
		f.Fatal(err)
	}
	good, _ := h.codec.HideURI("record-route", []string{"<sip:127.0.0.1:5060;lr>"})
	tok, _ := h.codec.Seal("via", []string{"SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK1"})
	f.Add("<"+good+">", "SIP/2.0/UDP "+testDomain+";branch="+viaBranchPrefix+tok)
	f.Add("<sip:AAAA@"+testDomain+";lr;tokenized-by="+testDomain+">", "SIP/2.0/UDP x;branch="+viaBranchPrefix+"AAAA")
	f.Add("<sip:x@y;lr>", "SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKx")
	f.Fuzz(func(t *testing.T, route, via string) {
		req := sip.NewRequest(sip.MESSAGE, sip.Uri{Scheme: "sip", Host: testDomain})
		req.AppendHeader(sip.NewHeader("Route", route))
		_, _ = h.restoreRoutes(req, proxyNoSource)
		res := sip.NewResponse(200, "OK")
		res.AppendHeader(sip.NewHeader("Via", via))
		res.AppendHeader(sip.NewHeader("Record-Route", route))
		h.restoreResponse(res, h.log)
	})
}

// BenchmarkTHIGMessage is the CPU the border adds to one INVITE leaving the home network and its 200 coming back:
// three Vias and two Record-Routes sealed, then restored.
func BenchmarkTHIGMessage(b *testing.B) {
	cfg := THIGConfig{Keys: map[int]string{1: strings.Repeat("ab", 32)}, CurrentKey: 1, Networks: []string{"127.0.0.2/32"}}
	h, err := newHider(cfg, testDomain, nil, func() (sip.Uri, bool) { return sip.Uri{}, false }, testLogger(b))
	if err != nil {
		b.Fatal(err)
	}
	req := sip.NewRequest(sip.INVITE, sip.Uri{Scheme: "sip", User: "ue", Host: "127.0.0.2", Port: 5060})
	for _, v := range []string{"SIP/2.0/UDP 127.0.0.1:6060;branch=z9hG4bK-1", "SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK-2",
		"SIP/2.0/UDP 10.0.0.9:5060;branch=z9hG4bK-3;rport=5060"} {
		req.AppendHeader(sip.NewHeader("Via", v))
	}
	req.AppendHeader(sip.NewHeader("Record-Route", "<sip:127.0.0.1:6060;lr>"))
	req.AppendHeader(sip.NewHeader("Record-Route", "<sip:127.0.0.1:5060;lr>"))
	req.AppendHeader(sip.NewHeader("Contact", "<sip:ue@10.0.0.9:5060>"))
	log := zap.NewNop()
	b.ReportAllocs()
	for b.Loop() {
		var d proxy.Decision
		if err := h.hideOutbound(&d, req, log); err != nil {
			b.Fatal(err)
		}
		res := sip.NewResponse(200, "OK")
		for _, a := range d.AddHeaders {
			res.AppendHeader(a)
		}
		h.restoreResponse(res, log)
		if len(header.Values(res, "Via")) != 3 {
			b.Fatalf("Vias not restored: %q", header.Values(res, "Via"))
		}
	}
}
