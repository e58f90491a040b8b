package alg

import (
	"bytes"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"
)

func audioSDP(port int) []byte {
	return []byte(fmt.Sprintf("v=0\r\no=a 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"+
		"m=audio %d RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=rtcp-mux\r\nm=video 0 RTP/AVP 96\r\n", port))
}

// target reads the first audio section of an SDP body: where its receiver is to send.
func target(t *testing.T, b []byte) netip.AddrPort {
	t.Helper()
	s, err := parseSession(b)
	if err != nil {
		t.Fatal(err)
	}
	st, err := s.read(0)
	if err != nil {
		t.Fatal(err)
	}
	return netip.MustParseAddrPort(st.addr + ":" + st.port)
}

func udp(t *testing.T) *net.UDPConn {
	t.Helper()
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func udpPort(c *net.UDPConn) int { return c.LocalAddr().(*net.UDPAddr).Port }

func relay(t *testing.T, from *net.UDPConn, to netip.AddrPort, at *net.UDPConn, text string) {
	t.Helper()
	if _, err := from.WriteToUDPAddrPort([]byte(text), to); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 512)
	_ = at.SetReadDeadline(time.Now().Add(wait))
	n, _, err := at.ReadFromUDPAddrPort(buf)
	if err != nil || string(buf[:n]) != text {
		t.Fatalf("got %q, %v; want %q", buf[:n], err, text)
	}
}

// Media anchoring: the UE's offer and the core's answer each name the AGW's termination facing their
// receiver; RTP crosses both ways, the UE's packets latched from a port its SDP does not name; a changed answer
// reconfigures T2 only; release leaves no context.
func TestAnchorRTP(t *testing.T) {
	l := newLab(t)
	ueSock, coreSock := udp(t), udp(t)
	var m Media
	// The UE's SDP names port 9: behind its NAT the packets come from elsewhere.
	toCore, err := l.alg.AnchorRTP(ctx(t), &m, audioSDP(9), true)
	if err != nil {
		t.Fatal(err)
	}
	has(t, toCore, []string{"m=video 0 RTP/AVP 96", "a=rtcp:"}, []string{"m=audio 9 ", "a=rtcp-mux"})
	coreSDP := audioSDP(udpPort(coreSock))
	toUE, err := l.alg.AnchorRTP(ctx(t), &m, coreSDP, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Contexts()) != 1 || l.agw.Contexts() != 1 {
		t.Fatalf("contexts %v at the ALG, %d at the AGW; want 1", m.Contexts(), l.agw.Contexts())
	}
	t1, t2 := target(t, toUE), target(t, toCore)
	if t1 == t2 || t1.Port() == uint16(udpPort(coreSock)) {
		t.Fatalf("T1 %s, T2 %s", t1, t2)
	}
	relay(t, ueSock, t1, coreSock, "up")
	relay(t, coreSock, t2, ueSock, "down") // latched: port 9 was never used
	// The same answer again (a 200 repeating the 183's): no Iq; a new one: Configure of T2 only.
	if again, err := l.alg.AnchorRTP(ctx(t), &m, coreSDP, false); err != nil || !bytes.Equal(again, toUE) {
		t.Fatalf("repeated answer: %v\n%s", err, again)
	}
	core2 := udp(t)
	if _, err := l.alg.AnchorRTP(ctx(t), &m, audioSDP(udpPort(core2)), false); err != nil {
		t.Fatal(err)
	}
	relay(t, ueSock, t1, core2, "moved")
	for _, id := range m.Contexts() {
		if err := l.alg.ReleaseContext(ctx(t), id); err != nil {
			t.Fatal(err)
		}
	}
	if l.agw.Contexts() != 0 {
		t.Fatalf("%d AGW contexts after release", l.agw.Contexts())
	}
	if strings.Contains(string(toUE), "a=rtcp-mux") {
		t.Fatal("rtcp-mux offered through the AGW")
	}
}

// BenchmarkSessions: one e2ae MSRP stream per iteration through its whole Iq life against a real AGW
// (Reserve and Configure at the offer, Configure at the answer, Release): sessions/s of the ALG and AGW
// control path. The AGW must hold no context afterwards (-benchtime=10000x for the 10,000 sessions).
func BenchmarkSessions(b *testing.B) {
	l := newLab(b)
	u := newUE(b)
	offer, answer := ueOffer(u, "actpass"), coreSDP(7777, "active") // the AGW listens at T2: nothing dials
	b.ReportAllocs()
	for b.Loop() {
		st, _, err := l.alg.OriginatingOffer(ctx(b), offer, OnAnswer)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := l.alg.OriginatingAnswer(ctx(b), st, answer); err != nil {
			b.Fatal(err)
		}
		if err := l.alg.Release(ctx(b), st); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	if n := l.agw.Contexts(); n != 0 {
		b.Fatalf("%d AGW contexts left after %d sessions", n, b.N)
	}
}
