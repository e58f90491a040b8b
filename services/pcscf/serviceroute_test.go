package pcscf

import (
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"go.uber.org/zap"

	"github.com/imscore/imscore/sip/resolve"
)

// TestServiceRouteTarget: a hidden Service-Route naming the home domain becomes a branch to every address of
// it, with failover and the attempt timeout (RFC 3263 §4.3); an address, or a P-CSCF without DNS, leaves the
// routing to the proxy.
func TestServiceRouteTarget(t *testing.T) {
	// No DNS server listens on 127.0.0.1:1: a name without a static entry fails at once, and nothing leaves
	// the host.
	r, err := resolve.New(resolve.Config{Servers: []string{"127.0.0.1:1"}, Timeout: 200 * time.Millisecond, Attempts: 1,
		Transports: []resolve.Transport{resolve.UDP},
		Static:     map[string][]string{"home.example": {"udp:192.0.2.11:5060", "udp:192.0.2.12:5060"}}}, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	n := &Node{resolver: r, cfg: Config{ICSCFAttemptTimeout: 4 * time.Second}}
	var hidden sip.Uri
	if err := sip.ParseUri("sip:AaBbCc@home.example;lr", &hidden); err != nil {
		t.Fatal(err)
	}

	tgt, ok := n.serviceRouteTarget(hidden)
	if !ok {
		t.Fatal("no branch for a hidden Service-Route")
	}
	if tgt.NextHop == nil || tgt.NextHop.Addr.String() != "192.0.2.11:5060" || len(tgt.Failover) != 1 ||
		tgt.Failover[0].Addr.String() != "192.0.2.12:5060" {
		t.Errorf("branch %+v, want 192.0.2.11:5060 then 192.0.2.12:5060", tgt)
	}
	if tgt.NoResponseTimeout != 4*time.Second || tgt.HopFailed == nil {
		t.Errorf("NoResponseTimeout %v, HopFailed set %v", tgt.NoResponseTimeout, tgt.HopFailed != nil)
	}
	if _, ok := n.serviceRouteTarget(sip.Uri{Scheme: "sip", Host: "172.16.1.1", Port: 6060}); ok {
		t.Error("an address got a branch: the proxy routes it as it is")
	}
	if _, ok := n.serviceRouteTarget(sip.Uri{Scheme: "sip", Host: "nowhere.example"}); ok {
		t.Error("a name without SIP servers got a branch")
	}
	if _, ok := (&Node{}).serviceRouteTarget(hidden); ok {
		t.Error("a P-CSCF with a static I-CSCF got a branch")
	}
}
