//go:build linux

package imsagw

import (
	"net"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// tosOf reads one datagram on c (IP_RECVTOS on) and returns its payload and the TOS octet it arrived with.
func tosOf(t *testing.T, c *net.UDPConn) (string, int) {
	t.Helper()
	buf, oob := make([]byte, 2048), make([]byte, 128)
	_ = c.SetReadDeadline(time.Now().Add(wait))
	n, oobn, _, _, err := c.ReadMsgUDP(buf, oob)
	if err != nil {
		t.Fatalf("no datagram: %v", err)
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range msgs {
		if m.Header.Level == unix.IPPROTO_IP && m.Header.Type == unix.IP_TOS && len(m.Data) > 0 {
			return string(buf[:n]), int(m.Data[0])
		}
	}
	t.Fatal("no IP_TOS control message")
	return "", 0
}

// The RTP and RTCP the AGW relays leave it marked with media_dscp (default EF, RFC 3246), on the wire: the
// core side reads the TOS octet of what arrives; 0 leaves them unmarked.
func TestMediaDSCP(t *testing.T) {
	for _, tc := range []struct {
		name string
		code uint8
	}{{"default EF", 46}, {"off", 0}} {
		t.Run(tc.name, func(t *testing.T) {
			n := startAGW(t, func(c *Config) { c.MediaDSCP = tc.code })
			alg := startController(t, n.IqAddr(), "127.0.0.1:0")
			ueRTP, coreRTP, coreRTCP := udpSocket(t, "127.0.0.1"), udpSocket(t, "127.0.0.1"), udpSocket(t, "127.0.0.1")
			for _, c := range []*net.UDPConn{coreRTP, coreRTCP} {
				rc, err := c.SyscallConn()
				if err != nil {
					t.Fatal(err)
				}
				if err := rc.Control(func(fd uintptr) { err = unix.SetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_RECVTOS, 1) }); err != nil {
					t.Fatal(err)
				}
			}
			c := reserveRTP(t, alg, rtpSDP("127.0.0.1", port(ueRTP), 0), rtpSDP("127.0.0.1", port(coreRTP), port(coreRTCP)))
			t1 := c.t1.addr(t)
			dst, err := net.ResolveUDPAddr("udp", t1)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := ueRTP.WriteToUDP([]byte("voice"), dst); err != nil {
				t.Fatal(err)
			}
			got, tos := tosOf(t, coreRTP)
			if got != "voice" || tos>>2 != int(tc.code) {
				t.Fatalf("core received %q with TOS %#x (DSCP %d), want DSCP %d", got, tos, tos>>2, tc.code)
			}
		})
	}
}
