package resolve

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"go.uber.org/zap"
)

// TestBranch: a URI's domain becomes one branch with every address in order, TLS servers included (the proxy
// checks their certificates against the domain, RFC 5922 §4); a URI without a SIP host is ErrNotFound.
func TestBranch(t *testing.T) {
	// No DNS server listens on 127.0.0.1:1: only the static entries answer, and nothing leaves the host.
	r, err := New(Config{Servers: []string{"127.0.0.1:1"}, Timeout: 200 * time.Millisecond, Attempts: 1,
		Transports: []Transport{UDP, TCP, TLS}, Static: map[string][]string{
			"home.example":   {"udp:192.0.2.11:5060", "tcp:192.0.2.12:5060"},
			"secure.example": {"tls:192.0.2.13:5061"},
		}}, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	uri := func(s string) sip.Uri {
		var u sip.Uri
		if err := sip.ParseUri(s, &u); err != nil {
			t.Fatal(err)
		}
		return u
	}
	b, err := r.Branch(context.Background(), uri("sip:TOKEN@home.example;lr"))
	if err != nil {
		t.Fatal(err)
	}
	if b.NextHop == nil || b.NextHop.Addr.String() != "192.0.2.11:5060" || len(b.Failover) != 1 ||
		b.Failover[0].Transport != "TCP" || b.HopFailed == nil {
		t.Errorf("branch %+v: want UDP 192.0.2.11:5060, then TCP 192.0.2.12:5060, failures reported", b)
	}
	tb, err := r.Branch(context.Background(), uri("sip:secure.example"))
	if err != nil || tb.NextHop == nil || tb.NextHop.Transport != "TLS" || tb.NextHop.Addr.String() != "192.0.2.13:5061" ||
		tb.NextHop.ServerName != "" {
		t.Errorf("TLS-only domain: branch %+v, %v; want TLS 192.0.2.13:5061 checked against the URI's domain", tb.NextHop, err)
	}
	if _, err := r.Branch(context.Background(), uri("tel:+15551234")); !errors.Is(err, ErrNotFound) {
		t.Errorf("tel URI: error %v, want ErrNotFound", err)
	}
	// A name DNS does not answer for (no server here): an error either way, no branch.
	if _, err := r.Branch(context.Background(), uri("sip:bob@nowhere.example")); !errors.Is(err, ErrNotFound) && !errors.Is(err, ErrTimeout) {
		t.Errorf("nowhere.example: error %v", err)
	}
}
