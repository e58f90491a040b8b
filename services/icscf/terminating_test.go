package icscf

import (
	"strings"
	"testing"

	"github.com/emiago/sipgo/sip"

	"github.com/imscore/imscore/diameter/cx"
)

// TS 24.229 §5.3.2.1: initial requests are routed by LIR to the serving S-CSCF, Route on top, Request-URI kept.
func TestTerminatingLIR(t *testing.T) {
	hss := startFakeHSS(t)
	a := startFakeSCSCF(t, "scscf-a", false)
	b := startFakeSCSCF(t, "scscf-b", false)
	b.respond = func(req *sip.Request) *sip.Response {
		if req.IsInvite() {
			return sip.NewResponseFromRequest(req, 486, "Busy Here", nil)
		}
		return sip.NewResponseFromRequest(req, 202, "Accepted", nil)
	}
	n := startICSCF(t, hss, []SCSCF{a.config(), b.config(7)})
	to := sipAddr(n, "UDP")
	tests := []struct {
		name     string
		method   string
		ruri     string
		answer   *cx.LIA
		wantIMPU string
		wantAt   *fakeSCSCF
		want     int
	}{
		{name: "MESSAGE to registered user", method: "MESSAGE", ruri: "sip:bob@" + testDomain,
			answer: lia(0, 2001, b.name, nil), wantIMPU: "sip:bob@" + testDomain, wantAt: b, want: 202},
		{name: "INVITE to registered user", method: "INVITE", ruri: "sip:bob@" + testDomain + ";transport=udp",
			answer: lia(0, 2001, b.name, nil), wantIMPU: "sip:bob@" + testDomain, wantAt: b, want: 486},
		{name: "tel URI", method: "MESSAGE", ruri: "tel:+15551234;phone-context=" + testDomain,
			answer: lia(0, 2001, a.name, nil), wantIMPU: "tel:+15551234", wantAt: a, want: 200},
		{name: "SIP URI with user=phone asks for the tel URI", method: "MESSAGE", ruri: "sip:+15551234@" + testDomain + ";user=phone",
			answer: lia(0, 2001, a.name, nil), wantIMPU: "tel:+15551234", wantAt: a, want: 200},
		{name: "unregistered service selects by capabilities", method: "MESSAGE", ruri: "sip:carol@" + testDomain,
			answer:   lia(cx.Vendor3GPP, 2003, "", &cx.ServerCapabilities{MandatoryCapabilities: []uint32{7}}),
			wantIMPU: "sip:carol@" + testDomain, wantAt: b, want: 202},
		{name: "user unknown 5001", method: "MESSAGE", ruri: "sip:nobody@" + testDomain,
			answer: lia(cx.Vendor3GPP, 5001, "", nil), wantIMPU: "sip:nobody@" + testDomain, want: 404},
		{name: "identity not registered 5003", method: "INVITE", ruri: "sip:dave@" + testDomain,
			answer: lia(cx.Vendor3GPP, 5003, "", nil), wantIMPU: "sip:dave@" + testDomain, want: 480},
		{name: "unable to comply 5012", method: "MESSAGE", ruri: "sip:erin@" + testDomain,
			answer: lia(0, 5012, "", nil), wantIMPU: "sip:erin@" + testDomain, want: 480},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(hss.seenLIRs())
			hss.onLIR(func(*cx.LIR) *cx.LIA { return tt.answer })
			u := newUE(t)
			res := u.send(to, u.request(tt.method, tt.ruri, tt.ruri))
			if res.StatusCode != tt.want {
				t.Fatalf("status %d %s, want %d", res.StatusCode, res.Reason, tt.want)
			}
			lirs := hss.seenLIRs()[before:]
			if len(lirs) != 1 || lirs[0].PublicIdentity != tt.wantIMPU {
				t.Fatalf("LIRs %+v, want one for %q", lirs, tt.wantIMPU)
			}
			if lirs[0].OriginatingRequest != nil {
				t.Errorf("terminating LIR carries Originating-Request")
			}
			if tt.wantAt == nil {
				if a.received() || b.received() {
					t.Fatal("request reached an S-CSCF")
				}
				return
			}
			got := tt.wantAt.next(t)
			if got.Recipient.String() != tt.ruri {
				t.Errorf("Request-URI %q, want it unchanged %q", got.Recipient.String(), tt.ruri)
			}
			routes := got.GetHeaders("Route")
			if len(routes) != 1 || !strings.Contains(routes[0].Value(), strings.TrimPrefix(tt.wantAt.name, "sip:")+";lr") {
				t.Errorf("Route %v, want only the S-CSCF's name with lr", routes)
			}
			if rr := got.GetHeaders("Record-Route"); len(rr) != 0 {
				t.Errorf("I-CSCF added Record-Route %v", rr)
			}
		})
	}
}

// TS 24.229 §5.3.2.1: an S-CSCF routes an unregistered user's originating request through the I-CSCF with
// "orig"; the LIR says Originating-Request for the asserted identity the S-CSCF passed on, and the Route to
// the S-CSCF keeps "orig".
func TestOriginatingViaICSCF(t *testing.T) {
	hss := startFakeHSS(t)
	s := startFakeSCSCF(t, "scscf", false)
	hss.onLIR(func(*cx.LIR) *cx.LIA { return lia(cx.Vendor3GPP, 2003, s.name, nil) })
	n := startICSCF(t, hss, []SCSCF{s.config()})
	addr := sipAddr(n, "UDP")
	u := newUE(t)
	route := "Route: <sip:" + addr.String() + ";lr;orig>"
	res := u.send(addr, u.request("MESSAGE", "sip:bob@"+testDomain, "sip:bob@"+testDomain, route,
		"P-Asserted-Identity: <sip:001010000000001@"+testDomain+">"))
	if res.StatusCode != 200 {
		t.Fatalf("status %d", res.StatusCode)
	}
	lirs := hss.seenLIRs()
	if len(lirs) != 1 || lirs[0].OriginatingRequest == nil || lirs[0].PublicIdentity != "sip:001010000000001@"+testDomain {
		t.Fatalf("LIRs %+v, want one with Originating-Request for the caller", lirs)
	}
	got := s.next(t)
	routes := got.GetHeaders("Route")
	if len(routes) != 1 || !strings.Contains(routes[0].Value(), ";orig") {
		t.Fatalf("Route %v, want the S-CSCF with orig", routes)
	}
}

// Requests in a dialog are not the I-CSCF's to route: they follow Route and Request-URI without a Cx query.
func TestInDialogForwardedWithoutLIR(t *testing.T) {
	hss := startFakeHSS(t)
	s := startFakeSCSCF(t, "scscf", false)
	n := startICSCF(t, hss, []SCSCF{s.config()})
	u := newUE(t)
	text := u.request("BYE", "sip:bob@"+s.addr.String(), "sip:bob@"+testDomain)
	text = strings.Replace(text, "To: <sip:bob@"+testDomain+">", "To: <sip:bob@"+testDomain+">;tag=b1", 1)
	res := u.send(sipAddr(n, "UDP"), text)
	if res.StatusCode != 200 {
		t.Fatalf("status %d", res.StatusCode)
	}
	s.next(t)
	if l := hss.seenLIRs(); len(l) != 0 {
		t.Fatalf("LIR sent for an in-dialog request: %+v", l)
	}
}

// A request whose top Route names a configured S-CSCF (the UE's Service-Route, a dialog's Record-Route) goes to
// the configured address: S-CSCF names need no DNS.
func TestRouteToConfiguredSCSCFName(t *testing.T) {
	hss := startFakeHSS(t)
	s := startFakeSCSCF(t, "scscf", false)
	n := startICSCF(t, hss, []SCSCF{s.config()})
	u := newUE(t)
	route := "Route: <" + s.name + ";lr>"
	text := u.request("BYE", "sip:bob@127.0.0.1:9", "sip:bob@"+testDomain, route)
	text = strings.Replace(text, "To: <sip:bob@"+testDomain+">", "To: <sip:bob@"+testDomain+">;tag=b1", 1)
	res := u.send(sipAddr(n, "UDP"), text)
	if res.StatusCode != 200 {
		t.Fatalf("status %d", res.StatusCode)
	}
	got := s.next(t)
	if rs := got.GetHeaders("Route"); len(rs) != 1 {
		t.Fatalf("Route %v, want the S-CSCF's own entry kept for it to consume", rs)
	}
	if l := hss.seenLIRs(); len(l) != 0 {
		t.Fatalf("LIR sent for a routed request: %+v", l)
	}
}

// An OPTIONS for the I-CSCF itself (no user part) is answered here, without an LIR (RFC 3261 §11.2).
func TestOptionsKeepAlive(t *testing.T) {
	hss := startFakeHSS(t)
	s := startFakeSCSCF(t, "scscf", false)
	n := startICSCF(t, hss, []SCSCF{s.config()})
	addr := sipAddr(n, "UDP")
	u := newUE(t)
	res := u.send(addr, u.request("OPTIONS", "sip:"+addr.String(), "sip:"+addr.String()))
	if res.StatusCode != 200 || res.GetHeader("Allow") == nil {
		t.Fatalf("status %d, Allow %v: want 200 with Allow", res.StatusCode, res.GetHeader("Allow"))
	}
	if l := hss.seenLIRs(); len(l) != 0 || s.received() {
		t.Fatalf("OPTIONS went further: LIRs %d", len(l))
	}
}
