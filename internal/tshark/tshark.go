// Package tshark lets tests have Wireshark's dissectors judge our wire format: it finds tshark
// (skipping, or failing in CI, when it is missing), writes payloads into a pcap as a loopback TCP
// conversation, captures live loopback traffic, and runs the dissector over a capture.
//
// Wireshark is the reference a field engineer reaches for first, so "tshark decodes it with no
// malformed packet and every AVP named" is the check that matters to users of imscore.
package tshark

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// Find returns the tshark binary. Without it the test is skipped, or fails when CI=true: CI
// installs tshark, so a missing one there is a broken pipeline, not a reason to skip.
func Find(t testing.TB) string {
	t.Helper()
	path, err := exec.LookPath("tshark")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("tshark is required in CI: %v", err)
		}
		t.Skipf("tshark not installed (apt-get install tshark): %v", err)
	}
	return path
}

// Segment is one TCP payload of a conversation between a client and a server port on 127.0.0.1.
type Segment struct {
	Payload    []byte
	FromClient bool
}

// Conversation names the two ports of a loopback TCP conversation.
type Conversation struct {
	ClientPort, ServerPort uint16
}

// WritePcap writes segments as a classic libpcap file (LINKTYPE_ETHERNET): one Ethernet/IPv4/TCP
// frame per segment, with correct lengths, IPv4 and TCP checksums (RFC 1071) and continuous
// sequence numbers per direction, so that tshark reassembles and dissects exactly our bytes.
func WritePcap(path string, conv Conversation, segments []Segment) error {
	out := pcapHeader()
	seq := map[bool]uint32{true: 1000, false: 5000}
	for i, s := range segments {
		frame := tcpFrame(conv, s, seq[s.FromClient], seq[!s.FromClient])
		seq[s.FromClient] += uint32(len(s.Payload))
		out = appendRecord(out, i, frame)
	}
	if err := os.WriteFile(path, out, 0o644); err != nil {
		return fmt.Errorf("write pcap: %w", err)
	}
	return nil
}

// pcapHeader is a classic libpcap file header: microsecond timestamps, version 2.4, LINKTYPE_ETHERNET.
func pcapHeader() []byte {
	le := binary.LittleEndian
	out := make([]byte, 24)
	le.PutUint32(out[0:], 0xa1b2c3d4) // magic, microsecond timestamps
	le.PutUint16(out[4:], 2)          // version 2.4
	le.PutUint16(out[6:], 4)
	le.PutUint32(out[16:], 262144) // snaplen
	le.PutUint32(out[20:], 1)      // LINKTYPE_ETHERNET
	return out
}

// appendRecord appends frame as the i-th packet record, one second after the previous one.
func appendRecord(out []byte, i int, frame []byte) []byte {
	le := binary.LittleEndian
	rec := make([]byte, 16)
	le.PutUint32(rec[0:], 1700000000+uint32(i))
	le.PutUint32(rec[8:], uint32(len(frame)))
	le.PutUint32(rec[12:], uint32(len(frame)))
	return append(append(out, rec...), frame...)
}

func tcpFrame(conv Conversation, s Segment, seq, ack uint32) []byte {
	be := binary.BigEndian
	frame := loopbackFrame(conv, s, 6, 20, 0x4000) // TCP, DF
	tcp := frame[34:54]
	be.PutUint32(tcp[4:], seq)
	be.PutUint32(tcp[8:], ack)
	tcp[12] = 5 << 4 // data offset
	tcp[13] = 0x18   // PSH, ACK
	be.PutUint16(tcp[14:], 65535)
	frame = append(frame, s.Payload...)
	segment := frame[34:]
	// Pseudo-header: 127.0.0.1 twice, protocol 6, TCP length.
	pseudo := uint32(0x7f00+0x0001)*2 + 6 + uint32(len(segment))
	be.PutUint16(tcp[16:], checksum(segment, pseudo))
	return frame
}

// loopbackFrame starts one Ethernet/IPv4 frame from 127.0.0.1 to 127.0.0.1 carrying protocol proto: the
// Ethernet and IPv4 headers (with its checksum, RFC 1071), the transport header's ports in the direction of
// s, and room for the rest of a transport header of l4Len bytes; the payload is for the caller to append.
func loopbackFrame(conv Conversation, s Segment, proto byte, l4Len int, ipFlags uint16) []byte {
	be := binary.BigEndian
	frame := make([]byte, 14+20+l4Len, 14+20+l4Len+len(s.Payload))
	copy(frame[0:6], []byte{0x02, 0, 0, 0, 0, 0x02})
	copy(frame[6:12], []byte{0x02, 0, 0, 0, 0, 0x01})
	be.PutUint16(frame[12:], 0x0800)
	ip := frame[14:34]
	ip[0] = 0x45
	be.PutUint16(ip[2:], uint16(20+l4Len+len(s.Payload)))
	be.PutUint16(ip[6:], ipFlags)
	ip[8], ip[9] = 64, proto // TTL, protocol
	copy(ip[12:16], []byte{127, 0, 0, 1})
	copy(ip[16:20], []byte{127, 0, 0, 1})
	be.PutUint16(ip[10:], checksum(ip, 0))
	src, dst := conv.ServerPort, conv.ClientPort
	if s.FromClient {
		src, dst = dst, src
	}
	be.PutUint16(frame[34:], src)
	be.PutUint16(frame[36:], dst)
	return frame
}

// WritePcapUDP writes datagrams as a classic libpcap file: one Ethernet/IPv4/UDP frame per datagram
// between the conversation's two ports on 127.0.0.1, with correct lengths and checksums (RFC 768, RFC 1071).
func WritePcapUDP(path string, conv Conversation, datagrams []Segment) error {
	be := binary.BigEndian
	out := pcapHeader()
	for i, d := range datagrams {
		frame := loopbackFrame(conv, d, 17, 8, 0) // UDP
		udp := frame[34:42]
		be.PutUint16(udp[4:], uint16(8+len(d.Payload)))
		frame = append(frame, d.Payload...)
		pseudo := uint32(0x7f00+0x0001)*2 + 17 + uint32(8+len(d.Payload))
		if c := checksum(frame[34:], pseudo); c != 0 {
			be.PutUint16(udp[6:], c)
		} else {
			be.PutUint16(udp[6:], 0xffff) // RFC 768: a computed zero is sent as all ones
		}
		out = appendRecord(out, i, frame)
	}
	if err := os.WriteFile(path, out, 0o644); err != nil {
		return fmt.Errorf("write pcap: %w", err)
	}
	return nil
}

// checksum is the Internet checksum (RFC 1071) of b, starting from sum.
func checksum(b []byte, sum uint32) uint16 {
	for i := 0; i+1 < len(b); i += 2 {
		sum += uint32(b[i])<<8 | uint32(b[i+1])
	}
	if len(b)%2 == 1 {
		sum += uint32(b[len(b)-1]) << 8
	}
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}

// Run runs tshark with args and returns its standard output (tshark's notices, such as the
// warning about running as root, go to standard error), failing the test on error.
func Run(t testing.TB, bin string, args ...string) string {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("tshark %s: %v\n%s%s", strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.String()
}

// captureStartTimeout bounds tshark's start (loading its dissectors): seconds on a quiet machine, tens of
// seconds on a loaded one (a CI runner linking binaries meanwhile).
const captureStartTimeout = 60 * time.Second

// Capture is a live capture running in the background.
type Capture struct {
	path   string
	cmd    *exec.Cmd
	cancel context.CancelFunc
	done   chan error
	once   sync.Once
	stderr *bytes.Buffer
}

// StartCapture captures iface (e.g. "lo") with a BPF filter into a file in t.TempDir() and returns
// once tshark says it is capturing. Capturing needs CAP_NET_RAW: without it the test is skipped,
// or fails when CI=true (CI runs as root). The capture is stopped at cleanup if Stop was not called.
func StartCapture(t testing.TB, bin, iface, filter string) *Capture {
	t.Helper()
	return StartCaptureIn(t, bin, nil, iface, filter)
}

// Namespace is a network namespace a test created (sip/ipsec/ipsectest.NS is one): Do runs fn on an OS thread
// inside it; a process started by fn belongs to it.
type Namespace interface {
	Do(fn func() error) error
}

// StartCaptureIn is StartCapture on an interface of the network namespace ns (nil: the test's own), such as
// one end of a veth link between two namespaces.
func StartCaptureIn(t testing.TB, bin string, ns Namespace, iface, filter string) *Capture {
	t.Helper()
	path := filepath.Join(t.TempDir(), "live.pcapng")
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, "-i", iface, "-f", filter, "-w", path, "-q")
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 10 * time.Second
	stderr, err := cmd.StderrPipe()
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	start := cmd.Start
	if ns != nil {
		start = func() error { return ns.Do(cmd.Start) }
	}
	if err := start(); err != nil {
		cancel()
		t.Fatalf("start tshark capture: %v", err)
	}
	c := &Capture{path: path, cmd: cmd, cancel: cancel, done: make(chan error, 1), stderr: &bytes.Buffer{}}
	ready := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		signalled := false
		for sc.Scan() {
			line := sc.Text()
			c.stderr.WriteString(line + "\n")
			// "Capturing on 'lo'" comes first; packets are only recorded after "Capture started".
			if !signalled && strings.Contains(line, "Capture started") {
				signalled = true
				ready <- true
			}
		}
		if !signalled {
			ready <- false
		}
		c.done <- cmd.Wait()
	}()
	t.Cleanup(func() { _, _ = c.stop() })
	select {
	case ok := <-ready:
		if !ok {
			_, err := c.stop()
			msg := fmt.Sprintf("tshark could not capture on %s: %v\n%s", iface, err, c.stderr)
			if os.Getenv("CI") == "true" {
				t.Fatal(msg)
			}
			t.Skip(msg)
		}
	case <-time.After(captureStartTimeout):
		t.Fatalf("tshark did not start capturing on %s within %v\n%s", iface, captureStartTimeout, c.stderr)
	}
	return c
}

// Stop ends the capture, lets tshark flush, and returns the capture file.
func (c *Capture) Stop(t testing.TB) string {
	t.Helper()
	path, err := c.stop()
	if err != nil {
		t.Fatalf("tshark capture: %v\n%s", err, c.stderr)
	}
	return path
}

func (c *Capture) stop() (string, error) {
	var err error
	c.once.Do(func() {
		// Give the kernel a moment to hand the last segments to the capture before it ends.
		time.Sleep(300 * time.Millisecond)
		c.cancel()
		err = <-c.done
		// Ended by our interrupt: Wait reports the cancelled context, or a signal exit.
		var exit *exec.ExitError
		if errors.Is(err, context.Canceled) || (errors.As(err, &exit) && !exit.Exited()) {
			err = nil
		}
		if err == nil {
			if _, statErr := os.Stat(c.path); statErr != nil {
				err = fmt.Errorf("no capture file: %w", statErr)
			}
		}
	})
	return c.path, err
}

// unknownAVP is how tshark names an AVP its dictionary lacks.
var unknownAVP = regexp.MustCompile(`AVP: Unknown\(\d+\)`)

// DecodeDiameter dissects a capture as Diameter on port (decode-as, since tests use ephemeral ports
// rather than the registered 3868) and fails the test on a malformed packet, an error-level
// finding or an AVP tshark cannot name. It returns the full dissection (-V) for further checks.
func DecodeDiameter(t testing.TB, bin, path string, port int) string {
	t.Helper()
	verbose := Run(t, bin, "-r", path, "-d", fmt.Sprintf("tcp.port==%d,diameter", port), "-V")
	if strings.Contains(strings.ToLower(verbose), "malformed") {
		t.Errorf("tshark reports a malformed packet:\n%s", Around(verbose, "alformed"))
	}
	if strings.Contains(verbose, "Severity level: Error") {
		t.Errorf("tshark reports an error:\n%s", Around(verbose, "Severity level: Error"))
	}
	if m := unknownAVP.FindString(verbose); m != "" {
		t.Errorf("tshark does not know an AVP we sent:\n%s", Around(verbose, m))
	}
	return verbose
}

// Around returns the text near the first occurrence of s, for a readable failure message.
func Around(text, s string) string {
	i := strings.Index(text, s)
	if i < 0 {
		return ""
	}
	return text[max(0, i-1500):min(len(text), i+500)]
}
