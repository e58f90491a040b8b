package imsagw

import (
	"io"
	"net/netip"
	"testing"
	"time"

	"github.com/imscore/imscore/services/imsagw/h248"
)

// BenchmarkMSRPRelay measures the bytes per second the AGW relays from a UE's TLS connection at T1 to the
// core's TCP connection at T2 (64 KiB writes; MB/s in the output).
func BenchmarkMSRPRelay(b *testing.B) {
	n := startAGW(b, nil)
	alg := startController(b, n.IqAddr(), "127.0.0.1:0")
	_, ueConn, coreConn := connectedCall(b, alg)
	_ = ueConn.SetDeadline(timeZero)
	_ = coreConn.SetDeadline(timeZero)
	chunk := make([]byte, 64<<10)
	done := make(chan error, 1)
	total := int64(b.N) * int64(len(chunk))
	go func() {
		_, err := io.CopyN(io.Discard, coreConn, total)
		done <- err
	}()
	b.SetBytes(int64(len(chunk)))
	b.ResetTimer()
	for range b.N {
		if _, err := ueConn.Write(chunk); err != nil {
			b.Fatal(err)
		}
	}
	if err := <-done; err != nil {
		b.Fatal(err)
	}
}

// BenchmarkRTPRelay measures RTP packets per second relayed from T1 to T2 (G.711 20 ms: 172-byte datagrams),
// one packet in flight at a time (the latency-bound rate of one stream, not the node's capacity).
func BenchmarkRTPRelay(b *testing.B) {
	n := startAGW(b, nil)
	alg := startController(b, n.IqAddr(), "127.0.0.1:0")
	ue, core := udpSocket(b, "127.0.0.1"), udpSocket(b, "127.0.0.1")
	tr := alg.must(h248.Choose,
		h248.Command("Add", h248.Choose, stream("v=0\r\nc=IN IP4 $\r\nm=audio $ RTP/AVP 0\r\n", rtpSDP("127.0.0.1", port(ue), 0),
			h248.Prop(PropRealm, `"access"`))),
		h248.Command("Add", h248.Choose, stream("v=0\r\nc=IN IP4 $\r\nm=audio $ RTP/AVP 0\r\n", rtpSDP("127.0.0.1", port(core), 0),
			h248.Prop(PropRealm, `"core"`))))
	t1 := netip.MustParseAddrPort(addsOf(b, tr)[0].addr(b))
	pkt := make([]byte, 172)
	buf := make([]byte, 2048)
	_ = core.SetReadDeadline(timeZero)
	b.ResetTimer()
	for range b.N {
		if _, err := ue.WriteToUDPAddrPort(pkt, t1); err != nil {
			b.Fatal(err)
		}
		if _, _, err := core.ReadFromUDPAddrPort(buf); err != nil {
			b.Fatal(err)
		}
	}
}

// timeZero clears a deadline.
var timeZero time.Time
