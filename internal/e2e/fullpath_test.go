package e2e

import (
	"fmt"
	"testing"
	"time"
)

// core is the I-CSCF and S-CSCF binaries around an HSS, with provisioned subscribers.
type core struct {
	hss   *inProcHSS
	icscf *ICSCF
	scscf *SCSCF
}

// startCore starts HSS, S-CSCF and I-CSCF with a SQLite store (dsn "") or the given one, and provisions subs.
func startCore(t *testing.T, dsn string, subs ...Subscriber) *core {
	t.Helper()
	Need(t, bins.Has("scscf"), "cmd/scscf not in the tree yet")
	// The S-CSCF's name carries its port: choose it first so that the HSS can be seeded with it.
	c := &core{}
	scscfPort := FreePort(t)
	name := fmt.Sprintf("sip:scscf.%s:%d", Domain, scscfPort)
	c.hss = startInProcHSS(t, dsn, name)
	for _, s := range subs {
		c.hss.provision(t, s)
	}
	icscfPort := FreePort(t)
	c.scscf = StartSCSCF(t, bins, SCSCFOptions{HSS: c.hss.addr, HSSHost: c.hss.host, ICSCF: Addr(icscfPort),
		Args: []string{"--sip-listen", Addr(scscfPort), "--server-name", name}})
	c.scscf.Name, c.scscf.SIP = name, Addr(scscfPort)
	c.icscf = StartICSCF(t, bins, ICSCFOptions{HSS: c.hss.addr, SCSCFs: []string{name + "=" + c.scscf.SIP},
		Args: []string{"--sip-listen", Addr(icscfPort)}})
	c.icscf.SIP = Addr(icscfPort)
	return c
}

func (c *core) sipp(scenario string, s Subscriber, extra map[string]string) SIPp {
	keys := map[string]string{"domain": Domain, "impi": s.IMPI(), "expires": "600"}
	for k, v := range extra {
		keys[k] = v
	}
	return SIPp{Scenario: scenario, Remote: c.icscf.SIP, Service: s.MSISDN, Username: s.IMPI(), Keys: keys,
		Timeout: 20 * time.Second}
}

// SIPp registers with AKAv1-MD5 through the I-CSCF to the S-CSCF, against the project's HSS.
func TestSIPpRegistration(t *testing.T) {
	NeedSIPp(t)
	alice := NthSubscriber(11)
	c := startCore(t, "", alice)
	tests := []struct {
		name, scenario, transport string
	}{
		{"register, re-register, de-register (UDP)", "register_aka.xml", "u1"},
		{"register, re-register, de-register (TCP)", "register_aka.xml", "t1"},
		{"wrong response gets 403", "register_wrong_res.xml", "u1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := c.sipp(tt.scenario, alice, nil)
			s.Transport = tt.transport
			s.Run(t)
		})
	}
}
