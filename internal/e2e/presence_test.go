package e2e

import (
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/imscore/imscore/services/presence/pidf"
	"github.com/imscore/imscore/sip/ue"
)

// The presence service through the real core (TS 24.141): UEs → P-CSCF → I-CSCF → S-CSCF → iFC → the
// presence AS (cmd/presence), NOTIFYs back along the dialog's route set; the XDMS (same process) takes the
// presentity's pres-rules over XCAP.

// waitNotify reads u's presence NOTIFYs until one whose Subscription-State starts with state.
func waitNotify(t *testing.T, u *ue.UE, state string) *sip.Request {
	t.Helper()
	return waitEventNotify(t, u, "presence", state)
}

// waitEventNotify reads u's NOTIFYs of package event until one whose Subscription-State starts with state.
func waitEventNotify(t *testing.T, u *ue.UE, event, state string) *sip.Request {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		select {
		case req := <-u.Incoming():
			if ev := req.GetHeader("Event"); req.Method != sip.NOTIFY || ev == nil || ev.Value() != event {
				continue
			}
			ss := ""
			if h := req.GetHeader("Subscription-State"); h != nil {
				ss = h.Value()
			}
			t.Logf("NOTIFY %s (%d bytes)", ss, len(req.Body()))
			if strings.HasPrefix(ss, state) {
				return req
			}
		case <-deadline:
			t.Fatalf("no NOTIFY in state %s", state)
		}
	}
}

// putRules writes alice's pres-rules through the XDMS as the authentication proxy would (asserted identity).
func putRules(t *testing.T, as *PresenceAS, owner, watcher, handling string) {
	t.Helper()
	doc := `<?xml version="1.0" encoding="UTF-8"?>
<cr:ruleset xmlns="urn:ietf:params:xml:ns:pres-rules" xmlns:cr="urn:ietf:params:xml:ns:common-policy">
 <cr:rule id="w1"><cr:conditions><cr:identity><cr:one id="` + watcher + `"/></cr:identity></cr:conditions>
  <cr:actions><sub-handling>` + handling + `</sub-handling></cr:actions></cr:rule>
</cr:ruleset>`
	xcapPut(t, as, "org.openmobilealliance.pres-rules", owner, "pres-rules", "application/auth-policy+xml", doc)
}

func TestPresenceThroughCore(t *testing.T) {
	alice, bob := NthSubscriber(91), NthSubscriber(92)
	c := startCoreWith(t, coreOptions{pcscf: true}, alice, bob)
	as := StartPresence(t, bins, PresenceOptions{})
	c.hss.UsePresenceIFC(t, bins, "sip:"+as.SIP)
	ua, _ := c.newUE(t, alice)
	ub, _ := c.newUE(t, bob)
	a, b := number(alice), number(bob)

	etag, _, err := ua.Publish(uctx(t), ue.PIDF(a, "open", "Hello from A"), "", time.Hour)
	if err != nil || etag == "" {
		t.Fatalf("PUBLISH: %v (etag %q)\n%s", err, etag, as.Logs())
	}
	// Alice watches her watchers (RFC 3857).
	if _, err := ua.Subscribe(uctx(t), a, "presence.winfo", "application/watcherinfo+xml", 10*time.Minute); err != nil {
		t.Fatalf("SUBSCRIBE presence.winfo: %v\n%s", err, as.Logs())
	}
	waitEventNotify(t, ua, "presence.winfo", "active")
	if _, err := ub.SubscribePresence(uctx(t), a, 10*time.Minute); err != nil {
		t.Fatalf("SUBSCRIBE: %v\n%s", err, as.Logs())
	}
	// No rule for bob: confirm (the default) keeps him pending, without state; alice learns of him.
	if n := waitNotify(t, ub, "pending"); len(n.Body()) != 0 {
		t.Errorf("pending NOTIFY carries a body:\n%s", n.Body())
	}
	if n := waitEventNotify(t, ua, "presence.winfo", "active"); !strings.Contains(string(n.Body()), `status="pending">`+b+`</watcher>`) {
		t.Errorf("alice's watcher information does not show bob pending:\n%s", n.Body())
	}
	// Alice allows bob through XCAP: the pending subscription becomes active with her PIDF.
	putRules(t, as, a, b, "allow")
	n := waitNotify(t, ub, "active")
	d, err := pidf.Parse(n.Body())
	if err != nil || len(d.Elements) == 0 || d.Elements[0].Basic != pidf.Open || d.Elements[0].Note != "Hello from A" {
		t.Fatalf("active NOTIFY: %v\n%s", err, n.Body())
	}
	if ct := n.GetHeader("Content-Type"); ct == nil || ct.Value() != pidf.ContentType {
		t.Errorf("Content-Type %v", ct)
	}
	// A modification reaches bob.
	if _, _, err := ua.Publish(uctx(t), ue.PIDF(a, "closed", "in a meeting"), etag, time.Hour); err != nil {
		t.Fatalf("PUBLISH modify: %v", err)
	}
	n = waitNotify(t, ub, "active")
	if d, err := pidf.Parse(n.Body()); err != nil || d.Elements[0].Note != "in a meeting" {
		t.Fatalf("after modify: %v\n%s", err, n.Body())
	}
	// Polite-block: bob stays subscribed and sees alice closed, without her note.
	putRules(t, as, a, b, "polite-block")
	n = waitNotify(t, ub, "active")
	if d, err := pidf.Parse(n.Body()); err != nil || d.Elements[0].Basic != pidf.Closed || d.Elements[0].Note != "" {
		t.Fatalf("polite-block: %v\n%s", err, n.Body())
	}
	// Block: bob's subscription is terminated, and a new one refused.
	putRules(t, as, a, b, "block")
	if n := waitNotify(t, ub, "terminated"); !strings.Contains(n.GetHeader("Subscription-State").Value(), "reason=rejected") {
		t.Errorf("blocked: %s", n.GetHeader("Subscription-State").Value())
	}
	if _, err := ub.SubscribePresence(uctx(t), a, 10*time.Minute); statusOf(err) != 403 {
		t.Errorf("SUBSCRIBE while blocked: %v, want 403", err)
	}
	// Allowed again, then alice de-registers: the third-party REGISTER makes her offline for bob.
	putRules(t, as, a, b, "allow")
	if _, err := ub.SubscribePresence(uctx(t), a, 10*time.Minute); err != nil {
		t.Fatalf("SUBSCRIBE again: %v", err)
	}
	waitNotify(t, ub, "active")
	if err := ua.Deregister(uctx(t)); err != nil {
		t.Fatalf("de-register: %v", err)
	}
	n = waitNotify(t, ub, "active")
	if d, err := pidf.Parse(n.Body()); err != nil || len(d.Elements) != 1 || d.Elements[0].Basic != pidf.Closed {
		t.Fatalf("after de-registration: %v\n%s", err, n.Body())
	}
	as.CheckNoPanic(t)
}

// TestPresenceForgedIdentity: a PUBLISH with a forged P-Asserted-Identity sent straight to the AS, not
// through the S-CSCF, is refused (the AS trusts only the S-CSCF's network, here 127.0.0.1/32).
func TestPresenceForgedIdentity(t *testing.T) {
	as := StartPresence(t, bins, PresenceOptions{})
	conn, err := net.ListenPacket("udp", "127.0.0.2:0")
	if err != nil {
		t.Skipf("no 127.0.0.2: %v", err)
	}
	defer conn.Close()
	victim := "sip:15550000091@" + Domain
	body := string(ue.PIDF(victim, "open", "forged"))
	msg := "PUBLISH " + victim + " SIP/2.0\r\n" +
		"Via: SIP/2.0/UDP " + conn.LocalAddr().String() + ";branch=z9hG4bKforged1\r\n" +
		"Max-Forwards: 70\r\nFrom: <" + victim + ">;tag=f1\r\nTo: <" + victim + ">\r\nCall-ID: forged-1\r\nCSeq: 1 PUBLISH\r\n" +
		"P-Asserted-Identity: <" + victim + ">\r\nEvent: presence\r\nExpires: 3600\r\nContent-Type: application/pidf+xml\r\n" +
		fmt.Sprintf("Content-Length: %d\r\n\r\n", len(body)) + body
	dst, _ := net.ResolveUDPAddr("udp", as.SIP)
	if _, err := conn.WriteTo([]byte(msg), dst); err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 4096)
	n, _, err := conn.ReadFrom(buf)
	if err != nil {
		t.Fatalf("no answer: %v", err)
	}
	if line, _, _ := strings.Cut(string(buf[:n]), "\r\n"); !strings.HasPrefix(line, "SIP/2.0 403") {
		t.Errorf("forged PUBLISH answered %q, want 403", line)
	}
}
