package pcscf

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/imscore/imscore/internal/bindtest"
	"github.com/imscore/imscore/sip/header"
	"github.com/imscore/imscore/sip/proxy"
	"github.com/imscore/imscore/sip/resolve"
	"github.com/imscore/imscore/sip/ue"
)

// subscriberOf is newSubscriber in another home domain.
func subscriberOf(t testing.TB, n int, home string) subscriber {
	s := newSubscriber(t, n)
	user := strings.TrimPrefix(s.impu, "sip:")
	user = user[:strings.Index(user, "@")]
	s.impi, s.impu = user+"@"+home, "sip:"+user+"@"+home
	return s
}

// startUnavailable is an I-CSCF that answers every request 503 with Retry-After: 60, counting them.
func startUnavailable(t testing.TB) (*proxy.Proxy, *atomic.Int32) {
	t.Helper()
	var got atomic.Int32
	p, err := proxy.New(proxy.Config{Listen: []proxy.Listen{{Addr: "127.0.0.1:0"}},
		Router: proxy.RouterFunc(func(context.Context, *sip.Request, proxy.Source) (proxy.Decision, error) {
			got.Add(1)
			return proxy.Respond(503, "Service Unavailable", sip.NewHeader("Retry-After", "60")), nil
		})}, testLogger(t).Named("down"))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); _ = p.Run(context.Background()) }()
	t.Cleanup(func() { _ = p.Close(); <-done })
	return p, &got
}

// TestHomeNetworkByDNS checks TS 24.229 §5.2.2.1 with ICSCF "dns": one P-CSCF serves visitors of two home
// networks, each REGISTER going to the I-CSCF its Request-URI's domain publishes in bind9 (home1: NAPTR → SRV,
// the first I-CSCF by SRV priority answering 503, so the REGISTER fails over to the second; home2: SRV only);
// a per-domain static entry sends a third domain's REGISTERs to a configured address; a domain without SIP
// records gets 404 and nothing is sent.
func TestHomeNetworkByDNS(t *testing.T) {
	a := subscriberOf(t, 1, "home1.test")
	b := subscriberOf(t, 2, "home2.test")
	c := subscriberOf(t, 3, "home3.test")
	lost := subscriberOf(t, 4, "nowhere.test")
	core1 := startFakeCore(t, "127.0.0.1:0", a)
	core2 := startFakeCore(t, "127.0.0.1:0", b, c)
	down, downGot := startUnavailable(t)
	zone := func(origin, body string) bindtest.Zone {
		return bindtest.Zone{Origin: origin, Text: fmt.Sprintf(`$ORIGIN %s.
$TTL 300
@ IN SOA ns hostmaster 1 3600 600 86400 60
@ IN NS ns
ns IN A 127.0.0.1
%s`, origin, body)}
	}
	dns := bindtest.Start(t,
		zone("home1.test", fmt.Sprintf(`@ IN NAPTR 10 50 "s" "SIP+D2U" "" _sip._udp
_sip._udp IN SRV 10 0 %d icscf-a
_sip._udp IN SRV 20 0 %d icscf-b
icscf-a IN A 127.0.0.1
icscf-b IN A 127.0.0.1
`, down.Listeners()[0].Addr.Port(), core1.addr.Port())),
		zone("home2.test", fmt.Sprintf(`_sip._udp IN SRV 10 0 %d icscf
icscf IN A 127.0.0.1
`, core2.addr.Port())),
		zone("nowhere.test", "www IN A 127.0.0.1\n"))
	n := startPCSCF(t, "127.0.0.1", core1.addr, nil, func(cfg *Config) {
		cfg.ICSCF = ICSCFByDNS
		cfg.DNS = resolve.Config{Servers: []string{dns}, Transports: []resolve.Transport{resolve.UDP},
			Static: map[string][]string{"home3.test": {"udp:" + core2.addr.String()}}}
	})
	ctx := ctxT(t)
	for _, tc := range []struct {
		sub  subscriber
		core *fakeCore
	}{{a, core1}, {b, core2}, {c, core2}} {
		u := newUE(t, tc.sub, n.CoreAddr(), "udp", false)
		reg, err := u.Register(ctx)
		if err != nil {
			t.Fatalf("%s: register: %v", tc.sub.impu, err)
		}
		if len(reg.ServiceRoute) != 1 || !strings.Contains(reg.ServiceRoute[0], tc.core.addr.String()) {
			t.Errorf("%s: Service-Route %v, want its home core %s", tc.sub.impu, reg.ServiceRoute, tc.core.addr)
		}
		var seen bool
		for _, r := range tc.core.requests(sip.REGISTER) {
			if strings.Contains(r.To().Address.String(), tc.sub.impu[len("sip:"):]) {
				seen = true
				if got := r.Recipient.Host; got != strings.SplitN(tc.sub.impu, "@", 2)[1] {
					t.Errorf("%s: Request-URI host %q at the I-CSCF", tc.sub.impu, got)
				}
				if len(header.Values(r, header.Path)) == 0 {
					t.Errorf("%s: no Path at the I-CSCF", tc.sub.impu)
				}
			}
		}
		if !seen {
			t.Errorf("%s: REGISTER did not reach its home network's I-CSCF %s", tc.sub.impu, tc.core.addr)
		}
	}
	if downGot.Load() == 0 {
		t.Error("the I-CSCF first in SRV order got no REGISTER: nothing failed over")
	}
	for _, r := range core2.requests(sip.REGISTER) {
		if strings.Contains(r.To().Address.String(), "home1.test") {
			t.Errorf("a home1 REGISTER reached home2's I-CSCF")
		}
	}
	u := newUE(t, lost, n.CoreAddr(), "udp", false, func(c *ue.Config) { c.Timeout = 3 * time.Second })
	_, err := u.Register(ctx)
	var se *ue.StatusError
	if !errors.As(err, &se) || se.Code != 404 {
		t.Errorf("register in a domain without SIP servers: %v, want 404", err)
	}
}
