package pcscf

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/imscore/imscore/sip/header"
	"github.com/imscore/imscore/sip/proxy"
)

// TestRegEvent: the P-CSCF subscribes to the reg event of a user it registered (TS 24.229
// §5.2.3), and a NOTIFY saying the registration is terminated removes it and its SAs.
func TestRegEvent(t *testing.T) {
	alice := newSubscriber(t, 1)
	core := startFakeCore(t, "127.0.0.1:0", alice)
	sas := newFakeSAs()
	n := startPCSCF(t, "127.0.0.1", core.addr, sas)
	u := newUE(t, alice, n.CoreAddr(), "udp", true)
	ctx := ctxT(t)
	if _, err := u.Register(ctx); err != nil {
		t.Fatalf("register: %v", err)
	}
	sub := waitSubscribe(t, core)
	if got := sub.Recipient.String(); got != alice.impu {
		t.Errorf("SUBSCRIBE Request-URI %s, want %s", got, alice.impu)
	}
	if got := lastValue(sub, header.Event); got != "reg" {
		t.Errorf("Event %q", got)
	}
	contact := sub.Contact()
	if contact == nil {
		t.Fatal("SUBSCRIBE without Contact")
	}
	reg, _ := n.Registration(alice.impu)
	notify := regNotify(sub, alice.impu, "terminated", fmt.Sprintf("sip:x@%s:%d", reg.ContactHost, reg.ContactPort), "terminated")
	sendNotify(t, core, n, notify)
	if _, ok := n.Registration(alice.impu); ok {
		t.Error("registration still there after a terminated NOTIFY")
	}
	waitNoFakeSAs(t, sas)
}

// waitSubscribe returns the first reg event SUBSCRIBE the core received.
func waitSubscribe(t *testing.T, core *fakeCore) *sip.Request {
	t.Helper()
	for deadline := time.Now().Add(waitLong); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if subs := core.requests(sip.SUBSCRIBE); len(subs) > 0 {
			return subs[0]
		}
	}
	t.Fatal("no reg event SUBSCRIBE from the P-CSCF")
	return nil
}

// regNotify builds the S-CSCF's NOTIFY within the subscription sub, with a reginfo body of one registration.
func regNotify(sub *sip.Request, aor, state, contact, contactState string) *sip.Request {
	body := fmt.Sprintf(`<?xml version="1.0"?>
<reginfo xmlns="urn:ietf:params:xml:ns:reginfo" version="1" state="full">
 <registration aor="%s" id="a" state="%s">
  <contact id="c" state="%s" event="unregistered" expires="0"><uri>%s</uri></contact>
 </registration>
</reginfo>`, aor, state, contactState, contact)
	notify := sip.NewRequest(sip.NOTIFY, *sub.Contact().Address.Clone())
	notify.AppendHeader(sip.NewHeader("From", "<"+aor+">;tag=s1"))
	notify.AppendHeader(sip.NewHeader("To", lastValue(sub, "From")))
	notify.AppendHeader(sip.NewHeader("Call-ID", sub.CallID().Value()))
	notify.AppendHeader(sip.NewHeader("CSeq", "1 NOTIFY"))
	notify.AppendHeader(sip.NewHeader(header.Event, "reg"))
	notify.AppendHeader(sip.NewHeader("Subscription-State", "terminated;reason=deactivated"))
	notify.AppendHeader(sip.NewHeader("Content-Type", "application/reginfo+xml"))
	notify.SetBody([]byte(body))
	return notify
}

// TestRegEventBarredIdentity: a UE registered with the barred sip:<IMSI>@ identity (docs/design.md §2, what
// USIM-only handsets use). The P-CSCF subscribes to the default public identity, the first of P-Associated-URI
// (TS 24.229 §5.2.3), asserting the URI of its own Path (what a Kamailio S-CSCF matches against the stored Path,
// else 403); a NOTIFY that lists only the non-barred identities of the implicit set still ends the registration
// and its SAs (TS 24.229 §5.2.5.1).
func TestRegEventBarredIdentity(t *testing.T) {
	alice := newSubscriber(t, 1)
	msisdn := "sip:+15550000001@" + domain
	core := startFakeCore(t, "127.0.0.1:0", alice)
	core.associated = func(s subscriber) string { return "<" + msisdn + ">, <" + s.tel + ">" }
	sas := newFakeSAs()
	n := startPCSCF(t, "127.0.0.1", core.addr, sas)
	u := newUE(t, alice, n.CoreAddr(), "udp", true)
	if _, err := u.Register(ctxT(t)); err != nil {
		t.Fatalf("register: %v", err)
	}
	sub := waitSubscribe(t, core)
	if got := sub.Recipient.String(); got != msisdn {
		t.Errorf("SUBSCRIBE Request-URI %s, want the default public identity %s", got, msisdn)
	}
	if to := sub.To(); to == nil || to.Address.String() != msisdn {
		t.Errorf("SUBSCRIBE To %v, want %s", to, msisdn)
	}
	regs := core.requests(sip.REGISTER)
	path := lastValue(regs[len(regs)-1], header.Path)
	pai := strings.Trim(lastValue(sub, header.PAssertedIdentity), "<>")
	// Kamailio's ims_registrar_scscf (can_subscribe_to_reg) looks for the asserted URI without "sip:" in the Path.
	if !strings.HasPrefix(pai, "sip:") || !strings.Contains(path, strings.TrimPrefix(pai, "sip:")) || strings.Contains(pai, ";") {
		t.Errorf("SUBSCRIBE P-Asserted-Identity %q is not the URI of our Path %q", pai, path)
	}
	reg, _ := n.Registration(alice.impu)
	notify := regNotify(sub, msisdn, "terminated", fmt.Sprintf("sip:%s:%d", reg.ContactHost, reg.ContactPort), "terminated")
	sendNotify(t, core, n, notify)
	if _, ok := n.Registration(alice.impu); ok {
		t.Error("registration still there after a NOTIFY terminating the default public identity")
	}
	waitNoFakeSAs(t, sas)
}

// TestRegEventNotOtherUsers: a NOTIFY of one user's subscription that names another registered user changes
// nothing for the other (each subscription acts on its own registration).
func TestRegEventNotOtherUsers(t *testing.T) {
	alice, bob := newSubscriber(t, 1), newSubscriber(t, 2)
	core := startFakeCore(t, "127.0.0.1:0", alice, bob)
	n := startPCSCF(t, "127.0.0.1", core.addr, nil)
	ua := newUE(t, alice, n.CoreAddr(), "udp", false)
	if _, err := ua.Register(ctxT(t)); err != nil {
		t.Fatalf("register: %v", err)
	}
	sub := waitSubscribe(t, core)
	ub := newUE(t, bob, n.CoreAddr(), "udp", false)
	if _, err := ub.Register(ctxT(t)); err != nil {
		t.Fatalf("register: %v", err)
	}
	reg, _ := n.Registration(bob.impu)
	notify := regNotify(sub, bob.impu, "terminated", fmt.Sprintf("sip:%s:%d", reg.ContactHost, reg.ContactPort), "terminated")
	sendNotify(t, core, n, notify)
	if _, ok := n.Registration(bob.impu); !ok {
		t.Error("bob's registration ended by a NOTIFY of alice's subscription")
	}
}

// TestRegEventServiceRouteHost: a Service-Route naming the S-CSCF by host name (RFC 3263) is followed by the
// reg event SUBSCRIBE; it does not go to the I-CSCF instead.
func TestRegEventServiceRouteHost(t *testing.T) {
	alice := newSubscriber(t, 1)
	icscf := startFakeCore(t, "127.0.0.1:0", alice) // the registrar, reached as the I-CSCF
	scscf := startFakeCore(t, "127.0.0.1:0", alice) // the S-CSCF of the Service-Route
	icscf.srHostPort = fmt.Sprintf("localhost:%d", scscf.addr.Port())
	n := startPCSCF(t, "127.0.0.1", icscf.addr, nil)
	u := newUE(t, alice, n.CoreAddr(), "udp", false)
	if _, err := u.Register(ctxT(t)); err != nil {
		t.Fatalf("register: %v", err)
	}
	sub := waitSubscribe(t, scscf)
	if r := lastValue(sub, "Route"); !strings.Contains(r, "localhost") {
		t.Errorf("SUBSCRIBE Route %q, want the Service-Route", r)
	}
	if got := len(icscf.requests(sip.SUBSCRIBE)); got != 0 {
		t.Errorf("the I-CSCF got %d SUBSCRIBEs", got)
	}
}

// TestDeregisterNotifyOvertakes: the S-CSCF's NOTIFY "terminated" overtakes the 200 to the UE's own
// de-REGISTER by far more than dereg_delay. The SAs stay until that 200 has gone out through them (docs/design.md
// §4), then go.
func TestDeregisterNotifyOvertakes(t *testing.T) {
	alice := newSubscriber(t, 1)
	core := startFakeCore(t, "127.0.0.1:0", alice)
	sas := newFakeSAs()
	n := startPCSCF(t, "127.0.0.1", core.addr, sas, func(c *Config) { c.DeregDelay = time.Millisecond })
	u := newUE(t, alice, n.CoreAddr(), "udp", true)
	if _, err := u.Register(ctxT(t)); err != nil {
		t.Fatalf("register: %v", err)
	}
	sub := waitSubscribe(t, core)
	reg, _ := n.Registration(alice.impu)
	var saStillThere atomic.Int32 // written by the core's goroutine; the sockets order it, the race detector cannot see that
	saStillThere.Store(-1)
	core.mu.Lock()
	core.beforeDereg = func() {
		notify := regNotify(sub, alice.impu, "terminated", fmt.Sprintf("sip:%s:%d", reg.ContactHost, reg.ContactPort), "terminated")
		sctx, cancel := context.WithTimeout(context.Background(), waitLong)
		defer cancel()
		res, err := core.p.Send(sctx, notify, proxy.WithNextHop(proxy.NextHop{Transport: "UDP", Addr: n.CoreAddr()}))
		if err != nil || res.StatusCode != 200 {
			t.Errorf("NOTIFY: %v %v", res, err)
		}
		// Far longer than dereg_delay; bounded: on the fixed code the SAs are never removed before the 200.
		for deadline := time.Now().Add(time.Second); sas.count() != 0 && time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		}
		saStillThere.Store(int32(sas.count()))
	}
	core.mu.Unlock()
	if err := u.Deregister(ctxT(t)); err != nil {
		t.Fatalf("de-register: %v", err)
	}
	if got := saStillThere.Load(); got != 1 {
		t.Errorf("SA sets when the 200 to the de-REGISTER was sent: %d, want 1 (it must leave through them)", got)
	}
	waitNoFakeSAs(t, sas)
	if spis, ports := n.alloc.inUse(); spis+ports != 0 {
		t.Errorf("allocator still holds %d SPIs and %d ports", spis, ports)
	}
}

// sendNotify sends the core's NOTIFY to the P-CSCF, which must answer 200.
func sendNotify(t *testing.T, core *fakeCore, n *Node, notify *sip.Request) {
	t.Helper()
	sctx, cancel := context.WithTimeout(context.Background(), waitLong)
	defer cancel()
	res, err := core.p.Send(sctx, notify, proxy.WithNextHop(proxy.NextHop{Transport: "UDP", Addr: n.CoreAddr()}))
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("NOTIFY: %v %v", res, err)
	}
}

// waitNoFakeSAs waits, bounded, until no SA set is left.
func waitNoFakeSAs(t *testing.T, sas *fakeSAs) {
	t.Helper()
	for deadline := time.Now().Add(waitLong); sas.count() != 0 && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
	}
	if got := sas.count(); got != 0 {
		t.Errorf("%d SA sets left", got)
	}
}

// TestRegNotifyRequire: the reg event NOTIFY is the one request the P-CSCF answers itself, so it checks its
// Require (RFC 3261 §8.2.2.3): an option-tag it does not know is 420 with Unsupported, and the NOTIFY changes
// nothing. Requests it proxies keep their Require for the far UAS (§16.3, TestHandsetSecAgreeHeaders).
func TestRegNotifyRequire(t *testing.T) {
	alice := newSubscriber(t, 1)
	core := startFakeCore(t, "127.0.0.1:0", alice)
	n := startPCSCF(t, "127.0.0.1", core.addr, nil)
	u := newUE(t, alice, n.CoreAddr(), "udp", false)
	if _, err := u.Register(ctxT(t)); err != nil {
		t.Fatalf("register: %v", err)
	}
	sub := waitSubscribe(t, core)
	reg, _ := n.Registration(alice.impu)
	notify := regNotify(sub, alice.impu, "terminated", fmt.Sprintf("sip:%s:%d", reg.ContactHost, reg.ContactPort), "terminated")
	notify.AppendHeader(sip.NewHeader(header.Require, "x-unknown"))
	sctx, cancel := context.WithTimeout(context.Background(), waitLong)
	defer cancel()
	res, err := core.p.Send(sctx, notify, proxy.WithNextHop(proxy.NextHop{Transport: "UDP", Addr: n.CoreAddr()}))
	if err != nil || res.StatusCode != 420 || lastValue(res, "Unsupported") != "x-unknown" {
		t.Fatalf("NOTIFY with Require: x-unknown: %v %v, want 420 with Unsupported: x-unknown", res, err)
	}
	if _, ok := n.Registration(alice.impu); !ok {
		t.Error("a refused NOTIFY ended the registration")
	}
}
