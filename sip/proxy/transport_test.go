package proxy

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
)

// TestLargeRequestSwitchesToTCP checks RFC 3261 §18.1.1: a request over 1300 bytes meant for UDP goes over TCP,
// with the top Via saying TCP, even when the URI says transport=udp; a small one stays on UDP; when the next hop
// does not take TCP the request falls back to UDP.
func TestLargeRequestSwitchesToTCP(t *testing.T) {
	checkLeaksAtEnd(t)
	tests := []struct {
		name          string
		bodySize      int
		uasTCP        bool
		uriTransport  string
		wantTransport string
	}{
		{name: "small stays udp", bodySize: 100, uasTCP: true, wantTransport: "UDP"},
		{name: "large goes tcp", bodySize: 1500, uasTCP: true, wantTransport: "TCP"},
		{name: "large goes tcp despite transport=udp", bodySize: 1500, uasTCP: true, uriTransport: "udp", wantTransport: "TCP"},
		{name: "large falls back to udp without tcp", bodySize: 1500, uasTCP: false, wantTransport: "UDP"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			uas := startUAS(t, tc.uasTCP, nil)
			target := uas.uri
			if tc.uriTransport != "" {
				target.UriParams = sip.NewParams()
				target.UriParams.Add("transport", tc.uriTransport)
			}
			p := startProxy(t, RouterFunc(func(ctx context.Context, req *sip.Request, src Source) (Decision, error) {
				return Decision{RecordRoute: true, Targets: []Target{{URI: &target}}}, nil
			}))
			uac := newRawUDP(t, "127.0.0.1:0")
			body := []byte(strings.Repeat("x", tc.bodySize))
			uac.send(uac.request(reqOpts{method: sip.MESSAGE, ruri: "sip:bob@ims.mnc001.mcc001.3gppnetwork.org", body: body}), p.addr(transportUDP))
			if res := uac.final(); res.StatusCode != 200 {
				t.Fatalf("got %s", res.StartLine())
			}
			got := uas.nextOf(sip.MESSAGE)
			if got.Transport() != tc.wantTransport {
				t.Errorf("arrived over %s, want %s", got.Transport(), tc.wantTransport)
			}
			if v := got.Via(); v.Transport != tc.wantTransport {
				t.Errorf("top Via transport %s, want %s", v.Transport, tc.wantTransport)
			}
			rr := routeURIs(got, "record-route")
			if len(rr) == 0 || !strings.Contains(rr[0], "transport="+strings.ToLower(tc.wantTransport)) {
				t.Errorf("Record-Route %v does not name the outgoing transport %s", rr, tc.wantTransport)
			}
			if len(got.Body()) != tc.bodySize {
				t.Errorf("body %d bytes, want %d", len(got.Body()), tc.bodySize)
			}
		})
	}
}

// TestTCPChainDoubleRecordRoute: UAC -TCP-> A -TCP-> B -UDP-> UAS. B changes transport and records both sides
// (double Record-Route); requests in both directions of the dialog then follow the route set, the callee's BYE
// reaching the caller over the caller's own TCP connection.
func TestTCPChainDoubleRecordRoute(t *testing.T) {
	checkLeaksAtEnd(t)
	var a, b *Proxy
	callee := newRawUDP(t, "127.0.0.1:0")
	calleeURI := sip.Uri{Scheme: "sip", User: "bob", Host: "127.0.0.1", Port: int(callee.local.Port())}
	inDialog := func(req *sip.Request) bool { tag, _ := req.To().Params.Get("tag"); return tag != "" }
	b = startProxy(t, RouterFunc(func(ctx context.Context, req *sip.Request, src Source) (Decision, error) {
		if inDialog(req) {
			return Decision{}, nil
		}
		return Decision{RecordRoute: true, Targets: []Target{{URI: &calleeURI}}}, nil
	}))
	bTCP := uriOf(b, transportTCP)
	a = startProxy(t, RouterFunc(func(ctx context.Context, req *sip.Request, src Source) (Decision, error) {
		if inDialog(req) {
			return Decision{}, nil
		}
		return Decision{RecordRoute: true, Targets: []Target{{Route: []sip.Uri{bTCP}}}}, nil
	}))
	uac := newRawTCP(t, a.addr(transportTCP))
	inv := uac.request(reqOpts{method: sip.INVITE, ruri: "sip:bob@ims.mnc001.mcc001.3gppnetwork.org"})
	uac.send(inv, netip.AddrPort{})
	uac.response(100)

	got := callee.next().(*sip.Request)
	wantRR := []string{listenerURI(b, transportUDP), listenerURI(b, transportTCP), listenerURI(a, transportTCP)}
	if rr := routeURIs(got, "record-route"); !slices.Equal(rr, wantRR) {
		t.Fatalf("Record-Route at callee %v, want %v", rr, wantRR)
	}
	if v := viaSentBys(got); len(v) != 3 || got.Via().Transport != "UDP" {
		t.Errorf("Via at callee %v (top %s)", v, got.Via().Transport)
	}
	ok := sip.NewResponseFromRequest(got, 200, "OK", nil)
	ok.AppendHeader(&sip.ContactHeader{Address: calleeURI})
	callee.send(ok, b.addr(transportUDP))
	res := uac.response(200, 100)
	toTag, _ := res.To().Params.Get("tag")

	// Caller → callee: Route is the reversed Record-Route.
	routes := []sip.Uri{mustURI(t, listenerURI(a, transportTCP)), mustURI(t, listenerURI(b, transportTCP)), mustURI(t, listenerURI(b, transportUDP))}
	uac.send(uac.request(reqOpts{method: sip.ACK, ruri: calleeURI.String(), callID: callIDOf(inv), toTag: toTag, routes: routes}), netip.AddrPort{})
	ack := callee.next().(*sip.Request)
	if ack.Method != sip.ACK || len(routeURIs(ack, "route")) != 0 || len(viaSentBys(ack)) != 3 {
		t.Fatalf("callee got %s with Route %v Via %v", ack.StartLine(), routeURIs(ack, "route"), viaSentBys(ack))
	}

	// Callee → caller: Route is the Record-Route as received, sent to its first value (B's UDP side).
	bye := sip.NewRequest(sip.BYE, *inv.Contact().Address.Clone())
	params := sip.NewParams()
	params.Add("branch", sip.RFC3261BranchMagicCookie+uniq("callee"))
	bye.AppendHeader(&sip.ViaHeader{ProtocolName: "SIP", ProtocolVersion: "2.0", Transport: "UDP", Host: "127.0.0.1", Port: int(callee.local.Port()), Params: params})
	for _, r := range wantRR {
		bye.AppendHeader(&sip.RouteHeader{Address: mustURI(t, r)})
	}
	mf := sip.MaxForwardsHeader(70)
	bye.AppendHeader(&mf)
	from := res.To().AsFrom()
	bye.AppendHeader(&from)
	to := inv.From().AsTo()
	bye.AppendHeader(&to)
	bye.AppendHeader(sip.HeaderClone(inv.CallID()))
	bye.AppendHeader(&sip.CSeqHeader{SeqNo: 1, MethodName: sip.BYE})
	bye.SetBody(nil)
	callee.send(bye, b.addr(transportUDP))

	gotBye := uac.next().(*sip.Request)
	if gotBye.Method != sip.BYE || len(routeURIs(gotBye, "route")) != 0 {
		t.Fatalf("caller got %s with Route %v", gotBye.StartLine(), routeURIs(gotBye, "route"))
	}
	if v := viaSentBys(gotBye); len(v) != 3 || gotBye.Via().Transport != "TCP" {
		t.Errorf("BYE at caller: Via %v", v)
	}
	byeOK := sip.NewResponseFromRequest(gotBye, 200, "OK", nil)
	uac.send(byeOK, netip.AddrPort{})
	if r := callee.next().(*sip.Response); r.StatusCode != 200 || r.CSeq().MethodName != sip.BYE {
		t.Fatalf("callee got %s", r.StartLine())
	}
}

// TestTimeouts: a next hop that never answers gives 408 upstream: Timer F for non-INVITE, Timer C without a
// provisional response for INVITE (RFC 3261 §16.8, §17.1.2.2). Timers are shortened; nothing asserts timing.
func TestTimeouts(t *testing.T) {
	checkLeaksAtEnd(t)
	hole, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer hole.Close()
	holeAddr := hole.LocalAddr().(*net.UDPAddr).AddrPort()
	var mu sync.Mutex
	var seen []bool
	p := startProxy(t, RouterFunc(func(ctx context.Context, req *sip.Request, src Source) (Decision, error) {
		return Decision{
			Targets: []Target{{NextHop: &NextHop{Addr: holeAddr}}},
			OnResponse: func(res *sip.Response, generated bool) {
				mu.Lock()
				seen = append(seen, generated)
				mu.Unlock()
			},
		}, nil
	}), func(c *Config) {
		c.TimerF = 300 * time.Millisecond
		c.TimerC = 300 * time.Millisecond
	})
	uac := newRawUDP(t, "127.0.0.1:0")
	for _, method := range []sip.RequestMethod{sip.MESSAGE, sip.INVITE} {
		t.Run(string(method), func(t *testing.T) {
			req := uac.request(reqOpts{method: method, ruri: "sip:bob@ims.mnc001.mcc001.3gppnetwork.org"})
			uac.send(req, p.addr(transportUDP))
			res := uac.final()
			if res.StatusCode != 408 {
				t.Fatalf("got %s, want 408", res.StartLine())
			}
			if method == sip.INVITE {
				toTag, _ := res.To().Params.Get("tag")
				uac.send(uac.request(reqOpts{method: sip.ACK, ruri: req.Recipient.String(), callID: callIDOf(req), branch: branchOf(req), toTag: toTag}), p.addr(transportUDP))
			}
		})
	}
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(seen, []bool{true, true}) {
		t.Errorf("OnResponse generated flags %v, want [true true]", seen)
	}
}

// TestUnreachableNextHop: a TCP next hop that refuses the connection is a transport error, treated as a 503
// (RFC 3261 §16.9); a 503 is not relayed, the only-503 context answers 500 (§16.7 step 6). A DNS name that does
// not resolve and a target that is not a SIP URI get the same and 416.
func TestUnreachableNextHop(t *testing.T) {
	checkLeaksAtEnd(t)
	closed, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	refused := closed.Addr().(*net.TCPAddr).AddrPort()
	closed.Close()
	tests := []struct {
		name   string
		target string
		want   int
	}{
		{name: "tcp refused", target: "sip:bob@" + refused.String() + ";transport=tcp", want: 500},
		{name: "unknown transport", target: "sip:bob@127.0.0.1:5;transport=sctp", want: 500},
		{name: "tel without route", target: "tel:+15551234567", want: 416},
		{name: "unresolvable name", target: "sip:bob@no-such-host.invalid", want: 500},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			target := mustURI(t, tc.target)
			p := startProxy(t, RouterFunc(func(ctx context.Context, req *sip.Request, src Source) (Decision, error) {
				return Forward(Target{URI: &target}), nil
			}), func(c *Config) { c.Resolver = loopbackOnlyResolver(refused) })
			uac := newRawUDP(t, "127.0.0.1:0")
			uac.send(uac.request(reqOpts{method: sip.MESSAGE, ruri: "sip:bob@ims.mnc001.mcc001.3gppnetwork.org"}), p.addr(transportUDP))
			if res := uac.final(); res.StatusCode != tc.want {
				t.Fatalf("got %s, want %d", res.StartLine(), tc.want)
			}
		})
	}
}

// loopbackOnlyResolver sends DNS queries to a closed loopback port: lookups fail at once and no traffic leaves
// the host.
func loopbackOnlyResolver(dead netip.AddrPort) *net.Resolver {
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, dead.String())
	}}
}

// TestRouterOutcomes: a StatusError answers with its code, a router that overruns RouteTimeout gets 504 (an
// external server timed out, RFC 3261 §21.5.5), a panic or plain error gets 500 and the proxy keeps serving.
func TestRouterOutcomes(t *testing.T) {
	checkLeaksAtEnd(t)
	p := startProxy(t, RouterFunc(func(ctx context.Context, req *sip.Request, src Source) (Decision, error) {
		switch req.Recipient.User {
		case "forbidden":
			return Decision{}, &StatusError{Code: 403, Reason: "Forbidden"}
		case "slow":
			<-ctx.Done()
			return Decision{}, ctx.Err()
		case "panic":
			panic("router bug")
		case "error":
			return Decision{}, errors.New("database down")
		}
		return Respond(200, "OK", sip.NewHeader("Service-Route", "<sip:orig@scscf.ims.mnc001.mcc001.3gppnetwork.org;lr>")), nil
	}), func(c *Config) { c.RouteTimeout = 200 * time.Millisecond })
	uac := newRawUDP(t, "127.0.0.1:0")
	tests := []struct {
		user string
		want int
	}{
		{"forbidden", 403}, {"slow", 504}, {"panic", 500}, {"error", 500}, {"ok", 200},
	}
	for _, tc := range tests {
		t.Run(tc.user, func(t *testing.T) {
			uac.send(uac.request(reqOpts{method: sip.REGISTER, ruri: "sip:" + tc.user + "@ims.mnc001.mcc001.3gppnetwork.org"}), p.addr(transportUDP))
			res := uac.final()
			if res.StatusCode != tc.want {
				t.Fatalf("got %s, want %d", res.StartLine(), tc.want)
			}
			if tc.want == 200 && len(headerValues(res, "service-route")) != 1 {
				t.Errorf("local reply lost its headers: %v", res.String())
			}
		})
	}
}

// TestIPv6Chain runs a MESSAGE and an INVITE dialog over ::1 through one proxy.
func TestIPv6Chain(t *testing.T) {
	checkLeaksAtEnd(t)
	callee := newRawUDP(t, "[::1]:0")
	calleeURI := sip.Uri{Scheme: "sip", User: "bob", Host: "[::1]", Port: int(callee.local.Port())}
	p := startProxy(t, RouterFunc(func(ctx context.Context, req *sip.Request, src Source) (Decision, error) {
		return Decision{RecordRoute: true, Targets: []Target{{URI: &calleeURI}}}, nil
	}), func(c *Config) { c.Listen = []Listen{{Addr: "[::1]:0"}} })
	uac := newRawUDP(t, "[::1]:0")
	uac.send(uac.request(reqOpts{method: sip.MESSAGE, ruri: "sip:bob@ims.mnc001.mcc001.3gppnetwork.org"}), p.addr(transportUDP))
	got := callee.next().(*sip.Request)
	if rr := routeURIs(got, "record-route"); len(rr) != 1 || !strings.Contains(rr[0], "[::1]:") {
		t.Errorf("Record-Route %v", rr)
	}
	if v := got.Via(); v.Host != "::1" || v.Port != int(p.addr(transportUDP).Port()) {
		t.Errorf("top Via %s", v.Value())
	}
	callee.send(sip.NewResponseFromRequest(got, 200, "OK", nil), p.addr(transportUDP))
	if res := uac.final(); res.StatusCode != 200 {
		t.Fatalf("got %s", res.StartLine())
	}
}

// TestTimerCCancelsRingingBranch: when Timer C fires on a branch that has sent a provisional response, the proxy
// CANCELs it (RFC 3261 §16.8) and relays the 487 the UAS answers.
func TestTimerCCancelsRingingBranch(t *testing.T) {
	checkLeaksAtEnd(t)
	cancelled, acked := make(chan struct{}), make(chan struct{})
	uas := startUAS(t, false, uasHandlers{
		sip.INVITE: func(u *testUAS, req *sip.Request, tx sip.ServerTransaction) {
			u.ringUntilCancelled(req, tx, nil, func() { close(cancelled) }, acked)
		},
	})
	p := startProxy(t, RouterFunc(func(ctx context.Context, req *sip.Request, src Source) (Decision, error) {
		return Forward(Target{URI: &uas.uri}), nil
	}), func(c *Config) { c.TimerC = 300 * time.Millisecond })
	uac := newRawUDP(t, "127.0.0.1:0")
	inv := uac.request(reqOpts{method: sip.INVITE, ruri: "sip:bob@ims.mnc001.mcc001.3gppnetwork.org"})
	uac.send(inv, p.addr(transportUDP))
	uac.response(180, 100)
	res := uac.final()
	if res.StatusCode != 487 {
		t.Fatalf("got %s, want the UAS's 487", res.StartLine())
	}
	select {
	case <-cancelled:
	case <-time.After(waitLong):
		t.Fatal("the UAS never saw a CANCEL")
	}
	toTag, _ := res.To().Params.Get("tag")
	uac.send(uac.request(reqOpts{method: sip.ACK, ruri: inv.Recipient.String(), callID: callIDOf(inv), branch: branchOf(inv), toTag: toTag}), p.addr(transportUDP))
	waitClosed(t, acked, "the proxy's ACK for the 487 at the UAS")
}
