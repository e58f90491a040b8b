package proxy

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
)

// hookCall records one Decision.OnFailure consultation.
type hookCall struct {
	code      int
	generated bool
}

// serialRouter forwards to first with OnFailure; the hook records its calls and answers with next(call).
type serialRouter struct {
	first   Target
	next    func(call int, best *sip.Response) (*Decision, error)
	mu      sync.Mutex
	calls   []hookCall
	entered chan struct{} // closed when the hook runs the first time (nil: not needed)
	release chan struct{} // the hook waits for it (nil: does not wait)
}

func (r *serialRouter) Route(ctx context.Context, req *sip.Request, src Source) (Decision, error) {
	d := Forward(r.first)
	d.OnFailure = r.onFailure
	return d, nil
}

func (r *serialRouter) onFailure(ctx context.Context, req *sip.Request, best *sip.Response, generated bool) (*Decision, error) {
	r.mu.Lock()
	r.calls = append(r.calls, hookCall{best.StatusCode, generated})
	n := len(r.calls)
	r.mu.Unlock()
	if r.entered != nil && n == 1 {
		close(r.entered)
	}
	if r.release != nil {
		select {
		case <-r.release:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return r.next(n, best)
}

func (r *serialRouter) hookCalls() []hookCall {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]hookCall(nil), r.calls...)
}

// TestSerialForwarding checks Decision.OnFailure and Target.NoResponseTimeout: a silent or failing first target
// hands over to the next round, whose responses alone compete (RFC 3261 §16.7); 2xx and 6xx end the search
// without consulting the hook (§16.7 step 5); nil sends the failure up; a Reply answers locally.
func TestSerialForwarding(t *testing.T) {
	checkLeaksAtEnd(t)
	tests := []struct {
		name      string
		method    sip.RequestMethod
		first     behaviour // nil: a silent next hop
		second    behaviour // nil: no second round (the hook returns nil)
		reply     int       // the hook answers this locally instead of a second round
		want      int
		wantCalls []hookCall
	}{
		{name: "silent INVITE target times out, next round answers", method: sip.INVITE,
			second: answer(200, "OK"), want: 200, wantCalls: []hookCall{{408, true}}},
		{name: "silent MESSAGE target times out, next round answers", method: sip.MESSAGE,
			second: answer(202, "Accepted"), want: 202, wantCalls: []hookCall{{408, true}}},
		{name: "500 goes to the next round", method: sip.INVITE, first: answer(500, "Server Internal Error"),
			second: answer(486, "Busy Here"), want: 486, wantCalls: []hookCall{{500, false}}},
		{name: "the next round's worse answer wins over the first round's", method: sip.INVITE,
			first: answer(408, "Request Timeout"), second: answer(480, "Temporarily Unavailable"), want: 480,
			wantCalls: []hookCall{{408, false}}},
		{name: "nil sends the failure up", method: sip.MESSAGE, first: answer(504, "Server Time-out"),
			want: 504, wantCalls: []hookCall{{504, false}}},
		{name: "a Reply answers locally", method: sip.INVITE, first: answer(500, "Server Internal Error"),
			reply: 404, want: 404, wantCalls: []hookCall{{500, false}}},
		{name: "2xx ends the search", method: sip.INVITE, first: answer(200, "OK"), want: 200},
		{name: "6xx ends the search", method: sip.INVITE, first: answer(603, "Decline"), want: 603},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var firstTarget Target
			if tc.first == nil {
				silent := newRawUDP(t, "127.0.0.1:0")
				u := mustURI(t, "sip:as@"+silent.local.String())
				firstTarget = Target{URI: &u, NoResponseTimeout: 200 * time.Millisecond}
			} else {
				first := startUAS(t, false, uasHandlers{tc.method: func(u *testUAS, req *sip.Request, tx sip.ServerTransaction) {
					tc.first(u, req, tx, nil)
				}})
				firstTarget = Target{URI: &first.uri, NoResponseTimeout: 5 * time.Second}
			}
			var second *testUAS
			if tc.second != nil {
				second = startUAS(t, false, uasHandlers{tc.method: func(u *testUAS, req *sip.Request, tx sip.ServerTransaction) {
					tc.second(u, req, tx, nil)
				}})
			}
			r := &serialRouter{first: firstTarget, next: func(call int, best *sip.Response) (*Decision, error) {
				switch {
				case tc.reply != 0:
					d := Respond(tc.reply, "")
					return &d, nil
				case second != nil && call == 1:
					d := Forward(Target{URI: &second.uri})
					return &d, nil
				}
				return nil, nil
			}}
			p := startProxy(t, r)
			uac := newRawUDP(t, "127.0.0.1:0")
			req := uac.request(reqOpts{method: tc.method, ruri: "sip:bob@ims.mnc001.mcc001.3gppnetwork.org"})
			uac.send(req, p.addr(transportUDP))
			res := uac.final()
			if res.StatusCode != tc.want {
				t.Fatalf("final %s, want %d", res.StartLine(), tc.want)
			}
			if got := viaSentBys(res); len(got) != 1 {
				t.Errorf("Via stack %v, want the UAC's only", got)
			}
			calls := r.hookCalls()
			if len(calls) != len(tc.wantCalls) {
				t.Fatalf("OnFailure calls %v, want %v", calls, tc.wantCalls)
			}
			for i := range calls {
				if calls[i] != tc.wantCalls[i] {
					t.Errorf("OnFailure call %d = %+v, want %+v", i, calls[i], tc.wantCalls[i])
				}
			}
			if tc.method == sip.INVITE && res.StatusCode >= 300 {
				toTag, _ := res.To().Params.Get("tag")
				uac.send(uac.request(reqOpts{method: sip.ACK, ruri: req.Recipient.String(), callID: callIDOf(req),
					branch: branchOf(req), toTag: toTag}), p.addr(transportUDP))
			}
			if second != nil {
				second.nextOf(tc.method) // handled before the UAS stops (see startUAS)
			}
		})
	}
}

// TestSerialForwardingCancelDuringHook: a CANCEL while OnFailure runs ends its context, and the INVITE is
// answered 487 with no further round (RFC 3261 §16.10).
func TestSerialForwardingCancelDuringHook(t *testing.T) {
	checkLeaksAtEnd(t)
	first := startUAS(t, false, uasHandlers{sip.INVITE: func(u *testUAS, req *sip.Request, tx sip.ServerTransaction) {
		u.respond(req, tx, 180, "Ringing")
		u.respond(req, tx, 500, "Server Internal Error")
	}})
	r := &serialRouter{first: Target{URI: &first.uri}, entered: make(chan struct{}), release: make(chan struct{}),
		next: func(int, *sip.Response) (*Decision, error) {
			return nil, errors.New("the hook must have been cancelled")
		}}
	defer close(r.release)
	p := startProxy(t, r)
	uac := newRawUDP(t, "127.0.0.1:0")
	inv := uac.request(reqOpts{method: sip.INVITE, ruri: "sip:bob@ims.mnc001.mcc001.3gppnetwork.org"})
	uac.send(inv, p.addr(transportUDP))
	uac.response(180, 100)
	waitClosed(t, r.entered, "OnFailure to be consulted")
	cancel := uac.request(reqOpts{method: sip.CANCEL, ruri: inv.Recipient.String(), callID: callIDOf(inv), branch: branchOf(inv)})
	uac.send(cancel, p.addr(transportUDP))
	var got200, got487 bool
	toTag := ""
	for !got200 || !got487 {
		res := uac.final()
		switch {
		case res.CSeq().MethodName == sip.CANCEL && res.StatusCode == 200:
			got200 = true
		case res.CSeq().MethodName == sip.INVITE && res.StatusCode == 487:
			got487 = true
			toTag, _ = res.To().Params.Get("tag")
		default:
			t.Fatalf("unexpected %s for %s", res.StartLine(), res.CSeq().MethodName)
		}
	}
	uac.send(uac.request(reqOpts{method: sip.ACK, ruri: inv.Recipient.String(), callID: callIDOf(inv),
		branch: branchOf(inv), toTag: toTag}), p.addr(transportUDP))
	if calls := r.hookCalls(); len(calls) != 1 || calls[0].code != 500 {
		t.Errorf("OnFailure calls %v, want one for the 500", calls)
	}
}
