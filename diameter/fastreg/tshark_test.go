package fastreg

import (
	"encoding/binary"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/imscore/imscore/internal/tshark"
)

// TestTshark writes every fixture into a pcap and has tshark dissect it: no malformed packet, no expert
// error, the command code, application id and every AVP shown. Wireshark has no dictionary entry for our
// vendor (32473, the documentation PEN), application or commands: it shows the application and commands by
// number with an expert warning ("Unknown command", "Unknown Application Id") and the Token and
// Token-Lifetime AVPs as unknown vendor AVPs, which is expected (docs/fastreg.md "tshark"); warnings are
// therefore allowed, errors and malformed packets are not.
func TestTshark(t *testing.T) {
	bin := tshark.Find(t)
	var segs []tshark.Segment
	var avps []int
	ss := samples()
	for i, s := range ss {
		b := s.encode(t)
		id := uint32(i/2 + 1)
		binary.BigEndian.PutUint32(b[12:], 0x1000+id)
		binary.BigEndian.PutUint32(b[16:], 0x2000+id)
		segs = append(segs, tshark.Segment{Payload: b, FromClient: b[4]&flagRequest != 0})
		n := 0
		_ = walk(b[20:], func(f field) error {
			n++
			if f.code == avpVendorSpecificApplicationID {
				n += 2
			}
			return nil
		})
		avps = append(avps, n)
	}
	pcap := filepath.Join(t.TempDir(), "fastreg.pcap")
	if err := tshark.WritePcap(pcap, tshark.Conversation{ClientPort: 40001, ServerPort: 3868}, segs); err != nil {
		t.Fatal(err)
	}
	verbose := tshark.Run(t, bin, "-r", pcap, "-o", "diameter.tcp.port:3868", "-V")
	if strings.Contains(strings.ToLower(verbose), "malformed") {
		t.Errorf("tshark reports a malformed packet:\n%s", tshark.Around(verbose, "alformed"))
	}
	if strings.Contains(verbose, "Severity level: Error") {
		t.Errorf("tshark reports an expert error:\n%s", tshark.Around(verbose, "Severity level:"))
	}
	frames := regexp.MustCompile(`(?m)^Frame \d+:`).Split(verbose, -1)[1:]
	if len(frames) != len(ss) {
		t.Fatalf("tshark shows %d frames, want %d", len(frames), len(ss))
	}
	avpLine := regexp.MustCompile(`(?m)^\s*AVP: `)
	for i, f := range frames {
		if !strings.Contains(f, "4294967294") {
			t.Errorf("frame %d: application id not shown:\n%s", i+1, tshark.Around(f, "ApplicationId"))
		}
		if !regexp.MustCompile(`Command Code: (Unknown \()?1677721[45]`).MatchString(f) {
			t.Errorf("frame %d: command code not shown:\n%s", i+1, tshark.Around(f, "Command Code"))
		}
		if got := len(avpLine.FindAllString(f, -1)); got != avps[i] {
			t.Errorf("frame %d (%s): tshark shows %d AVPs, we encoded %d", i+1, ss[i].name, got, avps[i])
		}
		if !strings.Contains(f, "Vendor-Id: 32473") && !strings.Contains(f, "Vendor-Id: Unknown (32473)") {
			t.Errorf("frame %d: Vendor-Id 32473 not shown:\n%s", i+1, tshark.Around(f, "Vendor-Id"))
		}
	}
	if !strings.Contains(verbose, "User-Name: alice@ims.example.net") {
		t.Error("tshark does not show the User-Name")
	}
}
