package icscf

import (
	"context"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/imscore/imscore/diameter/cx"
	"github.com/imscore/imscore/sip/header"
	"github.com/imscore/imscore/sip/proxy"
)

const (
	testIMPU = "sip:001010000000001@" + testDomain
	testIMPI = "001010000000001@" + testDomain
)

func TestRegisterRoutedPerUAA(t *testing.T) {
	hss := startFakeHSS(t)
	a := startFakeSCSCF(t, "scscf-a", false)
	b := startFakeSCSCF(t, "scscf-b", false)
	b.respond = func(req *sip.Request) *sip.Response {
		res := sip.NewResponseFromRequest(req, 200, "OK", nil)
		res.AppendHeader(sip.NewHeader("Service-Route", "<sip:orig@scscf-b."+testDomain+";lr>"))
		res.AppendHeader(sip.NewHeader("P-Associated-URI", "<"+testIMPU+">"))
		return res
	}
	n := startICSCF(t, hss, []SCSCF{a.config(), b.config(1, 2)})
	to := sipAddr(n, "UDP")

	auth := `Authorization: Digest username="custom-impi@` + testDomain + `", realm="` + testDomain +
		`", nonce="", uri="sip:` + testDomain + `", response=""`
	tests := []struct {
		name      string
		extra     []string
		answer    *cx.UAA
		wantAt    *fakeSCSCF
		wantUAT   cx.UserAuthorizationType
		wantIMPI  string
		wantVisit string
	}{
		{name: "server name assigned", extra: []string{auth, "P-Visited-Network-ID: \"Visited Network 1\"", "Expires: 600"},
			answer: uaa(cx.Vendor3GPP, 2002, b.name, nil), wantAt: b, wantUAT: cx.UATRegistration,
			wantIMPI: "custom-impi@" + testDomain, wantVisit: "Visited Network 1"},
		{name: "mandatory capability picks the S-CSCF that has it",
			answer: uaa(cx.Vendor3GPP, 2001, "", &cx.ServerCapabilities{MandatoryCapabilities: []uint32{1}}),
			wantAt: b, wantUAT: cx.UATRegistration, wantIMPI: testIMPI, wantVisit: testDomain},
		{name: "optional capability preferred",
			answer: uaa(cx.Vendor3GPP, 2001, "", &cx.ServerCapabilities{OptionalCapabilities: []uint32{2}}),
			wantAt: b, wantUAT: cx.UATRegistration, wantIMPI: testIMPI, wantVisit: testDomain},
		{name: "server named in capabilities first",
			answer: uaa(cx.Vendor3GPP, 2001, "", &cx.ServerCapabilities{OptionalCapabilities: []uint32{2}, ServerNames: []string{a.name}}),
			wantAt: a, wantUAT: cx.UATRegistration, wantIMPI: testIMPI, wantVisit: testDomain},
		{name: "empty capabilities: first configured",
			answer: uaa(0, 2001, "", nil), wantAt: a, wantUAT: cx.UATRegistration, wantIMPI: testIMPI, wantVisit: testDomain},
		{name: "expires zero is a de-registration", extra: []string{"Expires: 0"},
			answer: uaa(cx.Vendor3GPP, 2001, a.name, nil), wantAt: a, wantUAT: cx.UATDeRegistration,
			wantIMPI: testIMPI, wantVisit: testDomain},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(hss.seenUARs())
			hss.onUAR(func(*cx.UAR) *cx.UAA { return tt.answer })
			u := newUE(t)
			res := u.send(to, u.request("REGISTER", "sip:"+testDomain, testIMPU, tt.extra...))
			if res.StatusCode != 200 {
				t.Fatalf("status %d %s, want 200", res.StatusCode, res.Reason)
			}
			got := tt.wantAt.next(t)
			other := a
			if tt.wantAt == a {
				other = b
			}
			if other.received() {
				t.Fatalf("the other S-CSCF got a request too")
			}
			// TS 24.229 §5.3.1.2: forwarded to the S-CSCF; its name on top of the Route set, loose-routed.
			routes := got.GetHeaders("Route")
			if len(routes) == 0 || !strings.Contains(routes[0].Value(), strings.TrimPrefix(tt.wantAt.name, "sip:")) ||
				!strings.Contains(routes[0].Value(), ";lr") {
				t.Errorf("Route at S-CSCF = %v, want the S-CSCF's name with lr", routes)
			}
			if mf := got.MaxForwards(); mf == nil || mf.Val() != 69 {
				t.Errorf("Max-Forwards %v, want 69", mf)
			}
			if tt.wantAt == b && header.Values(res, "Service-Route") == nil {
				t.Errorf("Service-Route of the S-CSCF's 200 not passed on: %s", res)
			}
			if via := res.Via(); via == nil || !strings.Contains(via.Params.GetOr("branch", ""), "z9hG4bK-ue-") {
				t.Errorf("response Via %v is not the UE's", via)
			}
			uars := hss.seenUARs()[before:]
			if len(uars) != 1 {
				t.Fatalf("%d UARs, want 1", len(uars))
			}
			uar := uars[0]
			if uar.PublicIdentity != testIMPU || uar.UserName != tt.wantIMPI || string(uar.VisitedNetworkIdentifier) != tt.wantVisit {
				t.Errorf("UAR IMPU %q IMPI %q visited %q; want %q %q %q", uar.PublicIdentity, uar.UserName,
					uar.VisitedNetworkIdentifier, testIMPU, tt.wantIMPI, tt.wantVisit)
			}
			if uar.UserAuthorizationType == nil || *uar.UserAuthorizationType != tt.wantUAT {
				t.Errorf("User-Authorization-Type %v, want %v", uar.UserAuthorizationType, tt.wantUAT)
			}
			if uar.DestinationRealm != testDomain {
				t.Errorf("Destination-Realm %q", uar.DestinationRealm)
			}
		})
	}
}

func TestRegisterChallengePassesThrough(t *testing.T) {
	hss := startFakeHSS(t)
	s := startFakeSCSCF(t, "scscf", false)
	const challenge = `Digest realm="` + testDomain + `", nonce="bm9uY2U=", algorithm=AKAv1-MD5, qop="auth"`
	s.respond = func(req *sip.Request) *sip.Response {
		res := sip.NewResponseFromRequest(req, 401, "Unauthorized", nil)
		res.AppendHeader(sip.NewHeader("WWW-Authenticate", challenge))
		return res
	}
	hss.onUAR(func(*cx.UAR) *cx.UAA { return uaa(cx.Vendor3GPP, 2001, s.name, nil) })
	n := startICSCF(t, hss, []SCSCF{s.config()})
	u := newUE(t)
	res := u.send(sipAddr(n, "UDP"), u.request("REGISTER", "sip:"+testDomain, testIMPU))
	if res.StatusCode != 401 {
		t.Fatalf("status %d, want 401", res.StatusCode)
	}
	if got := header.Lines(res, "WWW-Authenticate"); len(got) != 1 || got[0] != challenge {
		t.Fatalf("WWW-Authenticate %q, want %q", got, challenge)
	}
}

// TS 24.229 §5.3.1.3: the S-CSCF the HSS named does not answer; the I-CSCF asks again with
// REGISTRATION_AND_CAPABILITIES and sends the REGISTER to another S-CSCF.
func TestRegisterFailover(t *testing.T) {
	hss := startFakeHSS(t)
	dead := startFakeSCSCF(t, "scscf-dead", true)
	alive := startFakeSCSCF(t, "scscf-alive", false)
	hss.onUAR(func(r *cx.UAR) *cx.UAA {
		if r.UserAuthorizationType != nil && *r.UserAuthorizationType == cx.UATRegistrationAndCapabilities {
			return uaa(cx.Vendor3GPP, 2001, "", &cx.ServerCapabilities{})
		}
		return uaa(cx.Vendor3GPP, 2002, dead.name, nil)
	})
	n := startICSCF(t, hss, []SCSCF{dead.config(), alive.config()})
	u := newUE(t)
	start := time.Now()
	res := u.send(sipAddr(n, "UDP"), u.request("REGISTER", "sip:"+testDomain, testIMPU))
	if res.StatusCode != 200 {
		t.Fatalf("status %d %s, want 200 from the second S-CSCF", res.StatusCode, res.Reason)
	}
	dead.next(t)
	alive.next(t)
	uars := hss.seenUARs()
	if len(uars) != 2 || uars[1].UserAuthorizationType == nil || *uars[1].UserAuthorizationType != cx.UATRegistrationAndCapabilities {
		t.Fatalf("UARs %+v: want a second one with REGISTRATION_AND_CAPABILITIES", uars)
	}
	t.Logf("failover answered after %v", time.Since(start))
}

func TestRegisterAllSCSCFsSilent(t *testing.T) {
	hss := startFakeHSS(t)
	d1 := startFakeSCSCF(t, "scscf-1", true)
	d2 := startFakeSCSCF(t, "scscf-2", true)
	hss.onUAR(func(*cx.UAR) *cx.UAA { return uaa(cx.Vendor3GPP, 2001, "", nil) })
	n := startICSCF(t, hss, []SCSCF{d1.config(), d2.config()})
	u := newUE(t)
	res := u.send(sipAddr(n, "UDP"), u.request("REGISTER", "sip:"+testDomain, testIMPU))
	if res.StatusCode != 504 {
		t.Fatalf("status %d, want 504 after every S-CSCF failed to answer", res.StatusCode)
	}
	d1.next(t)
	d2.next(t)
}

// TS 24.229 §5.3.1.2 and §5.3.1.3: how the UAA's outcome becomes the SIP answer to a REGISTER.
func TestRegisterErrorMapping(t *testing.T) {
	hss := startFakeHSS(t)
	s := startFakeSCSCF(t, "scscf", false)
	n := startICSCF(t, hss, []SCSCF{s.config()})
	tests := []struct {
		name   string
		answer *cx.UAA
		want   int
	}{
		{"user unknown 5001", uaa(cx.Vendor3GPP, 5001, "", nil), 403},
		{"identities don't match 5002", uaa(cx.Vendor3GPP, 5002, "", nil), 403},
		{"identity not registered 5003", uaa(cx.Vendor3GPP, 5003, "", nil), 403},
		{"roaming not allowed 5004", uaa(cx.Vendor3GPP, 5004, "", nil), 403},
		{"authorization rejected base 5003", uaa(0, 5003, "", nil), 403},
		{"unable to comply 5012", uaa(0, 5012, "", nil), 480},
		{"too busy 3004", uaa(0, 3004, "", nil), 480},
		{"no S-CSCF has the mandatory capability", uaa(cx.Vendor3GPP, 2001, "", &cx.ServerCapabilities{MandatoryCapabilities: []uint32{99}}), 600},
		{"server name that is not a SIP URI", uaa(cx.Vendor3GPP, 2001, "not a uri", nil), 600},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hss.onUAR(func(*cx.UAR) *cx.UAA { return tt.answer })
			u := newUE(t)
			res := u.send(sipAddr(n, "UDP"), u.request("REGISTER", "sip:"+testDomain, testIMPU))
			if res.StatusCode != tt.want {
				t.Fatalf("status %d %s, want %d", res.StatusCode, res.Reason, tt.want)
			}
			if s.received() {
				t.Fatal("the REGISTER reached the S-CSCF")
			}
		})
	}
}

// TS 24.229 §5.3.1.3: the user registration status query cannot be completed: 480.
func TestRegisterHSSUnreachable(t *testing.T) {
	hss := startFakeHSS(t)
	hss.onUAR(func(*cx.UAR) *cx.UAA {
		time.Sleep(1500 * time.Millisecond) // past the I-CSCF's Diameter request timeout
		return uaa(cx.Vendor3GPP, 2001, "", nil)
	})
	s := startFakeSCSCF(t, "scscf", false)
	n := startICSCF(t, hss, []SCSCF{s.config()})
	u := newUE(t)
	res := u.send(sipAddr(n, "UDP"), u.request("REGISTER", "sip:"+testDomain, testIMPU))
	if res.StatusCode != 480 {
		t.Fatalf("status %d, want 480", res.StatusCode)
	}
}

// No Cx connection at all: not ready, and a REGISTER gets 480 (TS 24.229 §5.3.1.3), a MESSAGE too.
func TestHSSDown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	_ = ln.Close()
	cfg := DefaultConfig()
	cfg.SIP.Listen = []proxy.Listen{{Addr: "127.0.0.1:0"}}
	cfg.HTTPListen = "127.0.0.1:0"
	cfg.Diameter.HSS = []string{dead}
	cfg.Diameter.Listen = ""
	cfg.SCSCFs = nil
	ctx, cancel := context.WithCancel(context.Background())
	n, err := Start(ctx, cfg, testLogger(t))
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		if err := n.Wait(); err != nil {
			t.Errorf("stopped with error: %v", err)
		}
	})
	res, err := http.Get("http://" + n.HTTPAddr() + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("/readyz %d, want 503 without a Cx connection", res.StatusCode)
	}
	for _, m := range []string{"REGISTER", "MESSAGE"} {
		u := newUE(t)
		if r := u.send(sipAddr(n, "UDP"), u.request(m, "sip:"+testDomain, testIMPU)); r.StatusCode != 480 {
			t.Fatalf("%s: status %d, want 480", m, r.StatusCode)
		}
	}
}

// Other ways an S-CSCF fails to take a REGISTER (TS 24.229 §5.3.1.3): a 503, or a refused TCP connection. The
// next S-CSCF gets it.
func TestRegisterFailoverOnErrors(t *testing.T) {
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refusing := closed.Addr().String()
	_ = closed.Close()
	tests := []struct {
		name  string
		first func(t *testing.T) SCSCF
	}{
		{name: "503 Service Unavailable", first: func(t *testing.T) SCSCF {
			s := startFakeSCSCF(t, "scscf-busy", false)
			s.respond = func(req *sip.Request) *sip.Response {
				return sip.NewResponseFromRequest(req, 503, "Service Unavailable", nil)
			}
			return s.config()
		}},
		{name: "TCP connection refused", first: func(*testing.T) SCSCF {
			return SCSCF{Name: "sip:scscf-gone." + testDomain + ";transport=tcp", Address: refusing}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hss := startFakeHSS(t)
			first := tt.first(t)
			second := startFakeSCSCF(t, "scscf-ok", false)
			hss.onUAR(func(r *cx.UAR) *cx.UAA {
				if r.UserAuthorizationType != nil && *r.UserAuthorizationType == cx.UATRegistrationAndCapabilities {
					return uaa(cx.Vendor3GPP, 2001, "", nil)
				}
				return uaa(cx.Vendor3GPP, 2001, first.Name, nil)
			})
			n := startICSCF(t, hss, []SCSCF{first, second.config()})
			u := newUE(t)
			res := u.send(sipAddr(n, "UDP"), u.request("REGISTER", "sip:"+testDomain, testIMPU))
			if res.StatusCode != 200 {
				t.Fatalf("status %d %s, want 200 from the second S-CSCF", res.StatusCode, res.Reason)
			}
			second.next(t)
			if uars := hss.seenUARs(); len(uars) != 2 {
				t.Fatalf("%d UARs, want 2", len(uars))
			}
		})
	}
}
