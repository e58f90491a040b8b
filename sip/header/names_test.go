package header

import (
	"testing"

	"github.com/emiago/sipgo/sip"
)

// hasKey agrees with key for every name, mixed case, compact forms and white space included.
func TestHasKeyAgreesWithKey(t *testing.T) {
	names := []string{"Via", "v", "V", " via ", "VIA", "From", "f", "To", "t", "Call-ID", "i", "CSeq", "Contact", "m",
		"Supported", "k", "Content-Length", "l", "P-Asserted-Identity", "x", "X", "", " ", "Security-Verify", "Path",
		"Via ", "Vía", "Max-Forwards", "s", "Subject", "b", "Referred-By"}
	for _, name := range names {
		for _, other := range names {
			k := key(other)
			if got, want := hasKey(name, k), key(name) == k; got != want {
				t.Errorf("hasKey(%q, %q) = %v, key(%q) == %q is %v", name, k, got, name, k, want)
			}
		}
	}
}

// A lookup walks every header line of a message; it allocates for its result, never per line.
func TestFieldsAllocations(t *testing.T) {
	req := sip.NewRequest(sip.REGISTER, sip.Uri{Scheme: "sip", Host: "ims.mnc001.mcc001.3gppnetwork.org"})
	for _, h := range []sip.Header{
		sip.NewHeader("Via", "SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK1"), sip.NewHeader("Max-Forwards", "70"),
		sip.NewHeader("From", "<sip:a@ims>;tag=1"), sip.NewHeader("To", "<sip:a@ims>"), sip.NewHeader("Call-ID", "c1"),
		sip.NewHeader("CSeq", "1 REGISTER"), sip.NewHeader("Contact", "<sip:a@10.0.0.1:5060>"),
		sip.NewHeader("Supported", "path, gruu, sec-agree"), sip.NewHeader("Security-Client", "ipsec-3gpp; alg=hmac-sha-1-96"),
		sip.NewHeader("Authorization", `Digest username="a@ims", realm="ims", nonce="", uri="sip:ims", response=""`),
		sip.NewHeader("Expires", "600"), sip.NewHeader("Content-Length", "0"),
	} {
		req.AppendHeader(h)
	}
	allocs := testing.AllocsPerRun(100, func() {
		if len(Fields(req, "security-client")) != 1 {
			t.Fatal("Security-Client not found")
		}
	})
	// One for the result slice; before, one more per mixed-case header line (13 here).
	if allocs > 2 {
		t.Errorf("Fields: %.0f allocations per lookup in a 13-line message, want at most 2", allocs)
	}
}

func BenchmarkFields(b *testing.B) {
	req := sip.NewRequest(sip.REGISTER, sip.Uri{Scheme: "sip", Host: "ims"})
	for _, n := range []string{"Via", "Max-Forwards", "From", "To", "Call-ID", "CSeq", "Contact", "Supported",
		"Security-Client", "Authorization", "Expires", "Content-Length"} {
		req.AppendHeader(sip.NewHeader(n, "x"))
	}
	b.ReportAllocs()
	for b.Loop() {
		_ = Fields(req, "Authorization")
	}
}

// Key of a known name in any case allocates nothing, and gives what strings.ToLower (with compact forms
// expanded) gives for every name, known or not.
func TestKeyKnownNamesDoNotAllocate(t *testing.T) {
	for _, n := range []string{SecurityVerify, "Security-Verify", "SECURITY-VERIFY", " Path ", "P-Charging-Function-Addresses", "m", "K"} {
		n := n
		if allocs := testing.AllocsPerRun(100, func() { _ = Key(n) }); allocs != 0 {
			t.Errorf("Key(%q): %.0f allocations", n, allocs)
		}
	}
	for in, want := range map[string]string{"Security-Verify": "security-verify", " Path ": "path", "K": "supported",
		"X-Custom-Header": "x-custom-header", "X-A-Very-Long-Header-Name-Nobody-Registered": "x-a-very-long-header-name-nobody-registered",
		"P-Charging-Function-Addresses": "p-charging-function-addresses", "": ""} {
		if got := Key(in); got != want {
			t.Errorf("Key(%q) = %q, want %q", in, got, want)
		}
	}
}
