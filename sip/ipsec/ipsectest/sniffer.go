package ipsectest

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"testing"

	"golang.org/x/sys/unix"
)

// IP protocol numbers the sniffer sorts frames by.
const (
	ipProtoTCP = 6
	ipProtoUDP = 17
	ipProtoESP = 50
)

// Sniffer captures every frame crossing one interface, both directions, with an AF_PACKET
// socket, so that a test can check what went over the wire: ESP only, with the expected SPIs,
// and no plaintext.
type Sniffer struct {
	fd int
}

// NewSniffer opens the capture on interface ifindex of namespace ns. It is closed when the test ends.
func NewSniffer(t testing.TB, ns *NS, ifindex int) *Sniffer {
	t.Helper()
	s := &Sniffer{fd: -1}
	ethAll := int(htons(unix.ETH_P_ALL))
	err := ns.Do(func() error {
		fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, ethAll)
		if err != nil {
			return fmt.Errorf("AF_PACKET socket: %w", err)
		}
		if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: ifindex}); err != nil {
			unix.Close(fd)
			return fmt.Errorf("bind to ifindex %d: %w", ifindex, err)
		}
		s.fd = fd
		return nil
	})
	if err != nil {
		t.Fatalf("sniffer in %s: %v", ns.Name, err)
	}
	t.Cleanup(func() { unix.Close(s.fd) })
	return s
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// Capture is what the sniffer saw.
type Capture struct {
	ESPBySPI map[uint32]int // ESP frames per SPI
	Plain    int            // UDP and TCP frames that were not inside ESP
	Frames   [][]byte       // every IPv4/IPv6 frame, whole
}

// Contains reports whether any captured frame contains b, e.g. a plaintext marker.
func (c Capture) Contains(b []byte) bool {
	for _, f := range c.Frames {
		if bytes.Contains(f, b) {
			return true
		}
	}
	return false
}

// Drain returns the frames queued since the last Drain, without waiting for more. Frames are
// queued on the socket as they cross the interface, so by the time a test has its echo back,
// the frames that carried it are there.
func (s *Sniffer) Drain(t testing.TB) Capture {
	t.Helper()
	c := Capture{ESPBySPI: map[uint32]int{}}
	buf := make([]byte, 65536)
	for {
		n, _, err := unix.Recvfrom(s.fd, buf, unix.MSG_DONTWAIT)
		if errors.Is(err, unix.EAGAIN) {
			return c
		}
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			t.Fatalf("sniffer: %v", err)
		}
		frame := append([]byte(nil), buf[:n]...)
		proto, payload, ok := ipPayload(frame)
		if !ok {
			continue // ARP, or too short to be IP
		}
		c.Frames = append(c.Frames, frame)
		switch proto {
		case ipProtoESP:
			if len(payload) >= 4 {
				c.ESPBySPI[binary.BigEndian.Uint32(payload[:4])]++ // RFC 4303 §2: the SPI leads the ESP header
			}
		case ipProtoTCP, ipProtoUDP:
			c.Plain++
		}
	}
}

// ipPayload returns the IP protocol and payload of an Ethernet frame.
func ipPayload(frame []byte) (uint8, []byte, bool) {
	if len(frame) < 14 {
		return 0, nil, false
	}
	ip := frame[14:]
	switch binary.BigEndian.Uint16(frame[12:14]) {
	case unix.ETH_P_IP:
		if len(ip) < 20 {
			return 0, nil, false
		}
		ihl := int(ip[0]&0x0f) * 4
		if ihl < 20 || len(ip) < ihl {
			return 0, nil, false
		}
		return ip[9], ip[ihl:], true
	case unix.ETH_P_IPV6:
		if len(ip) < 40 {
			return 0, nil, false
		}
		return ip[6], ip[40:], true // transport-mode ESP follows the fixed header directly
	}
	return 0, nil, false
}
