package peer

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
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
	keys := filepath.Join(t.TempDir(), "keys.log")
	kf, err := os.Create(keys)
	if err != nil {
		t.Fatal(err)
	}
	defer kf.Close()
	scfg := testConfig(t, "hss.test.example")
	if scfg.TLS, err = ca.issue("hss.test.example").Load(); err != nil {
		t.Fatal(err)
	}
	scfg.TLS.KeyLogWriter = kf
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
	path := capture.Stop(t)
	out := tshark.Run(t, bin, "-r", path, "-o", "tls.keylog_file:"+keys, "-d", "tcp.port=="+port+",tls",
		"-d", "tls.port=="+port+",diameter", "-T", "fields", "-e", "tls.handshake.type", "-e", "diameter.cmd.code")
	var fields []string
	for _, line := range strings.Split(out, "\n") {
		fields = append(fields, strings.FieldsFunc(line, func(r rune) bool { return r == '\t' || r == ',' })...)
	}
	for _, want := range []string{"1", "2", "257"} { // ClientHello, ServerHello, CER/CEA inside TLS
		if !slices.Contains(fields, want) {
			t.Errorf("tshark output has no %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "Malformed") {
		t.Errorf("tshark found a malformed packet:\n%s", out)
	}
}
