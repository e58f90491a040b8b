package icscf

import (
	"net"
	"strconv"
	"strings"
	"testing"

	"github.com/imscore/imscore/diameter/cx"
	"github.com/imscore/imscore/internal/tshark"
)

// Wireshark's dissector judges the Cx the I-CSCF sends (docs/design.md §6): UAR (REGISTRATION, DE_REGISTRATION,
// REGISTRATION_AND_CAPABILITIES) and LIR over real TCP decode with no malformed packet, no expert error and
// every AVP named.
func TestTsharkDecodesTheICSCF(t *testing.T) {
	bin := tshark.Find(t)
	hss := startFakeHSS(t)
	_, portText, err := net.SplitHostPort(hss.addr)
	if err != nil {
		t.Fatal(err)
	}
	capture := tshark.StartCapture(t, bin, "lo", "tcp port "+portText)

	dead := startFakeSCSCF(t, "scscf-dead", true)
	alive := startFakeSCSCF(t, "scscf-alive", false)
	hss.onUAR(func(r *cx.UAR) *cx.UAA {
		if r.UserAuthorizationType != nil && *r.UserAuthorizationType == cx.UATRegistrationAndCapabilities {
			return uaa(cx.Vendor3GPP, 2001, "", &cx.ServerCapabilities{OptionalCapabilities: []uint32{1}})
		}
		return uaa(cx.Vendor3GPP, 2002, dead.name, nil)
	})
	hss.onLIR(func(*cx.LIR) *cx.LIA { return lia(cx.Vendor3GPP, 5001, "", nil) })
	n := startICSCF(t, hss, []SCSCF{dead.config(), alive.config()})
	to := sipAddr(n, "UDP")
	for _, text := range []struct{ method, ruri string }{{"REGISTER", "sip:" + testDomain}, {"MESSAGE", "sip:bob@" + testDomain}} {
		u := newUE(t)
		extra := []string{`P-Visited-Network-ID: "Visited Network 1"`}
		u.send(to, u.request(text.method, text.ruri, testIMPU, extra...))
	}
	u := newUE(t)
	hss.onUAR(func(*cx.UAR) *cx.UAA { return uaa(cx.Vendor3GPP, 2001, alive.name, nil) })
	u.send(to, u.request("REGISTER", "sip:"+testDomain, testIMPU, "Expires: 0"))
	path := capture.Stop(t)

	port, err := strconv.Atoi(portText)
	if err != nil {
		t.Fatal(err)
	}
	verbose := tshark.DecodeDiameter(t, bin, path, port)
	for _, want := range []string{"User-Authorization", "Location-Info", "Public-Identity", "Visited-Network-Identifier",
		"REGISTRATION_AND_CAPABILITIES", "DE_REGISTRATION", "Visited Network 1"} {
		if !strings.Contains(verbose, want) {
			t.Errorf("%q not in the decoded capture", want)
		}
	}
}
