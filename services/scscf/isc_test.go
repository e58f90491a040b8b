package scscf

import (
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/imscore/imscore/diameter/userdata"
	"github.com/imscore/imscore/sip/header"
)

// fakeAS is an application server on a raw UDP socket acting as a proxy on ISC (TS 24.229 §5.7.4):
// it pops its Route, adds its Via and sends the request back to the S-CSCF; responses it relays the other way.
// REGISTERs (third-party registration) it answers 200 itself.
type fakeAS struct {
	t         *testing.T
	conn      *net.UDPConn
	addr      netip.AddrPort
	mu        sync.Mutex
	scscf     netip.AddrPort    // set after the S-CSCF started; read by the socket goroutine
	seen      chan *sip.Request // every request received, as received
	registers chan *sip.Request
}

func startFakeAS(t *testing.T) *fakeAS {
	t.Helper()
	c, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.MustParseAddrPort("127.0.0.1:0")))
	if err != nil {
		t.Fatal(err)
	}
	as := &fakeAS{t: t, conn: c, addr: c.LocalAddr().(*net.UDPAddr).AddrPort(),
		seen: make(chan *sip.Request, 16), registers: make(chan *sip.Request, 16)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 65535)
		parser := sip.NewParser()
		for {
			n, src, err := c.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			msg, err := parser.ParseSIP(buf[:n])
			if err != nil {
				continue
			}
			switch m := msg.(type) {
			case *sip.Request:
				as.handleRequest(m, src)
			case *sip.Response:
				as.relayResponse(m)
			}
		}
	}()
	t.Cleanup(func() { c.Close(); <-done })
	return as
}

func (as *fakeAS) uri() string { return "sip:" + as.addr.String() }

func (as *fakeAS) setSCSCF(a netip.AddrPort) {
	as.mu.Lock()
	defer as.mu.Unlock()
	as.scscf = a
}

func (as *fakeAS) next() netip.AddrPort {
	as.mu.Lock()
	defer as.mu.Unlock()
	return as.scscf
}

func (as *fakeAS) handleRequest(req *sip.Request, src netip.AddrPort) {
	if req.Method == sip.REGISTER {
		as.registers <- req
		res := sip.NewResponseFromRequest(req, 200, "OK", nil)
		_, _ = as.conn.WriteToUDPAddrPort([]byte(res.String()), src)
		return
	}
	as.seen <- req
	fwd := req.Clone()
	var routes []string
	for _, v := range header.Values(fwd, "Route") {
		routes = append(routes, header.SplitList(v)...)
	}
	header.Remove(fwd, "Route")
	for _, r := range routes[1:] { // the first names this AS
		fwd.AppendHeader(sip.NewHeader("Route", r))
	}
	_ = header.Prepend(fwd, "Via", "SIP/2.0/UDP "+as.addr.String()+";branch=z9hG4bKas"+randHex(6))
	_, _ = as.conn.WriteToUDPAddrPort([]byte(fwd.String()), as.next())
}

func (as *fakeAS) relayResponse(res *sip.Response) {
	var vias []string
	for _, v := range header.Values(res, "Via") {
		vias = append(vias, header.SplitList(v)...)
	}
	header.Remove(res, "Via")
	for _, v := range vias[1:] {
		res.AppendHeader(sip.NewHeader("Via", v))
	}
	_, _ = as.conn.WriteToUDPAddrPort([]byte(res.String()), as.next())
}

func TestISCAndThirdPartyRegister(t *testing.T) {
	hss := startFakeHSS(t)
	as := startFakeAS(t)
	ifcs := []userdata.InitialFilterCriteria{
		{Priority: 1, ApplicationServer: userdata.ApplicationServer{ServerName: as.uri()},
			TriggerPoint: &userdata.TriggerPoint{ConditionTypeCNF: false, SPTs: []userdata.SPT{
				{Method: ptr("MESSAGE"), Groups: []int{0}},
				{SessionCase: ptr(userdata.SessionOriginating), Groups: []int{0}},
			}}},
		{Priority: 2, ApplicationServer: userdata.ApplicationServer{ServerName: as.uri(),
			Extension: &userdata.ApplicationServerExt{IncludeRegisterRequest: &struct{}{}}},
			TriggerPoint: &userdata.TriggerPoint{SPTs: []userdata.SPT{{Method: ptr("REGISTER"), Groups: []int{0}}}}},
	}
	subA := hss.addSubscriber(t, "001010000000041", "15550000041", ifcs...)
	subB := hss.addSubscriber(t, "001010000000042", "15550000042")
	s := startSCSCF(t, hss, nil)
	as.setSCSCF(s.SIPAddr())
	alice, bob := newUE(t, s, subA), newUE(t, s, subB)
	sr := header.Values(alice.registerFully(600), "Service-Route")[0]
	bob.registerFully(600)

	select {
	case reg := <-as.registers:
		if reg.To().Address.String() != alice.impu || reg.GetHeader("Expires").Value() != "600" {
			t.Fatalf("third-party REGISTER: To %s Expires %s", reg.To().Address.String(), reg.GetHeader("Expires").Value())
		}
		if ct := reg.GetHeader("Content-Type"); ct == nil || ct.Value() != "message/sip" || !strings.HasPrefix(string(reg.Body()), "REGISTER ") {
			t.Fatalf("third-party REGISTER body (IncludeRegisterRequest): %v %q", ct, reg.Body())
		}
	case <-time.After(waitLong):
		t.Fatal("no third-party REGISTER at the AS")
	}

	alice.sendRequest(sip.MESSAGE, bob.impu, "<"+bob.impu+">", sr, "isc-"+randHex(4), 1, "", "via AS")
	select {
	case got := <-as.seen:
		routes := strings.Join(header.Values(got, "Route"), ",")
		if !strings.Contains(routes, "odi=") || !strings.Contains(routes, s.SIPAddr().String()) {
			t.Fatalf("ISC request Route %q: want our URI with an original-dialog token", routes)
		}
	case <-time.After(waitLong):
		t.Fatal("MESSAGE did not reach the AS")
	}
	got := bob.request(sip.MESSAGE)
	if string(got.Body()) != "via AS" {
		t.Fatalf("body %q", got.Body())
	}
	bob.answer(got, 200, "")
	if res := alice.response(); res.StatusCode != 200 {
		t.Fatalf("MESSAGE via AS: %d", res.StatusCode)
	}
	// Bob's MESSAGE to Alice is terminating for Alice: her originating iFC does not fire.
	bob.sendRequest(sip.MESSAGE, alice.impu, "<"+alice.impu+">", sr, "isc-"+randHex(4), 1, "", "direct")
	got = alice.request(sip.MESSAGE)
	alice.answer(got, 200, "")
	if res := bob.response(); res.StatusCode != 200 {
		t.Fatalf("MESSAGE to Alice: %d", res.StatusCode)
	}
	select {
	case r := <-as.seen:
		t.Fatalf("terminating MESSAGE went to the AS: %s", r.StartLine())
	default:
	}
}
