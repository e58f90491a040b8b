package proxy

import (
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
)

// Once a non-INVITE transaction has its final response, neither proxy of a chain holds a serialized message:
// the request's bytes go back at the final response (RFC 3261 §17.1: no retransmission after it) and the
// response's right after it is sent, although the server transaction lives on for Timer J (32 s over UDP).
// Before, each server transaction kept its response's buffer for those 32 s: memory grew with the request
// rate, not with the state (~3 KiB per registered UE at an I-CSCF that keeps none).
func TestNoWireBufferHeldAfterNonInvite(t *testing.T) {
	checkLeaksAtEnd(t)
	c := startChain(t, false, nil)
	uac := newRawUDP(t, "127.0.0.1:0")
	const n = 5
	for range n {
		uac.send(uac.request(reqOpts{method: sip.MESSAGE, ruri: "sip:bob@ims.mnc001.mcc001.3gppnetwork.org"}), c.a.addr(transportUDP))
		if res := uac.final(); res.StatusCode != 200 {
			t.Fatalf("MESSAGE: %s", res.StartLine())
		}
	}
	// The proxies release right after writing; a write on another goroutine may still be finishing.
	deadline := time.Now().Add(waitLong)
	for {
		a, b := c.a.wireBufs.Load(), c.b.wireBufs.Load()
		if a == 0 && b == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("serialized messages held after %d completed MESSAGEs: proxy a %d, proxy b %d", n, a, b)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
