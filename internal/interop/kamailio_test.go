package interop

import (
	"fmt"
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

	t.Run("register, re-register, de-register", func(t *testing.T) {
		l.sipp("register_aka.xml", alice, nil).Run(t)
	})
	alicePort, bobPort := e2e.FreePort(t), e2e.FreePort(t)
	l.registerAt(t, bob, bobPort)
	l.registerAt(t, alice, alicePort)
	t.Run("call", func(t *testing.T) {
		uas := l.sipp("call_uas.xml", bob, nil)
		uas.LocalPort = bobPort
		bobRun := uas.Start(t)
		bobRun.WaitBound(5 * time.Second)
		uac := l.sipp("call_uac.xml", alice, map[string]string{"callee": bob.MSISDN})
		uac.LocalPort = alicePort
		uac.Run(t)
		bobRun.MustPass()
	})
	t.Run("network de-registration", func(t *testing.T) {
		sub := l.sipp("subscribe_reg.xml", alice, nil)
		sub.LocalPort = alicePort
		run := sub.Start(t)
		run.WaitLog("subscribed", 10*time.Second)
		hss.Deregister(t, bins, alice)
		run.MustPass()
	})
}
