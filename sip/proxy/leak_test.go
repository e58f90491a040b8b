package proxy

import (
	"context"
	"testing"

	"github.com/emiago/sipgo/sip"
)

// TestNoGoroutineLeakAfterClose leaves work in every state (a ringing INVITE, TCP connections both ways, a Send
// waiting for an answer) and checks that Close ends all of it.
func TestNoGoroutineLeakAfterClose(t *testing.T) {
	checkLeaksAtEnd(t)
	ringing := make(chan struct{})
	c := startChain(t, true, uasHandlers{
		sip.INVITE: func(u *testUAS, req *sip.Request, tx sip.ServerTransaction) {
			u.respond(req, tx, 180, "Ringing")
			close(ringing)
			<-tx.Done()
		},
	})
	// A completed MESSAGE over UDP and one over TCP (the UAS port takes both).
	udpUA := newRawUDP(t, "127.0.0.1:0")
	udpUA.send(udpUA.request(reqOpts{method: sip.MESSAGE, ruri: "sip:bob@ims.mnc001.mcc001.3gppnetwork.org"}), c.a.addr(transportUDP))
	if res := udpUA.final(); res.StatusCode != 200 {
		t.Fatalf("MESSAGE: %s", res.StartLine())
	}
	tcpUA := newRawTCP(t, c.a.addr(transportTCP))
	tcpUA.send(tcpUA.request(reqOpts{method: sip.MESSAGE, ruri: "sip:bob@ims.mnc001.mcc001.3gppnetwork.org", body: make([]byte, 1400)}), c.a.addr(transportTCP))
	if res := tcpUA.final(); res.StatusCode != 200 {
		t.Fatalf("large MESSAGE over TCP: %s", res.StartLine())
	}
	// An INVITE left ringing: server and client transactions, Timer C armed.
	udpUA.send(udpUA.request(reqOpts{method: sip.INVITE, ruri: "sip:bob@ims.mnc001.mcc001.3gppnetwork.org"}), c.a.addr(transportUDP))
	udpUA.response(180, 100)
	<-ringing
	// A Send still waiting when Close comes.
	sendDone := make(chan error, 1)
	go func() {
		_, err := c.b.Send(context.Background(), udpUA.request(reqOpts{method: sip.OPTIONS, ruri: "sip:x@" + udpUA.local.String()}))
		sendDone <- err
	}()
	if _, ok := udpUA.next().(*sip.Request); !ok {
		t.Fatal("Send's OPTIONS did not arrive")
	}

	for _, p := range []*Proxy{c.a, c.b} {
		if err := p.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
	}
	if err := <-sendDone; err == nil {
		t.Error("Send returned no error after Close")
	}
	c.uas.stop()
	udpUA.close()
	tcpUA.close()
	checkNoLeaks(t)
}
