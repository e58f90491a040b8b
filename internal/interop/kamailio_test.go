package interop

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/imscore/imscore/internal/e2e"
)

// Origin-Hosts of the Kamailio CSCFs; the HSS accepts them only because they are in its diameter.peers.
const (
	kamailioICSCFHost = "kamailio-icscf." + Realm
	kamailioSCSCFHost = "kamailio-scscf." + Realm
)

// lab is what one mix runs: UEs send to entry.
type lab struct {
	hss   *e2e.HSS
	entry string
	// pcscf is imscore's P-CSCF when the mix has one: the network de-registration must then also remove the
	// UE's registration there (its own reg-event subscription, TS 24.229 §5.2.3).
	pcscf *e2e.PCSCF
	// kpcscf is the Kamailio P-CSCF when the mix has one: the same, seen by its refusing the UE's next request.
	kpcscf *kamailio
}

func (l *lab) sipp(scenario string, s e2e.Subscriber, extra map[string]string) e2e.SIPp {
	keys := map[string]string{"domain": Realm, "impi": s.IMPI(), "expires": "600"}
	for k, v := range extra {
		keys[k] = v
	}
	return e2e.SIPp{Scenario: scenario, Remote: l.entry, Service: s.MSISDN, Username: s.IMPI(), Keys: keys,
		Timeout: 20 * time.Second}
}

// registerAt registers s with SIPp bound to port (the Contact a later UAS scenario on that port answers at).
func (l *lab) registerAt(t *testing.T, s e2e.Subscriber, port int) {
	t.Helper()
	r := l.sipp("register.xml", s, nil)
	r.LocalPort = port
	r.Run(t)
}

// kamailioIS starts imscore's HSS with the Kamailio I-CSCF and S-CSCF as its only Diameter peers, and those two
// Kamailio nodes, and provisions subs. It returns the I-CSCF's SIP address too.
func kamailioIS(t *testing.T, subs ...e2e.Subscriber) (*e2e.HSS, *kamailio, *kamailio) {
	t.Helper()
	bin, modules := needKamailio(t)
	e2e.Need(t, bins.Has("hss") && bins.Has("imsctl"), "cmd/hss or cmd/imsctl not in the tree")
	t.Logf("peer: %s", kamailioVersion(bin))
	icscfPort, scscfPort := e2e.FreePort(t), e2e.FreePort(t)
	serverName := fmt.Sprintf("sip:127.0.0.1:%d", scscfPort)
	hss := e2e.StartHSS(t, bins, e2e.HSSOptions{SCSCFs: []string{serverName}, Args: []string{
		"--diameter-peer", "icscf:" + kamailioICSCFHost + "@127.0.0.1",
		"--diameter-peer", "scscf:" + kamailioSCSCFHost + "@127.0.0.1",
	}})
	for _, s := range subs {
		hss.Provision(t, bins, s)
	}
	hssPort := portOf(t, hss.Cx)
	scscf := startKamailio(t, bin, kamailioNode{Role: "scscf", Port: scscfPort, Alias: "scscf." + Realm,
		ModulePath: modules, OriginHost: kamailioSCSCFHost, HSSHost: hss.Host, HSSPort: hssPort,
		ServerName: serverName, ICSCF: e2e.Addr(icscfPort)})
	icscf := startKamailio(t, bin, kamailioNode{Role: "icscf", Port: icscfPort, Alias: Realm,
		ModulePath: modules, OriginHost: kamailioICSCFHost, HSSHost: hss.Host, HSSPort: hssPort,
		SCSCFs: []string{serverName}})
	waitPeers(t, hss, 2)
	return hss, icscf, scscf
}

// Mix 1: Kamailio I-CSCF and S-CSCF with imscore's HSS (Cx over TCP). SIPp registers with AKAv1-MD5 through the
// Kamailio I-CSCF (UAR) to the Kamailio S-CSCF (MAR, SAR), re-registers and de-registers; two users call each
// other (LIR); a user subscribed to its reg event is de-registered from the network (imsctl → HSS RTR → S-CSCF
// NOTIFY terminated).
func TestKamailioISWithImscoreHSS(t *testing.T) {
	e2e.NeedSIPp(t)
	alice, bob := e2e.NthSubscriber(101), e2e.NthSubscriber(102)
	hss, icscf, _ := kamailioIS(t, alice, bob)
	l := &lab{hss: hss, entry: icscf.SIP}
	l.exercise(t, alice, bob)
	l.hssCases(t, alice, bob, e2e.NthSubscriber(103))
}

// Mix 2: imscore's P-CSCF (no sec-agree) in front of the Kamailio I-CSCF and S-CSCF, with imscore's HSS. The
// same flows as mix 1, along the whole IMS path: Path and Service-Route set by the Kamailio S-CSCF, originating
// requests through it, terminating ones back through the P-CSCF, and the reg-event NOTIFY of a network
// de-registration through the P-CSCF.
func TestImscorePCSCFWithKamailioIS(t *testing.T) {
	e2e.NeedSIPp(t)
	alice, bob := e2e.NthSubscriber(201), e2e.NthSubscriber(202)
	hss, icscf, scscf := kamailioIS(t, alice, bob)
	e2e.Need(t, bins.Has("pcscf"), "cmd/pcscf not in the tree")
	pcscf := e2e.StartPCSCF(t, bins, e2e.PCSCFOptions{ICSCF: icscf.SIP})
	(&lab{hss: hss, entry: pcscf.SIP, pcscf: pcscf}).exercise(t, alice, bob)
	// The P-CSCF sent the INVITE along the Service-Route the Kamailio S-CSCF gave (sip:orig@…), and the callee's
	// leg went back through the P-CSCF's Path (sip:term@…).
	for _, want := range []string{"S-CSCF originating INVITE", "S-CSCF terminating INVITE", "via sip:term@"} {
		if !strings.Contains(scscf.Logs(), want) {
			t.Errorf("the Kamailio S-CSCF's log lacks %q", want)
		}
	}
}

// exercise runs the flows every mix must pass, with SIPp as the UEs sending to l.entry: registration,
// re-registration and de-registration of alice; a call from alice to bob (both registered); then alice
// subscribes to her reg event and is de-registered from the network (imsctl → HSS RTR → S-CSCF → NOTIFY
// terminated).
func (l *lab) exercise(t *testing.T, alice, bob e2e.Subscriber) {
	t.Helper()
	t.Run("register, re-register, de-register", func(t *testing.T) {
		l.sipp("register_aka.xml", alice, nil).Run(t)
	})
	alicePort, bobPort := e2e.FreePort(t), e2e.FreePort(t)
	l.registerAt(t, bob, bobPort)
	l.registerAt(t, alice, alicePort)
	t.Run("call", func(t *testing.T) {
		uas := l.sipp("call_uas.xml", bob, nil)
		uas.LocalPort = bobPort
		uac := l.sipp("call_uac.xml", alice, map[string]string{"callee": bob.MSISDN})
		uac.LocalPort = alicePort
		e2e.RunPair(t, uas, uac)
	})
	t.Run("network de-registration", func(t *testing.T) {
		sub := l.sipp("subscribe_reg.xml", alice, nil)
		sub.LocalPort = alicePort
		run := sub.Start(t)
		run.WaitLog("subscribed", 10*time.Second)
		l.hss.Deregister(t, bins, alice)
		run.MustPass()
		if l.pcscf != nil {
			l.pcscfForgets(t, 1)
		}
		if l.kpcscf != nil {
			l.kamailioPCSCFForgets(t, alice, bob, alicePort)
		}
	})
}

// kamailioPCSCFForgets checks that the Kamailio P-CSCF applied the S-CSCF's NOTIFY of alice's network
// de-registration: a MESSAGE from her old contact is refused by the P-CSCF itself (403, its log says so), not
// forwarded to the S-CSCF.
func (l *lab) kamailioPCSCFForgets(t *testing.T, alice, bob e2e.Subscriber, port int) {
	t.Helper()
	m := l.sipp("message_forbidden.xml", alice, map[string]string{"callee": bob.MSISDN})
	m.LocalPort = port
	m.Run(t)
	if !strings.Contains(l.kpcscf.Logs(), "P-CSCF refused MESSAGE from an unregistered UE") {
		t.Fatalf("the Kamailio P-CSCF still serves the de-registered UE (the 403 came from further on): it did " +
			"not apply the reg-event NOTIFY")
	}
}

// pcscfForgets waits (bounded) until imscore's P-CSCF counts left registrations: it applied the S-CSCF's
// reg-event NOTIFY of the network de-registration.
func (l *lab) pcscfForgets(t *testing.T, left int) {
	t.Helper()
	if strings.Contains(l.pcscf.Logs(), "reg event SUBSCRIBE refused") {
		// The P-CSCF's reg-event SUBSCRIBE must assert the URI of its Path entry (TS 24.229 §5.2.3), the only
		// identity a Kamailio S-CSCF matches against the stored Path (can_subscribe_to_reg); a refusal leaves
		// the P-CSCF serving a de-registered UE.
		t.Fatal("the Kamailio S-CSCF refused the P-CSCF's reg-event SUBSCRIBE")
	}
	want := fmt.Sprintf("pcscf_registrations %d\n", left)
	for range 100 {
		if strings.Contains(e2e.Metrics(t, l.pcscf.HTTP), want) {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("the P-CSCF still shows the UE registered 10 s after the network de-registration (want %q)", want)
}

// Mix 3: the Kamailio P-CSCF (no IPsec) in front of imscore's I-CSCF, S-CSCF and HSS. The same flows: the
// Kamailio P-CSCF puts its Path, keeps the Service-Route, subscribes to the reg event itself, and must apply
// the imscore S-CSCF's NOTIFY of the network de-registration.
func TestKamailioPCSCFWithImscoreIS(t *testing.T) {
	e2e.NeedSIPp(t)
	bin, modules := needKamailio(t)
	for _, name := range []string{"hss", "scscf", "icscf", "imsctl"} {
		e2e.Need(t, bins.Has(name), "cmd/"+name+" not in the tree")
	}
	t.Logf("peer: %s", kamailioVersion(bin))
	alice, bob := e2e.NthSubscriber(301), e2e.NthSubscriber(302)
	scscfPort, icscfPort := e2e.FreePort(t), e2e.FreePort(t)
	name := fmt.Sprintf("sip:scscf.%s:%d", Realm, scscfPort)
	hss := e2e.StartHSS(t, bins, e2e.HSSOptions{SCSCFs: []string{name}})
	for _, s := range []e2e.Subscriber{alice, bob} {
		hss.Provision(t, bins, s)
	}
	e2e.StartSCSCF(t, bins, e2e.SCSCFOptions{HSS: hss.Cx, HSSHost: hss.Host, ICSCF: e2e.Addr(icscfPort),
		Args: []string{"--sip-listen", e2e.Addr(scscfPort), "--server-name", name}})
	e2e.StartICSCF(t, bins, e2e.ICSCFOptions{HSS: hss.Cx, SCSCFs: []string{name + "=" + e2e.Addr(scscfPort)},
		Args: []string{"--sip-listen", e2e.Addr(icscfPort)}})
	pcscf := startKamailio(t, bin, kamailioNode{Role: "pcscf", Port: e2e.FreePort(t), Alias: "pcscf." + Realm,
		ModulePath: modules, ICSCF: e2e.Addr(icscfPort)})
	(&lab{hss: hss, entry: pcscf.SIP, kpcscf: pcscf}).exercise(t, alice, bob)
}
