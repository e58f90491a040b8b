package pcscf

import (
	"encoding/hex"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/imscore/imscore/hss/aka"
	"github.com/imscore/imscore/internal/e2e"
	"github.com/imscore/imscore/sip/ipsec/ipsectest"
	"github.com/imscore/imscore/sip/ue"
)

// TestFullPathSecAgree: UE simulators with sec-agree register and exchange a MESSAGE through
// this P-CSCF (in process, SA installer faked on this host without ESP) and the real cmd/hss,
// cmd/scscf and cmd/icscf binaries: the real S-CSCF's 401 must carry ck/ik, the real I-CSCF
// must route the protected REGISTER, and the real S-CSCF must accept integrity-protected="yes".
func TestFullPathSecAgree(t *testing.T) {
	if os.Getenv(ipsectest.EnvRequireESP) == "1" {
		t.Skip("inside the VM: no Go toolchain to build the core binaries")
	}
	if testing.Short() {
		t.Skip("builds and starts the core binaries")
	}
	dir := t.TempDir()
	bins, err := e2e.NewBuilder(dir)
	if err != nil {
		t.Fatal(err)
	}
	e2e.Need(t, bins.Has("scscf") && bins.Has("hss") && bins.Has("icscf") && bins.Has("imsctl"), "core binaries not in the tree yet")
	subs := []e2e.Subscriber{e2e.NthSubscriber(71), e2e.NthSubscriber(72)}
	scscfPort := e2e.FreePort(t)
	name := fmt.Sprintf("sip:scscf.%s:%d", e2e.Domain, scscfPort)
	hss := e2e.StartHSS(t, bins, e2e.HSSOptions{SCSCFs: []string{name}})
	for _, s := range subs {
		hss.Provision(t, bins, s)
	}
	icscfPort := e2e.FreePort(t)
	sc := e2e.StartSCSCF(t, bins, e2e.SCSCFOptions{HSS: hss.Cx, HSSHost: hss.Host, ICSCF: e2e.Addr(icscfPort),
		Args: []string{"--sip-listen", e2e.Addr(scscfPort), "--server-name", name}})
	_ = sc
	e2e.StartICSCF(t, bins, e2e.ICSCFOptions{HSS: hss.Cx, SCSCFs: []string{name + "=" + e2e.Addr(scscfPort)},
		Args: []string{"--sip-listen", e2e.Addr(icscfPort)}})

	sas := newFakeSAs()
	n := startPCSCF(t, "127.0.0.1", netip.MustParseAddrPort(e2e.Addr(icscfPort)), sas)
	k, _ := hex.DecodeString(e2e.AKAK)
	op, _ := hex.DecodeString(e2e.AKAOP)
	keys, err := aka.NewKeys(k, op, nil, [2]byte{0x80, 0xff})
	if err != nil {
		t.Fatal(err)
	}
	var ues []*ue.UE
	for _, s := range subs {
		sub := subscriber{impi: s.IMPI(), impu: s.IMPU(), keys: keys}
		ues = append(ues, newUE(t, sub, n.CoreAddr(), "udp", true))
	}
	ctx := ctxT(t)
	for i, u := range ues {
		reg, err := u.Register(ctx)
		if err != nil {
			t.Fatalf("register %s: %v", subs[i].IMPU(), err)
		}
		if !reg.SecAgree || len(reg.ServiceRoute) == 0 || len(reg.Associated) == 0 {
			t.Errorf("registration %+v", reg)
		}
	}
	if got := sas.count(); got != 2 {
		t.Errorf("SA sets = %d, want 2", got)
	}
	// Re-registration over the SAs: the real S-CSCF does not challenge an integrity-protected
	// re-REGISTER (TS 24.229 §5.4.1.2.1), so the SA set stays and its lifetime is extended.
	before, _ := n.Registration(subs[0].IMPU())
	if _, err := ues[0].Register(ctx); err != nil {
		t.Fatalf("re-register: %v", err)
	}
	after, _ := n.Registration(subs[0].IMPU())
	if len(after.SAs) == 0 || len(before.SAs) == 0 || !after.Expires.After(before.Expires.Add(-time.Second)) {
		t.Errorf("after re-registration: %d SA sets, expiry %v (was %v)", len(after.SAs), after.Expires, before.Expires)
	}
	// The IMSI identity is barred (docs/design.md §2): address the callee by its MSISDN one.
	target := "sip:" + subs[1].MSISDN + "@" + e2e.Domain
	if _, err := ues[0].Message(ctx, target, "through the real core"); err != nil {
		t.Fatalf("MESSAGE: %v", err)
	}
	select {
	case got := <-ues[1].Incoming():
		if string(got.Body()) != "through the real core" {
			t.Errorf("got %q", got.Body())
		}
	case <-time.After(waitLong):
		t.Fatal("MESSAGE not delivered")
	}
	// The UE's own reg event subscription: the 200, then the S-CSCF's NOTIFY along the Path.
	if _, err := ues[0].SubscribeReg(ctx); err != nil {
		t.Fatalf("SUBSCRIBE reg: %v", err)
	}
	select {
	case got := <-ues[0].Incoming():
		if got.Method != "NOTIFY" || !strings.Contains(string(got.Body()), "reginfo") {
			t.Errorf("got %s %q", got.Method, got.Body())
		}
	case <-time.After(waitLong):
		t.Fatal("no reg event NOTIFY at the UE")
	}
	// A call through the real core: INVITE, 200, ACK, BYE along the Record-Route.
	call, err := ues[0].Invite(ctx, target)
	if err != nil {
		t.Fatalf("INVITE: %v", err)
	}
	if err := call.Hangup(ctx); err != nil {
		t.Fatalf("BYE: %v", err)
	}
	for _, u := range ues {
		if err := u.Deregister(ctx); err != nil {
			t.Fatalf("de-register: %v", err)
		}
	}
	for deadline := time.Now().Add(waitLong); sas.count() != 0 && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
	}
	if got := sas.count(); got != 0 {
		t.Errorf("%d SA sets left after de-registration", got)
	}
}
