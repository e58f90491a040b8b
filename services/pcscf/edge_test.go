package pcscf

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/imscore/imscore/sip/header"
	"github.com/imscore/imscore/sip/identity/identitytest"
	"github.com/imscore/imscore/sip/proxy"
	"github.com/imscore/imscore/sip/ue"
)

// The attacks of issue 10 against the P-CSCF as the edge of the trust domain, each with plain sockets from
// the access side: UEs and attackers on 127.0.0.2…, the core (fake I-/S-CSCF, the P-CSCF itself) on
// 127.0.0.1, and trusted_networks 127.0.0.1/32 so that the two sides differ.

// edge is a P-CSCF with sec-agree (fake kernel) between a fake core on 127.0.0.1 and UEs elsewhere.
type edge struct {
	core  *fakeCore
	n     *Node
	sas   *fakeSAs
	alice subscriber // registered nowhere: the identity attackers borrow
	bob   subscriber // the victim, registered without sec-agree from 127.0.0.3
	mal   subscriber // a registered subscriber on 127.0.0.2 (sec-agree) who attacks
	ub    *ue.UE
}

func startEdge(t *testing.T) *edge {
	t.Helper()
	e := &edge{alice: newSubscriber(t, 1), bob: newSubscriber(t, 2), mal: newSubscriber(t, 3), sas: newFakeSAs()}
	e.core = startFakeCore(t, "127.0.0.1:0", e.alice, e.bob, e.mal)
	e.n = startPCSCF(t, "127.0.0.1", e.core.addr, e.sas, func(c *Config) { c.TrustedNetworks = []string{"127.0.0.1/32"} })
	e.ub = newUE(t, e.bob, e.n.CoreAddr(), "udp", false, func(c *ue.Config) { c.Local = netip.MustParseAddr("127.0.0.3") })
	if _, err := e.ub.Register(ctxT(t)); err != nil {
		t.Fatalf("bob register: %v", err)
	}
	return e
}

// sink is an address that must never receive anything: where an open relay would deliver.
type sink struct{ c *net.UDPConn }

func newSink(t *testing.T, addr string) *sink {
	t.Helper()
	c, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.MustParseAddrPort(addr)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &sink{c: c}
}

func (s *sink) addr() netip.AddrPort { return s.c.LocalAddr().(*net.UDPAddr).AddrPort() }

// empty checks that nothing arrived. The P-CSCF answered the request before this is called, and it forwards
// before it answers: a relayed copy would already be in the socket.
func (s *sink) empty(t *testing.T) {
	t.Helper()
	_ = s.c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	buf := make([]byte, 65535)
	if n, _, err := s.c.ReadFromUDPAddrPort(buf); err == nil {
		t.Errorf("the P-CSCF relayed to %v:\n%s", s.addr(), buf[:n])
	}
}

// rawRequest writes a request from a raw UA: {port} and {host} are its own.
func rawRequest(method, ruri string, headers ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s SIP/2.0\n", method, ruri)
	fmt.Fprintf(&b, "Via: SIP/2.0/UDP {host}:{port};branch=z9hG4bK%d;rport\n", time.Now().UnixNano())
	b.WriteString("Max-Forwards: 70\n")
	for _, h := range headers {
		b.WriteString(h + "\n")
	}
	fmt.Fprintf(&b, "CSeq: 1 %s\nContent-Length: 0\n\n", method)
	return b.String()
}

func (r *rawUA) send(text string) string {
	r.t.Helper()
	return r.do(strings.ReplaceAll(text, "{host}", r.c.LocalAddr().(*net.UDPAddr).IP.String()))
}

func statusOf(res string) int {
	var code int
	_, _ = fmt.Sscanf(res, "SIP/2.0 %d", &code)
	return code
}

// noRequest checks that bob received nothing, bounded: every request of the test was answered before.
func noRequest(t *testing.T, u *ue.UE) {
	t.Helper()
	select {
	case r := <-u.Incoming():
		t.Errorf("bob received %s From %s PAI %q", r.Method, lastValue(r, "From"), lastValue(r, header.PAssertedIdentity))
	case <-time.After(50 * time.Millisecond):
	}
}

// TestEdgeOpenRelay: a request from an unregistered source with a Route naming the P-CSCF, initial or with a
// To tag, is refused with 403 and reaches nothing (TS 24.229 §5.2.6.3.1); a REGISTER's Route beyond us is
// dropped. Before: forwarded to any address, and a REGISTER's Route passed to the I-CSCF.
func TestEdgeOpenRelay(t *testing.T) {
	e := startEdge(t)
	target := newSink(t, "127.0.0.5:0")
	attacker := newRawUA(t, e.n.CoreAddr(), "127.0.0.4:0")
	for _, toTag := range []string{"", ";tag=t1"} {
		res := attacker.send(rawRequest("MESSAGE", fmt.Sprintf("sip:x@%s", target.addr()),
			fmt.Sprintf("Route: <sip:%s;lr>", e.n.CoreAddr()),
			"From: <sip:x@evil.example>;tag=a1", "To: <sip:x@evil.example>"+toTag, "Call-ID: relay"+toTag))
		if got := statusOf(res); got != 403 {
			t.Errorf("To tag %q: answered %d, want 403:\n%s", toTag, got, res)
		}
	}
	// A REGISTER goes to the I-CSCF without the Route the UE wrote beyond us (the I-CSCF would follow it).
	res := attacker.send(register(e.alice, fmt.Sprintf("Route: <sip:%s;lr>, <sip:%s;lr>\n", e.n.CoreAddr(), target.addr())))
	if got := statusOf(res); got != 401 {
		t.Errorf("REGISTER: %d, want the core's 401", got)
	}
	regs := e.core.requests(sip.REGISTER)
	if r := regs[len(regs)-1]; len(r.GetHeaders("Route")) > 0 {
		t.Errorf("REGISTER reached the I-CSCF with Route %q", lastValue(r, "Route"))
	}
	target.empty(t)
}

// TestEdgeForgedIdentityViaRoute: an unregistered source names the P-CSCF and then the S-CSCF's originating
// Route, with alice's P-Asserted-Identity: 403, bob never sees it. Before: bob got a MESSAGE "from alice".
func TestEdgeForgedIdentityViaRoute(t *testing.T) {
	e := startEdge(t)
	attacker := newRawUA(t, e.n.CoreAddr(), "127.0.0.4:0")
	res := attacker.send(rawRequest("MESSAGE", e.bob.impu,
		fmt.Sprintf("Route: <sip:%s;lr>, <sip:orig@%s;lr>", e.n.CoreAddr(), e.core.addr),
		"P-Asserted-Identity: <"+e.alice.impu+">",
		"From: <"+e.alice.impu+">;tag=a1", "To: <"+e.bob.impu+">", "Call-ID: forged-pai"))
	if got := statusOf(res); got != 403 {
		t.Errorf("answered %d, want 403:\n%s", got, res)
	}
	noRequest(t, e.ub)
}

// TestEdgePathFromAccess: our Path address (sip:term@…) takes requests from the core side only; from the
// access side, unregistered or a registered UE, it is 403 (TS 24.229 §5.2.7). Before: delivered straight to
// bob with any identity, past the S-CSCF.
func TestEdgePathFromAccess(t *testing.T) {
	e := startEdge(t)
	reg, _ := e.n.Registration(e.bob.impu)
	contact := fmt.Sprintf("sip:%s:%d", reg.ContactHost, reg.ContactPort)
	path := fmt.Sprintf("Route: <sip:%s@%s;lr>", pathUser, e.n.CoreAddr())
	forged := []string{path, "P-Asserted-Identity: <" + e.alice.impu + ">", "From: <" + e.alice.impu + ">;tag=a1", "To: <" + e.bob.impu + ">"}
	attacker := newRawUA(t, e.n.CoreAddr(), "127.0.0.4:0")
	if got := statusOf(attacker.send(rawRequest("MESSAGE", contact, append(forged, "Call-ID: path-1")...))); got != 403 {
		t.Errorf("unregistered source: %d, want 403", got)
	}
	// A request straight to bob's registered contact, no Path: the same.
	if got := statusOf(attacker.send(rawRequest("MESSAGE", contact, append(forged[1:], "Call-ID: path-2")...))); got != 403 {
		t.Errorf("to the contact: %d, want 403", got)
	}
	// A registered UE over its own SAs: still the access side.
	mal := e.registeredRaw(t)
	if got := statusOf(mal.send(rawRequest("MESSAGE", contact, append(forged, "Call-ID: path-3")...))); got != 403 {
		t.Errorf("registered UE: %d, want 403", got)
	}
	noRequest(t, e.ub)
}

// registeredRaw registers mallory with sec-agree from 127.0.0.2 (plaintext on the protected ports: fake
// kernel), then takes over her protected client port with a raw socket aimed at our protected server port:
// requests from it are a registered UE's, over its own SAs, with whatever it writes.
func (e *edge) registeredRaw(t *testing.T) *rawUA {
	t.Helper()
	um := newUE(t, e.mal, e.n.CoreAddr(), "udp", true, func(c *ue.Config) { c.Local = netip.MustParseAddr("127.0.0.2") })
	if _, err := um.Register(ctxT(t)); err != nil {
		t.Fatalf("mallory register: %v", err)
	}
	reg, ok := e.n.Registration(e.mal.impu)
	if !ok || len(reg.SAs) == 0 {
		t.Fatal("mallory has no SA set")
	}
	pair := reg.SAs[0].Pair
	um.Close()
	return newRawUA(t, addrPort(pair.PCSCF.Addr, pair.PCSCF.PortS), addrPort(pair.UE.Addr, pair.UE.PortC).String())
}

// TestEdgeRegisteredUEInDialog: a registered UE's request with a To tag is forwarded only within a dialog the
// P-CSCF record-routed for it and only along that dialog's route set (TS 24.229 §5.2.6.3.5); its
// P-Asserted-Identity goes and a P-Preferred-Identity outside its implicit set gives way to its default
// public identity (TS 24.229 §5.2.6.3.1, RFC 3325 §5). Before: the UE's Route was followed (a relay for any
// registered UE) and its P-Asserted-Identity of alice reached bob.
func TestEdgeRegisteredUEInDialog(t *testing.T) {
	e := startEdge(t)
	mal := e.registeredRaw(t)
	target := newSink(t, "127.0.0.5:0")
	forged := []string{"P-Asserted-Identity: <" + e.alice.impu + ">", "P-Preferred-Identity: <" + e.alice.impu + ">"}

	// No dialog at all: the UE's own Route to anywhere.
	res := mal.send(rawRequest("MESSAGE", fmt.Sprintf("sip:x@%s", target.addr()), append(forged,
		"From: <"+e.mal.impu+">;tag=m1", "To: <sip:x@evil.example>;tag=x1", "Call-ID: nodialog")...))
	if got := statusOf(res); got != 403 {
		t.Errorf("no dialog: %d, want 403:\n%s", got, res)
	}
	target.empty(t)

	// A real dialog: mallory INVITEs bob (raw), bob answers, mallory ACKs.
	inv := mal.send(rawRequest("INVITE", e.bob.impu, "From: <"+e.mal.impu+">;tag=m2", "To: <"+e.bob.impu+">",
		"Call-ID: dialog-1", "Contact: <sip:m@127.0.0.2:{port}>"))
	if statusOf(inv) != 200 {
		t.Fatalf("INVITE: %s", inv)
	}
	got := recv(t, e.ub, sip.INVITE)
	ok200, err := sip.ParseMessage([]byte(inv))
	if err != nil {
		t.Fatal(err)
	}
	bobContact := ok200.(*sip.Response).Contact()
	if bobContact == nil {
		t.Fatal("200 without Contact")
	}
	bobTag := toTag(ok200)
	var route []string
	for _, v := range header.Values(ok200, header.RecordRoute) {
		route = append(route, header.SplitList(v)...)
	}
	slices.Reverse(route)
	if len(route) < 3 {
		t.Fatalf("Record-Route of the 200: %v (INVITE at bob had %q)", route, lastValue(got, header.RecordRoute))
	}
	inDialog := func(method, callID string, route []string, extra ...string) []string {
		h := []string{"From: <" + e.mal.impu + ">;tag=m2", "To: <" + e.bob.impu + ">;tag=" + bobTag, "Call-ID: " + callID,
			"Route: " + strings.Join(route, ", ")}
		return append(h, extra...)
	}
	remote := bobContact.Address.String()
	// Within it, with alice's identity: bob sees mallory's.
	if res := mal.send(rawRequest("MESSAGE", remote, inDialog("MESSAGE", "dialog-1", route, forged...)...)); statusOf(res) != 200 {
		t.Fatalf("in-dialog MESSAGE: %s", res)
	}
	msg := recv(t, e.ub, sip.MESSAGE)
	if pai := header.Values(msg, header.PAssertedIdentity); len(pai) != 1 || !strings.Contains(pai[0], e.mal.impu) {
		t.Errorf("bob sees P-Asserted-Identity %q, want mallory's default identity %s", pai, e.mal.impu)
	}
	if ppi := header.Values(msg, header.PPreferredIdentity); len(ppi) > 0 {
		t.Errorf("P-Preferred-Identity passed on: %q", ppi)
	}
	// The dialog's identifiers with another route: refused, nothing relayed.
	other := append([]string{route[0]}, fmt.Sprintf("<sip:%s;lr>", target.addr()))
	if res := mal.send(rawRequest("MESSAGE", fmt.Sprintf("sip:x@%s", target.addr()), inDialog("MESSAGE", "dialog-1", other)...)); statusOf(res) != 403 {
		t.Errorf("in-dialog request leaving the route set: %s", res)
	}
	target.empty(t)
	noRequest(t, e.ub)
}

// recv waits for bob's next request, which must be method.
func recv(t *testing.T, u *ue.UE, method sip.RequestMethod) *sip.Request {
	t.Helper()
	select {
	case r := <-u.Incoming():
		if r.Method != method {
			t.Fatalf("bob got %s, want %s", r.Method, method)
		}
		return r
	case <-time.After(waitLong):
		t.Fatalf("bob got no %s", method)
	}
	return nil
}

// TestEdgePreferredIdentity: an initial request's P-Preferred-Identity outside the UE's implicit set gives
// way to its default public identity, one inside it is asserted in its registered spelling, and the UE's
// P-Asserted-Identity goes (TS 24.229 §5.2.6.3.1).
func TestEdgePreferredIdentity(t *testing.T) {
	e := startEdge(t)
	um := newUE(t, e.mal, e.n.CoreAddr(), "udp", false, func(c *ue.Config) { c.Local = netip.MustParseAddr("127.0.0.2") })
	if _, err := um.Register(ctxT(t)); err != nil {
		t.Fatalf("mallory register: %v", err)
	}
	for _, tc := range []struct{ ppi, want string }{
		{e.alice.impu, e.mal.impu},
		{e.alice.tel, e.mal.impu},
		{strings.ToUpper(e.mal.tel[:3]) + e.mal.tel[3:], e.mal.tel},
	} {
		_, err := um.Message(ctxT(t), e.bob.impu, "hi",
			sip.NewHeader(header.PPreferredIdentity, "<"+tc.ppi+">"), sip.NewHeader(header.PAssertedIdentity, "<"+e.alice.impu+">"))
		if err != nil {
			t.Fatalf("MESSAGE: %v", err)
		}
		msg := recv(t, e.ub, sip.MESSAGE)
		if pai := header.Values(msg, header.PAssertedIdentity); len(pai) != 1 || pai[0] != "<"+tc.want+">" {
			t.Errorf("PPI %s: bob sees P-Asserted-Identity %q, want <%s>", tc.ppi, pai, tc.want)
		}
	}
}

// TestEdgeSharedAddress: a UE without sec-agree is known by its registered address and port; another process
// at the same address (a NAT, the same host) cannot send as it, over TCP either. Before: a TCP request from the
// address with alice's identity was asserted as alice.
func TestEdgeSharedAddress(t *testing.T) {
	e := startEdge(t)
	ua := newUE(t, e.alice, e.n.CoreAddr(), "udp", false, func(c *ue.Config) { c.Local = netip.MustParseAddr("127.0.0.2") })
	if _, err := ua.Register(ctxT(t)); err != nil {
		t.Fatalf("alice register: %v", err)
	}
	c, err := net.DialTCP("tcp", &net.TCPAddr{IP: net.ParseIP("127.0.0.2")}, net.TCPAddrFromAddrPort(e.n.CoreAddr()))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	text := strings.ReplaceAll(rawRequest("MESSAGE", e.bob.impu, "From: <"+e.alice.impu+">;tag=a1", "To: <"+e.bob.impu+">",
		"Call-ID: shared", "P-Preferred-Identity: <"+e.alice.impu+">"), "SIP/2.0/UDP", "SIP/2.0/TCP")
	text = strings.NewReplacer("{host}", "127.0.0.2", "{port}", fmt.Sprint(c.LocalAddr().(*net.TCPAddr).Port), "\n", "\r\n").Replace(text)
	if _, err := c.Write([]byte(text)); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(waitLong))
	buf := make([]byte, 65535)
	for {
		n, err := c.Read(buf)
		if err != nil {
			t.Fatalf("no response: %v", err)
		}
		if code := statusOf(string(buf[:n])); code >= 200 {
			if code != 403 {
				t.Errorf("answered %d, want 403", code)
			}
			break
		}
	}
	noRequest(t, e.ub)
}

// TestEdgeForgedNotify: a reg event NOTIFY is accepted only within the subscription the P-CSCF created and
// from the S-CSCF it sent the SUBSCRIBE to; otherwise 481 (RFC 6665 §4.1.3) and bob stays registered.
// Before: any NOTIFY got 200 and ended the registration.
func TestEdgeForgedNotify(t *testing.T) {
	e := startEdge(t)
	var sub *sip.Request
	for deadline := time.Now().Add(waitLong); sub == nil && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		for _, s := range e.core.requests(sip.SUBSCRIBE) {
			if s.Recipient.String() == e.bob.impu {
				sub = s
			}
		}
	}
	if sub == nil {
		t.Fatal("no reg event SUBSCRIBE for bob")
	}
	reg, _ := e.n.Registration(e.bob.impu)
	body := fmt.Sprintf(`<?xml version="1.0"?><reginfo xmlns="urn:ietf:params:xml:ns:reginfo" version="1" state="full">`+
		`<registration aor="%s" id="a" state="terminated"><contact id="c" state="terminated" event="deactivated">`+
		`<uri>sip:b@%s:%d</uri></contact></registration></reginfo>`, e.bob.impu, reg.ContactHost, reg.ContactPort)
	notify := func(callID, toTag string) string {
		return strings.Replace(rawRequest("NOTIFY", "sip:"+e.n.CoreAddr().String(),
			"From: <"+e.bob.impu+">;tag=s1", "To: <sip:pcscf@"+e.n.CoreAddr().String()+">;tag="+toTag, "Call-ID: "+callID,
			"Event: reg", "Subscription-State: terminated;reason=deactivated", "Content-Type: application/reginfo+xml"),
			"Content-Length: 0\n\n", fmt.Sprintf("Content-Length: %d\n\n%s", len(body), body), 1)
	}
	ourTag := fromTag(sub)
	attacker := newRawUA(t, e.n.CoreAddr(), "127.0.0.4:0")
	for _, tc := range []struct {
		name          string
		ua            func(string) string
		callID, toTag string
	}{
		{"access side, no subscription", attacker.send, "forged", "x"},
		{"access side, the subscription's own dialog", attacker.send, sub.CallID().Value(), ourTag},
		{"core side, no subscription", e.coreSend(t), "forged", ourTag},
		{"core side, another tag", e.coreSend(t), sub.CallID().Value(), "x"},
	} {
		if got := statusOf(tc.ua(notify(tc.callID, tc.toTag))); got != 481 {
			t.Errorf("%s: %d, want 481", tc.name, got)
		}
		if r, ok := e.n.Registration(e.bob.impu); !ok || !r.Registered(time.Now()) {
			t.Fatalf("%s: bob's registration ended", tc.name)
		}
	}
	// The S-CSCF's own NOTIFY still ends it.
	if got := statusOf(e.coreSend(t)(notify(sub.CallID().Value(), ourTag))); got != 200 {
		t.Errorf("the subscription's NOTIFY: %d, want 200", got)
	}
	if _, ok := e.n.Registration(e.bob.impu); ok {
		t.Error("bob still registered after the S-CSCF's NOTIFY")
	}
}

// coreSend sends raw text from the core's address (127.0.0.1) and returns the response, as attacker.send.
func (e *edge) coreSend(t *testing.T) func(string) string {
	return func(text string) string {
		t.Helper()
		req, err := sip.ParseMessage([]byte(strings.NewReplacer("{host}", "127.0.0.1", "{port}", "1", "\n", "\r\n").Replace(text)))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), waitLong)
		defer cancel()
		r := req.(*sip.Request)
		r.RemoveHeader("Via")
		res, err := e.core.p.Send(ctx, r, proxy.WithNextHop(proxy.NextHop{Transport: "UDP", Addr: e.n.CoreAddr()}))
		if err != nil {
			t.Fatalf("send: %v", err)
		}
		return res.String()
	}
}

// TestIdentityVectors: the P-CSCF keys its registrations, and finds the asserted identity in the implicit set,
// by the key of package identity, the same vectors the I-CSCF's and S-CSCF's tests run: a registration made
// under any spelling of an identity is found under its key and under every other spelling (tel:+1-555-0100
// is tel:+15550100 and sip:+15550100@…;user=phone, RFC 3966 §3, RFC 3261 §19.1.6), and a UE's
// P-Preferred-Identity in any spelling selects the registered identity.
func TestIdentityVectors(t *testing.T) {
	for _, v := range identitytest.Vectors() {
		if v.Key == "" {
			continue
		}
		t.Run(v.Name, func(t *testing.T) {
			r := newRegistry()
			r.update(keyOf(v.URI, "c"), v.URI, func(*Registration) bool { return true })
			if len(r.ofIMPU(v.Key)) != 1 {
				t.Fatalf("registered as %q, not found as %q", v.URI, v.Key)
			}
			for _, o := range identitytest.Vectors() {
				if ok := len(r.ofIMPU(o.URI)) == 1; ok != (o.Key == v.Key) {
					t.Errorf("registered as %q: found as %q %v, want %v", v.URI, o.URI, ok, o.Key == v.Key)
				}
			}
			reg := Registration{IMPU: "sip:default@ims.example", Associated: []string{"sip:default@ims.example", v.Key}}
			req := sip.NewRequest(sip.MESSAGE, sip.Uri{Scheme: "sip", Host: "ims.example"})
			req.AppendHeader(sip.NewHeader(header.PPreferredIdentity, "<"+v.URI+">"))
			if got := assertedIdentity(req, reg); got != v.Key {
				t.Errorf("P-Preferred-Identity %q: asserted %q, want %q", v.URI, got, v.Key)
			}
		})
	}
}

// TestDialogCap: a registration keeps at most maxDialogsPerUE dialog records, the oldest going first, and
// loses them all when it ends.
func TestDialogCap(t *testing.T) {
	var d dialogs
	base := time.Now()
	for i := range maxDialogsPerUE + 1 {
		d.add(dialogKey{callID: fmt.Sprint(i), ueTag: "u", peerTag: "p"}, dialogRec{binding: keyOf("sip:a@x", "c"), created: base.Add(time.Duration(i))})
	}
	if got := d.count(); got != maxDialogsPerUE {
		t.Fatalf("%d records, want %d", got, maxDialogsPerUE)
	}
	if _, ok := d.get(dialogKey{callID: "0", ueTag: "u", peerTag: "p"}); ok {
		t.Error("the oldest record stayed")
	}
	d.dropBinding(keyOf("SIP:a@x", "c"))
	if got := d.count(); got != 0 {
		t.Errorf("%d records after the registration ended", got)
	}
}
