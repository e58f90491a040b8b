package e2e

import (
	"encoding/json"
	"strings"
	"testing"
)

// A restarted S-CSCF still knows its registrations: two users register with SIPp, the S-CSCF
// process is stopped with SIGTERM and started again on the same store, ports and name, and a
// MESSAGE from one reaches the other — which the new process can route only from the stored
// registration (the terminating S-CSCF sends it to the registered contact).
func TestSIPpSCSCFRestartKeepsRegistrations(t *testing.T) {
	NeedSIPp(t)
	alice, bob := NthSubscriber(81), NthSubscriber(82)
	c := startCore(t, "", alice, bob)
	alicePort, bobPort := FreePort(t), FreePort(t)
	c.registerAt(t, bob, bobPort)
	c.registerAt(t, alice, alicePort)

	c.scscf.Stop() // SIGTERM; must exit 0
	restarted := StartSCSCF(t, bins, SCSCFOptions{HSS: c.hss.Cx, HSSHost: c.hss.Host, ICSCF: c.icscf.SIP, DB: c.scscf.DB,
		Args: []string{"--sip-listen", c.scscf.SIP, "--server-name", c.scscf.Name}})

	uas := c.sipp("message_uas.xml", alice, nil)
	uas.LocalPort = alicePort
	uac := c.sipp("message_uac.xml", bob, map[string]string{"callee": alice.MSISDN})
	uac.LocalPort = bobPort
	RunPair(t, uas, uac)
	if m := Metrics(t, restarted.HTTP); !strings.Contains(m, `method="MESSAGE"`) {
		t.Errorf("the restarted S-CSCF did not route the MESSAGE:\n%s", m)
	}
}

// A failed authentication leaves no registration: after SIPp answers the AKA challenge wrongly
// and gets 403, the HSS reports the subscriber not registered (the S-CSCF sent SAR
// AUTHENTICATION_FAILURE, TS 29.228 §6.1.2, instead of keeping a half-made registration).
func TestSIPpWrongResponseLeavesNoRegistration(t *testing.T) {
	NeedSIPp(t)
	alice := NthSubscriber(83)
	c := startCore(t, "", alice)
	s := c.sipp("register_wrong_res.xml", alice, nil)
	s.Run(t)
	out := Imsctl(t, bins, c.hss, "--json", "registration", "show", "--imsi", alice.IMSI)
	var st struct {
		Registered bool `json:"registered"`
		IMPUs      []struct {
			IMPU  string `json:"impu"`
			State string `json:"state"`
		} `json:"impus"`
	}
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("imsctl --json registration show: %v\n%s", err, out)
	}
	if st.Registered || len(st.IMPUs) != 3 {
		t.Fatalf("after a failed authentication the HSS shows:\n%s", out)
	}
	for _, u := range st.IMPUs {
		if u.State != "NOT_REGISTERED" {
			t.Errorf("%s is %s after a failed authentication", u.IMPU, u.State)
		}
	}
	if m := Metrics(t, c.icscf.HTTP); !strings.Contains(m, `icscf_cx_answers_total{command="UAR"`) {
		t.Errorf("the REGISTER did not go through the I-CSCF's UAR:\n%s", m)
	}
}
