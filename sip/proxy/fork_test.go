package proxy

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
)

// behaviour is what one forked-to UAS does with the INVITE.
type behaviour func(u *testUAS, req *sip.Request, tx sip.ServerTransaction, cancelled chan<- string)

func answer(code int, reason string, headers ...sip.Header) behaviour {
	return func(u *testUAS, req *sip.Request, tx sip.ServerTransaction, _ chan<- string) {
		u.respond(req, tx, code, reason, headers...)
	}
}

// answerAfter answers once the other UAS has rung, so the proxy has a provisional from the loser to CANCEL.
func answerAfter(ready <-chan struct{}, code int) behaviour {
	return func(u *testUAS, req *sip.Request, tx sip.ServerTransaction, _ chan<- string) {
		u.respond(req, tx, 180, "Ringing")
		<-ready
		u.respond(req, tx, code, "OK")
	}
}

func challenge(realm string) sip.Header {
	return sip.NewHeader("WWW-Authenticate", `Digest realm="`+realm+`", nonce="n-`+realm+`", algorithm=MD5`)
}

// TestForkingBestResponse forks an INVITE to two UAS and checks RFC 3261 §16.7: every 2xx goes up and the loser is
// cancelled, a 6xx wins and cancels, the lowest class wins, resubmission hints (401/407) are preferred and their
// challenges aggregated (step 7), and a 503 is never relayed (a 500 is sent when nothing else came back).
func TestForkingBestResponse(t *testing.T) {
	checkLeaksAtEnd(t)
	rang, secondRang := make(chan struct{}), make(chan struct{})
	firstAcked, secondAcked := make(chan struct{}), make(chan struct{})
	tests := []struct {
		name          string
		first, second behaviour
		want          int
		wantCancelled []string
		acked         <-chan struct{} // closed once the cancelled UAS absorbed the proxy's ACK for its 487
		check         func(t *testing.T, res *sip.Response)
	}{
		{
			name: "2xx forwarded and loser cancelled",
			first: func(u *testUAS, req *sip.Request, tx sip.ServerTransaction, c chan<- string) {
				u.ringUntilCancelled(req, tx, func() { close(rang) }, func() { c <- "first" }, firstAcked)
			},
			second:        answerAfter(rang, 200),
			want:          200,
			wantCancelled: []string{"first"},
			acked:         firstAcked,
		},
		{
			// The 603 waits for the other branch to ring: a 6xx that came first would (rightly, §16.7 step 5)
			// stop the second branch from being created at all.
			name: "6xx ends the search",
			first: func(u *testUAS, req *sip.Request, tx sip.ServerTransaction, _ chan<- string) {
				<-secondRang
				u.respond(req, tx, 603, "Decline")
			},
			second: func(u *testUAS, req *sip.Request, tx sip.ServerTransaction, c chan<- string) {
				u.ringUntilCancelled(req, tx, func() { close(secondRang) }, func() { c <- "second" }, secondAcked)
			},
			want:          603,
			wantCancelled: []string{"second"},
			acked:         secondAcked,
		},
		{
			name:   "lowest class wins",
			first:  answer(500, "Server Internal Error"),
			second: answer(486, "Busy Here"),
			want:   486,
		},
		{
			name:   "407 preferred in 4xx",
			first:  answer(486, "Busy Here"),
			second: answer(407, "Proxy Authentication Required", sip.NewHeader("Proxy-Authenticate", `Digest realm="b"`)),
			want:   407,
		},
		{
			name:   "401 challenges aggregated",
			first:  answer(401, "Unauthorized", challenge("first")),
			second: answer(401, "Unauthorized", challenge("second")),
			want:   401,
			check: func(t *testing.T, res *sip.Response) {
				got := headerValues(res, "www-authenticate")
				if len(got) != 2 || !strings.Contains(strings.Join(got, " "), `"first"`) || !strings.Contains(strings.Join(got, " "), `"second"`) {
					t.Errorf("WWW-Authenticate %v, want both challenges", got)
				}
			},
		},
		{
			name:   "503 not relayed",
			first:  answer(503, "Service Unavailable"),
			second: answer(486, "Busy Here"),
			want:   486,
		},
		{
			name:   "only 503 becomes 500",
			first:  answer(503, "Service Unavailable"),
			second: answer(503, "Service Unavailable"),
			want:   500,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cancelled := make(chan string, 2)
			mk := func(b behaviour) *testUAS {
				return startUAS(t, false, uasHandlers{sip.INVITE: func(u *testUAS, req *sip.Request, tx sip.ServerTransaction) {
					b(u, req, tx, cancelled)
				}})
			}
			first, second := mk(tc.first), mk(tc.second)
			p := startProxy(t, RouterFunc(func(ctx context.Context, req *sip.Request, src Source) (Decision, error) {
				return Forward(Target{URI: &first.uri}, Target{URI: &second.uri}), nil
			}))
			uac := newRawUDP(t, "127.0.0.1:0")
			inv := uac.request(reqOpts{method: sip.INVITE, ruri: "sip:bob@ims.mnc001.mcc001.3gppnetwork.org"})
			uac.send(inv, p.addr(transportUDP))
			res := uac.final()
			if res.StatusCode != tc.want {
				t.Fatalf("final %s, want %d", res.StartLine(), tc.want)
			}
			if got := viaSentBys(res); len(got) != 1 {
				t.Errorf("Via stack %v", got)
			}
			if tc.check != nil {
				tc.check(t, res)
			}
			if res.StatusCode >= 300 {
				toTag, _ := res.To().Params.Get("tag")
				uac.send(uac.request(reqOpts{method: sip.ACK, ruri: inv.Recipient.String(), callID: callIDOf(inv),
					branch: branchOf(inv), toTag: toTag}), p.addr(transportUDP))
			}
			var got []string
			for range tc.wantCancelled {
				select {
				case name := <-cancelled:
					got = append(got, name)
				case <-time.After(waitLong):
					t.Fatalf("cancelled %v, want %v", got, tc.wantCancelled)
				}
			}
			slices.Sort(got)
			if !slices.Equal(got, tc.wantCancelled) {
				t.Errorf("cancelled %v, want %v", got, tc.wantCancelled)
			}
			// Nothing else reaches the UAC for this INVITE: the next final it sees answers a later OPTIONS.
			uac.send(uac.request(reqOpts{method: sip.OPTIONS, ruri: first.uri.String()}), p.addr(transportUDP))
			for {
				r := uac.final()
				if r.CSeq().MethodName == sip.INVITE && r.StatusCode == res.StatusCode {
					continue // a retransmission of the same final (UDP, before our ACK arrived)
				}
				if r.CSeq().MethodName != sip.OPTIONS {
					t.Fatalf("after the final response got %s", r.StartLine())
				}
				break
			}
			// Both UAS must have handled the forked OPTIONS before they are stopped: sipgo's server hands each
			// request to an untracked goroutine, which opens a socket nobody closes if it runs after shutdown.
			first.nextOf(sip.OPTIONS)
			second.nextOf(sip.OPTIONS)
			if tc.acked != nil {
				waitClosed(t, tc.acked, "the proxy's ACK for the cancelled branch's 487")
			}
		})
	}
}
