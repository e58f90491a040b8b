package scscf

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/imscore/imscore/diameter/userdata"
	"github.com/imscore/imscore/sip/header"
	"github.com/imscore/imscore/sip/identity"
	"github.com/imscore/imscore/sip/trust/boundary/boundarytest"
)

// The S-CSCF's trust domain is 127.0.0.1/32 in these tests: a peer bound to 127.0.0.2 is outside it. The test
// UEs at 127.0.0.1 play UEs behind a P-CSCF inside it, as in every other test of the package.
func insideOnly(c *Config) { c.TrustedNetworks = boundarytest.Networks() }

// forgedExtra are trust-domain header fields a stranger adds besides the P-Asserted-Identity sendRequest writes.
const forgedExtra = "P-Served-User: <%[1]s>;sescase=orig;regstate=reg\nP-Charging-Vector: icid-value=forged;orig-ioi=evil.example"

// originatingIFC sends every originating MESSAGE of its user to as.
func originatingIFC(as *fakeAS) userdata.InitialFilterCriteria {
	return userdata.InitialFilterCriteria{Priority: 1, ApplicationServer: userdata.ApplicationServer{ServerName: as.uri()},
		TriggerPoint: &userdata.TriggerPoint{SPTs: []userdata.SPT{
			{Method: ptr("MESSAGE"), Groups: []int{0}},
			{SessionCase: ptr(userdata.SessionOriginating), Groups: []int{0}},
		}}}
}

// TS 24.229 §5.4.3.1, RFC 3325 §5: a request on Alice's Service-Route ("orig") with her P-Asserted-Identity, sent
// by a stranger outside the trust domain (a UE that bypassed its P-CSCF, another network), is refused: no
// originating iFC of Alice's runs, and Bob never receives anything as Alice. The same request from inside (her
// P-CSCF) is served as before.
func TestTrustDomainOriginating(t *testing.T) {
	hss := startFakeHSS(t)
	as := startFakeAS(t)
	subA := hss.addSubscriber(t, "001010000000151", "15550000151", originatingIFC(as))
	subB := hss.addSubscriber(t, "001010000000152", "15550000152")
	s := startSCSCF(t, hss, nil, insideOnly)
	as.setSCSCF(s.SIPAddr())
	alice, bob := newUE(t, s, subA), newUE(t, s, subB)
	sr := header.Values(alice.registerFully(600), "Service-Route")[0]
	bob.registerFully(600)

	stranger := newUEAt(t, s, subA, boundarytest.Outside) // writes Alice's identity into From and P-Asserted-Identity
	stranger.sendRequest(sip.MESSAGE, bob.impu, "<"+bob.impu+">", sr, "forged-"+randHex(4), 1,
		fmt.Sprintf(forgedExtra, alice.impu), "forged")
	if res := stranger.response(); res.StatusCode != 403 {
		t.Fatalf("originating request from outside: %d, want 403", res.StatusCode)
	}
	// The same again without any P-Asserted-Identity (only the From names Alice): refused too.
	stranger.sendRequest(sip.MESSAGE, bob.impu, "<"+bob.impu+">", sr, "forged-"+randHex(4), 2, "", "forged")
	if res := stranger.response(); res.StatusCode != 403 {
		t.Fatalf("originating request from outside, From only: %d, want 403", res.StatusCode)
	}

	// Alice herself, through her P-CSCF: served, through her originating AS. The first MESSAGE the AS and Bob
	// see is hers: the forged ones reached neither.
	alice.sendRequest(sip.MESSAGE, bob.impu, "<"+bob.impu+">", sr, "real-"+randHex(4), 1, "", "real")
	select {
	case got := <-as.seen:
		if string(got.Body()) != "real" {
			t.Fatalf("the AS ran for a request with body %q: a forged request got Alice's originating services", got.Body())
		}
	case <-time.After(waitLong):
		t.Fatal("Alice's MESSAGE did not reach her AS")
	}
	got := bob.request(sip.MESSAGE)
	if string(got.Body()) != "real" {
		t.Fatalf("Bob received %q first: a forged request reached him", got.Body())
	}
	if pai := header.Values(got, "P-Asserted-Identity"); len(pai) != 1 || identity.Key(pai[0]) != alice.impu {
		t.Fatalf("P-Asserted-Identity at Bob %v, want Alice's", pai)
	}
	bob.answer(got, 200, "")
	if res := alice.response(); res.StatusCode != 200 {
		t.Fatalf("Alice's MESSAGE: %d", res.StatusCode)
	}
	checkMetrics(t, scrape(t, s), []metricCheck{
		{"scscf_trust_domain_refused_total", []string{"reason", "originating"}, 2},
	})
	if v, _ := sample(scrape(t, s), "scscf_trust_domain_stripped_total", "direction", "in"); v < 1 {
		t.Errorf("scscf_trust_domain_stripped_total{direction=in} = %v, want at least 1", v)
	}
}

// TS 24.229 §4.4.2, RFC 3325 §5: a terminating request from outside the trust domain reaches Bob without the
// P-Asserted-Identity (and the other trust-domain header fields) the stranger wrote, and the response Bob sends
// back leaves without his own (§4.4: the node at the edge removes them towards a node outside). From inside, both
// are kept.
func TestTrustDomainTerminating(t *testing.T) {
	hss := startFakeHSS(t)
	subA := hss.addSubscriber(t, "001010000000153", "15550000153")
	subB := hss.addSubscriber(t, "001010000000154", "15550000154")
	s := startSCSCF(t, hss, nil, insideOnly)
	alice, bob := newUE(t, s, subA), newUE(t, s, subB)
	alice.registerFully(600)
	bob.registerFully(600)

	for _, tt := range boundarytest.Sides() {
		t.Run(tt.Name, func(t *testing.T) {
			caller := newUEAt(t, s, subA, tt.Addr)
			caller.sendRequest(sip.MESSAGE, bob.impu, "<"+bob.impu+">", "", "term-"+randHex(4), 1,
				fmt.Sprintf(forgedExtra, alice.impu), "hi")
			got := bob.request(sip.MESSAGE)
			boundarytest.CheckHeaders(t, "at Bob", got, tt.Trusted, "P-Asserted-Identity", "P-Served-User", "P-Charging-Vector")
			bob.answer(got, 200, "P-Asserted-Identity: <"+bob.impu+">\nP-Charging-Vector: icid-value=bob;term-ioi=home")
			res := caller.response()
			if res.StatusCode != 200 {
				t.Fatalf("MESSAGE: %d", res.StatusCode)
			}
			boundarytest.CheckHeaders(t, "in the response", res, tt.Trusted, "P-Asserted-Identity", "P-Charging-Vector")
		})
	}
	boundarytest.CheckStripped(t, scrape(t, s), "scscf")
}

// What a registration lets do, a stranger outside the trust domain may not do for a registered Alice.
//
// REGISTER: it reaches the S-CSCF from inside the trust domain only (TS 24.229 §5.3.1.2: the I-CSCF lets in a
// REGISTER from a trusted domain alone). A stranger's REGISTER claiming integrity-protected="yes" (which would
// skip authentication, §5.4.1.2.2) is refused and binds nothing.
//
// reg event (TS 24.229 §5.4.2.1.1): who may watch a registration is decided by the subscriber's asserted
// identity. A stranger asserting Alice's identity may not; neither may anyone naming her in From alone.
func TestTrustDomainRegistration(t *testing.T) {
	hss := startFakeHSS(t)
	subA := hss.addSubscriber(t, "001010000000155", "15550000155")
	s := startSCSCF(t, hss, nil, insideOnly)
	alice := newUE(t, s, subA)
	alice.registerFully(600)
	stranger := newUEAt(t, s, subA, boundarytest.Outside)

	t.Run("REGISTER", func(t *testing.T) {
		stranger.integrity = "yes"
		if res := stranger.register(600, stranger.emptyAuth()); res.StatusCode != 403 {
			t.Fatalf("protected-looking REGISTER from outside: %d, want 403", res.StatusCode)
		}
		reg := registered(t, s, alice.impu)
		if reg == nil || len(reg.Contacts) != 1 || !strings.Contains(reg.Contacts[0].URI, alice.addr.String()) {
			t.Fatalf("Alice's registration after the stranger's REGISTER: %+v, want her one contact", reg)
		}
		// Her own re-registration through her P-CSCF still skips authentication (integrity protected, inside).
		if res := alice.register(600, alice.emptyAuth()); res.StatusCode != 200 {
			t.Fatalf("Alice's protected re-registration: %d, want 200", res.StatusCode)
		}
		checkMetrics(t, scrape(t, s), []metricCheck{
			{"scscf_trust_domain_refused_total", []string{"reason", "register"}, 1},
		})
	})
	t.Run("reg event", func(t *testing.T) {
		if res := stranger.subscribeAs(alice.impu, alice.impu, 600, "w-"+randHex(4), ""); res.StatusCode != 403 {
			t.Fatalf("SUBSCRIBE from outside asserting Alice: %d, want 403", res.StatusCode)
		}
		// From inside with From alone (no P-Asserted-Identity): the From authorises nothing.
		if res := newUE(t, s, subA).subscribeAsserting(alice.impu, alice.impu, "", 600, "f-"+randHex(4), ""); res.StatusCode != 403 {
			t.Fatalf("SUBSCRIBE naming Alice in From only: %d, want 403", res.StatusCode)
		}
		// Alice's own, asserted from inside: allowed.
		if res := alice.subscribeAs(alice.impu, alice.impu, 600, "a-"+randHex(4), ""); res.StatusCode != 200 {
			t.Fatalf("Alice's SUBSCRIBE: %d, want 200", res.StatusCode)
		}
		alice.notify()
	})
}

// ISC (TS 24.229 §5.4.3.2 step 4, §4.4): an AS outside the trust domain gets the request without the trust-domain
// header fields, and may not assert an identity on the way back (§5.4.3.3, RFC 3325 §5): Bob receives none. An AS
// inside the trust domain gets them and may assert.
func TestTrustDomainAS(t *testing.T) {
	for _, tt := range boundarytest.Sides() {
		t.Run("AS "+tt.Name, func(t *testing.T) {
			hss := startFakeHSS(t)
			as := startFakeASAt(t, tt.Addr)
			subA := hss.addSubscriber(t, "001010000000158", "15550000158", originatingIFC(as))
			subB := hss.addSubscriber(t, "001010000000159", "15550000159")
			s := startSCSCF(t, hss, nil, insideOnly)
			as.setSCSCF(s.SIPAddr())
			asserted := "<sip:as-asserted@" + testDomain + ">"
			as.mu.Lock()
			as.assert = asserted
			as.mu.Unlock()
			alice, bob := newUE(t, s, subA), newUE(t, s, subB)
			sr := header.Values(alice.registerFully(600), "Service-Route")[0]
			bob.registerFully(600)

			alice.sendRequest(sip.MESSAGE, bob.impu, "<"+bob.impu+">", sr, "isc-"+randHex(4), 1,
				"P-Charging-Vector: icid-value=alice;orig-ioi=home", "via AS")
			select {
			case got := <-as.seen:
				boundarytest.CheckHeaders(t, "at the AS", got, tt.Trusted, "P-Asserted-Identity", "P-Charging-Vector")
			case <-time.After(waitLong):
				t.Fatal("MESSAGE did not reach the AS")
			}
			got := bob.request(sip.MESSAGE)
			pai := header.Values(got, "P-Asserted-Identity")
			if tt.Trusted && (len(pai) != 1 || pai[0] != asserted) {
				t.Errorf("P-Asserted-Identity at Bob %v, want the one the AS inside asserted", pai)
			}
			if !tt.Trusted && len(pai) != 0 {
				t.Errorf("P-Asserted-Identity at Bob %v: an AS outside the trust domain asserted an identity", pai)
			}
			bob.answer(got, 200, "")
			if res := alice.response(); res.StatusCode != 200 {
				t.Fatalf("MESSAGE via AS: %d", res.StatusCode)
			}
		})
	}
}

// Third-party registration (TS 24.229 §5.4.1.7) with the REGISTER as a message/sip body: an AS outside the trust
// domain gets that copy without the trust-domain header fields the P-CSCF added (§4.4); an AS inside gets them.
func TestTrustDomainThirdPartyRegister(t *testing.T) {
	for _, tt := range boundarytest.Sides() {
		t.Run("AS "+tt.Name, func(t *testing.T) {
			hss := startFakeHSS(t)
			as := startFakeASAt(t, tt.Addr)
			sub := hss.addSubscriber(t, "001010000000160", "15550000160", userdata.InitialFilterCriteria{Priority: 1,
				ApplicationServer: userdata.ApplicationServer{ServerName: as.uri(),
					Extension: &userdata.ApplicationServerExt{IncludeRegisterRequest: &struct{}{}}},
				TriggerPoint: &userdata.TriggerPoint{SPTs: []userdata.SPT{{Method: ptr("REGISTER"), Groups: []int{0}}}}})
			s := startSCSCF(t, hss, nil, insideOnly)
			as.setSCSCF(s.SIPAddr())
			ue := newUE(t, s, sub)
			res := ue.register(600, ue.emptyAuth())
			if res.StatusCode != 401 {
				t.Fatalf("first REGISTER: %d, want 401", res.StatusCode)
			}
			ue.integrity = "yes"
			res = ue.register(600, ue.authFor(res, false),
				"P-Access-Network-Info: 3GPP-E-UTRAN-FDD; utran-cell-id-3gpp=001010001000019B",
				"P-Charging-Vector: icid-value=reg1;orig-ioi=home")
			if res.StatusCode != 200 {
				t.Fatalf("second REGISTER: %d, want 200", res.StatusCode)
			}
			select {
			case reg := <-as.registers:
				inner, err := sip.ParseMessage(reg.Body())
				if err != nil {
					t.Fatalf("message/sip body: %v\n%s", err, reg.Body())
				}
				boundarytest.CheckHeaders(t, "in the REGISTER sent to the AS", inner, tt.Trusted,
					"P-Access-Network-Info", "P-Charging-Vector")
			case <-time.After(waitLong):
				t.Fatal("no third-party REGISTER at the AS")
			}
		})
	}
}
