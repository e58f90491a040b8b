package pcscf

import (
	"context"
	"fmt"
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
	var sub *sip.Request
	for deadline := time.Now().Add(waitLong); sub == nil && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if subs := core.requests(sip.SUBSCRIBE); len(subs) > 0 {
			sub = subs[0]
		}
	}
	if sub == nil {
		t.Fatal("no reg event SUBSCRIBE from the P-CSCF")
	}
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
	body := fmt.Sprintf(`<?xml version="1.0"?>
<reginfo xmlns="urn:ietf:params:xml:ns:reginfo" version="1" state="partial">
 <registration aor="%s" id="a" state="terminated">
  <contact id="c" state="terminated" event="deactivated"><uri>sip:x@%s:%d</uri></contact>
 </registration>
</reginfo>`, alice.impu, reg.ContactHost, reg.ContactPort)
	notify := sip.NewRequest(sip.NOTIFY, *contact.Address.Clone())
	notify.AppendHeader(sip.NewHeader("From", "<"+alice.impu+">;tag=s1"))
	notify.AppendHeader(sip.NewHeader("To", lastValue(sub, "From")))
	notify.AppendHeader(sip.NewHeader("Call-ID", sub.CallID().Value()))
	notify.AppendHeader(sip.NewHeader("CSeq", "1 NOTIFY"))
	notify.AppendHeader(sip.NewHeader(header.Event, "reg"))
	notify.AppendHeader(sip.NewHeader("Subscription-State", "terminated;reason=deactivated"))
	notify.AppendHeader(sip.NewHeader("Content-Type", "application/reginfo+xml"))
	notify.SetBody([]byte(body))
	sctx, cancel := context.WithTimeout(context.Background(), waitLong)
	defer cancel()
	res, err := core.p.Send(sctx, notify, proxy.WithNextHop(proxy.NextHop{Transport: "UDP", Addr: n.CoreAddr()}))
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("NOTIFY: %v %v", res, err)
	}
	if _, ok := n.Registration(alice.impu); ok {
		t.Error("registration still there after a terminated NOTIFY")
	}
	for deadline := time.Now().Add(waitLong); sas.count() != 0 && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
	}
	if got := sas.count(); got != 0 {
		t.Errorf("%d SA sets left", got)
	}
}
