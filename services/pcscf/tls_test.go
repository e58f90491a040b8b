package pcscf

import (
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/imscore/imscore/internal/testpki"
	"github.com/imscore/imscore/sip/header"
	"github.com/imscore/imscore/sip/proxy"
)

// TestRegisterAndMessageOverTLS: a P-CSCF whose home network is reached over mutual TLS (icscf_transport tls,
// sip.tls on both sides, RFC 5922 names checked: the home core's certificate names the home domain) registers
// two UEs and carries a MESSAGE; its Path names its TLS listener, so the core's request to the callee comes back
// over TLS.
func TestRegisterAndMessageOverTLS(t *testing.T) {
	ca := testpki.New(t, "roaming CA")
	tlsFor := func(l testpki.Leaf) proxy.TLSConfig {
		cert, key := ca.IssueLeaf(l)
		return proxy.TLSConfig{Listen: []proxy.Listen{{Addr: "127.0.0.1:0"}}, CertFile: cert, KeyFile: key, CAFile: ca.CAFile}
	}
	alice, bob := newSubscriber(t, 1), newSubscriber(t, 2)
	core := startFakeCoreWith(t, "127.0.0.1:0", func(c *proxy.Config) {
		c.TLS = tlsFor(testpki.Leaf{URIs: []string{"sip:" + domain}})
	}, alice, bob)
	var coreTLS proxy.ListenAddr
	for _, l := range core.p.Listeners() {
		if l.Transport == "TLS" {
			coreTLS = l
		}
	}
	n := startPCSCF(t, "127.0.0.1", coreTLS.Addr, nil, func(c *Config) {
		c.ICSCFTransport = "tls"
		// The core reaches us along our Path, a numeric URI: our certificate names the address.
		c.SIP.TLS = tlsFor(testpki.Leaf{URIs: []string{"sip:visited.test"}, IPs: []string{"127.0.0.1"}})
	})
	ua := newUE(t, alice, n.CoreAddr(), "udp", false)
	ub := newUE(t, bob, n.CoreAddr(), "udp", false)
	ctx := ctxT(t)
	if _, err := ua.Register(ctx); err != nil {
		t.Fatalf("alice register: %v", err)
	}
	if _, err := ub.Register(ctx); err != nil {
		t.Fatalf("bob register: %v", err)
	}
	for _, r := range core.requests(sip.REGISTER) {
		if v := r.Via(); v == nil || !strings.EqualFold(v.Transport, "TLS") {
			t.Errorf("REGISTER reached the core with Via %v, want TLS", v)
		}
		if p := lastValue(r, header.Path); !strings.HasPrefix(p, "<sip:term@127.0.0.1:") || !strings.Contains(p, ";transport=tls") {
			t.Errorf("Path = %q, want our TLS listener", p)
		}
	}
	res, err := ua.Message(ctx, bob.impu, "hello over tls")
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("MESSAGE: %v, %v", res, err)
	}
	select {
	case got := <-ub.Incoming():
		if string(got.Body()) != "hello over tls" {
			t.Errorf("bob got %q", got.Body())
		}
		if vias := strings.Join(header.Values(got, "Via"), ","); !strings.Contains(vias, "SIP/2.0/TLS") {
			t.Errorf("the MESSAGE at bob came through no TLS hop: Via %s", vias)
		}
	case <-time.After(waitLong):
		t.Fatal("bob got nothing")
	}
}
