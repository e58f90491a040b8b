package scscf

import (
	"fmt"
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
	// answer, when non-zero, makes the AS answer requests itself with this code instead of relaying them
	// back; asSilent makes it answer nothing at all (a dead AS).
	answer int
	// assert, when set, replaces the P-Asserted-Identity of a request relayed back with this value: an AS
	// asserting an identity on the way back (TS 24.229 §5.7.3).
	assert string
}

const asSilent = -1

func startFakeAS(t *testing.T) *fakeAS {
	t.Helper()
	return startFakeASAt(t, "127.0.0.1")
}

// startFakeASAt is startFakeAS bound to ip (127.0.0.2: an AS outside a trust domain of 127.0.0.1/32).
func startFakeASAt(t *testing.T, ip string) *fakeAS {
	t.Helper()
	c, addr := listenUDP(t, ip)
	as := &fakeAS{t: t, conn: c, addr: addr, seen: make(chan *sip.Request, 16), registers: make(chan *sip.Request, 16)}
	serveUDP(t, c, "AS", func(msg sip.Message, src netip.AddrPort) {
		switch m := msg.(type) {
		case *sip.Request:
			as.handleRequest(m, src)
		case *sip.Response:
			as.relayResponse(m)
		}
	})
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
	as.mu.Lock()
	answer, assert := as.answer, as.assert
	as.mu.Unlock()
	switch {
	case answer == asSilent || req.IsAck():
		return
	case answer != 0:
		res := sip.NewResponseFromRequest(req, answer, "AS says so", nil)
		_, _ = as.conn.WriteToUDPAddrPort([]byte(res.String()), src)
		return
	}
	fwd := req.Clone()
	var routes []string
	for _, v := range header.Values(fwd, "Route") {
		routes = append(routes, header.SplitList(v)...)
	}
	header.Remove(fwd, "Route")
	for _, r := range routes[1:] { // the first names this AS
		fwd.AppendHeader(sip.NewHeader("Route", r))
	}
	if assert != "" {
		_ = header.Set(fwd, "P-Asserted-Identity", assert)
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
		// TS 24.229 §5.4.3.2 step 4, RFC 5502 §6: the served user, its session case and registration state.
		if psu := header.Values(got, "P-Served-User"); len(psu) != 1 || psu[0] != "<"+alice.impu+">;sescase=orig;regstate=reg" {
			t.Fatalf("ISC request P-Served-User %q: want <%s>;sescase=orig;regstate=reg", psu, alice.impu)
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

// TestISCDefaultHandling: an AS that does not answer, or answers 408 or 5xx, before the request came back
// from it gets its iFC's default handling (TS 24.229 §5.4.3.2, TS 29.228 Annex B.2.3): SESSION_CONTINUED
// (also when absent) goes on with the next iFC and then the callee, SESSION_TERMINATED sends the failure to
// the caller. An AS's other answers, and the far end's failures relayed through a live AS, reach the caller
// unchanged with no second attempt.
func TestISCDefaultHandling(t *testing.T) {
	continued, terminated := userdata.SessionContinued, userdata.SessionTerminated
	tests := []struct {
		name       string
		answer     int // what the first AS does: asSilent, a code, or 0 to relay
		handling   *userdata.DefaultHandling
		bobAnswers int // bob's answer when the MESSAGE reaches him
		want       int // the caller's final response
		wantBob    bool
		wantSecond bool // the second iFC's AS saw the request
	}{
		{name: "silent AS, no DefaultHandling: continued to the next iFC", answer: asSilent,
			bobAnswers: 200, want: 200, wantBob: true, wantSecond: true},
		{name: "silent AS, SESSION_CONTINUED", answer: asSilent, handling: &continued,
			bobAnswers: 200, want: 200, wantBob: true, wantSecond: true},
		{name: "silent AS, SESSION_TERMINATED: 408", answer: asSilent, handling: &terminated, want: 408},
		{name: "AS 503, SESSION_CONTINUED", answer: 503, handling: &continued,
			bobAnswers: 200, want: 200, wantBob: true, wantSecond: true},
		{name: "AS 500, SESSION_TERMINATED: 500", answer: 500, handling: &terminated, want: 500},
		{name: "AS 486 is the AS's answer", answer: 486, handling: &continued, want: 486},
		{name: "far end's 500 through a live AS is not an AS failure", answer: 0, handling: &continued,
			bobAnswers: 500, want: 500, wantBob: true, wantSecond: true},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			hss := startFakeHSS(t)
			first, second := startFakeAS(t), startFakeAS(t)
			first.mu.Lock()
			first.answer = tc.answer
			first.mu.Unlock()
			onMessage := &userdata.TriggerPoint{SPTs: []userdata.SPT{
				{Method: ptr("MESSAGE"), Groups: []int{0}},
				{SessionCase: ptr(userdata.SessionOriginating), Groups: []int{0}},
			}}
			ifcs := []userdata.InitialFilterCriteria{
				{Priority: 1, TriggerPoint: onMessage,
					ApplicationServer: userdata.ApplicationServer{ServerName: first.uri(), DefaultHandling: tc.handling}},
				{Priority: 2, TriggerPoint: onMessage, ApplicationServer: userdata.ApplicationServer{ServerName: second.uri()}},
			}
			n := 51 + 2*i
			subA := hss.addSubscriber(t, fmt.Sprintf("0010100000000%02d", n), fmt.Sprintf("155500000%02d", n), ifcs...)
			subB := hss.addSubscriber(t, fmt.Sprintf("0010100000000%02d", n+1), fmt.Sprintf("155500000%02d", n+1))
			s := startSCSCF(t, hss, nil, func(c *Config) { c.ASTimeout = 300 * time.Millisecond })
			first.setSCSCF(s.SIPAddr())
			second.setSCSCF(s.SIPAddr())
			alice, bob := newUE(t, s, subA), newUE(t, s, subB)
			sr := header.Values(alice.registerFully(600), "Service-Route")[0]
			bob.registerFully(600)

			alice.sendRequest(sip.MESSAGE, bob.impu, "<"+bob.impu+">", sr, "dh-"+randHex(4), 1, "", "hello")
			select {
			case <-first.seen:
			case <-time.After(waitLong):
				t.Fatal("MESSAGE did not reach the first AS")
			}
			if tc.wantBob {
				got := bob.request(sip.MESSAGE)
				bob.answer(got, tc.bobAnswers, "")
			}
			if res := alice.response(); res.StatusCode != tc.want {
				t.Fatalf("caller got %d, want %d", res.StatusCode, tc.want)
			}
			select {
			case r := <-bob.reqs:
				t.Errorf("callee got a second request: %s", r.StartLine())
			default:
			}
			sawSecond := false
			select {
			case <-second.seen:
				sawSecond = true
			default:
			}
			if sawSecond != tc.wantSecond {
				t.Errorf("second AS saw the request: %v, want %v", sawSecond, tc.wantSecond)
			}
		})
	}
}

func TestServedUserHeader(t *testing.T) {
	for sc, want := range map[userdata.SessionCase]string{
		userdata.SessionOriginating:             "<sip:a@x>;sescase=orig;regstate=reg",
		userdata.SessionOriginatingUnregistered: "<sip:a@x>;sescase=orig;regstate=unreg",
		userdata.SessionTerminatingRegistered:   "<sip:a@x>;sescase=term;regstate=reg",
		userdata.SessionTerminatingUnregistered: "<sip:a@x>;sescase=term;regstate=unreg",
		userdata.SessionOriginatingCDIV:         "<sip:a@x>;orig-cdiv",
	} {
		if h := servedUserHeader("sip:a@x", sc); h.Name() != "P-Served-User" || h.Value() != want {
			t.Errorf("session case %d: %s: %s, want %s", sc, h.Name(), h.Value(), want)
		}
	}
}
