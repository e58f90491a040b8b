package proxy

import (
	"context"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/imscore/imscore/sip/header"

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

func viaSentBys(m sip.Message) []string {
	var out []string
	for _, h := range header.Fields(m, "via") {
		out = append(out, h.(*sip.ViaHeader).SentBy())
	}
	return out
}

func routeURIs(m sip.Message, name string) []string {
	var out []string
	for _, h := range header.Fields(m, name) {
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
	checkLeaksAtEnd(t)
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
	for _, via := range header.Fields(got, "via")[:2] {
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

// TestNonInviteThroughTwoProxies sends MESSAGE and OPTIONS through the chain: no 100 Trying for non-INVITE
// (RFC 3261 §16.2), the 200 comes back with only the UAC's Via.
func TestNonInviteThroughTwoProxies(t *testing.T) {
	checkLeaksAtEnd(t)
	c := startChain(t, false, nil)
	uac := newRawUDP(t, "127.0.0.1:0")
	for _, method := range []sip.RequestMethod{sip.MESSAGE, sip.OPTIONS} {
		t.Run(string(method), func(t *testing.T) {
			req := uac.request(reqOpts{method: method, ruri: "sip:bob@ims.mnc001.mcc001.3gppnetwork.org", body: []byte("hello")})
			uac.send(req, c.a.addr(transportUDP))
			res := uac.next().(*sip.Response) // the first response must already be the final one
			if res.StatusCode != 200 || res.CSeq().MethodName != method {
				t.Fatalf("got %s", res.StartLine())
			}
			if got := viaSentBys(res); len(got) != 1 {
				t.Errorf("Via stack %v", got)
			}
			got := c.uas.nextOf(method)
			if string(got.Body()) != "hello" {
				t.Errorf("body %q at UAS", got.Body())
			}
			if len(routeURIs(got, "record-route")) != 2 {
				t.Errorf("Record-Route at UAS %v", routeURIs(got, "record-route"))
			}
		})
	}
}

// TestMaxForwards: 0 on arrival is answered 483 (RFC 3261 §16.3 step 3); 1 is decremented to 0 by A and B
// answers 483, which A relays; no Max-Forwards at all gets one added (§16.6 step 3).
func TestMaxForwards(t *testing.T) {
	checkLeaksAtEnd(t)
	c := startChain(t, false, nil)
	uac := newRawUDP(t, "127.0.0.1:0")
	tests := []struct {
		name   string
		maxFwd int // -1 omits the header; 0 is sent as 0
		want   int
		atUAS  uint32
	}{
		{name: "zero", maxFwd: 0, want: 483},
		{name: "one", maxFwd: 1, want: 483},
		{name: "absent", maxFwd: -1, want: 200, atUAS: 69},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := uac.request(reqOpts{method: sip.OPTIONS, ruri: "sip:bob@ims.mnc001.mcc001.3gppnetwork.org", maxFwd: -1})
			if tc.maxFwd >= 0 {
				mf := sip.MaxForwardsHeader(tc.maxFwd)
				req.AppendHeader(&mf)
			}
			uac.send(req, c.a.addr(transportUDP))
			if res := uac.final(); res.StatusCode != tc.want {
				t.Fatalf("got %s, want %d", res.StartLine(), tc.want)
			}
			if tc.atUAS != 0 {
				if mf := c.uas.nextOf(sip.OPTIONS).MaxForwards(); mf == nil || mf.Val() != tc.atUAS {
					t.Errorf("Max-Forwards at UAS %v, want %d", mf, tc.atUAS)
				}
			}
		})
	}
}

// TestLoopAndSpiral: a proxy forwarding a request to itself unchanged is a loop (482, RFC 3261 §16.3 step 4); one
// that changes the Request-URI before sending it back to itself spirals and the request goes through.
func TestLoopAndSpiral(t *testing.T) {
	checkLeaksAtEnd(t)
	uas := startUAS(t, false, nil)
	var selfPtr atomic.Pointer[Proxy]
	router := RouterFunc(func(ctx context.Context, req *sip.Request, src Source) (Decision, error) {
		self := selfPtr.Load()
		if self == nil {
			return Respond(503, "Starting"), nil
		}
		switch req.Recipient.User {
		case "loop":
			return Forward(Target{NextHop: &NextHop{Addr: self.addr(transportUDP)}}), nil
		case "spiral": // like an AS re-targeting: the Request-URI changes, so it is a spiral
			u := mustURI(t, "sip:spiral2@ims.mnc001.mcc001.3gppnetwork.org")
			return Forward(Target{URI: &u, NextHop: &NextHop{Addr: self.addr(transportUDP)}}), nil
		default:
			return Forward(Target{URI: &uas.uri}), nil
		}
	})
	self := startProxy(t, router)
	selfPtr.Store(self)
	uac := newRawUDP(t, "127.0.0.1:0")
	tests := []struct {
		name string
		user string
		want int
	}{
		{name: "loop", user: "loop", want: 482},
		{name: "spiral", user: "spiral", want: 200},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			uac.send(uac.request(reqOpts{method: sip.MESSAGE, ruri: "sip:" + tc.user + "@ims.mnc001.mcc001.3gppnetwork.org"}), self.addr(transportUDP))
			if res := uac.final(); res.StatusCode != tc.want {
				t.Fatalf("got %s, want %d", res.StartLine(), tc.want)
			}
		})
	}
	if got := uas.nextOf(sip.MESSAGE); got.Recipient.String() != uas.uri.String() || len(viaSentBys(got)) != 3 {
		t.Errorf("spiralled MESSAGE at UAS: %s with Via %v", got.Recipient.String(), viaSentBys(got))
	}
}

// TestCancelFromUAC: the UAC cancels a ringing INVITE; each proxy answers the CANCEL 200 at once and cancels its
// branch, the UAS answers 487, which travels back as the INVITE's final response (RFC 3261 §16.10).
func TestCancelFromUAC(t *testing.T) {
	checkLeaksAtEnd(t)
	canceled, acked := make(chan struct{}), make(chan struct{})
	c := startChain(t, false, uasHandlers{
		sip.INVITE: func(u *testUAS, req *sip.Request, tx sip.ServerTransaction) {
			u.ringUntilCancelled(req, tx, nil, func() { close(canceled) }, acked)
		},
	})
	uac := newRawUDP(t, "127.0.0.1:0")
	inv := uac.request(reqOpts{method: sip.INVITE, ruri: "sip:bob@ims.mnc001.mcc001.3gppnetwork.org"})
	uac.send(inv, c.a.addr(transportUDP))
	uac.response(180, 100)

	cancel := sip.NewRequest(sip.CANCEL, inv.Recipient)
	cancel.AppendHeader(inv.Via().Clone())
	mf := sip.MaxForwardsHeader(70)
	cancel.AppendHeader(&mf)
	cancel.AppendHeader(sip.HeaderClone(inv.From()))
	cancel.AppendHeader(sip.HeaderClone(inv.To()))
	cancel.AppendHeader(sip.HeaderClone(inv.CallID()))
	cancel.AppendHeader(&sip.CSeqHeader{SeqNo: 1, MethodName: sip.CANCEL})
	cancel.SetBody(nil)
	uac.send(cancel, c.a.addr(transportUDP))

	var got200, got487 bool
	for !got200 || !got487 {
		res := uac.next().(*sip.Response)
		switch {
		case res.StatusCode == 200 && res.CSeq().MethodName == sip.CANCEL:
			got200 = true
		case res.StatusCode == 487 && res.CSeq().MethodName == sip.INVITE:
			got487 = true
			toTag, _ := res.To().Params.Get("tag")
			if toTag == "" {
				t.Errorf("487 without To tag")
			}
			// The hop-by-hop ACK for the 487 (RFC 3261 §17.1.1.3) is absorbed by A.
			uac.send(uac.request(reqOpts{method: sip.ACK, ruri: inv.Recipient.String(), callID: callIDOf(inv),
				branch: branchOf(inv), toTag: toTag}), c.a.addr(transportUDP))
		case res.StatusCode < 200:
		default:
			t.Fatalf("unexpected %s", res.StartLine())
		}
	}
	waitClosed(t, canceled, "the CANCEL at the UAS")
	waitClosed(t, acked, "B's ACK for the 487 at the UAS")
	// A absorbed the ACK (RFC 3261 §17.2.1): the UAS sees the next request, an OPTIONS, and no ACK. The OPTIONS
	// proves it without waiting for silence.
	uac.send(uac.request(reqOpts{method: sip.OPTIONS, ruri: "sip:bob@ims.mnc001.mcc001.3gppnetwork.org"}), c.a.addr(transportUDP))
	uac.response(200)
	if r := c.uas.next(); r.Method == sip.INVITE {
		r = c.uas.next()
		if r.Method != sip.OPTIONS {
			t.Errorf("UAS got %s after the cancelled INVITE, want OPTIONS (ACK must be absorbed)", r.Method)
		}
	}
}

func branchOf(req *sip.Request) string {
	b, _ := req.Via().Params.Get("branch")
	return b
}

// TestCancelWhileRouting: a CANCEL that arrives while the router is still working (an I-CSCF waiting for its
// UAA) stops the routing and the INVITE is answered 487 without any branch.
func TestCancelWhileRouting(t *testing.T) {
	checkLeaksAtEnd(t)
	entered := make(chan struct{})
	p := startProxy(t, RouterFunc(func(ctx context.Context, req *sip.Request, src Source) (Decision, error) {
		close(entered)
		<-ctx.Done()
		return Decision{}, ctx.Err()
	}))
	uac := newRawUDP(t, "127.0.0.1:0")
	inv := uac.request(reqOpts{method: sip.INVITE, ruri: "sip:bob@ims.mnc001.mcc001.3gppnetwork.org"})
	uac.send(inv, p.addr(transportUDP))
	uac.response(100)
	<-entered
	cancel := uac.request(reqOpts{method: sip.CANCEL, ruri: inv.Recipient.String(), callID: callIDOf(inv), branch: branchOf(inv)})
	uac.send(cancel, p.addr(transportUDP))
	var codes []int
	for len(codes) < 2 {
		codes = append(codes, uac.final().StatusCode)
	}
	slices.Sort(codes)
	if !slices.Equal(codes, []int{200, 487}) {
		t.Fatalf("got %v, want 200 (CANCEL) and 487 (INVITE)", codes)
	}
}

// TestCancelUnknown: a CANCEL matching no INVITE is answered 481.
func TestCancelUnknown(t *testing.T) {
	checkLeaksAtEnd(t)
	p := startProxy(t, RouterFunc(func(context.Context, *sip.Request, Source) (Decision, error) {
		return Respond(200, "OK"), nil
	}))
	uac := newRawUDP(t, "127.0.0.1:0")
	uac.send(uac.request(reqOpts{method: sip.CANCEL, ruri: "sip:bob@ims.mnc001.mcc001.3gppnetwork.org"}), p.addr(transportUDP))
	if res := uac.final(); res.StatusCode != 481 {
		t.Fatalf("got %s, want 481", res.StartLine())
	}
}
