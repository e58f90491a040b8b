package boundary

import (
	"context"
	"net/netip"
	"slices"
	"testing"

	"github.com/emiago/sipgo/sip"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/imscore/imscore/sip/header"
	"github.com/imscore/imscore/sip/proxy"
	"github.com/imscore/imscore/sip/trust"
)

var (
	inside  = netip.MustParseAddrPort("10.0.0.5:5060")
	outside = netip.MustParseAddrPort("192.0.2.66:5060")
)

func newBoundary(t *testing.T) (*Boundary, *Metrics, *observer.ObservedLogs) {
	t.Helper()
	d, err := trust.ParseDomain([]string{"10.0.0.0/8"})
	if err != nil {
		t.Fatal(err)
	}
	core, logs := observer.New(zapcore.DebugLevel)
	m := NewMetrics("test")
	prometheus.NewRegistry().MustRegister(m.Collectors()...)
	return New(d, zap.New(core), m), m, logs
}

func forgedRequest(callID string) *sip.Request {
	req := sip.NewRequest(sip.MESSAGE, sip.Uri{Scheme: "sip", User: "bob", Host: "ims.example.org"})
	cid := sip.CallIDHeader(callID)
	req.AppendHeader(&cid)
	req.AppendHeader(sip.NewHeader("P-Asserted-Identity", "<sip:victim@ims.example.org>"))
	req.AppendHeader(sip.NewHeader("P-Charging-Vector", "icid-value=1"))
	req.AppendHeader(sip.NewHeader("Subject", "kept"))
	return req
}

// From outside: the header fields go, one Info line names the call, the source and what was removed, and the
// count moves. From inside nothing changes.
func TestInbound(t *testing.T) {
	b, m, logs := newBoundary(t)
	req := forgedRequest("c1")
	if b.Inbound(req, outside) {
		t.Fatal("an outside source reported as trusted")
	}
	if header.Has(req, "P-Asserted-Identity") || header.Has(req, "P-Charging-Vector") || !header.Has(req, "Subject") {
		t.Fatalf("after Inbound from outside:\n%s", req)
	}
	lines := logs.FilterMessageSnippet("removed").All()
	if len(lines) != 1 || lines[0].Level != zapcore.InfoLevel {
		t.Fatalf("log lines %+v, want one at Info", lines)
	}
	f := lines[0].ContextMap()
	if f["call_id"] != "c1" || f["source"] != outside.String() ||
		!slices.Equal(f["removed"].([]any), []any{"P-Asserted-Identity", "P-Charging-Vector"}) {
		t.Errorf("log fields %v", f)
	}
	if v := count(t, m.strippedTotal.WithLabelValues("in")); v != 1 {
		t.Errorf("stripped{in} = %v, want 1", v)
	}

	req = forgedRequest("c2")
	if !b.Inbound(req, inside) || !header.Has(req, "P-Asserted-Identity") {
		t.Fatal("a request from inside lost its P-Asserted-Identity")
	}
	if b.Inbound(forgedRequest("c3"), netip.AddrPort{}) {
		t.Fatal("an unknown source counted as inside")
	}
}

// A flood from outside is counted in full but logged at most LogBurst times a second.
func TestInboundLogIsRateLimited(t *testing.T) {
	b, m, logs := newBoundary(t)
	const n = 5 * LogBurst
	for range n {
		b.Inbound(forgedRequest("flood"), outside)
	}
	if got := logs.FilterMessageSnippet("removed").Len(); got < 1 || got > 2*LogBurst {
		t.Errorf("%d log lines for %d messages, want between 1 and %d", got, n, 2*LogBurst)
	}
	if v := count(t, m.strippedTotal.WithLabelValues("in")); v != n {
		t.Errorf("stripped{in} = %v, want %d", v, n)
	}
}

func TestRefuse(t *testing.T) {
	b, m, logs := newBoundary(t)
	d, err := b.Refuse(forgedRequest("r1"), outside, "register", "rule")
	if err != nil || d.Reply == nil || d.Reply.Code != sip.StatusForbidden {
		t.Fatalf("Refuse: %+v, %v, want a 403 reply", d, err)
	}
	if v := count(t, m.refusedTotal.WithLabelValues("register")); v != 1 {
		t.Errorf("refused{register} = %v, want 1", v)
	}
	if logs.FilterMessageSnippet("refused").Len() != 1 {
		t.Errorf("no log line for the refusal")
	}
}

func TestNextHopAddr(t *testing.T) {
	req := forgedRequest("n")
	mustURI := func(s string) sip.Uri {
		var u sip.Uri
		if err := sip.ParseUri(s, &u); err != nil {
			t.Fatal(err)
		}
		return u
	}
	as := mustURI("sip:192.0.2.7:5070;lr")
	host := mustURI("sip:as.example.org;lr")
	v6 := mustURI("sip:[2001:db8::1]:5060;lr")
	tel := mustURI("tel:+15551234")
	for name, tt := range map[string]struct {
		t    proxy.Target
		want string
	}{
		"explicit next hop":          {proxy.Target{NextHop: &proxy.NextHop{Addr: netip.MustParseAddrPort("10.1.1.1:5060")}, Route: []sip.Uri{as}}, "10.1.1.1"},
		"pushed Route":               {proxy.Target{Route: []sip.Uri{as}}, "192.0.2.7"},
		"IPv6 Route":                 {proxy.Target{Route: []sip.Uri{v6}}, "2001:db8::1"},
		"host name: unknown":         {proxy.Target{Route: []sip.Uri{host}}, ""},
		"Request-URI of the target":  {proxy.Target{URI: &as}, "192.0.2.7"},
		"Request-URI host name":      {proxy.Target{}, ""},
		"tel Request-URI: not a hop": {proxy.Target{URI: &tel}, ""},
	} {
		a, ok := nextHopAddr(req, &tt.t)
		if got := ""; ok {
			got = a.String()
			if got != tt.want {
				t.Errorf("%s: %s, want %q", name, got, tt.want)
			}
		} else if tt.want != "" {
			t.Errorf("%s: unknown, want %s", name, tt.want)
		}
	}
}

func TestOutside(t *testing.T) {
	b, _, _ := newBoundary(t)
	for s, want := range map[string]bool{"sip:192.0.2.7:5060": true, "sip:10.0.0.9": false, "sip:as.example.org": false,
		"sip:as@[2001:db8::1]": true} {
		var u sip.Uri
		if err := sip.ParseUri(s, &u); err != nil {
			t.Fatal(err)
		}
		if got := b.Outside(&u); got != want {
			t.Errorf("Outside(%s) = %v, want %v", s, got, want)
		}
	}
}

// Guard: copies towards an address outside go without the header fields (every copy of the Decision, and none
// added back); a response from outside is stripped before the node's own hooks see it; responses to a request
// from outside leave without them; a Reply to it too; OnFailure's next Decision is guarded the same way.
func TestGuard(t *testing.T) {
	b, m, _ := newBoundary(t)
	req := forgedRequest("g1")
	var asOut sip.Uri
	_ = sip.ParseUri("sip:192.0.2.7:5070;lr", &asOut)
	var asIn sip.Uri
	_ = sip.ParseUri("sip:10.0.0.9:5070;lr", &asIn)

	toInside := b.Guard(proxy.Forward(proxy.Target{Route: []sip.Uri{asIn}}), req, proxy.Source{Remote: inside})
	if len(toInside.RemoveHeaders) != 0 {
		t.Errorf("a copy to a next hop inside loses %v", toInside.RemoveHeaders)
	}

	var sawPAI []bool
	d := proxy.Forward(proxy.Target{Route: []sip.Uri{asIn}}, proxy.Target{Route: []sip.Uri{asOut},
		AddHeaders: []sip.Header{sip.NewHeader("P-Served-User", "<sip:x@y>"), sip.NewHeader("X-Keep", "1")}})
	d.AddHeaders = []sip.Header{sip.NewHeader("p-charging-vector", "icid-value=2")}
	d.OnResponse = func(res *sip.Response, _ bool) { sawPAI = append(sawPAI, header.Has(res, "P-Asserted-Identity")) }
	d.OnFailure = func(context.Context, *sip.Request, *sip.Response, bool) (*proxy.Decision, error) {
		next := proxy.Forward(proxy.Target{Route: []sip.Uri{asOut}})
		return &next, nil
	}
	g := b.Guard(d, req, proxy.Source{Remote: inside})
	for _, h := range trust.Headers() {
		if !slices.ContainsFunc(g.RemoveHeaders, func(r string) bool { return header.SameName(r, h) }) {
			t.Errorf("%s not removed from copies towards outside", h)
		}
	}
	if len(g.AddHeaders) != 0 || len(g.Targets[1].AddHeaders) != 1 || g.Targets[1].AddHeaders[0].Name() != "X-Keep" {
		t.Errorf("trust-domain header fields still added: %v, %v", g.AddHeaders, g.Targets[1].AddHeaders)
	}
	if len(d.Targets[1].AddHeaders) != 2 {
		t.Error("Guard changed the caller's targets")
	}

	fromOutside := sip.NewResponseFromRequest(req, 200, "OK", nil)
	fromOutside.AppendHeader(sip.NewHeader("P-Asserted-Identity", "<sip:far@evil.example>"))
	fromOutside.SetSource(outside.String())
	fromInside := sip.NewResponseFromRequest(req, 200, "OK", nil)
	fromInside.AppendHeader(sip.NewHeader("P-Asserted-Identity", "<sip:bob@ims.example.org>"))
	fromInside.SetSource(inside.String())
	g.OnResponse(fromOutside, false)
	g.OnResponse(fromInside, false)
	if !slices.Equal(sawPAI, []bool{false, true}) {
		t.Errorf("the node's OnResponse saw P-Asserted-Identity %v, want [false true]", sawPAI)
	}
	next, err := g.OnFailure(context.Background(), req, fromOutside, false)
	if err != nil || next == nil || len(next.RemoveHeaders) == 0 || next.OnResponse == nil {
		t.Errorf("OnFailure's Decision not guarded: %+v, %v", next, err)
	}

	// The request came from outside: what goes back to it leaves without them, a Reply too.
	g = b.Guard(proxy.Forward(proxy.Target{Route: []sip.Uri{asIn}}), req, proxy.Source{Remote: outside})
	res := sip.NewResponseFromRequest(req, 200, "OK", nil)
	res.AppendHeader(sip.NewHeader("P-Asserted-Identity", "<sip:bob@ims.example.org>"))
	res.SetSource(inside.String())
	g.OnResponse(res, false)
	if header.Has(res, "P-Asserted-Identity") {
		t.Error("a response to a request from outside kept its P-Asserted-Identity")
	}
	if v := count(t, m.strippedTotal.WithLabelValues("out")); v < 2 {
		t.Errorf("stripped{out} = %v, want at least 2", v)
	}
	reply := proxy.Respond(200, "OK", sip.NewHeader("P-Charging-Function-Addresses", "ccf=x"), sip.NewHeader("Contact", "<sip:a@b>"))
	g = b.Guard(reply, req, proxy.Source{Remote: outside})
	if len(g.Reply.Headers) != 1 || g.Reply.Headers[0].Name() != "Contact" || len(reply.Reply.Headers) != 2 {
		t.Errorf("Reply headers to outside %v (caller's %v)", g.Reply.Headers, reply.Reply.Headers)
	}
}

// count reads one counter of a vector.
func count(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}
