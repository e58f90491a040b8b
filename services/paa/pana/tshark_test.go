package pana

import (
	"strings"
	"testing"

	"github.com/imscore/imscore/internal/tshark"
	"github.com/imscore/imscore/services/paa/paatest"
)

// TestTsharkDecodesVectors has Wireshark's PANA dissector (UDP 716) judge the vectors: every message named,
// no malformed packet. Wireshark finds PANA heuristically and gives up on an AVP code it does not know, so
// the vector with a vendor AVP is left out (imscore sends none).
func TestTsharkDecodesVectors(t *testing.T) {
	bin := tshark.Find(t)
	var dgrams []tshark.Segment
	for _, v := range vectors {
		if strings.Contains(v.name, "vendor") {
			continue
		}
		dgrams = append(dgrams, tshark.Segment{Payload: unhex(t, stripComments(v.hex)), FromClient: v.msg.IsRequest()})
	}
	out := paatest.CheckPANA(t, bin, dgrams)
	for _, want := range []string{"PANA-Client-Initiation", "PANA-Auth-Request", "PANA-Termination-Request",
		"PRF-Algorithm AVP", "EAP-Payload AVP", "Termination-Cause"} {
		if !strings.Contains(out, want) {
			t.Errorf("tshark output lacks %q", want)
		}
	}
}
