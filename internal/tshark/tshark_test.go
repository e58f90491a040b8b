package tshark

import (
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func TestChecksum(t *testing.T) {
	// RFC 1071 §3 example bytes: 00 01 f2 03 f4 f5 f6 f7 sum to ddf2; the checksum is its complement.
	got := checksum([]byte{0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7}, 0)
	if got != ^uint16(0xddf2) {
		t.Fatalf("checksum = %#04x, want %#04x", got, ^uint16(0xddf2))
	}
}

// TestWritePcapDissects proves the pcap writer against tshark itself: two TCP segments each way,
// with tshark seeing both directions, the ports, and no bad checksum.
func TestWritePcapDissects(t *testing.T) {
	bin := Find(t)
	path := filepath.Join(t.TempDir(), "x.pcap")
	segs := []Segment{{Payload: []byte("hello"), FromClient: true}, {Payload: []byte("world!"), FromClient: false}}
	if err := WritePcap(path, Conversation{ClientPort: 40000, ServerPort: 9999}, segs); err != nil {
		t.Fatal(err)
	}
	out := Run(t, bin, "-r", path, "-o", "tcp.check_checksum:TRUE", "-T", "fields", "-e", "tcp.srcport", "-e", "tcp.len", "-e", "tcp.checksum.status")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	want := []string{"40000\t5\t1", "9999\t6\t1"} // status 1 = good
	if len(lines) != len(want) {
		t.Fatalf("got %d packets:\n%s", len(lines), out)
	}
	for i := range want {
		if lines[i] != want[i] {
			t.Errorf("packet %d: %q, want %q", i, lines[i], want[i])
		}
	}
}

func TestLiveCapture(t *testing.T) {
	bin := Find(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	c := StartCapture(t, bin, "lo", "tcp port "+strconv.Itoa(port))
	go func() {
		conn, err := ln.Accept()
		if err == nil {
			_, _ = conn.Write([]byte("marker-from-server"))
			conn.Close()
		}
	}()
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	n, _ := conn.Read(buf)
	conn.Close()
	if string(buf[:n]) != "marker-from-server" {
		t.Fatalf("read %q", buf[:n])
	}
	path := c.Stop(t)
	out := Run(t, bin, "-r", path, "-T", "fields", "-e", "tcp.payload")
	if !strings.Contains(out, "6d61726b65722d66726f6d2d736572766572") { // hex of the marker
		t.Fatalf("marker not in capture:\n%s", out)
	}
}
