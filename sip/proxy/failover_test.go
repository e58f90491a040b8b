package proxy

import (
	"context"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
)

// hopReport is one Target.HopFailed call.
type hopReport struct {
	addr       netip.AddrPort
	retryAfter time.Duration
}

// failoverRouter forwards every request to one Target whose hops are hops, in order, and records HopFailed.
type failoverRouter struct {
	hops       []NextHop
	noResponse time.Duration
	mu         sync.Mutex
	reports    []hopReport
	routed     int
}

func (r *failoverRouter) Route(ctx context.Context, req *sip.Request, src Source) (Decision, error) {
	r.mu.Lock()
	r.routed++
	r.mu.Unlock()
	first := r.hops[0]
	return Forward(Target{NextHop: &first, Failover: r.hops[1:], NoResponseTimeout: r.noResponse,
		HopFailed: func(h NextHop, retryAfter time.Duration) {
			r.mu.Lock()
			defer r.mu.Unlock()
			r.reports = append(r.reports, hopReport{h.Addr, retryAfter})
		}}), nil
}

func (r *failoverRouter) state() ([]hopReport, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]hopReport(nil), r.reports...), r.routed
}

// refusedTCP is a loopback address where no TCP listener is (a connect is refused).
func refusedTCP(t *testing.T) netip.AddrPort {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	a := ln.Addr().(*net.TCPAddr).AddrPort()
	_ = ln.Close()
	return a
}

// TestFailover checks Target.Failover (RFC 3263 §4.3): a silent next hop (the per-target no-response timeout,
// or Timer F), a refused TCP connect and a 503 each hand the request to the next address, with a new Via branch
// and without asking the router again; a 503's Retry-After is reported with the failed hop; any other failure
// ends the branch; when every hop fails the upstream gets 500, never the 503 (RFC 3261 §16.7 step 6).
func TestFailover(t *testing.T) {
	checkLeaksAtEnd(t)
	type hopKind int
	const (
		silent hopKind = iota
		refused
		unavailable   // 503 with Retry-After: 120
		unavailableNR // 503 without Retry-After
		busy          // 486
		good          // 200
	)
	tests := []struct {
		name        string
		method      sip.RequestMethod
		hops        []hopKind
		noResponse  time.Duration
		timerF      time.Duration
		want        int
		wantReports []time.Duration // retryAfter per HopFailed call, in order
		wantGood    bool
	}{
		{name: "silent, 503, good (MESSAGE, no-response timeout)", method: sip.MESSAGE,
			hops: []hopKind{silent, unavailable, good}, noResponse: 300 * time.Millisecond, want: 200,
			wantReports: []time.Duration{0, 120 * time.Second}, wantGood: true},
		{name: "silent then good (MESSAGE, Timer F)", method: sip.MESSAGE, hops: []hopKind{silent, good},
			timerF: 500 * time.Millisecond, want: 200, wantReports: []time.Duration{0}, wantGood: true},
		{name: "refused, 503, good (INVITE)", method: sip.INVITE, hops: []hopKind{refused, unavailableNR, good},
			want: 200, wantReports: []time.Duration{0, 0}, wantGood: true},
		{name: "silent then good (INVITE, no-response timeout)", method: sip.INVITE, hops: []hopKind{silent, good},
			noResponse: 300 * time.Millisecond, want: 200, wantReports: []time.Duration{0}, wantGood: true},
		{name: "every hop fails: 500 upstream", method: sip.MESSAGE, hops: []hopKind{unavailable, unavailableNR},
			want: 500, wantReports: []time.Duration{120 * time.Second, 0}},
		{name: "486 is no reason to fail over", method: sip.MESSAGE, hops: []hopKind{busy, good}, want: 486},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var hops []NextHop
			var silentUA *rawUA
			var goodUAS *testUAS
			for _, k := range tc.hops {
				switch k {
				case silent:
					silentUA = newRawUDP(t, "127.0.0.1:0")
					hops = append(hops, NextHop{Transport: transportUDP, Addr: silentUA.local})
				case refused:
					hops = append(hops, NextHop{Transport: transportTCP, Addr: refusedTCP(t)})
				case unavailable, unavailableNR, busy:
					code, reason := 503, "Service Unavailable"
					var hdrs []sip.Header
					switch k {
					case unavailable:
						hdrs = []sip.Header{sip.NewHeader("Retry-After", "120 (maintenance);duration=60")}
					case busy:
						code, reason = 486, "Busy Here"
					}
					u := startUAS(t, false, uasHandlers{tc.method: func(u *testUAS, req *sip.Request, tx sip.ServerTransaction) {
						u.respond(req, tx, code, reason, hdrs...)
					}})
					hops = append(hops, NextHop{Transport: transportUDP, Addr: u.addr})
				case good:
					goodUAS = startUAS(t, false, nil)
					hops = append(hops, NextHop{Transport: transportUDP, Addr: goodUAS.addr})
				}
			}
			r := &failoverRouter{hops: hops, noResponse: tc.noResponse}
			p := startProxy(t, r, func(c *Config) {
				if tc.timerF > 0 {
					c.TimerF = tc.timerF
				}
			})
			uac := newRawUDP(t, "127.0.0.1:0")
			req := uac.request(reqOpts{method: tc.method, ruri: "sip:bob@ims.mnc001.mcc001.3gppnetwork.org"})
			uac.send(req, p.addr(transportUDP))
			res := uac.final()
			if res.StatusCode != tc.want {
				t.Fatalf("final %s, want %d", res.StartLine(), tc.want)
			}
			if tc.method == sip.INVITE && res.StatusCode >= 300 {
				toTag, _ := res.To().Params.Get("tag")
				uac.send(uac.request(reqOpts{method: sip.ACK, ruri: req.Recipient.String(), callID: callIDOf(req),
					branch: branchOf(req), toTag: toTag}), p.addr(transportUDP))
			}
			if got := viaSentBys(res); len(got) != 1 {
				t.Errorf("Via stack %v, want the UAC's only", got)
			}
			reports, routed := r.state()
			if routed != 1 {
				t.Errorf("router asked %d times, want once", routed)
			}
			if len(reports) != len(tc.wantReports) {
				t.Fatalf("HopFailed %v, want %d reports with Retry-After %v", reports, len(tc.wantReports), tc.wantReports)
			}
			for i, rep := range reports {
				if rep.addr != hops[i].Addr || rep.retryAfter != tc.wantReports[i] {
					t.Errorf("HopFailed %d = %+v, want %s with %v", i, rep, hops[i].Addr, tc.wantReports[i])
				}
			}
			if tc.wantGood {
				got := goodUAS.nextOf(tc.method)
				if got.Recipient.String() != req.Recipient.String() {
					t.Errorf("Request-URI at the good hop %s, want %s", got.Recipient.String(), req.Recipient.String())
				}
				if silentUA != nil {
					first, ok := silentUA.next().(*sip.Request)
					if !ok {
						t.Fatal("the silent hop got no request")
					}
					if branchOf(first) == branchOf(got) {
						t.Errorf("the failover attempt reused Via branch %s (RFC 3261 §16.6 step 8: a new transaction)", branchOf(got))
					}
				}
			} else if goodUAS != nil {
				select {
				case got := <-goodUAS.reqs:
					t.Errorf("the next hop got %s after a failure that is no reason to fail over", got.Method)
				case <-time.After(100 * time.Millisecond):
				}
			}
		})
	}
}

// TestRetryAfterOf reads RFC 3261 §20.33 values.
func TestRetryAfterOf(t *testing.T) {
	for v, want := range map[string]time.Duration{
		"120":                   120 * time.Second,
		"18000;duration=3600":   5 * time.Hour,
		" 5 (I'm in a meeting)": 5 * time.Second,
		"soon":                  0,
		"99999999999999999999":  maxRetryAfter,
		"":                      0,
	} {
		res := sip.NewResponse(503, "Service Unavailable")
		if v != "" {
			res.AppendHeader(sip.NewHeader("Retry-After", v))
		}
		if got := retryAfterOf(res); got != want {
			t.Errorf("Retry-After %q: %v, want %v", v, got, want)
		}
	}
}

// TestFailoverAfterCancel: an upstream CANCEL while the first hop is silent ends the search; the INVITE is
// answered 487 and the next hop never sees it (RFC 3261 §16.10).
func TestFailoverAfterCancel(t *testing.T) {
	checkLeaksAtEnd(t)
	silent := newRawUDP(t, "127.0.0.1:0")
	next := startUAS(t, false, nil)
	r := &failoverRouter{hops: []NextHop{{Transport: transportUDP, Addr: silent.local}, {Transport: transportUDP, Addr: next.addr}},
		noResponse: 300 * time.Millisecond}
	p := startProxy(t, r)
	uac := newRawUDP(t, "127.0.0.1:0")
	inv := uac.request(reqOpts{method: sip.INVITE, ruri: "sip:bob@ims.mnc001.mcc001.3gppnetwork.org"})
	uac.send(inv, p.addr(transportUDP))
	if _, ok := silent.next().(*sip.Request); !ok {
		t.Fatal("the first hop got no INVITE")
	}
	uac.send(uac.request(reqOpts{method: sip.CANCEL, ruri: inv.Recipient.String(), callID: callIDOf(inv), branch: branchOf(inv)}),
		p.addr(transportUDP))
	var got487 bool
	toTag := ""
	for !got487 {
		res := uac.final()
		if res.CSeq().MethodName == sip.INVITE {
			if res.StatusCode != 487 {
				t.Fatalf("INVITE answered %s, want 487", res.StartLine())
			}
			got487 = true
			toTag, _ = res.To().Params.Get("tag")
		}
	}
	uac.send(uac.request(reqOpts{method: sip.ACK, ruri: inv.Recipient.String(), callID: callIDOf(inv),
		branch: branchOf(inv), toTag: toTag}), p.addr(transportUDP))
	select {
	case got := <-next.reqs:
		t.Errorf("the next hop got %s after the CANCEL", got.Method)
	case <-time.After(500 * time.Millisecond):
	}
}
