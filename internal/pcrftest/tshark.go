package pcrftest

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/imscore/imscore/diameter/rx"
	"github.com/imscore/imscore/internal/tshark"
)

// CheckTshark has tshark dissect every Rx message the PCRF exchanged: each must be shown as 3GPP Rx,
// with no malformed packet, no expert warning or error and no unknown AVP. It returns tshark's
// verbose text for further checks. Skips when tshark is not installed (tshark.Find).
func (p *PCRF) CheckTshark(t testing.TB) string {
	t.Helper()
	bin := tshark.Find(t)
	var segs []tshark.Segment
	for _, f := range p.Frames() {
		if len(f) < 20 {
			continue
		}
		request := f[4]&0x80 != 0
		code := rx.Command(uint32(f[5])<<16 | uint32(f[6])<<8 | uint32(f[7]))
		fromAF := request == (code == rx.CmdAA || code == rx.CmdSessionTermination)
		segs = append(segs, tshark.Segment{Payload: f, FromClient: fromAF})
	}
	if len(segs) == 0 {
		t.Fatal("pcrftest: no Rx messages to check")
	}
	pcap := filepath.Join(t.TempDir(), "rx.pcap")
	if err := tshark.WritePcap(pcap, tshark.Conversation{ClientPort: 40002, ServerPort: 3868}, segs); err != nil {
		t.Fatal(err)
	}
	out := tshark.Run(t, bin, "-r", pcap, "-o", "diameter.tcp.port:3868", "-V")
	for _, bad := range []string{"alformed", "Severity level: Error", "Severity level: Warning", "Unknown("} {
		if strings.Contains(out, bad) {
			t.Errorf("tshark: %q in the dissection:\n%s", bad, tshark.Around(out, bad))
		}
	}
	if n := strings.Count(out, "ApplicationId: 3GPP Rx (16777236)"); n != len(segs) {
		t.Errorf("tshark shows %d Rx messages, want %d", n, len(segs))
	}
	return out
}
