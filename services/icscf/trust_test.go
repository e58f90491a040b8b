package icscf

import (
	"strings"
	"testing"

	"github.com/emiago/sipgo/sip"

	"github.com/imscore/imscore/diameter/cx"
	"github.com/imscore/imscore/sip/trust/boundary/boundarytest"
)

// The I-CSCF's trust domain is 127.0.0.1/32 in these tests: a peer bound to 127.0.0.2 is outside it.
func insideOnly(c *Config) { c.TrustedNetworks = boundarytest.Networks() }

const victim = "sip:001010000000099@" + testDomain

// forged are the trust-domain header fields a stranger sends, claiming to be the victim.
var forged = []string{
	"P-Asserted-Identity: <" + victim + ">",
	"P-Charging-Vector: icid-value=forged;orig-ioi=evil.example",
	"P-Served-User: <" + victim + ">;sescase=orig;regstate=reg",
}

// TS 24.229 §5.3.1.2: a REGISTER that has not arrived from a trusted domain is answered 403, without a UAR
// and without reaching an S-CSCF; the same REGISTER from inside is served.
func TestTrustDomainRegister(t *testing.T) {
	hss := startFakeHSS(t)
	s := startFakeSCSCF(t, "scscf", false)
	hss.onUAR(func(*cx.UAR) *cx.UAA { return uaa(cx.Vendor3GPP, 2001, s.name, nil) })
	n := startICSCF(t, hss, []SCSCF{s.config()}, insideOnly)
	to := sipAddr(n, "UDP")

	stranger := newUEAt(t, boundarytest.Outside)
	res := stranger.send(to, stranger.request("REGISTER", "sip:"+testDomain, victim, "P-Visited-Network-ID: \"evil.example\""))
	refusedAtTheEdge(t, "REGISTER from outside", res, len(hss.seenUARs()), s)

	u := newUE(t)
	if res := u.send(to, u.request("REGISTER", "sip:"+testDomain, victim)); res.StatusCode != 200 {
		t.Fatalf("REGISTER from inside: %d, want 200", res.StatusCode)
	}
	s.next(t)
	checkMetrics(t, scrape(t, n), []metricCheck{
		{"icscf_trust_domain_refused_total", []string{"reason", "register"}, 1},
	})
}

// TS 24.229 §4.4.2, RFC 3325 §5: a terminating request from another network outside the trust domain loses its
// P-Asserted-Identity (and the other trust-domain header fields) before the I-CSCF reads it, so the victim's
// identity never reaches the S-CSCF; the responses it gets back carry none either (§4.4: the node at the edge
// removes them towards a node outside). From inside, both directions keep them.
func TestTrustDomainTerminating(t *testing.T) {
	hss := startFakeHSS(t)
	s := startFakeSCSCF(t, "scscf", false)
	s.respond = func(req *sip.Request) *sip.Response {
		res := sip.NewResponseFromRequest(req, 200, "OK", nil)
		res.AppendHeader(sip.NewHeader("P-Asserted-Identity", "<sip:bob@"+testDomain+">"))
		res.AppendHeader(sip.NewHeader("P-Charging-Vector", "icid-value=inside;term-ioi="+testDomain))
		return res
	}
	hss.onLIR(func(*cx.LIR) *cx.LIA { return lia(0, 2001, s.name, nil) })
	n := startICSCF(t, hss, []SCSCF{s.config()}, insideOnly)
	to := sipAddr(n, "UDP")
	bob := "sip:bob@" + testDomain

	for _, tt := range boundarytest.Sides() {
		t.Run(tt.Name, func(t *testing.T) {
			before := len(hss.seenLIRs())
			u := newUEAt(t, tt.Addr)
			res := u.send(to, u.request("MESSAGE", bob, bob, forged...))
			if res.StatusCode != 200 {
				t.Fatalf("MESSAGE: %d, want 200", res.StatusCode)
			}
			got := s.next(t)
			if lirs := hss.seenLIRs()[before:]; len(lirs) != 1 || lirs[0].PublicIdentity != bob || lirs[0].OriginatingRequest != nil {
				t.Fatalf("LIRs %+v, want one terminating LIR for the Request-URI", lirs)
			}
			boundarytest.CheckHeaders(t, "at the S-CSCF", got, tt.Trusted, "P-Asserted-Identity", "P-Charging-Vector", "P-Served-User")
			boundarytest.CheckHeaders(t, "in the response", res, tt.Trusted, "P-Asserted-Identity", "P-Charging-Vector")
		})
	}
	boundarytest.CheckStripped(t, scrape(t, n), "icscf")
}

// TS 24.229 §5.3.2.1: "orig" is an S-CSCF of this network asking for a served user's originating procedures. From
// outside the trust domain it is refused before any LIR: a stranger's forged P-Asserted-Identity (or From) never
// makes the HSS name the victim's S-CSCF, and the request never reaches it as the victim's originating request.
func TestTrustDomainOriginating(t *testing.T) {
	hss := startFakeHSS(t)
	s := startFakeSCSCF(t, "scscf", false)
	hss.onLIR(func(*cx.LIR) *cx.LIA { return lia(cx.Vendor3GPP, 2003, s.name, nil) })
	n := startICSCF(t, hss, []SCSCF{s.config()}, insideOnly)
	addr := sipAddr(n, "UDP")
	route := "Route: <sip:" + addr.String() + ";lr;orig>"

	stranger := newUEAt(t, boundarytest.Outside)
	text := stranger.request("MESSAGE", "sip:bob@"+testDomain, "sip:bob@"+testDomain, append([]string{route}, forged...)...)
	text = strings.Replace(text, "From: <sip:001010000000001@", "From: <sip:001010000000099@", 1)
	refusedAtTheEdge(t, "orig request from outside", stranger.send(addr, text), len(hss.seenLIRs()), s)

	// From inside without an asserted identity: no served user (the From is the sender's word), 403 again.
	u := newUE(t)
	if res := u.send(addr, u.request("MESSAGE", "sip:bob@"+testDomain, "sip:bob@"+testDomain, route)); res.StatusCode != 403 {
		t.Fatalf("orig request without P-Asserted-Identity: %d, want 403", res.StatusCode)
	}
	if lirs := hss.seenLIRs(); len(lirs) != 0 {
		t.Fatalf("orig request without an asserted identity asked the HSS: %+v", lirs)
	}
	checkMetrics(t, scrape(t, n), []metricCheck{
		{"icscf_trust_domain_refused_total", []string{"reason", "originating"}, 1},
	})
}

// refusedAtTheEdge checks that what was refused got 403, before any Cx query (queries made so far) and without
// reaching the S-CSCF.
func refusedAtTheEdge(t *testing.T, what string, res *sip.Response, queries int, s *fakeSCSCF) {
	t.Helper()
	if res.StatusCode != 403 {
		t.Fatalf("%s: %d, want 403", what, res.StatusCode)
	}
	if queries != 0 {
		t.Fatalf("%s asked the HSS (%d queries)", what, queries)
	}
	if s.received() {
		t.Fatalf("%s reached the S-CSCF", what)
	}
}
