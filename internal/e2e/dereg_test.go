package e2e

import (
	"encoding/xml"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/imscore/imscore/sip/ue"
)

// TestUENetworkDeregistrationUSIM: a USIM-only handset registers with its IMSI-derived identity
// sip:<IMSI>@<domain>, which imscore's default provisioning bars (TS 23.003 §13.4B, TS 24.229 §5.1.1.2.1:
// the implicit set is then sip:<IMSI>@ barred, sip:<MSISDN>@ and tel:<MSISDN>), and subscribes to its reg
// event. The operator de-registers it (imsctl deregister: HSS RTR → S-CSCF, TS 29.228 §6.1.3); the S-CSCF's
// reg event NOTIFYs list only the non-barred identities as terminated (TS 24.229 §5.4.2.1.2). The P-CSCF must
// apply the NOTIFY to the registration of the barred IMPU through its implicit set (TS 24.229 §5.2.5.1): its
// registration count falls to 0 and a MESSAGE the UE sends afterwards is refused 403 (TS 24.229 §5.2.6.3.1);
// the UE gets its own NOTIFY "terminated" (TS 24.229 §5.1.1.7).
func TestUENetworkDeregistrationUSIM(t *testing.T) {
	alice, bob := NthSubscriber(101), NthSubscriber(102)
	c := startCoreWith(t, coreOptions{pcscf: true}, alice, bob)
	c.newUE(t, bob)
	u, reg := c.newUE(t, alice, func(cfg *ue.Config) { cfg.IMPU = alice.IMPU() })
	// The registrar gave the implicit set (TS 24.229 §5.4.1.2.2): the default public identity first (the
	// barred one is never listed, TS 24.229 §5.4.1.2.2 item g).
	if len(reg.Associated) == 0 || !strings.Contains(reg.Associated[0], alice.MSISDN) {
		t.Fatalf("P-Associated-URI %v: want sip:%s@%s first", reg.Associated, alice.MSISDN, Domain)
	}
	for _, a := range reg.Associated {
		if strings.Contains(a, alice.IMSI) {
			t.Errorf("P-Associated-URI %v lists the barred %s", reg.Associated, alice.IMPU())
		}
	}
	if n := pcscfRegistrations(t, c); n != 2 {
		t.Fatalf("pcscf_registrations = %v before the de-registration, want 2", n)
	}
	// Registered: the UE may send (this also proves the 403 below is the de-registration's doing).
	if _, err := u.Message(uctx(t), number(bob), "before"); err != nil {
		t.Fatalf("MESSAGE while registered: %v", err)
	}
	if _, err := u.SubscribeReg(uctx(t)); err != nil {
		t.Fatalf("SUBSCRIBE reg: %v", err)
	}

	c.hss.Deregister(t, bins, alice)

	t.Run("the UE gets its NOTIFY terminated", func(t *testing.T) {
		deadline := time.After(30 * time.Second)
		var seen []string
		for {
			select {
			case req := <-u.Incoming():
				if req.Method != sip.NOTIFY {
					continue
				}
				ri := parseReginfo(t, req.Body())
				seen = append(seen, string(req.Body()))
				if ri.terminated(alice.MSISDN) {
					return
				}
			case <-deadline:
				t.Fatalf("no reg event NOTIFY with the registration terminated within 30 s; NOTIFY bodies seen:\n%s",
					strings.Join(seen, "\n----\n"))
			}
		}
	})
	t.Run("the P-CSCF drops the registration", func(t *testing.T) {
		// Bounded wait: the P-CSCF's NOTIFY and the UE's leave the S-CSCF in either order.
		n := 0.0
		for i := 0; i < 100; i++ {
			if n = pcscfRegistrations(t, c); n == 1 {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if n != 1 {
			t.Fatalf("pcscf_registrations = %v after the de-registration, want 1 (bob's only)\n%s", n,
				grepLines(c.pcscf.Logs(), "reg event"))
		}
		// TS 24.229 §5.2.6.3.1: an initial request from a UE that is not registered is refused.
		if _, err := u.Message(uctx(t), number(bob), "after"); statusOf(err) != 403 {
			t.Errorf("MESSAGE after the network de-registration = %v, want 403", err)
		}
	})
}

// pcscfRegistrations reads the P-CSCF's pcscf_registrations gauge.
func pcscfRegistrations(t *testing.T, c *core) float64 {
	t.Helper()
	m := regexp.MustCompile(`(?m)^pcscf_registrations ([0-9.e+]+)$`).FindStringSubmatch(Metrics(t, c.pcscf.HTTP))
	if m == nil {
		t.Fatal("P-CSCF metrics lack pcscf_registrations")
	}
	v, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// reginfoDoc is what the test reads of an application/reginfo+xml body (RFC 3680 §5.4).
type reginfoDoc struct {
	Registrations []struct {
		AOR   string `xml:"aor,attr"`
		State string `xml:"state,attr"`
	} `xml:"registration"`
}

func parseReginfo(t *testing.T, body []byte) reginfoDoc {
	t.Helper()
	var d reginfoDoc
	if err := xml.Unmarshal(body, &d); err != nil {
		t.Fatalf("NOTIFY body is no reginfo: %v\n%s", err, body)
	}
	return d
}

// terminated reports whether the document says a registration of an identity with user part user is
// terminated (RFC 3680 §5.4.1).
func (d reginfoDoc) terminated(user string) bool {
	for _, r := range d.Registrations {
		if r.State == "terminated" && strings.Contains(r.AOR, user) {
			return true
		}
	}
	return false
}
