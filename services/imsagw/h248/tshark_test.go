package h248

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/imscore/imscore/internal/tshark"
)

// TestWiresharkDecodes has Wireshark's MEGACO dissector judge every sample message: no malformed packet, no
// expert error, and the transactions, commands and SDP seen where we put them.
func TestWiresharkDecodes(t *testing.T) {
	bin := tshark.Find(t)
	var dgrams []tshark.Segment
	for i, m := range sampleMessages() {
		dgrams = append(dgrams, tshark.Segment{Payload: Encode(m), FromClient: i%2 == 0})
	}
	path := filepath.Join(t.TempDir(), "iq.pcap")
	if err := tshark.WritePcapUDP(path, tshark.Conversation{ClientPort: 2944, ServerPort: 2944}, dgrams); err != nil {
		t.Fatal(err)
	}
	out := tshark.Run(t, bin, "-r", path, "-d", "udp.port==2944,megaco", "-V")
	for _, bad := range []string{"Malformed", "[Expert Info (Error", "Unknown"} {
		if strings.Contains(out, bad) {
			t.Fatalf("tshark reports %q:\n%s", bad, tshark.Around(out, bad))
		}
	}
	fields := tshark.Run(t, bin, "-r", path, "-d", "udp.port==2944,megaco", "-T", "fields",
		"-e", "megaco.transid", "-e", "megaco.command", "-e", "megaco.termid", "-e", "sdp.media")
	t.Logf("tshark fields:\n%s", fields)
	for _, want := range []string{"Add", "Modify", "Subtract", "Notify", "ip/1/access/5", "message"} {
		if !strings.Contains(fields, want) {
			t.Errorf("tshark did not see %q:\n%s", want, fields)
		}
	}
}
