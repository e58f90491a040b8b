package icscf

import (
	"strings"
	"testing"

	"github.com/imscore/imscore/diameter/cx"
	"github.com/imscore/imscore/sip/resolve"
)

// TestExitToOtherNetwork: with interconnect enabled, a request from the trust domain for another domain goes to
// that domain's I-CSCF (here a static DNS entry) without a LIR (TS 24.229 §5.10.2); the same request from
// outside the trust domain, or for the home domain, or with the exit off, is the home network's (a LIR).
func TestExitToOtherNetwork(t *testing.T) {
	other := startFakeSCSCF(t, "icscf-other", false) // the other network's I-CSCF
	home := startFakeSCSCF(t, "scscf", false)
	start := func(enabled bool) *icscfUnderTest {
		hss := startFakeHSS(t)
		hss.onLIR(func(*cx.LIR) *cx.LIA { return lia(cx.Vendor3GPP, 5001, "", nil) }) // user unknown: 404
		n := startICSCF(t, hss, []SCSCF{home.config()}, func(c *Config) {
			c.TrustedNetworks = []string{"127.0.0.1/32"}
			c.Interconnect = InterconnectConfig{Enabled: enabled, DNS: resolve.Config{
				Static: map[string][]string{"other.test": {"udp:" + other.addr.String()}}}}
		})
		return &icscfUnderTest{n: n, hss: hss}
	}
	on, off := start(true), start(false)
	tests := []struct {
		name    string
		icscf   *icscfUnderTest
		from    string
		ruri    string
		want    int
		wantLIR bool
	}{
		{name: "another domain from the trust domain leaves", icscf: on, from: "127.0.0.1", ruri: "sip:bob@other.test", want: 200},
		{name: "another domain from outside is asked about", icscf: on, from: "127.0.0.2", ruri: "sip:bob@other.test", want: 404, wantLIR: true},
		{name: "the home domain is asked about", icscf: on, from: "127.0.0.1", ruri: "sip:bob@" + testDomain, want: 404, wantLIR: true},
		{name: "a tel URI is asked about", icscf: on, from: "127.0.0.1", ruri: "tel:+15551234", want: 404, wantLIR: true},
		{name: "exit off: another domain is asked about", icscf: off, from: "127.0.0.1", ruri: "sip:bob@other.test", want: 404, wantLIR: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hss := tt.icscf.hss
			before := len(hss.seenLIRs())
			u := newUEAt(t, tt.from)
			res := u.send(sipAddr(tt.icscf.n, "UDP"), u.request("MESSAGE", tt.ruri, tt.ruri))
			if res.StatusCode != tt.want {
				t.Fatalf("status %d %s, want %d", res.StatusCode, res.Reason, tt.want)
			}
			if asked := len(hss.seenLIRs()) > before; asked != tt.wantLIR {
				t.Errorf("LIR sent: %v, want %v", asked, tt.wantLIR)
			}
			if tt.want == 200 {
				req := other.next(t)
				if !strings.Contains(req.Recipient.String(), "other.test") {
					t.Errorf("the other network got Request-URI %s", req.Recipient.String())
				}
				if req.RecordRoute() == nil {
					t.Error("no Record-Route: the dialog's later requests would not cross the border here")
				}
			} else if other.received() {
				t.Errorf("the other network got %s", other.next(t).Recipient.String())
			}
		})
	}
}

// icscfUnderTest is one started I-CSCF of a table, with its HSS.
type icscfUnderTest struct {
	n   *Node
	hss *fakeHSS
}

// TestInterconnectConfigValidate: the section's bad fields are reported, and nothing when it is off.
func TestInterconnectConfigValidate(t *testing.T) {
	if errs := (InterconnectConfig{AttemptTimeout: -1}).validate(); len(errs) != 0 {
		t.Errorf("off: %v", errs)
	}
	errs := (InterconnectConfig{Enabled: true, AttemptTimeout: -1}).validate()
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), "attempt_timeout") {
		t.Errorf("errors %v, want one for attempt_timeout", errs)
	}
}
