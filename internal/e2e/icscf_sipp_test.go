package e2e

import (
	"strings"
	"testing"
	"time"
)

// The I-CSCF binary between SIPp and stand-ins for the HSS (Cx over TCP) and the S-CSCF (AKA registrar): the
// SIPp registration scenarios pass through it, and it exits cleanly on SIGTERM. This runs before the real HSS
// and S-CSCF binaries exist, and keeps the scenarios themselves tested against a known-good registrar.
func TestICSCFBinaryWithSIPp(t *testing.T) {
	NeedSIPp(t)
	scscf := startFakeAKASCSCF(t)
	hss := startFakeHSS(t, scscf.name)
	icscf := StartICSCF(t, bins, ICSCFOptions{HSS: hss, SCSCFs: []string{scscf.name + "=" + scscf.addr}})
	sub := NthSubscriber(1)
	keys := map[string]string{"domain": Domain, "impi": sub.IMPI(), "expires": "600"}

	tests := []struct {
		name      string
		scenario  string
		transport string
	}{
		{"register, re-register, de-register over UDP", "register_aka.xml", "u1"},
		{"register, re-register, de-register over TCP", "register_aka.xml", "t1"},
		{"wrong response gets 403", "register_wrong_res.xml", "u1"},
		{"register and stay registered", "register.xml", "u1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			SIPp{Scenario: tt.scenario, Remote: icscf.SIP, Transport: tt.transport, Service: sub.IMSI,
				Username: sub.IMPI(), Keys: keys, Timeout: 15 * time.Second}.Run(t)
		})
	}
	if !strings.Contains(icscf.Logs(), "REGISTER") {
		t.Errorf("the I-CSCF log shows no REGISTER")
	}
	icscf.Stop()
}
