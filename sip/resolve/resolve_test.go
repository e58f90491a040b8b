package resolve

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/miekg/dns"
)

// clock is a settable time source for the cache and blacklist tests.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// newTestResolver returns a resolver asking server, with weighted SRV selection made deterministic (the
// random number is always 0, so the lightest non-zero weight goes first) and a settable clock.
func newTestResolver(t testing.TB, server string, mod func(*Config)) (*Resolver, *clock) {
	t.Helper()
	cfg := Config{Servers: []string{server}, Timeout: time.Second, Attempts: 2}
	if mod != nil {
		mod(&cfg)
	}
	r, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	c := &clock{now: time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)}
	r.now = c.Now
	r.rnd = func(int) int { return 0 }
	return r, c
}

func tg(tr Transport, ap string) Target {
	return Target{Transport: tr, Addr: netip.MustParseAddrPort(ap)}
}

type resolveCase struct {
	name  string
	uri   string
	cfg   func(*Config)
	want  []Target
	error error
}

// resolveCases walk RFC 3263 §4.1 and §4.2 over testdata/example.com.zone.
var resolveCases = []resolveCase{
	{name: "NAPTR picks the most preferred supported transport (§4.1), SRV order and weights (RFC 2782)",
		uri: "sip:example.com",
		want: []Target{tg(TCP, "192.0.2.1:5060"), tg(TCP, "192.0.2.2:5060"), tg(TCP, "[2001:db8::2]:5060"),
			tg(TCP, "192.0.2.9:5060")}},
	{name: "a client supporting TLS takes the SIPS+D2T record", uri: "sip:example.com",
		cfg:  func(c *Config) { c.Transports = []Transport{UDP, TCP, TLS} },
		want: []Target{tg(TLS, "192.0.2.4:5061")}},
	{name: "sips takes only SIPS+D2T", uri: "sips:example.com",
		cfg:  func(c *Config) { c.Transports = []Transport{UDP, TCP, TLS} },
		want: []Target{tg(TLS, "192.0.2.4:5061")}},
	{name: "sips without TLS support finds nothing", uri: "sips:example.com", error: ErrNotFound},
	{name: "no NAPTR: SRV in our transport order (UDP first)", uri: "sip:srvonly.example.com",
		want: []Target{tg(UDP, "192.0.2.1:5070")}},
	{name: "no NAPTR: SRV in our transport order (TCP first)", uri: "sip:srvonly.example.com",
		cfg:  func(c *Config) { c.Transports = []Transport{TCP, UDP} },
		want: []Target{tg(TCP, "192.0.2.2:5071"), tg(TCP, "[2001:db8::2]:5071")}},
	{name: "neither NAPTR nor SRV: A/AAAA, UDP, 5060", uri: "sip:plain.example.com",
		want: []Target{tg(UDP, "192.0.2.5:5060"), tg(UDP, "[2001:db8::5]:5060")}},
	{name: "IPv6 preferred", uri: "sip:plain.example.com",
		cfg:  func(c *Config) { c.PreferIPv6 = true },
		want: []Target{tg(UDP, "[2001:db8::5]:5060"), tg(UDP, "192.0.2.5:5060")}},
	{name: "IPv4 only", uri: "sip:plain.example.com", cfg: func(c *Config) { c.IPv4 = true },
		want: []Target{tg(UDP, "192.0.2.5:5060")}},
	{name: "a CNAME is followed", uri: "sip:alias.example.com",
		want: []Target{tg(UDP, "192.0.2.5:5060"), tg(UDP, "[2001:db8::5]:5060")}},
	{name: "transport given, no SRV: A and the default port (§4.2)", uri: "sip:plain.example.com;transport=tcp",
		want: []Target{tg(TCP, "192.0.2.5:5060"), tg(TCP, "[2001:db8::5]:5060")}},
	{name: "transport given: SRV of that transport", uri: "sip:example.com;transport=udp",
		want: []Target{tg(UDP, "192.0.2.3:5060")}},
	{name: "port given: UDP and A/AAAA, no NAPTR or SRV (§4.1)", uri: "sip:plain.example.com:5080",
		want: []Target{tg(UDP, "192.0.2.5:5080"), tg(UDP, "[2001:db8::5]:5080")}},
	{name: "maddr replaces the host (§4)", uri: "sip:bob@example.com;maddr=plain.example.com",
		want: []Target{tg(UDP, "192.0.2.5:5060"), tg(UDP, "[2001:db8::5]:5060")}},
	{name: "only an unsupported NAPTR service: SRV, then A", uri: "sip:sctponly.example.com",
		want: []Target{tg(UDP, "192.0.2.6:5060")}},
	{name: "a NAPTR whose server has no address: the next NAPTR", uri: "sip:broken.example.com",
		want: []Target{tg(UDP, "192.0.2.3:5080")}},
	{name: "a name that does not exist", uri: "sip:nowhere.example.com", error: ErrNotFound},
	{name: "a numeric IPv4 address", uri: "sip:192.0.2.77", want: []Target{tg(UDP, "192.0.2.77:5060")}},
	{name: "a numeric IPv6 address with port and transport", uri: "sip:[2001:db8::1]:5070;transport=tcp",
		want: []Target{tg(TCP, "[2001:db8::1]:5070")}},
	{name: "sips to a numeric address is TLS on 5061", uri: "sips:192.0.2.77",
		cfg: func(c *Config) { c.Transports = []Transport{TLS} }, want: []Target{tg(TLS, "192.0.2.77:5061")}},
	{name: "a static entry answers without DNS", uri: "sip:lab.invalid",
		cfg: func(c *Config) {
			c.Static = map[string][]string{"LAB.invalid": {"tcp:127.0.0.1:5070", "udp:[::1]:5060"}}
		},
		want: []Target{tg(TCP, "127.0.0.1:5070"), tg(UDP, "[::1]:5060")}},
}

func runResolveCases(t *testing.T, server string) {
	for _, c := range resolveCases {
		t.Run(c.name, func(t *testing.T) {
			r, _ := newTestResolver(t, server, c.cfg)
			var u sip.Uri
			if err := sip.ParseUri(c.uri, &u); err != nil {
				t.Fatal(err)
			}
			q, err := QueryFromURI(u)
			if err != nil {
				t.Fatal(err)
			}
			got, err := r.Resolve(context.Background(), q)
			if c.error != nil {
				if !errors.Is(err, c.error) {
					t.Fatalf("Resolve(%s) = %v, %v; want error %v", c.uri, got, err, c.error)
				}
				return
			}
			if err != nil {
				t.Fatalf("Resolve(%s): %v", c.uri, err)
			}
			if !sameTargets(got, c.want) {
				t.Fatalf("Resolve(%s) =\n %v\nwant\n %v", c.uri, got, c.want)
			}
		})
	}
}

func sameTargets(got, want []Target) bool {
	return slices.EqualFunc(got, want, func(a, b Target) bool { return a.Transport == b.Transport && a.Addr == b.Addr })
}

func TestResolveRFC3263(t *testing.T) {
	z := startZoneServer(t)
	runResolveCases(t, z.addr)
}

func TestFailoverBlacklist(t *testing.T) {
	z := startZoneServer(t)
	r, clk := newTestResolver(t, z.addr, func(c *Config) { c.BlacklistFor = 10 * time.Second })
	q := Query{Host: "icscf.example.com"}
	ctx := context.Background()
	first, second := tg(UDP, "192.0.2.11:5060"), tg(UDP, "192.0.2.12:5060")
	got, err := r.Resolve(ctx, q)
	if err != nil || !sameTargets(got, []Target{first, second}) {
		t.Fatalf("Resolve = %v, %v; want SRV priority order", got, err)
	}
	r.MarkFailed(got[0])
	got, _ = r.Resolve(ctx, q)
	if !sameTargets(got, []Target{second, first}) {
		t.Fatalf("after MarkFailed(%v): %v; want it last (RFC 3263 §4.3)", first, got)
	}
	clk.Add(11 * time.Second)
	got, _ = r.Resolve(ctx, q)
	if !sameTargets(got, []Target{first, second}) {
		t.Fatalf("after the blacklist expired: %v; want SRV order again", got)
	}
	// A 503 with Retry-After: 120 keeps the target behind the others for 120 s, not BlacklistFor.
	r.MarkFailedFor(got[0], 120*time.Second)
	clk.Add(60 * time.Second)
	if got, _ = r.Resolve(ctx, q); !sameTargets(got, []Target{second, first}) {
		t.Fatalf("60 s into a Retry-After of 120 s: %v; want %v last", got, first)
	}
	clk.Add(61 * time.Second)
	if got, _ = r.Resolve(ctx, q); !sameTargets(got, []Target{first, second}) {
		t.Fatalf("after the Retry-After: %v; want SRV order again", got)
	}
}

func TestCacheRespectsTTL(t *testing.T) {
	z := startZoneServer(t)
	r, clk := newTestResolver(t, z.addr, nil)
	ctx := context.Background()
	for range 3 {
		if _, err := r.Resolve(ctx, Query{Host: "example.com"}); err != nil {
			t.Fatal(err)
		}
	}
	if n := z.count("example.com", dns.TypeNAPTR); n != 1 {
		t.Fatalf("NAPTR example.com asked %d times within its TTL; want 1", n)
	}
	clk.Add(301 * time.Second) // the zone's TTL is 300
	if _, err := r.Resolve(ctx, Query{Host: "example.com"}); err != nil {
		t.Fatal(err)
	}
	if n := z.count("example.com", dns.TypeNAPTR); n != 2 {
		t.Fatalf("NAPTR example.com asked %d times after its TTL; want 2", n)
	}
	// Negative answers are kept NegativeTTL (30 s, below the SOA minimum of 60 s).
	for range 2 {
		if _, err := r.Resolve(ctx, Query{Host: "nowhere.example.com"}); !errors.Is(err, ErrNotFound) {
			t.Fatalf("nowhere: %v", err)
		}
	}
	if n := z.count("nowhere.example.com", dns.TypeNAPTR); n != 1 {
		t.Fatalf("NAPTR nowhere asked %d times; want 1 (negative caching, RFC 2308)", n)
	}
	clk.Add(31 * time.Second)
	_, _ = r.Resolve(ctx, Query{Host: "nowhere.example.com"})
	if n := z.count("nowhere.example.com", dns.TypeNAPTR); n != 2 {
		t.Fatalf("NAPTR nowhere asked %d times after the negative TTL; want 2", n)
	}
}

func TestConcurrentLookupsShareOneQuery(t *testing.T) {
	z := startZoneServer(t)
	r, _ := newTestResolver(t, z.addr, nil)
	var wg sync.WaitGroup
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := r.Resolve(context.Background(), Query{Host: "plain.example.com"}); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if n := z.count("plain.example.com", dns.TypeA); n > 2 {
		t.Fatalf("A plain.example.com asked %d times by 32 concurrent lookups", n)
	}
}

func TestTimeout(t *testing.T) {
	// A server that never answers: the lookup fails with ErrTimeout after Attempts, and is not cached.
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	r, _ := newTestResolver(t, pc.LocalAddr().String(), func(c *Config) {
		c.Timeout = 50 * time.Millisecond
		c.Attempts = 1
	})
	_, err = r.Resolve(context.Background(), Query{Host: "example.com"})
	if !errors.Is(err, ErrTimeout) {
		t.Fatalf("Resolve against a silent server: %v; want ErrTimeout", err)
	}
	if _, ok := r.cache.get(cacheKey{name: "example.com.", qtype: dns.TypeNAPTR}, r.now()); ok {
		t.Fatal("a timeout was cached")
	}
}

func TestConfigErrors(t *testing.T) {
	for _, cfg := range []Config{
		{Servers: []string{"dns.example.com"}},
		{Servers: []string{"127.0.0.1:53"}, Transports: []Transport{"SCTP"}},
		{Servers: []string{"127.0.0.1:53"}, Static: map[string][]string{"x": {"udp:nohost"}}},
		{Servers: []string{"127.0.0.1:53"}, Static: map[string][]string{"x": {"quic:127.0.0.1:5060"}}},
	} {
		if _, err := New(cfg, nil); err == nil {
			t.Errorf("New(%+v) accepted", cfg)
		}
	}
}

func TestOrderSRVWeights(t *testing.T) {
	// RFC 2782: over many selections each record of a priority goes first in proportion to its weight.
	srvs := func() []*dns.SRV {
		return []*dns.SRV{{Priority: 0, Weight: 10, Target: "a."}, {Priority: 0, Weight: 30, Target: "b."},
			{Priority: 1, Weight: 0, Target: "c."}}
	}
	first := map[string]int{}
	n := 0
	rnd := func(k int) int { n++; return n % k }
	for range 4000 {
		out := orderSRV(srvs(), rnd)
		if out[2].Target != "c." {
			t.Fatalf("priority 1 before priority 0: %v", out)
		}
		first[out[0].Target]++
	}
	// a wins for n%41 in 0..10 (11 of 41), b for 11..40 (30 of 41).
	if first["a."] < 900 || first["a."] > 1300 || first["b."] < 2700 {
		t.Fatalf("first picks %v: not proportional to the weights 10:30", first)
	}
}
