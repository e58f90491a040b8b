package scscf

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/imscore/imscore/sip/header"
)

// sendInDialog writes a request from u; route is the Route header value ("" for none).
func (u *testUE) sendRequest(method sip.RequestMethod, ruri, to, route, callID string, cseq int, extra string, body string) {
	u.t.Helper()
	routeLine := ""
	if route != "" {
		routeLine = "Route: " + route + "\n"
	}
	if extra != "" {
		extra += "\n"
	}
	ctype := ""
	if body != "" {
		ctype = "Content-Type: text/plain\n"
	}
	u.send(fmt.Sprintf(`
%[1]s %[2]s SIP/2.0
Via: SIP/2.0/UDP %[3]s;branch=z9hG4bK%[4]s;rport
Max-Forwards: 70
%[5]sFrom: <%[6]s>;tag=%[7]s
To: %[8]s
Call-ID: %[9]s
CSeq: %[10]d %[1]s
Contact: <sip:ue@%[3]s>
P-Asserted-Identity: <%[6]s>
%[11]s%[12]sContent-Length: %[13]d

%[14]s`, method, ruri, u.addr, randHex(8), routeLine, u.impu, u.tag, to, callID, cseq, extra, ctype, len(body), body))
}

func TestRoutingBetweenUsers(t *testing.T) {
	hss := startFakeHSS(t)
	subA := hss.addSubscriber(t, "001010000000021", "15550000021")
	subB := hss.addSubscriber(t, "001010000000022", "15550000022")
	s := startSCSCF(t, hss, nil)
	alice, bob := newUE(t, s, subA), newUE(t, s, subB)
	sr := header.Values(alice.registerFully(600), "Service-Route")[0]
	bob.registerFully(600)

	t.Run("MESSAGE", func(t *testing.T) {
		alice.sendRequest(sip.MESSAGE, bob.impu, "<"+bob.impu+">", sr, "msg-"+randHex(4), 1, "", "hello")
		got := bob.request(sip.MESSAGE)
		if string(got.Body()) != "hello" || got.Recipient.Host != "127.0.0.1" || got.Recipient.Port != int(bob.addr.Port()) {
			t.Fatalf("MESSAGE at Bob: R-URI %s body %q", got.Recipient.String(), got.Body())
		}
		// Terminating routing went through Bob's Path (RFC 3327 §5.3: the Path is the Route to the UE).
		if r := header.Values(got, "Route"); len(r) == 0 || !strings.Contains(r[0], "sip:term@") {
			t.Fatalf("MESSAGE Route %q: want Bob's Path", r)
		}
		bob.answer(got, 200, "")
		if res := alice.response(); res.StatusCode != 200 {
			t.Fatalf("MESSAGE answer at Alice: %d", res.StatusCode)
		}
	})

	t.Run("OPTIONS and a presence SUBSCRIBE are routed like any request", func(t *testing.T) {
		for _, m := range []struct {
			method sip.RequestMethod
			extra  string
		}{{sip.OPTIONS, ""}, {sip.SUBSCRIBE, "Event: presence\nExpires: 600"}} {
			alice.sendRequest(m.method, bob.impu, "<"+bob.impu+">", sr, "o-"+randHex(4), 1, m.extra, "")
			got := bob.request(m.method)
			bob.answer(got, 200, "")
			if res := alice.response(); res.StatusCode != 200 {
				t.Fatalf("%s: %d", m.method, res.StatusCode)
			}
		}
	})

	t.Run("MESSAGE to tel URI", func(t *testing.T) {
		alice.sendRequest(sip.MESSAGE, "tel:15550000022", "<tel:15550000022>", sr, "msg-"+randHex(4), 1, "", "hi tel")
		got := bob.request(sip.MESSAGE)
		if pc := header.Values(got, "P-Called-Party-ID"); len(pc) != 1 || pc[0] != "<tel:15550000022>" {
			t.Fatalf("P-Called-Party-ID %q", pc)
		}
		bob.answer(got, 200, "")
		if res := alice.response(); res.StatusCode != 200 {
			t.Fatalf("MESSAGE answer: %d", res.StatusCode)
		}
	})

	// Every spelling of Bob's identities reaches him: the S-CSCF finds the registration by the key of
	// package identity, the one the I-CSCF asks the HSS with (visual separators, RFC 3966 §3; user=phone,
	// RFC 3261 §19.1.6; host case and escaped unreserved characters, RFC 3261 §19.1.4).
	t.Run("MESSAGE to other spellings of the callee", func(t *testing.T) {
		for _, ruri := range []string{
			"tel:1-555-000-0022",
			"sip:1(555)000-0022@" + strings.ToUpper(testDomain) + ";user=phone",
			"sip:%31%35%35%35%30%30%30%30%30%32%32@" + strings.ToUpper(testDomain) + ":5060;transport=udp",
		} {
			alice.sendRequest(sip.MESSAGE, ruri, "<"+ruri+">", sr, "msg-"+randHex(4), 1, "", "hi")
			deadline := time.After(waitLong)
			for delivered := false; !delivered; {
				select {
				case got := <-bob.reqs:
					bob.answer(got, 200, "")
					delivered = got.Method == sip.MESSAGE
				case res := <-alice.ress:
					if res.StatusCode != 100 {
						t.Fatalf("MESSAGE to %s: %d, not delivered to Bob", ruri, res.StatusCode)
					}
				case <-deadline:
					t.Fatalf("MESSAGE to %s: neither delivered nor answered", ruri)
				}
			}
			if res := alice.response(); res.StatusCode != 200 {
				t.Fatalf("MESSAGE to %s: answer %d", ruri, res.StatusCode)
			}
		}
	})

	t.Run("unknown user", func(t *testing.T) {
		alice.sendRequest(sip.MESSAGE, "sip:nobody@"+testDomain, "<sip:nobody@"+testDomain+">", sr, "msg-"+randHex(4), 1, "", "x")
		if res := alice.response(); res.StatusCode != 404 {
			t.Fatalf("MESSAGE to an unknown user: %d, want 404", res.StatusCode)
		}
	})

	t.Run("barred callee", func(t *testing.T) {
		barred := subB.impus[0] // sip:IMSI@domain, barred in the implicit set
		alice.sendRequest(sip.MESSAGE, barred, "<"+barred+">", sr, "msg-"+randHex(4), 1, "", "x")
		if res := alice.response(); res.StatusCode != 404 {
			t.Fatalf("MESSAGE to a barred identity: %d, want 404", res.StatusCode)
		}
	})

	t.Run("barred caller", func(t *testing.T) {
		impu := alice.impu
		alice.impu = subA.impus[0]
		defer func() { alice.impu = impu }()
		alice.sendRequest(sip.MESSAGE, bob.impu, "<"+bob.impu+">", sr, "msg-"+randHex(4), 1, "", "x")
		if res := alice.response(); res.StatusCode != 403 {
			t.Fatalf("MESSAGE from a barred identity: %d, want 403", res.StatusCode)
		}
	})

	t.Run("stray in-dialog request", func(t *testing.T) {
		// A BYE with a To tag, no route set, aimed at a public identity: no dialog through us (and no DNS).
		alice.sendRequest(sip.BYE, bob.impu, "<"+bob.impu+">;tag=gone", "", "stray-"+randHex(4), 2, "", "")
		if res := alice.response(); res.StatusCode != 481 {
			t.Fatalf("stray BYE: %d, want 481", res.StatusCode)
		}
	})

	t.Run("not registered", func(t *testing.T) {
		subC := hss.addSubscriber(t, "001010000000023", "15550000023")
		alice.sendRequest(sip.MESSAGE, subC.impus[1], "<"+subC.impus[1]+">", sr, "msg-"+randHex(4), 1, "", "x")
		if res := alice.response(); res.StatusCode != 480 {
			t.Fatalf("MESSAGE to an unregistered user: %d, want 480", res.StatusCode)
		}
	})

	t.Run("originating from a user not registered", func(t *testing.T) {
		carol := newUE(t, s, hss.addSubscriber(t, "001010000000024", "15550000024"))
		carol.sendRequest(sip.MESSAGE, bob.impu, "<"+bob.impu+">", sr, "msg-"+randHex(4), 1, "", "x")
		if res := carol.response(); res.StatusCode != 403 {
			t.Fatalf("originating MESSAGE of an unregistered user: %d, want 403", res.StatusCode)
		}
	})

	t.Run("parallel forking to every contact", func(t *testing.T) {
		// A second device of Bob's registers its own contact; a request to Bob reaches both (TS 24.229
		// §5.4.3.3: every registered contact; RFC 3261 §16.6 parallel forking).
		bob2 := newUE(t, s, subB)
		bob2.instance = "urn:gsma:imei:35209900-176148-9" // another device (RFC 5626 §4.1)
		bob2.registerFully(600)
		defer bob2.register(0, `Digest username="`+subB.impi+`",realm="`+testDomain+`",nonce="",uri="sip:`+testDomain+
			`",response="",integrity-protected="yes"`)
		alice.sendRequest(sip.MESSAGE, bob.impu, "<"+bob.impu+">", sr, "fork-"+randHex(4), 1, "", "to both")
		m1, m2 := bob.request(sip.MESSAGE), bob2.request(sip.MESSAGE)
		if string(m1.Body()) != "to both" || string(m2.Body()) != "to both" {
			t.Fatalf("bodies %q %q", m1.Body(), m2.Body())
		}
		bob.answer(m1, 200, "")
		bob2.answer(m2, 200, "")
		if res := alice.response(); res.StatusCode != 200 {
			t.Fatalf("forked MESSAGE: %d", res.StatusCode)
		}
	})

	t.Run("INVITE dialog", func(t *testing.T) {
		callID := "call-" + randHex(4)
		sdp := "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n"
		alice.sendRequest(sip.INVITE, bob.impu, "<"+bob.impu+">", sr, callID, 1, "", sdp)
		inv := bob.request(sip.INVITE)
		if rr := header.Values(inv, "Record-Route"); len(rr) == 0 || !strings.Contains(rr[0], s.SIPAddr().String()) {
			t.Fatalf("INVITE without our Record-Route: %q", rr)
		}
		bob.answer(inv, 180, "Contact: <sip:ue@"+bob.addr.String()+">")
		if res := alice.response(); res.StatusCode != 180 {
			t.Fatalf("want 180, got %d", res.StatusCode)
		}
		bob.answer(inv, 200, "Contact: <sip:ue@"+bob.addr.String()+">")
		ok := alice.response()
		if ok.StatusCode != 200 {
			t.Fatalf("want 200, got %d", ok.StatusCode)
		}
		rr := header.Values(ok, "Record-Route")
		if len(rr) == 0 {
			t.Fatal("200 without Record-Route")
		}
		totag, _ := ok.To().Params.Get("tag")
		to := "<" + bob.impu + ">;tag=" + totag
		target := "sip:ue@" + bob.addr.String()
		route := strings.Join(rr, ", ") // one S-CSCF entry: reversing is a no-op
		alice.sendRequest(sip.ACK, target, to, route, callID, 1, "", "")
		if ack := bob.request(sip.ACK); ack.CallID().Value() != callID {
			t.Fatalf("ACK Call-ID %s", ack.CallID().Value())
		}
		alice.sendRequest(sip.BYE, target, to, route, callID, 2, "", "")
		bye := bob.request(sip.BYE)
		bob.answer(bye, 200, "")
		if res := alice.response(); res.StatusCode != 200 {
			t.Fatalf("BYE answer %d", res.StatusCode)
		}
	})
}
