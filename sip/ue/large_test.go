package ue

import (
	"net"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
)

// A request over 1300 bytes goes over TCP even when the UE registered over UDP (RFC 3261 §18.1.1), to the same
// P-CSCF port; a small one stays on UDP.
func TestLargeRequestOverTCP(t *testing.T) {
	p := newPeer(t)
	u := newTestUE(t, p)
	p.registerPlain(t, u, "600")

	// The P-CSCF's TCP listener on the port of its unprotected UDP socket.
	ln, err := net.ListenTCP("tcp", net.TCPAddrFromAddrPort(p.addr()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	type stream struct {
		req *sip.Request
		c   net.Conn
	}
	tcpIn := make(chan stream, 4)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		_ = readStream(c, sip.NewParser(), func(m sip.Message) {
			if r, ok := m.(*sip.Request); ok {
				tcpIn <- stream{r, c}
			}
		})
	}()

	text := strings.Repeat("x", 2000)
	wait := async(func() error { _, err := u.Message(ctx(t), "sip:bob@ims.test", text); return err })
	var got stream
	select {
	case got = <-tcpIn:
	case g := <-p.in:
		t.Fatalf("a %d-byte MESSAGE arrived over UDP, want TCP (RFC 3261 §18.1.1)", len(g.msg.String()))
	case <-time.After(10 * time.Second):
		t.Fatal("no 2 kB MESSAGE over TCP")
	}
	if via := got.req.Via(); via == nil || via.Transport != "TCP" {
		t.Errorf("Via %v of the MESSAGE sent over TCP, want TCP", via)
	}
	if string(got.req.Body()) != text {
		t.Errorf("body of %d bytes arrived, want %d", len(got.req.Body()), len(text))
	}
	res := sip.NewResponseFromRequest(got.req, 200, "OK", nil)
	if _, err := got.c.Write([]byte(res.String())); err != nil {
		t.Fatal(err)
	}
	if err := wait(t); err != nil {
		t.Fatal(err)
	}

	// A small request stays on UDP.
	wait = async(func() error { _, err := u.Message(ctx(t), "sip:bob@ims.test", "hi"); return err })
	req, g := p.request(sip.MESSAGE)
	p.respond(g, req, 200, "OK")
	if err := wait(t); err != nil {
		t.Fatal(err)
	}
}
