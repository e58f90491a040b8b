package resolve

import (
	"context"
	"testing"
	"time"

	"github.com/imscore/imscore/sip/proxy"
)

// TestInto checks the hand-over to sip/proxy: RFC 3263 order kept, TLS kept (the proxy checks the certificate
// against the URI's domain), a failed hop reported with its Retry-After moves behind the others.
func TestInto(t *testing.T) {
	z := startZoneServer(t)
	r, clk := newTestResolver(t, z.addr, nil)
	res, err := r.Resolve(context.Background(), Query{Host: "icscf.example.com"})
	if err != nil || len(res) != 2 {
		t.Fatalf("Resolve: %v, %v", res, err)
	}
	tcp := res[1]
	tcp.Transport = TCP
	ts := []Target{res[0], tg(TLS, "192.0.2.13:5061"), tcp}
	var pt proxy.Target
	if !r.Into(&pt, ts) {
		t.Fatal("Into: no hop")
	}
	if pt.NextHop == nil || pt.NextHop.Addr != ts[0].Addr || len(pt.Failover) != 2 || pt.Failover[0].Addr != ts[1].Addr ||
		pt.Failover[0].Transport != "TLS" || pt.Failover[0].ServerName != "" || pt.Failover[1].Addr != ts[2].Addr ||
		pt.Failover[1].Transport != "TCP" {
		t.Fatalf("hops %+v then %+v; want %v then %v", pt.NextHop, pt.Failover, ts[0], ts[1:])
	}
	pt.HopFailed(*pt.NextHop, time.Minute)
	got, err := r.Resolve(context.Background(), Query{Host: "icscf.example.com"})
	if err != nil || !sameTargets(got, []Target{tg(UDP, "192.0.2.12:5060"), tg(UDP, "192.0.2.11:5060")}) {
		t.Fatalf("after HopFailed: %v, %v; want 192.0.2.11 last", got, err)
	}
	clk.Add(61 * time.Second)
	if got, _ = r.Resolve(context.Background(), Query{Host: "icscf.example.com"}); got[0].Addr != ts[0].Addr {
		t.Fatalf("after the Retry-After: %v", got)
	}
	if !r.Into(&pt, []Target{tg(TLS, "192.0.2.13:5061")}) || pt.NextHop.Transport != "TLS" {
		t.Errorf("Into with a TLS target only: %+v, want it as the next hop", pt.NextHop)
	}
	if r.Into(&pt, []Target{{Transport: "SCTP", Addr: tg(TLS, "192.0.2.13:5061").Addr}}) {
		t.Error("Into with an SCTP target only: want false")
	}
}

// TestTransportsFromConfigFile: "udp" as a YAML file writes it is UDP (the lookups compare the constants).
func TestTransportsFromConfigFile(t *testing.T) {
	z := startZoneServer(t)
	r, err := New(Config{Servers: []string{z.addr}, Transports: []Transport{"udp"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	got, err := r.Resolve(context.Background(), Query{Host: "icscf.example.com"})
	if err != nil || len(got) == 0 || got[0].Transport != UDP {
		t.Fatalf("Resolve with transports [udp]: %v, %v", got, err)
	}
	if err := (Config{Transports: []Transport{"sctp"}, Static: map[string][]string{"x": {"nope"}}}).Validate(); err == nil {
		t.Error("Validate accepted sctp and a bad static entry")
	}
}

// BenchmarkResolveWarm is the resolver's cost per request once the answers are cached (NAPTR → SRV → A, the
// P-CSCF's lookup of a home network for every REGISTER), and the hand-over to a proxy Target.
func BenchmarkResolveWarm(b *testing.B) {
	z := startZoneServer(b)
	r, _ := newTestResolver(b, z.addr, nil)
	ctx := context.Background()
	q := Query{Host: "example.com"}
	if _, err := r.Resolve(ctx, q); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		ts, err := r.Resolve(ctx, q)
		if err != nil {
			b.Fatal(err)
		}
		var t proxy.Target
		r.Into(&t, ts)
	}
}
