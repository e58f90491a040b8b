package paatest

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/imscore/imscore/internal/tshark"
)

// CheckPANA writes datagrams as a UDP conversation with port 716 (PANA, RFC 5191 §10.2) and fails the test
// on a packet tshark does not dissect as PANA or finds malformed; it returns the verbose dissection.
func CheckPANA(t testing.TB, bin string, dgrams []tshark.Segment) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "pana.pcap")
	if err := tshark.WritePcapUDP(path, tshark.Conversation{ClientPort: 40000, ServerPort: 716}, dgrams); err != nil {
		t.Fatal(err)
	}
	out := tshark.Run(t, bin, "-r", path, "-V")
	if strings.Contains(strings.ToLower(out), "malformed") || strings.Contains(out, "Severity level: Error") {
		t.Errorf("tshark reports a malformed packet:\n%s", tshark.Around(out, "alformed"))
	}
	if n := strings.Count(out, "Protocol for carrying Authentication for Network Access"); n != len(dgrams) {
		t.Errorf("tshark dissected %d of %d datagrams as PANA", n, len(dgrams))
	}
	return out
}
