package proxy

import (
	"context"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/emiago/sipgo/sip"
)

// chainRouters returns the routers of a two-proxy chain: A pushes B as a pre-loaded route, B retargets to the UAS;
// both Record-Route initial requests and route in-dialog requests by their Route set.
func chainRouters(t testing.TB, next func() sip.Uri, uas func() sip.Uri) (a, b Router) {
	inDialog := func(req *sip.Request) bool {
		tag, _ := req.To().Params.Get("tag")
		return tag != ""
	}
	a = RouterFunc(func(ctx context.Context, req *sip.Request, src Source) (Decision, error) {
		if inDialog(req) {
			return Decision{}, nil
		}
		return Decision{RecordRoute: true, Targets: []Target{{Route: []sip.Uri{next()}}}}, nil
	})
	b = RouterFunc(func(ctx context.Context, req *sip.Request, src Source) (Decision, error) {
		if inDialog(req) {
			return Decision{}, nil
		}
		u := uas()
		return Decision{RecordRoute: true, Targets: []Target{{URI: &u}}}, nil
	})
	return a, b
}

type chain struct {
	a, b *Proxy
	uas  *testUAS
}

func startChain(t *testing.T, uasTCP bool, handlers uasHandlers) *chain {
	t.Helper()
	c := &chain{}
	ra, rb := chainRouters(t, func() sip.Uri { return uriOf(c.b, transportUDP) }, func() sip.Uri { return c.uas.uri })
	c.uas = startUAS(t, uasTCP, handlers)
	c.b = startProxy(t, rb)
	c.a = startProxy(t, ra)
	return c
}

func viaSentBys(m headerList) []string {
	var out []string
	for _, h := range headersNamed(m, "via") {
		out = append(out, h.(*sip.ViaHeader).SentBy())
	}
	return out
}

func routeURIs(m headerList, name string) []string {
	var out []string
	for _, h := range headersNamed(m, name) {
		switch v := h.(type) {
		case *sip.RouteHeader:
			out = append(out, v.Address.String())
		case *sip.RecordRouteHeader:
			out = append(out, v.Address.String())
		}
	}
	return out
}

func listenerURI(p *Proxy, transport string) string {
	a := p.addr(transport)
	return "sip:" + a.String() + ";transport=" + strings.ToLower(transport) + ";lr"
}

// TestInviteDialogThroughTwoProxies runs INVITE/100/180/200/ACK/BYE through UAC → A → B → UAS and checks the Via
// stack on both sides, Record-Route on the way out and loose routing of the in-dialog requests (RFC 3261 §16.6,
// §16.7, §16.12).
func TestInviteDialogThroughTwoProxies(t *testing.T) {
	c := startChain(t, false, uasHandlers{
		sip.INVITE: func(u *testUAS, req *sip.Request, tx sip.ServerTransaction) {
			u.respond(req, tx, 180, "Ringing")
			u.respond(req, tx, 200, "OK")
		},
	})
	uac := newRawUDP(t, "127.0.0.1:0")
	aAddr := c.a.addr(transportUDP)
	inv := uac.request(reqOpts{method: sip.INVITE, ruri: "sip:bob@ims.mnc001.mcc001.3gppnetwork.org"})
	uac.send(inv, aAddr)

	// 100 comes from A at once, then 180 and 200 are relayed.
	uac.response(100)
	ringing := uac.response(180, 100)
	ok := uac.response(200, 100, 180)
	for _, res := range []*sip.Response{ringing, ok} {
		if got := viaSentBys(res); len(got) != 1 || got[0] != uac.local.String() {
			t.Errorf("%d: Via stack %v, want only the UAC's %s", res.StatusCode, got, uac.local)
		}
	}
	wantRR := []string{listenerURI(c.b, transportUDP), listenerURI(c.a, transportUDP)}
	if got := routeURIs(ok, "record-route"); !slices.Equal(got, wantRR) {
		t.Errorf("200 Record-Route %v, want %v", got, wantRR)
	}

	// What the UAS saw: three Vias (B, A, UAC), Max-Forwards decremented twice, Request-URI retargeted, both
	// proxies in Record-Route, B's pre-loaded Route consumed by B.
	got := c.uas.nextOf(sip.INVITE)
	if vias := viaSentBys(got); len(vias) != 3 || vias[2] != uac.local.String() {
		t.Errorf("INVITE at UAS: Via %v", vias)
	}
	if mf := got.MaxForwards(); mf == nil || mf.Val() != 68 {
		t.Errorf("INVITE at UAS: Max-Forwards %v, want 68", mf)
	}
	if got.Recipient.String() != c.uas.uri.String() {
		t.Errorf("INVITE at UAS: Request-URI %s, want %s", got.Recipient.String(), c.uas.uri.String())
	}
	if r := routeURIs(got, "route"); len(r) != 0 {
		t.Errorf("INVITE at UAS still has Route %v", r)
	}
	for _, via := range headersNamed(got, "via")[:2] {
		branch, _ := via.(*sip.ViaHeader).Params.Get("branch")
		if !strings.HasPrefix(branch, "z9hG4bK") {
			t.Errorf("proxy Via branch %q lacks the RFC 3261 magic cookie", branch)
		}
	}

	// ACK and BYE follow the route set: Route is the reversed Record-Route, Request-URI the UAS Contact.
	toTag, _ := ok.To().Params.Get("tag")
	routes := []sip.Uri{mustURI(t, listenerURI(c.a, transportUDP)), mustURI(t, listenerURI(c.b, transportUDP))}
	contact := ok.Contact().Address.String()
	ack := uac.request(reqOpts{method: sip.ACK, ruri: contact, callID: callIDOf(inv), toTag: toTag, routes: routes})
	uac.send(ack, aAddr)
	gotAck := c.uas.nextOf(sip.ACK)
	if r := routeURIs(gotAck, "route"); len(r) != 0 {
		t.Errorf("ACK at UAS still has Route %v", r)
	}
	if vias := viaSentBys(gotAck); len(vias) != 3 {
		t.Errorf("ACK at UAS: Via %v, want three", vias)
	}
	if gotAck.Recipient.String() != contact {
		t.Errorf("ACK Request-URI %s, want %s", gotAck.Recipient.String(), contact)
	}

	bye := uac.request(reqOpts{method: sip.BYE, ruri: contact, callID: callIDOf(inv), cseq: 2, toTag: toTag, routes: routes})
	uac.send(bye, aAddr)
	byeOK := uac.final()
	if byeOK.StatusCode != 200 || byeOK.CSeq().MethodName != sip.BYE {
		t.Fatalf("BYE answered %s", byeOK.StartLine())
	}
	gotBye := c.uas.nextOf(sip.BYE)
	if r := routeURIs(gotBye, "route"); len(r) != 0 {
		t.Errorf("BYE at UAS still has Route %v", r)
	}
	if gotBye.Recipient.String() != contact {
		t.Errorf("BYE Request-URI %s, want %s", gotBye.Recipient.String(), contact)
	}
}

var _ = netip.AddrPort{}
