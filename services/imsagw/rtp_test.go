package imsagw

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"testing"
	"time"

	"github.com/imscore/imscore/services/imsagw/h248"
)

func udpSocket(t testing.TB, ip string) *net.UDPConn {
	t.Helper()
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.ParseIP(ip)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func port(c *net.UDPConn) int { return c.LocalAddr().(*net.UDPAddr).Port }

// recv reads one datagram; a zero AddrPort when none came within d.
func recv(t *testing.T, c *net.UDPConn, d time.Duration) (string, netip.AddrPort) {
	t.Helper()
	buf := make([]byte, 2048)
	_ = c.SetReadDeadline(time.Now().Add(d))
	n, from, err := c.ReadFromUDPAddrPort(buf)
	if err != nil {
		return "", netip.AddrPort{}
	}
	return string(buf[:n]), netip.AddrPortFrom(from.Addr().Unmap(), from.Port())
}

func rtpSDP(addr string, rtpPort, rtcpPort int) string {
	s := fmt.Sprintf("v=0\r\nc=IN IP4 %s\r\nm=audio %d RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n", addr, rtpPort)
	if rtcpPort != 0 {
		s += "a=rtcp:" + strconv.Itoa(rtcpPort) + "\r\n"
	}
	return s
}

type rtpCall struct {
	ctx    string
	t1, t2 added
	t1RTCP int
}

func reserveRTP(t *testing.T, alg *controller, ueSDP, coreSDP string, t1Props ...*h248.Node) rtpCall {
	t.Helper()
	tr := alg.must(h248.Choose,
		h248.Command("Add", h248.Choose, stream("v=0\r\nc=IN IP4 $\r\nm=audio $ RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\n", ueSDP,
			append([]*h248.Node{h248.Prop(PropRealm, `"access"`)}, t1Props...)...), events("1")),
		h248.Command("Add", h248.Choose, stream("v=0\r\nc=IN IP4 $\r\nm=audio $ RTP/AVP 0 101\r\n", coreSDP,
			h248.Prop(PropRealm, `"core"`)), events("2")))
	as := addsOf(t, tr)
	c := rtpCall{ctx: as[0].context, t1: as[0], t2: as[1]}
	p, ok := c.t1.local.rtcpPort()
	if !ok || c.t1.local.Proto != ProtoRTPAVP || c.t1.local.Setup != "" {
		t.Fatalf("T1 Local = %+v", c.t1.local)
	}
	c.t1RTCP = int(p)
	return c
}

// Hosted NAT traversal: the UE's SDP names an address and port its NAT does not use; with latching the AGW
// sends the core's packets back to where the UE's come from. RTP and RTCP are relayed both ways.
func TestRTPLatching(t *testing.T) {
	n := startAGW(t, nil)
	alg := startController(t, n.IqAddr(), "127.0.0.1:0")
	ueRTP, ueRTCP := udpSocket(t, "127.0.0.1"), udpSocket(t, "127.0.0.1")
	coreRTP, coreRTCP := udpSocket(t, "127.0.0.1"), udpSocket(t, "127.0.0.1")
	c := reserveRTP(t, alg, rtpSDP("127.0.0.1", 9, 11), rtpSDP("127.0.0.1", port(coreRTP), port(coreRTCP)),
		h248.Prop(PropLatch, "on"), h248.Prop(PropSAF, "on"))
	t1 := netip.MustParseAddrPort(c.t1.addr(t))
	t2 := netip.MustParseAddrPort(c.t2.addr(t))
	for i := range 3 {
		if _, err := ueRTP.WriteToUDPAddrPort([]byte(fmt.Sprintf("rtp-up-%d", i)), t1); err != nil {
			t.Fatal(err)
		}
		got, from := recv(t, coreRTP, wait)
		if got != fmt.Sprintf("rtp-up-%d", i) || from != t2 {
			t.Fatalf("core got %q from %s, want rtp-up-%d from T2 %s", got, from, i, t2)
		}
		if _, err := coreRTP.WriteToUDPAddrPort([]byte(fmt.Sprintf("rtp-down-%d", i)), t2); err != nil {
			t.Fatal(err)
		}
		got, from = recv(t, ueRTP, wait)
		if got != fmt.Sprintf("rtp-down-%d", i) || from != t1 {
			t.Fatalf("UE got %q from %s, want rtp-down-%d from T1 %s (latched, not port 9)", got, from, i, t1)
		}
	}
	t1RTCP := netip.AddrPortFrom(t1.Addr(), uint16(c.t1RTCP))
	if _, err := ueRTCP.WriteToUDPAddrPort([]byte("rtcp-up"), t1RTCP); err != nil {
		t.Fatal(err)
	}
	if got, _ := recv(t, coreRTCP, wait); got != "rtcp-up" {
		t.Fatalf("core RTCP got %q", got)
	}
	// Source filtering: a packet from 127.0.0.2 is dropped and does not move the latch.
	other := udpSocket(t, "127.0.0.2")
	if _, err := other.WriteToUDPAddrPort([]byte("intruder"), t1); err != nil {
		t.Fatal(err)
	}
	if _, err := ueRTP.WriteToUDPAddrPort([]byte("after"), t1); err != nil {
		t.Fatal(err)
	}
	if got, _ := recv(t, coreRTP, wait); got != "after" {
		t.Fatalf("core got %q, want the UE's packet and not the intruder's", got)
	}
	if got := counterValue(n.metrics.refused.WithLabelValues(refusedRTPSource)); got != 1 {
		t.Fatalf("refused{rtp_source} = %v, want 1", got)
	}
	alg.must(c.ctx, h248.Subtract(h248.All))
	if _, err := ueRTP.WriteToUDPAddrPort([]byte("late"), t1); err != nil {
		t.Fatal(err)
	}
	if got, _ := recv(t, coreRTP, 300*time.Millisecond); got != "" {
		t.Fatalf("relayed %q after Subtract", got)
	}
}

// Media inactivity releases an RTP bearer and tells the ALG.
func TestRTPInactivity(t *testing.T) {
	n := startAGW(t, func(c *Config) { c.RTPIdleTimeout = 200 * time.Millisecond })
	alg := startController(t, n.IqAddr(), "127.0.0.1:0")
	ueRTP, coreRTP := udpSocket(t, "127.0.0.1"), udpSocket(t, "127.0.0.1")
	c := reserveRTP(t, alg, rtpSDP("127.0.0.1", port(ueRTP), 0), rtpSDP("127.0.0.1", port(coreRTP), 0))
	if _, err := ueRTP.WriteToUDPAddrPort([]byte("one"), netip.MustParseAddrPort(c.t1.addr(t))); err != nil {
		t.Fatal(err)
	}
	if got, _ := recv(t, coreRTP, wait); got != "one" {
		t.Fatalf("core got %q", got)
	}
	for _, id := range []string{c.t1.id, c.t2.id} {
		if got := alg.waitNotify(id); got.cause != causeNormalRelease {
			t.Fatalf("Notify %+v, want g/cause NR", got)
		}
	}
}
