package pcscf

import (
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/imscore/imscore/sip/ue"
)

// TestDualStack: one P-CSCF listening on IPv4 and IPv6; a UE over IPv6 with sec-agree and one
// over IPv4 register through the IPv4 core and exchange a MESSAGE.
func TestDualStack(t *testing.T) {
	if l, err := net.ListenUDP("udp6", &net.UDPAddr{IP: net.IPv6loopback}); err != nil {
		t.Skipf("no IPv6 loopback: %v", err)
	} else {
		l.Close()
	}
	alice, bob := newSubscriber(t, 1), newSubscriber(t, 2)
	core := startFakeCore(t, "127.0.0.1:0", alice, bob)
	n := startPCSCF(t, "127.0.0.1", core.addr, newFakeSAs(), func(c *Config) {
		c.Listen = append(c.Listen, "[::1]:0")
	})
	var v6 netip.AddrPort
	for _, l := range n.Listeners() {
		if l.Transport == "UDP" && l.Addr.Addr().Is6() && !n.isProtectedPort(l.Addr.Port()) {
			v6 = l.Addr
		}
	}
	if !v6.IsValid() {
		t.Fatal("no IPv6 listener")
	}
	ua := newUE(t, alice, v6, "udp", true)
	ub := newUE(t, bob, n.CoreAddr(), "tcp", true)
	ctx := ctxT(t)
	for _, u := range []*ue.UE{ua, ub} {
		if _, err := u.Register(ctx); err != nil {
			t.Fatalf("register: %v", err)
		}
	}
	reg, _ := n.Registration(alice.impu)
	if len(reg.SAs) != 1 || !reg.SAs[0].Pair.UE.Addr.Is6() || !reg.SAs[0].Pair.PCSCF.Addr.Is6() {
		t.Fatalf("alice's SA pair is not IPv6: %+v", reg.SAs)
	}
	for _, c := range []struct {
		from, to *ue.UE
		target   string
	}{{ua, ub, bob.impu}, {ub, ua, alice.impu}} {
		if _, err := c.from.Message(ctx, c.target, "dual"); err != nil {
			t.Fatalf("MESSAGE to %s: %v", c.target, err)
		}
		select {
		case <-c.to.Incoming():
		case <-time.After(waitLong):
			t.Fatalf("%s got nothing", c.target)
		}
	}
}
