package presence_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/emiago/sipgo/sip"

	"github.com/imscore/imscore/internal/tshark"
	"github.com/imscore/imscore/services/presence"
	"github.com/imscore/imscore/services/presence/store"
)

// TestWireTshark: Wireshark's SIP dissector reads the PUBLISH, its 200 with SIP-ETag, the SUBSCRIBE's 200
// and the NOTIFY with Event, Subscription-State and a PIDF body its XML dissector reads, without a
// malformed-packet mark.
func TestWireTshark(t *testing.T) {
	bin := tshark.Find(t)
	s := startServer(t, store.NewMemory(), func(c *presence.Config) { c.DefaultSubHandling = presence.HandlingAllow })
	capture := tshark.StartCapture(t, bin, "lo", fmt.Sprintf("udp port %d", s.SIPAddr().Port()))
	pe := newPeer(t, "127.0.0.1")
	publish(t, s, pe, alice, pidfDoc(alice, "open", "wire"))
	send(t, pe, request(s, sip.SUBSCRIBE, alice, bob, "Event: presence", fmt.Sprintf("Contact: <sip:%s>", pe.addr)))
	pe.waitNotify(t)
	path := capture.Stop(t)
	out := tshark.Run(t, bin, "-r", path, "-Y", "sip", "-T", "fields", "-E", "separator=|",
		"-e", "sip.Method", "-e", "sip.Status-Code", "-e", "sip.CSeq.method", "-e", "sip.ETag", "-e", "sip.Event",
		"-e", "sip.Subscription-State", "-e", "frame.protocols", "-e", "_ws.malformed")
	t.Logf("tshark:\n%s", out)
	want := map[string]bool{"PUBLISH": false, "200 PUBLISH etag": false, "200 SUBSCRIBE": false, "NOTIFY pidf": false}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Split(line, "|")
		if len(f) < 8 {
			continue
		}
		if f[7] != "" {
			t.Errorf("malformed packet: %s", line)
		}
		switch {
		case f[0] == "PUBLISH" && f[4] == "presence":
			want["PUBLISH"] = true
		case f[1] == "200" && f[2] == "PUBLISH" && f[3] != "":
			want["200 PUBLISH etag"] = true
		case f[1] == "200" && f[2] == "SUBSCRIBE":
			want["200 SUBSCRIBE"] = true
		case f[0] == "NOTIFY" && f[4] == "presence" && strings.HasPrefix(f[5], "active") && strings.HasSuffix(f[6], ":sip:xml"):
			want["NOTIFY pidf"] = true
		}
	}
	for k, ok := range want {
		if !ok {
			t.Errorf("tshark did not show %s", k)
		}
	}
}
