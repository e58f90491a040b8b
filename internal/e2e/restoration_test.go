package e2e

import (
	"fmt"
	"strings"
	"syscall"
	"testing"
)

// S-CSCF restoration with the real binaries (TS 23.380 §5.2.2.2; issue 12 "S-CSCF restoration serves a
// terminating call to a user whose S-CSCF is gone"): one HSS, one P-CSCF, one I-CSCF with two S-CSCFs. Bob
// registers and lands on the first S-CSCF (the second is frozen meanwhile, so the I-CSCF cannot choose it),
// which stored his restoration information at the HSS with its SAR. The first S-CSCF is killed (SIGKILL).
// Alice registers (at the second, the only one left). Alice calls Bob: the second S-CSCF sends the INVITE to
// the I-CSCF, whose LIR names the dead S-CSCF; its INVITE gets no answer within --attempt-timeout, so the
// I-CSCF asks again with REGISTRATION_AND_CAPABILITIES and sends the INVITE to the second S-CSCF, whose SAR
// UNREGISTERED_USER is answered with Bob's restoration information: it rebuilds Bob's registration (contact,
// Path through the P-CSCF) and the call completes. The HSS then names the second S-CSCF for Bob.
func TestRestorationTerminatingCallAfterSCSCFKilled(t *testing.T) {
	NeedSIPp(t)
	Need(t, bins.Has("scscf") && bins.Has("pcscf"), "cmd/scscf or cmd/pcscf not in the tree yet")
	alice, bob := NthSubscriber(81), NthSubscriber(82)
	port1, port2, icscfPort := FreePort(t), FreePort(t), FreePort(t)
	name1 := fmt.Sprintf("sip:scscf-a.%s:%d", Domain, port1)
	name2 := fmt.Sprintf("sip:scscf-b.%s:%d", Domain, port2)
	// The second S-CSCF has an Origin-Host of its own: two Cx connections from one Origin-Host are one peer
	// to the HSS (RFC 6733 §5.6.4), which would drop the first S-CSCF's. Naming peers replaces the HSS's
	// default list: the I-CSCF and the first S-CSCF are named too.
	host2 := "scscf-b." + Domain
	h := StartHSS(t, bins, HSSOptions{SCSCFs: []string{name1, name2}, Args: []string{
		"--diameter-peer", "icscf:icscf." + Domain + "@127.0.0.1", "--diameter-peer", "scscf:scscf." + Domain + "@127.0.0.1",
		"--diameter-peer", "scscf:" + host2 + "@127.0.0.1"}})
	h.Provision(t, bins, alice)
	h.Provision(t, bins, bob)
	opts := func(port int, name string, args ...string) SCSCFOptions {
		return SCSCFOptions{HSS: h.Cx, HSSHost: h.Host, ICSCF: Addr(icscfPort),
			Args: append([]string{"--sip-listen", Addr(port), "--server-name", name}, args...)}
	}
	s1 := StartSCSCF(t, bins, opts(port1, name1))
	s2 := StartSCSCF(t, bins, opts(port2, name2, "--origin-host", host2))
	s2.SIP = Addr(port2)
	ic := StartICSCF(t, bins, ICSCFOptions{HSS: h.Cx,
		SCSCFs: []string{name1 + "=" + Addr(port1), name2 + "=" + Addr(port2)},
		Args:   []string{"--sip-listen", Addr(icscfPort), "--attempt-timeout", "1s"}})
	ic.SIP = Addr(icscfPort)
	p := StartPCSCF(t, bins, PCSCFOptions{ICSCF: ic.SIP})
	c := &core{hss: h, icscf: ic, pcscf: p, entry: p.SIP}

	alicePort, bobPort := FreePort(t), FreePort(t)
	s2.Signal(syscall.SIGSTOP)
	c.registerAt(t, bob, bobPort)
	s2.Signal(syscall.SIGCONT)
	if reg := Imsctl(t, bins, h, "registration", "show", "--imsi", bob.IMSI); !strings.Contains(reg, "scscf-a") {
		t.Fatalf("bob not registered at the first S-CSCF:\n%s", reg)
	}

	s1.Kill()
	c.registerAt(t, alice, alicePort)
	if reg := Imsctl(t, bins, h, "registration", "show", "--imsi", alice.IMSI); !strings.Contains(reg, "scscf-b") {
		t.Fatalf("alice not registered at the second S-CSCF:\n%s", reg)
	}

	uas := c.sipp("call_uas.xml", bob, nil)
	uas.LocalPort = bobPort
	uac := c.sipp("call_uac.xml", alice, map[string]string{"callee": bob.MSISDN})
	uac.LocalPort = alicePort
	RunPair(t, uas, uac)

	if m := Metrics(t, s2.HTTP); !strings.Contains(m, `scscf_registrations_total{outcome="restored"} 1`) {
		t.Errorf("the second S-CSCF restored nothing:\n%s", grepLines(m, "scscf_registrations_total"))
	}
	if m := Metrics(t, ic.HTTP); !strings.Contains(m, "icscf_scscf_failover_total") || strings.Contains(m, "icscf_scscf_failover_total 0") {
		t.Errorf("the I-CSCF counted no failover:\n%s", grepLines(m, "icscf_"))
	}
	if reg := Imsctl(t, bins, h, "registration", "show", "--imsi", bob.IMSI); !strings.Contains(reg, "scscf-b") {
		t.Errorf("bob's registration not moved to the second S-CSCF:\n%s", reg)
	}
}
