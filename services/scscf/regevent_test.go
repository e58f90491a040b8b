package scscf

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
)

// subscribeAs sends a reg event SUBSCRIBE for target from the identity from (P-Asserted-Identity too).
func (u *testUE) subscribeAs(target, from string, expires int, callID, toTag string) *sip.Response {
	u.t.Helper()
	return u.subscribeAsserting(target, from, from, expires, callID, toTag)
}

// subscribeAsserting is subscribeAs with asserted as the P-Asserted-Identity ("": none).
func (u *testUE) subscribeAsserting(target, from, asserted string, expires int, callID, toTag string) *sip.Response {
	u.t.Helper()
	u.cseq++
	pai := ""
	if asserted != "" {
		pai = "P-Asserted-Identity: <" + asserted + ">\n"
	}
	to := "<" + target + ">"
	ruri := target
	if toTag != "" {
		to += ";tag=" + toTag
		ruri = u.subContact // in the dialog: our remote target (RFC 3261 §12.2.1.1)
	}
	u.send(fmt.Sprintf(`
SUBSCRIBE %[11]s SIP/2.0
Via: SIP/2.0/UDP %[2]s;branch=z9hG4bK%[3]s;rport
Max-Forwards: 70
From: <%[5]s>;tag=%[6]s
To: %[10]s
Call-ID: %[7]s
CSeq: %[8]d SUBSCRIBE
Contact: <sip:ue@%[2]s>
Event: reg
Expires: %[9]d
%[12]sContent-Length: 0

`, testDomain, u.addr, randHex(8), target, from, u.tag, callID, u.cseq, expires, to, ruri, pai))
	res := u.response()
	if c := res.Contact(); c != nil && res.StatusCode == 200 {
		u.subContact = c.Address.String()
	}
	return res
}

func TestRegEventSubscriptions(t *testing.T) {
	hss := startFakeHSS(t)
	subA := hss.addSubscriber(t, "001010000000061", "15550000061")
	subB := hss.addSubscriber(t, "001010000000062", "15550000062")
	s := startSCSCF(t, hss, nil, func(c *Config) { c.SubscribeMinExpires = time.Second })
	alice, bob := newUE(t, s, subA), newUE(t, s, subB)
	alice.registerFully(600)
	bob.registerFully(600)

	t.Run("stranger forbidden", func(t *testing.T) {
		if res := bob.subscribeAs(alice.impu, bob.impu, 600, "x-"+randHex(4), ""); res.StatusCode != 403 {
			t.Fatalf("Bob watching Alice: %d, want 403", res.StatusCode)
		}
	})
	t.Run("P-CSCF on the Path allowed", func(t *testing.T) {
		// Alice's Path names her own address (the test UE plays its P-CSCF).
		pcscf := "sip:pcscf@" + alice.addr.String()
		res := alice.subscribeAs(alice.impu, pcscf, 600, "p-"+randHex(4), "")
		if res.StatusCode != 200 {
			t.Fatalf("P-CSCF SUBSCRIBE: %d", res.StatusCode)
		}
		alice.notify()
	})
	t.Run("tel identity of the set allowed, refresh and unsubscribe", func(t *testing.T) {
		callID := "t-" + randHex(4)
		res := alice.subscribeAs("tel:15550000061", alice.impu, 600, callID, "")
		if res.StatusCode != 200 {
			t.Fatalf("SUBSCRIBE to the tel URI: %d", res.StatusCode)
		}
		totag, _ := res.To().Params.Get("tag")
		_, doc := alice.notify()
		if doc.Version != 0 {
			t.Fatalf("version %d", doc.Version)
		}
		if res := alice.subscribeAs("tel:15550000061", alice.impu, 600, callID, totag); res.StatusCode != 200 {
			t.Fatalf("refresh: %d", res.StatusCode)
		}
		// RFC 6665 §4.2.1.2: a refresh is followed by a NOTIFY too.
		if _, doc := alice.notify(); doc.Version != 1 {
			t.Fatalf("refresh NOTIFY version %d", doc.Version)
		}
		if res := alice.subscribeAs("tel:15550000061", alice.impu, 0, callID, totag); res.StatusCode != 200 {
			t.Fatalf("unsubscribe: %d", res.StatusCode)
		}
		n, doc := alice.notify()
		if st := n.GetHeader("Subscription-State").Value(); st != "terminated;reason=timeout" || doc.Version != 2 {
			t.Fatalf("final NOTIFY %q version %d", st, doc.Version)
		}
		if res := alice.subscribeAs("tel:15550000061", alice.impu, 600, callID, totag); res.StatusCode != 481 {
			t.Fatalf("refresh after unsubscribe: %d, want 481", res.StatusCode)
		}
	})
	t.Run("expiry", func(t *testing.T) {
		if res := alice.subscribeAs(alice.impu, alice.impu, 1, "e-"+randHex(4), ""); res.StatusCode != 200 {
			t.Fatalf("SUBSCRIBE: %d", res.StatusCode)
		}
		alice.notify()
		n, _ := alice.notify()
		if st := n.GetHeader("Subscription-State").Value(); st != "terminated;reason=timeout" {
			t.Fatalf("expiry NOTIFY %q", st)
		}
	})
	t.Run("NOTIFY follows the Record-Route of the SUBSCRIBE", func(t *testing.T) {
		// RFC 3261 §12.1.1: the notifier's route set is the SUBSCRIBE's Record-Route, in order. A P-CSCF at
		// Alice's own address plays the proxy in between.
		rr := "<sip:pcscf-rr@" + alice.addr.String() + ";lr>"
		alice.cseq++
		alice.send(fmt.Sprintf(`
SUBSCRIBE %[1]s SIP/2.0
Via: SIP/2.0/UDP %[2]s;branch=z9hG4bK%[3]s;rport
Max-Forwards: 70
Record-Route: %[4]s
From: <%[1]s>;tag=rr1
To: <%[1]s>
Call-ID: rr-%[3]s
CSeq: %[5]d SUBSCRIBE
Contact: <sip:ue@%[2]s>
Event: reg
Expires: 600
P-Asserted-Identity: <%[1]s>
Content-Length: 0

`, alice.impu, alice.addr, randHex(8), rr, alice.cseq))
		if res := alice.response(); res.StatusCode != 200 {
			t.Fatalf("SUBSCRIBE %d", res.StatusCode)
		}
		n, _ := alice.notify()
		if r := n.GetHeader("Route"); r == nil || !strings.Contains(r.Value(), "pcscf-rr@") {
			t.Fatalf("NOTIFY Route %v, want the SUBSCRIBE's Record-Route", r)
		}
		if n.Recipient.User != "ue" {
			t.Fatalf("NOTIFY Request-URI %s, want the subscriber's Contact", n.Recipient.String())
		}
	})

	t.Run("not registered", func(t *testing.T) {
		if res := alice.subscribeAs("sip:nobody@"+testDomain, alice.impu, 600, "n-"+randHex(4), ""); res.StatusCode == 200 {
			t.Fatal("subscription to an unregistered identity accepted")
		}
	})
	t.Run("metrics and health", func(t *testing.T) {
		base := "http://" + s.HTTPAddr().String()
		for path, want := range map[string]string{"/healthz": "ok", "/readyz": "ok", "/metrics": `scscf_registrations_total{outcome="registered"} 2`} {
			res, err := http.Get(base + path)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != 200 || !strings.Contains(string(b), want) {
				t.Fatalf("%s: %d %s", path, res.StatusCode, b)
			}
		}
	})
}
