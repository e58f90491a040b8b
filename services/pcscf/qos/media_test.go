package qos

import (
	"net/netip"
	"testing"

	"github.com/imscore/imscore/diameter/rx"
	"github.com/imscore/imscore/sip/sdp"
)

func mustSDP(t *testing.T, s string) *sdp.Session {
	t.Helper()
	d, err := sdp.Parse([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestComponents: the SDP → Media-Component-Description mapping of TS 29.213 §6.2 for the cases
// the call test does not reach.
func TestComponents(t *testing.T) {
	const head = "v=0\r\no=- 1 1 IN IP4 10.45.0.2\r\ns=-\r\nc=IN IP4 10.45.0.2\r\nt=0 0\r\n"
	const rhead = "v=0\r\no=- 1 1 IN IP6 2001:db8::3\r\ns=-\r\nc=IN IP6 2001:db8::3\r\nt=0 0\r\n"
	for _, tt := range []struct {
		name       string
		ue, remote string
		status     rx.FlowStatus
		subs       int
		ul, dl     uint32
	}{
		{"removed by the answer", head + "m=audio 4000 RTP/AVP 0\r\n", rhead + "m=audio 0 RTP/AVP 0\r\n", rx.FlowRemoved, 0, 0, 0},
		{"inactive", head + "m=audio 4000 RTP/AVP 0\r\na=inactive\r\n", rhead + "m=audio 5000 RTP/AVP 0\r\na=inactive\r\n", rx.FlowDisabled, 2, 0, 0},
		{"held by the UE", head + "m=audio 4000 RTP/AVP 0\r\na=sendonly\r\n", rhead + "m=audio 5000 RTP/AVP 0\r\na=recvonly\r\n", rx.FlowEnabledUplink, 2, 0, 0},
		{"rtcp-mux, TIAS", head + "m=audio 4000 RTP/AVP 0\r\nb=TIAS:64000\r\na=rtcp-mux\r\n", rhead + "m=audio 5000 RTP/AVP 0\r\nb=TIAS:32000\r\na=rtcp-mux\r\n", rx.FlowEnabled, 1, 32000, 64000},
		{"MSRP over TCP", head + "m=message 2855 TCP/MSRP *\r\n", rhead + "m=message 2856 TCP/MSRP *\r\n", rx.FlowEnabled, 1, 0, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := Components(mustSDP(t, tt.ue), mustSDP(t, tt.remote), netip.Addr{}, true)
			if len(got) != 1 {
				t.Fatalf("%d components", len(got))
			}
			c := got[0]
			if *c.FlowStatus != tt.status || len(c.SubComponents) != tt.subs {
				t.Fatalf("status %v subs %d: %+v", *c.FlowStatus, len(c.SubComponents), c)
			}
			if (tt.ul != 0) != (c.MaxRequestedBandwidthUL != nil) || (tt.ul != 0 && *c.MaxRequestedBandwidthUL != tt.ul) ||
				(tt.dl != 0 && *c.MaxRequestedBandwidthDL != tt.dl) {
				t.Fatalf("bandwidth %+v", c)
			}
			if tt.name == "MSRP over TCP" && c.SubComponents[0].FlowDescriptions[0] != "permit out 6 from 2001:db8::3 2856 to 10.45.0.2 2855" {
				t.Fatalf("MSRP flow %q", c.SubComponents[0].FlowDescriptions)
			}
			// Whatever Components builds must be a valid AAR.
			if _, err := (&rx.AAR{SessionID: "s", OriginHost: "h", OriginRealm: "r", DestinationRealm: "d",
				MediaComponents: got}).AppendBinary(nil); err != nil {
				t.Fatal(err)
			}
		})
	}
}
