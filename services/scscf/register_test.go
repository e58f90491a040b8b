package scscf

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/imscore/imscore/diameter/cx"
	"github.com/imscore/imscore/diameter/peer"
	"github.com/imscore/imscore/hss/aka"
	"github.com/imscore/imscore/services/scscf/registrar"
	"github.com/imscore/imscore/sip/digest"
	"github.com/imscore/imscore/sip/header"
)

func registered(t *testing.T, s *Server, impu string) *registrar.Registration {
	t.Helper()
	r, err := s.reg.Registration(context.Background(), impu)
	if errors.Is(err, registrar.ErrNotFound) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func waitGone(t *testing.T, s *Server, impu string) {
	t.Helper()
	deadline := time.Now().Add(waitLong)
	for registered(t, s, impu) != nil {
		if time.Now().After(deadline) {
			t.Fatalf("%s still registered", impu)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestRegistrationAKA(t *testing.T) {
	hss := startFakeHSS(t)
	sub := hss.addSubscriber(t, "001010000000001", "15550000001")
	s := startSCSCF(t, hss, nil)
	ue := newUE(t, s, sub)

	first := ue.register(600, ue.emptyAuth())
	if first.StatusCode != 401 {
		t.Fatalf("first REGISTER: %d, want 401", first.StatusCode)
	}
	ch, err := digest.ParseChallenge(first.GetHeader("WWW-Authenticate").Value())
	if err != nil {
		t.Fatal(err)
	}
	if ch.Algorithm != digest.AlgAKAv1MD5 || ch.QOP != "auth" || ch.Realm != testDomain {
		t.Fatalf("challenge %+v", ch)
	}
	if _, _, err := ch.Keys(); err != nil {
		t.Fatalf("challenge keys (TS 24.229 §5.4.1.2.1 ck/ik for the P-CSCF): %v", err)
	}
	if registered(t, s, ue.impu) != nil {
		t.Fatal("registered before authentication")
	}
	ue.integrity = digest.IntegrityYes
	ok := ue.register(600, ue.authFor(first, false))
	if ok.StatusCode != 200 {
		t.Fatalf("second REGISTER: %d\n%s", ok.StatusCode, ok)
	}
	sr := header.Values(ok, "Service-Route")
	if len(sr) != 1 || !strings.Contains(sr[0], s.SIPAddr().String()) || !strings.Contains(sr[0], ";lr") ||
		!strings.Contains(sr[0], ";orig") {
		t.Fatalf("Service-Route %q", sr)
	}
	pau := strings.Join(header.Values(ok, "P-Associated-URI"), ",")
	if !strings.Contains(pau, "<sip:15550000001@"+testDomain+">") || !strings.Contains(pau, "<tel:15550000001>") ||
		strings.Contains(pau, "001010000000001") {
		t.Fatalf("P-Associated-URI %q: want the implicit set without the barred IMSI identity", pau)
	}
	if p := header.Values(ok, "Path"); len(p) != 1 || !strings.Contains(p[0], "sip:term@") {
		t.Fatalf("Path not echoed: %q", p)
	}
	contact := header.Values(ok, "Contact")
	if len(contact) != 1 || !strings.Contains(contact[0], "expires=600") || !strings.Contains(contact[0], "+sip.instance") {
		t.Fatalf("Contact %q", contact)
	}
	if pcfa := header.Values(ok, "P-Charging-Function-Addresses"); len(pcfa) != 1 || !strings.Contains(pcfa[0], "ccf=") ||
		!strings.Contains(pcfa[0], "ecf=") {
		t.Fatalf("P-Charging-Function-Addresses %q", pcfa)
	}
	hss.waitSAR(t, cx.SATRegistration)
	reg := registered(t, s, "tel:15550000001")
	if reg == nil || reg.IMPI != sub.impi || len(reg.Contacts) != 1 || len(reg.Contacts[0].Path) != 1 {
		t.Fatalf("registration by implicit identity: %+v", reg)
	}

	t.Run("reg event subscription", func(t *testing.T) {
		res := ue.subscribe(600)
		if res.StatusCode != 200 || res.GetHeader("Expires") == nil {
			t.Fatalf("SUBSCRIBE: %d\n%s", res.StatusCode, res)
		}
		totag, _ := res.To().Params.Get("tag")
		notify, doc := ue.notify()
		fromtag, _ := notify.From().Params.Get("tag")
		if totag == "" || fromtag != totag {
			t.Fatalf("NOTIFY From tag %q, 200 To tag %q: not one dialog", fromtag, totag)
		}
		if st := notify.GetHeader("Subscription-State"); st == nil || !strings.HasPrefix(st.Value(), "active") {
			t.Fatalf("Subscription-State %v", st)
		}
		if doc.Version != 0 || doc.State != "full" || len(doc.Registrations) != 2 {
			t.Fatalf("first document: %+v", doc)
		}
		for _, r := range doc.Registrations {
			if r.State != RegStateActive || len(r.Contacts) != 1 || r.Contacts[0].URI != "sip:ue@"+ue.addr.String() {
				t.Fatalf("registration element %+v", r)
			}
		}
	})

	t.Run("re-registration integrity protected skips authentication", func(t *testing.T) {
		auth := `Digest username="` + sub.impi + `",realm="` + testDomain + `",nonce="",uri="sip:` + testDomain +
			`",response="",integrity-protected="yes"`
		res := ue.register(1200, auth)
		if res.StatusCode != 200 {
			t.Fatalf("re-REGISTER: %d", res.StatusCode)
		}
		if c := header.Values(res, "Contact"); len(c) != 1 || !strings.Contains(c[0], "expires=1200") {
			t.Fatalf("Contact %q", c)
		}
		hss.waitSAR(t, cx.SATReRegistration)
		_, doc := ue.notify()
		if doc.Version != 1 || doc.Registrations[0].Contacts[0].Event != EventRefreshed {
			t.Fatalf("NOTIFY after re-registration: %+v", doc)
		}
	})

	t.Run("too brief", func(t *testing.T) {
		res := ue.register(10, `Digest username="`+sub.impi+`",realm="`+testDomain+`",nonce="",uri="sip:`+testDomain+
			`",response="",integrity-protected="yes"`)
		if res.StatusCode != 423 || res.GetHeader("Min-Expires") == nil || res.GetHeader("Min-Expires").Value() != "60" {
			t.Fatalf("REGISTER expires=10: %d, want 423 with Min-Expires 60\n%s", res.StatusCode, res)
		}
	})

	t.Run("de-registration", func(t *testing.T) {
		res := ue.register(0, `Digest username="`+sub.impi+`",realm="`+testDomain+`",nonce="",uri="sip:`+testDomain+
			`",response="",integrity-protected="yes"`)
		if res.StatusCode != 200 {
			t.Fatalf("de-REGISTER: %d", res.StatusCode)
		}
		hss.waitSAR(t, cx.SATUserDeregistration)
		if registered(t, s, ue.impu) != nil {
			t.Fatal("still registered")
		}
		notify, doc := ue.notify()
		if st := notify.GetHeader("Subscription-State").Value(); !strings.HasPrefix(st, "terminated") {
			t.Fatalf("Subscription-State %q", st)
		}
		if doc.Registrations[0].State != RegStateTerminated || doc.Registrations[0].Contacts[0].Event != EventUnregistered {
			t.Fatalf("final document %+v", doc)
		}
		// Issue 11: a terminated contact carries expires="0" (Kamailio's P-CSCF keeps the UE otherwise).
		if e := doc.Registrations[0].Contacts[0].Expires; e == nil || *e != 0 {
			t.Errorf("terminated contact expires %v, want 0", e)
		}
	})
}

func TestRegistrationWrongRES(t *testing.T) {
	hss := startFakeHSS(t)
	sub := hss.addSubscriber(t, "001010000000002", "15550000002")
	s := startSCSCF(t, hss, nil)
	ue := newUE(t, s, sub)
	first := ue.register(600, ue.emptyAuth())
	if first.StatusCode != 401 {
		t.Fatalf("first REGISTER: %d", first.StatusCode)
	}
	res := ue.register(600, ue.authFor(first, true))
	if res.StatusCode != 403 {
		t.Fatalf("wrong RES: %d, want 403", res.StatusCode)
	}
	hss.waitSAR(t, cx.SATAuthenticationFailure)
	if registered(t, s, ue.impu) != nil {
		t.Fatal("registration left after a wrong RES")
	}
	// The vector was used: replaying the same response is challenged afresh, never accepted.
	if res := ue.register(600, ue.authFor(first, false)); res.StatusCode == 200 {
		t.Fatal("a used vector was accepted again")
	}
}

func TestRegistrationResync(t *testing.T) {
	hss := startFakeHSS(t)
	sub := hss.addSubscriber(t, "001010000000003", "15550000003")
	s := startSCSCF(t, hss, nil)
	ue := newUE(t, s, sub)
	// The USIM has already accepted the SQN the HSS will issue next: the first AUTN is stale.
	hss.mu.Lock()
	current := sub.sqn
	hss.mu.Unlock()
	sqn, err := aka.NextSQN(current, aka.DefaultSQNConfig())
	if err != nil {
		t.Fatal(err)
	}
	if err := ue.usim.SetSQNms(sqn); err != nil {
		t.Fatal(err)
	}
	first := ue.register(600, ue.emptyAuth())
	auth := ue.authFor(first, false)
	if !strings.Contains(auth, "auts=") {
		t.Fatalf("USIM did not fail synchronisation: %s", auth)
	}
	second := ue.register(600, auth)
	if second.StatusCode != 401 {
		t.Fatalf("REGISTER with auts: %d, want a new 401", second.StatusCode)
	}
	ok := ue.register(600, ue.authFor(second, false))
	if ok.StatusCode != 200 {
		t.Fatalf("after resync: %d", ok.StatusCode)
	}
}

func TestRegistrationExpiry(t *testing.T) {
	hss := startFakeHSS(t)
	sub := hss.addSubscriber(t, "001010000000004", "15550000004")
	s := startSCSCF(t, hss, nil, func(c *Config) {
		c.Registration.MinExpires = time.Second
		c.Registration.DefaultExpires = time.Second
	})
	ue := newUE(t, s, sub)
	ue.registerFully(1)
	if registered(t, s, ue.impu) == nil {
		t.Fatal("not registered")
	}
	waitGone(t, s, ue.impu)
	hss.waitSAR(t, cx.SATTimeoutDeregistration)
}

func TestAuthenticationTimeout(t *testing.T) {
	hss := startFakeHSS(t)
	sub := hss.addSubscriber(t, "001010000000005", "15550000005")
	s := startSCSCF(t, hss, nil, func(c *Config) { c.Registration.AuthTimeout = 200 * time.Millisecond })
	ue := newUE(t, s, sub)
	if res := ue.register(600, ue.emptyAuth()); res.StatusCode != 401 {
		t.Fatalf("REGISTER: %d", res.StatusCode)
	}
	hss.waitSAR(t, cx.SATAuthenticationTimeout)
}

func TestNetworkDeregistration(t *testing.T) {
	tests := []struct {
		name   string
		impus  func(*subscriber) []string
		reason cx.ReasonCode
		event  string
	}{
		{name: "IMPI alone, permanent", impus: func(*subscriber) []string { return nil }, reason: cx.ReasonPermanentTermination, event: EventRejected},
		{name: "IMPU list, server change", impus: func(s *subscriber) []string { return []string{s.impus[2]} }, reason: cx.ReasonServerChange, event: EventDeactivated},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			hss := startFakeHSS(t)
			sub := hss.addSubscriber(t, "00101000000001"+string(rune('0'+i)), "1555000001"+string(rune('0'+i)))
			s := startSCSCF(t, hss, nil)
			ue := newUE(t, s, sub)
			ue.registerFully(600)
			if res := ue.subscribe(600); res.StatusCode != 200 {
				t.Fatalf("SUBSCRIBE %d", res.StatusCode)
			}
			ue.notify()
			rta := hss.deregister(t, sub.impi, tc.impus(sub), tc.reason)
			if code, _ := rta.Result(); code != 2001 {
				t.Fatalf("RTA result %d", code)
			}
			if registered(t, s, ue.impu) != nil {
				t.Fatal("still registered after RTR")
			}
			notify, doc := ue.notify()
			if st := notify.GetHeader("Subscription-State").Value(); !strings.HasPrefix(st, "terminated") {
				t.Fatalf("Subscription-State %q", st)
			}
			if c := doc.Registrations[0].Contacts[0]; c.State != RegStateTerminated || c.Event != tc.event || c.Expires == nil || *c.Expires != 0 {
				t.Fatalf("contact %+v, want terminated/%s with expires 0", c, tc.event)
			}
		})
	}
	t.Run("unknown IMPI", func(t *testing.T) {
		hss := startFakeHSS(t)
		startSCSCF(t, hss, nil)
		rta := hss.deregister(t, "nobody@"+testDomain, nil, cx.ReasonPermanentTermination)
		if code, vendor := rta.Result(); code != cx.ErrorIdentityNotRegistered || vendor != cx.Vendor3GPP {
			t.Fatalf("RTA %d/%d, want 5003", code, vendor)
		}
	})
}

// sipgo keeps the Via of a forwarded request; the UE answers to its top Via.
var _ = sip.REGISTER

func TestRegistrationSchemes(t *testing.T) {
	tests := []struct {
		name      string
		scheme    string
		algorithm string
	}{
		{name: "AKAv1-MD5", scheme: cx.SchemeAKAv1MD5, algorithm: digest.AlgAKAv1MD5},
		{name: "AKAv2-MD5", scheme: SchemeAKAv2MD5, algorithm: digest.AlgAKAv2MD5},
		{name: "SIP Digest MD5", scheme: cx.SchemeSIPDigest, algorithm: digest.AlgMD5},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			hss := startFakeHSS(t)
			sub := hss.addSubscriber(t, fmt.Sprintf("00101000000007%d", i), fmt.Sprintf("155500000%02d", 70+i))
			sub.scheme, sub.password = tc.scheme, "secret"
			s := startSCSCF(t, hss, nil)
			for _, corrupt := range []bool{true, false} {
				ue := newUE(t, s, sub)
				first := ue.register(600, ue.emptyAuth())
				if first.StatusCode != 401 {
					t.Fatalf("first REGISTER %d", first.StatusCode)
				}
				ch, err := digest.ParseChallenge(first.GetHeader("WWW-Authenticate").Value())
				if err != nil || ch.Algorithm != tc.algorithm {
					t.Fatalf("challenge algorithm %q (%v), want %s", ch.Algorithm, err, tc.algorithm)
				}
				res := ue.register(600, ue.authFor(first, corrupt))
				want := 200
				if corrupt {
					want = 403
				}
				if res.StatusCode != want {
					t.Fatalf("corrupt=%v: %d, want %d", corrupt, res.StatusCode, want)
				}
			}
		})
	}
}

func TestPushProfile(t *testing.T) {
	hss := startFakeHSS(t)
	sub := hss.addSubscriber(t, "001010000000081", "15550000081")
	s := startSCSCF(t, hss, nil)
	ue := newUE(t, s, sub)
	ue.registerFully(600)
	// The new profile drops the tel URI from the implicit set.
	data := []byte(`<?xml version="1.0" encoding="UTF-8"?><IMSSubscription><PrivateID>` + sub.impi +
		`</PrivateID><ServiceProfile><PublicIdentity><Identity>` + sub.impus[1] +
		`</Identity></PublicIdentity></ServiceProfile></IMSSubscription>`)
	ppr := &cx.PPR{SessionID: testHSSHost + ";ppr;1", OriginHost: testHSSHost, OriginRealm: testDomain,
		DestinationHost: testSCSCF, DestinationRealm: testDomain, UserName: sub.impi, UserData: data}
	msg, err := ppr.Marshal(hss.dict)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitLong)
	defer cancel()
	ans, err := hss.node.Request(ctx, msg)
	if err != nil {
		t.Fatal(err)
	}
	ppa, err := cx.ParsePPA(ans)
	if err != nil {
		t.Fatal(err)
	}
	if code, _ := ppa.Result(); code != 2001 {
		t.Fatalf("PPA %d", code)
	}
	if registered(t, s, sub.impus[2]) != nil {
		t.Fatal("tel URI still in the implicit set after PPR")
	}
	if r := registered(t, s, ue.impu); r == nil || !strings.Contains(string(r.Profile), "IMSSubscription") || len(r.Identities) != 1 {
		t.Fatalf("registration after PPR: %+v", r)
	}
}

func TestRegistrationPolicy(t *testing.T) {
	protected := func(u *testUE) string {
		return `Digest username="` + u.sub.impi + `",realm="` + testDomain + `",nonce="",uri="sip:` + testDomain +
			`",response="",integrity-protected="ip-assoc-yes"`
	}
	t.Run("reauth_protected challenges every REGISTER", func(t *testing.T) {
		hss := startFakeHSS(t)
		sub := hss.addSubscriber(t, "001010000000091", "15550000091")
		s := startSCSCF(t, hss, nil, func(c *Config) { c.Registration.ReauthProtected = true })
		ue := newUE(t, s, sub)
		ue.registerFully(600)
		if res := ue.register(600, protected(ue)); res.StatusCode != 401 {
			t.Fatalf("protected re-REGISTER with reauth_protected: %d, want 401", res.StatusCode)
		}
	})
	t.Run("max expires caps the grant", func(t *testing.T) {
		hss := startFakeHSS(t)
		sub := hss.addSubscriber(t, "001010000000092", "15550000092")
		s := startSCSCF(t, hss, nil, func(c *Config) {
			c.Registration.MaxExpires = 900 * time.Second
			c.Registration.DefaultExpires = 900 * time.Second
		})
		ue := newUE(t, s, sub)
		ue.registerFully(600)
		res := ue.register(600000, protected(ue))
		if c := header.Values(res, "Contact"); res.StatusCode != 200 || len(c) != 1 || !strings.Contains(c[0], "expires=900") {
			t.Fatalf("REGISTER expires=600000: %d %q, want expires=900", res.StatusCode, c)
		}
	})
	t.Run("two contacts, one removed, then Contact star", func(t *testing.T) {
		hss := startFakeHSS(t)
		sub := hss.addSubscriber(t, "001010000000094", "15550000094")
		s := startSCSCF(t, hss, nil)
		ue := newUE(t, s, sub)
		ue.registerFully(600)
		second := "<sip:second@" + ue.addr.String() + ">;expires=600"
		if res := ue.registerContact(second, protected(ue)); res.StatusCode != 200 || len(header.Values(res, "Contact")) != 2 {
			t.Fatalf("second contact: %d %q", res.StatusCode, header.Values(res, "Contact"))
		}
		if res := ue.registerContact("<sip:second@"+ue.addr.String()+">;expires=0", protected(ue)); res.StatusCode != 200 ||
			len(header.Values(res, "Contact")) != 1 {
			t.Fatalf("remove one contact: %d %q", res.StatusCode, header.Values(res, "Contact"))
		}
		if r := registered(t, s, ue.impu); r == nil || len(r.Contacts) != 1 {
			t.Fatalf("after removing one contact: %+v", r)
		}
		// RFC 3261 §10.3 step 6: "*" only with Expires: 0.
		if res := ue.registerContact("*", protected(ue), "Expires: 60"); res.StatusCode != 400 {
			t.Fatalf("Contact: * with Expires 60: %d, want 400", res.StatusCode)
		}
		if res := ue.registerContact("*", protected(ue), "Expires: 0"); res.StatusCode != 200 {
			t.Fatalf("Contact: *: %d", res.StatusCode)
		}
		hss.waitSAR(t, cx.SATUserDeregistration)
		if registered(t, s, ue.impu) != nil {
			t.Fatal("still registered after Contact: *")
		}
	})
	t.Run("unknown user", func(t *testing.T) {
		hss := startFakeHSS(t)
		s := startSCSCF(t, hss, nil)
		keys := hss.addSubscriber(t, "001010000000093", "15550000093").keys
		ue := newUE(t, s, &subscriber{impi: "nobody@" + testDomain, keys: keys,
			impus: []string{"sip:x@" + testDomain, "sip:nobody@" + testDomain}})
		if res := ue.register(600, ue.emptyAuth()); res.StatusCode != 403 {
			t.Fatalf("REGISTER of an unknown user: %d, want 403", res.StatusCode)
		}
	})
}

// Without an HSS connection the registrar answers 503 (RFC 3261 §21.5.4), never a challenge it cannot check.
func TestRegisterHSSDown(t *testing.T) {
	hss := startFakeHSS(t)
	sub := hss.addSubscriber(t, "001010000000141", "15550000141")
	s := startSCSCF(t, hss, nil)
	ctx, cancel := context.WithTimeout(context.Background(), waitLong)
	defer cancel()
	if err := hss.node.Close(ctx); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(waitLong)
	for len(openPeers(s)) > 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	ue := newUE(t, s, sub)
	if res := ue.register(600, ue.emptyAuth()); res.StatusCode != 503 {
		t.Fatalf("REGISTER with the HSS down: %d, want 503", res.StatusCode)
	}
}

func openPeers(s *Server) []string {
	var out []string
	for _, p := range s.node.Peers() {
		if p.State == peer.StateOpen {
			out = append(out, p.OriginHost)
		}
	}
	return out
}

// A UE that cannot authenticate the network (its SIM finds the MAC invalid: K, OP or AMF differ) answers the
// challenge with its nonce and an empty response (TS 24.229 §5.1.1.5.3): 403 and SAR AUTHENTICATION_FAILURE,
// not another challenge the UE would reject again.
func TestRegistrationNetworkAuthFailure(t *testing.T) {
	hss := startFakeHSS(t)
	sub := hss.addSubscriber(t, "001010000000009", "15550000009")
	s := startSCSCF(t, hss, nil)
	ue := newUE(t, s, sub)
	first := ue.register(600, ue.emptyAuth())
	if first.StatusCode != 401 {
		t.Fatalf("first REGISTER: %d", first.StatusCode)
	}
	ch, err := digest.ParseChallenge(first.GetHeader("WWW-Authenticate").Value())
	if err != nil {
		t.Fatal(err)
	}
	reject := fmt.Sprintf(`Digest username="%s",realm="%s",nonce="%s",uri="sip:%s",response="",algorithm=AKAv1-MD5,integrity-protected="no"`,
		sub.impi, testDomain, ch.Nonce, testDomain)
	if res := ue.register(600, reject); res.StatusCode != 403 {
		t.Fatalf("REGISTER rejecting the challenge: %d, want 403", res.StatusCode)
	}
	hss.waitSAR(t, cx.SATAuthenticationFailure)
	if registered(t, s, ue.impu) != nil {
		t.Fatal("registration after a network authentication failure")
	}
	// Only a challenge this S-CSCF handed out counts: an unknown nonce is challenged as before.
	if res := ue.register(600, strings.Replace(reject, ch.Nonce, "bm90LW91cnM=", 1)); res.StatusCode != 401 {
		t.Fatalf("empty response to an unknown nonce: %d, want 401", res.StatusCode)
	}
}

// RFC 4475 §3.3.7: an Authorization of a scheme the registrar does not use is no credentials, not a malformed
// request: the REGISTER is handled as one without Authorization (TS 24.229 §5.4.1.2.1) and challenged. The UE
// registers its IMSI-based public identity (TS 23.003 §13.4B), from which the private identity is derived.
func TestRegisterUnknownAuthorizationScheme(t *testing.T) {
	hss := startFakeHSS(t)
	sub := hss.addSubscriber(t, "001010000000191", "15550000191")
	s := startSCSCF(t, hss, nil)
	ue := newUE(t, s, sub)
	ue.impu = "sip:" + sub.impi
	res := ue.register(600, "NoOneKnowsThisScheme opaque-data=here")
	if res.StatusCode != 401 || res.GetHeader("WWW-Authenticate") == nil {
		t.Fatalf("REGISTER with credentials of an unknown scheme: %d %s, want a 401 challenge", res.StatusCode, res.Reason)
	}
}
