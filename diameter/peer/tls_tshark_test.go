package peer

import (
	"context"
	"net"
	"slices"
	"strconv"
	"testing"

	"github.com/imscore/imscore/diameter"
	"github.com/imscore/imscore/internal/tshark"
)

// TestTsharkDecodesTLS: tshark dissects the handshake of Diameter over TLS/TCP (RFC 6733 §2.1: TLS from the first
// byte, before CER) and, with the session keys, the CER/CEA and the request inside it.
func TestTsharkDecodesTLS(t *testing.T) {
	bin := tshark.Find(t)
	leakCheck(t)
	ca := newPKI(t, "operator")
	keys, kw := tshark.KeyLog(t)
	scfg := testConfig(t, "hss.test.example")
	var err error
	if scfg.TLS, err = ca.issue("hss.test.example").Load(); err != nil {
		t.Fatal(err)
	}
	scfg.TLS.KeyLogWriter = kw
	server := newNode(t, scfg, echoHandler())
	addr := listen(t, server)
	_, port, _ := net.SplitHostPort(addr)
	capture := tshark.StartCapture(t, bin, "lo", "tcp port "+port)
	c := tlsNode(t, "scscf.test.example", ca.issue("scscf.test.example"))
	if err := c.Connect(context.Background(), PeerConfig{Address: addr, Host: "hss.test.example"}); err != nil {
		t.Fatal(err)
	}
	waitPeer(t, c, "hss.test.example")
	ans, err := c.Request(context.Background(), newEcho(c.cfg.Dictionary, "scscf;tshark", "hss.test.example", "over tls"))
	if err != nil {
		t.Fatal(err)
	}
	if got := resultCode(t, ans); got != diameter.Success {
		t.Fatalf("Echo over TLS: %d", got)
	}
	p, _ := strconv.Atoi(port)
	vals := tshark.DissectTLS(t, bin, capture.Stop(t), uint16(p), keys, "diameter", "tls.handshake.type", "diameter.cmd.code")
	for _, want := range []string{"1", "2", "257"} { // ClientHello, ServerHello, CER/CEA inside TLS
		if !slices.Contains(vals, want) {
			t.Errorf("tshark found no %q: %v", want, vals)
		}
	}
	if slices.Contains(vals, "Malformed") {
		t.Errorf("tshark found a malformed packet: %v", vals)
	}
}
