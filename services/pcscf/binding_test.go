package pcscf

import (
	"fmt"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/imscore/imscore/sip/proxy"
	"github.com/imscore/imscore/sip/ue"
)

// TestTwoDevicesOneIMPU: two devices of one subscriber (one IMPU, each its own +sip.instance) register through
// the P-CSCF; each gets a binding of its own with its own SA set (TS 24.229 §5.2.2, RFC 5627), a request the
// S-CSCF forks to either contact reaches that device over its SAs, and each binding ends on its own: the first
// device's by a reg event NOTIFY terminating its contact (RFC 3680), the second's by its de-REGISTER, the other
// device staying reachable each time.
func TestTwoDevicesOneIMPU(t *testing.T) {
	alice := newSubscriber(t, 1)
	core := startFakeCore(t, "127.0.0.1:0", alice)
	sas := newFakeSAs()
	n := startPCSCF(t, "127.0.0.1", core.addr, sas)
	devs := []*ue.UE{
		newUE(t, alice, n.CoreAddr(), "udp", true, func(c *ue.Config) { c.Instance = "urn:uuid:00000000-0000-0000-0000-0000000000a1" }),
		newUE(t, alice, n.CoreAddr(), "udp", true, func(c *ue.Config) { c.Instance = "urn:uuid:00000000-0000-0000-0000-0000000000a2" }),
	}
	for _, d := range devs {
		if _, err := d.Register(ctxT(t)); err != nil {
			t.Fatalf("register: %v", err)
		}
	}
	bs := n.Bindings(alice.impu)
	if len(bs) != 2 || bs[0].Contact == bs[1].Contact || len(bs[0].SAs) != 1 || len(bs[1].SAs) != 1 ||
		bs[0].SAs[0].Pair.PCSCF.SPIS == bs[1].SAs[0].Pair.PCSCF.SPIS {
		t.Fatalf("bindings of one IMPU, two devices: %+v", bs)
	}
	if got := sas.count(); got != 2 {
		t.Fatalf("%d SA sets installed, want 2", got)
	}
	// Terminating: the S-CSCF forked to each contact, along our Path.
	send := func(b Registration, tag string) int {
		t.Helper()
		req := sip.NewRequest(sip.MESSAGE, sip.Uri{Scheme: "sip", User: "x", Host: b.ContactHost, Port: int(b.ContactPort)})
		req.AppendHeader(sip.NewHeader("Route", "<"+n.pathURI(n.CoreAddr())+";lr>"))
		req.AppendHeader(sip.NewHeader("From", "<sip:bob@"+domain+">;tag="+tag))
		req.AppendHeader(sip.NewHeader("To", "<"+alice.impu+">"))
		req.AppendHeader(sip.NewHeader("Call-ID", "fork-"+tag))
		req.AppendHeader(sip.NewHeader("CSeq", "1 MESSAGE"))
		req.SetBody([]byte(tag))
		res, err := core.p.Send(ctxT(t), req, proxy.WithNextHop(proxy.NextHop{Transport: "UDP", Addr: n.CoreAddr()}))
		if err != nil {
			t.Fatalf("send to %s: %v", b.Contact, err)
		}
		return res.StatusCode
	}
	received := func(d *ue.UE, tag string) {
		t.Helper()
		for deadline := time.After(waitLong); ; {
			select {
			case req := <-d.Incoming():
				if string(req.Body()) == tag {
					return
				}
			case <-deadline:
				t.Fatalf("device did not receive %q", tag)
			}
		}
	}
	for i, b := range bs {
		tag := fmt.Sprintf("to-%d", i)
		if got := send(b, tag); got != 200 {
			t.Fatalf("MESSAGE to device %d: %d", i, got)
		}
		received(devs[i], tag)
	}

	// The first device's contact terminated by the reg event of its own subscription: only its binding goes.
	var sub *sip.Request
	for deadline := time.Now().Add(waitLong); sub == nil && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		first, ok := n.regs.get(keyOf(alice.impu, bs[0].Contact))
		if !ok || first.RegEvent == nil {
			continue
		}
		for _, s := range core.requests(sip.SUBSCRIBE) {
			if s.CallID().Value() == first.RegEvent.CallID {
				sub = s
			}
		}
	}
	if sub == nil {
		t.Fatal("no reg event SUBSCRIBE for the first device")
	}
	sendNotify(t, core, n, regNotify(sub, alice.impu, "active", fmt.Sprintf("sip:x@%s:%d", bs[0].ContactHost, bs[0].ContactPort), "terminated"))
	if left := n.Bindings(alice.impu); len(left) != 1 || left[0].Contact != bs[1].Contact {
		t.Fatalf("after the first device's contact terminated: %+v", left)
	}
	if got := send(bs[0], "gone"); got != 480 {
		t.Errorf("MESSAGE to the terminated contact: %d, want 480", got)
	}
	if got := send(bs[1], "still"); got != 200 {
		t.Fatalf("MESSAGE to the other device: %d", got)
	}
	received(devs[1], "still")

	// The second device de-registers: nothing is left, and its SAs go too.
	if err := devs[1].Deregister(ctxT(t)); err != nil {
		t.Fatalf("deregister: %v", err)
	}
	if left := n.Bindings(alice.impu); len(left) != 0 {
		t.Fatalf("after the de-REGISTER: %+v", left)
	}
	waitNoFakeSAs(t, sas)
}
