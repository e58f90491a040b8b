package proxy

import (
	"bytes"
	"io"
	"net"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
)

// countingRequest counts how often it is serialized.
type countingRequest struct {
	*sip.Request
	n int
}

func (c *countingRequest) StringWrite(w io.StringWriter) { c.n++; c.Request.StringWrite(w) }

// A request is serialized once for its size check, its first send and its retransmissions (RFC 3261 §17.1.2.2
// Timer E re-sends the same request); a new message is serialized again.
func TestUDPWritesSerializeOnce(t *testing.T) {
	p, err := New(Config{Listen: []Listen{{Addr: "127.0.0.1:0"}}, Router: RouterFunc(nil)}, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	sink, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	c := &udpConn{p: p, l: p.udp[0], dst: sink.LocalAddr().(*net.UDPAddr).AddrPort()}
	req := &countingRequest{Request: sip.NewRequest(sip.MESSAGE, sip.Uri{Scheme: "sip", User: "bob", Host: "ims"})}
	req.AppendHeader(sip.NewHeader("Call-ID", "wire-1"))
	req.SetBody([]byte("hello"))

	size := c.prepare(req)
	for range 3 {
		if err := c.WriteMsg(req); err != nil {
			t.Fatal(err)
		}
	}
	buf := make([]byte, 2048)
	var first []byte
	for i := range 3 {
		_ = sink.SetReadDeadline(time.Now().Add(waitLong))
		n, err := sink.Read(buf)
		if err != nil {
			t.Fatal(err)
		}
		if n != size {
			t.Errorf("datagram %d: %d bytes, prepare said %d", i, n, size)
		}
		if first == nil {
			first = append([]byte(nil), buf[:n]...)
		} else if !bytes.Equal(first, buf[:n]) {
			t.Errorf("datagram %d differs from the first", i)
		}
	}
	if req.n != 1 {
		t.Errorf("serialized %d times for a size check and three sends, want 1", req.n)
	}
	other := &countingRequest{Request: req.Request}
	if err := c.WriteMsg(other); err != nil {
		t.Fatal(err)
	}
	if other.n != 1 {
		t.Errorf("another message was not serialized (%d)", other.n)
	}
	_, _ = c.TryClose()
	if c.wire != nil {
		t.Error("the buffer outlives the transaction")
	}
}
