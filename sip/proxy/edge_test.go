package proxy

import (
	"context"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/imscore/imscore/sip/header"

	"github.com/emiago/sipgo/sip"
)

// countingRouter answers 200 and counts the requests it saw: a request rejected at the edge must never reach it.
type countingRouter struct{ n atomic.Int64 }

func (r *countingRouter) Route(context.Context, *sip.Request, Source) (Decision, error) {
	r.n.Add(1)
	return Respond(200, "OK"), nil
}

// TestEdgeConformance sends requests a proxy must refuse before doing any work and checks the answer, over UDP
// and TCP: another SIP version gets 505 (RFC 3261 §21.5.7, RFC 4475 §3.3.14) with our own version in the status
// line; a repeated singleton header gets 400 naming it (RFC 3261 §7.3.1, RFC 4475 §3.3.8 and §3.3.12 for two
// Content-Length values). The router never sees any of them, so no node does work (an HSS vector) for a request
// answered with an error.
func TestEdgeConformance(t *testing.T) {
	checkLeaksAtEnd(t)
	tests := []struct {
		name       string
		edit       func(string) string
		wantCode   int
		wantReason string
	}{
		{"SIP/3.0", replace(" SIP/2.0\r\n", " SIP/3.0\r\n"), 505, "Version Not Supported"},
		{"SIP/1.0", replace(" SIP/2.0\r\n", " SIP/1.0\r\n"), 505, "Version Not Supported"},
		{"duplicate Call-ID", replace("CSeq:", "Call-ID: other@test\r\nCSeq:"), 400, "Duplicate Call-ID Header"},
		{"duplicate compact Call-ID", replace("CSeq:", "i: other@test\r\nCSeq:"), 400, "Duplicate Call-ID Header"},
		{"duplicate CSeq", replace("Content-Length:", "CSeq: 8 OPTIONS\r\nContent-Length:"), 400, "Duplicate CSeq Header"},
		{"duplicate From", replace("CSeq:", "From: <sip:mallory@example.com>;tag=m\r\nCSeq:"), 400, "Duplicate From Header"},
		{"duplicate To", replace("CSeq:", "To: <sip:carol@example.com>\r\nCSeq:"), 400, "Duplicate To Header"},
		{"duplicate Max-Forwards", replace("CSeq:", "Max-Forwards: 69\r\nCSeq:"), 400, "Duplicate Max-Forwards Header"},
		{"duplicate Content-Length", replace("Content-Length: 0\r\n", "Content-Length: 0\r\nContent-Length: 0\r\n"), 400, "Duplicate Content-Length Header"},
		{"conflicting Content-Length", func(s string) string {
			return strings.Replace(s, "Content-Length: 0\r\n\r\n", "Content-Length: 4\r\nl: 0\r\n\r\n", 1)
		}, 400, "Conflicting Content-Length Values"},
		{"lower-case version accepted", replace(" SIP/2.0\r\n", " sip/2.0\r\n"), 200, "OK"},
		// RFC 4475 §3.1.2.16: the Via says SIP/7.0 too; the version is answered, along that Via.
		{"SIP/7.0 in the Via too", func(s string) string {
			return strings.NewReplacer(" SIP/2.0\r\n", " SIP/7.0\r\n", "Via: SIP/2.0/", "Via: SIP/7.0/").Replace(s)
		}, 505, "Version Not Supported"},
		// RFC 3261 §25.1 quoted-pair = "\" (%x00-09 / %x0B-0C / %x0E-7F): RFC 4475 §3.1.1.2 escapes NUL, BEL, DEL.
		{"quoted-pairs of control characters", replace("To: <sip:bob@", "To: \"BEL:\\\x07 NUL:\\\x00 DEL:\\\x7f\" <sip:bob@"), 200, "OK"},
		// RFC 3261 §7.1: method names are case-sensitive; the CSeq matches the Request-Line as written (RFC 4475
		// §3.1.1.2), not as sipgo upper-cases it.
		{"mixed-case extension method", func(s string) string {
			const m = "!interesting-Method0123456789_*+`.%indeed'~"
			return strings.NewReplacer("OPTIONS sip:", m+" sip:", "CSeq: 7 OPTIONS", "CSeq: 7 "+m).Replace(s)
		}, 200, "OK"},
		// RFC 4475 §3.1.2.1: an unsound top Via still names where the answer goes (RFC 3261 §18.2.2).
		{"unsound top Via", replace(";branch=z9hG4bK-raw-", ";;,;,,;branch=z9hG4bK-raw-"), 400, "Malformed Via Header"},
		// RFC 4475 §3.1.2.8: LWS within the Request-URI.
		{"LWS in the Request-URI", replace("3gppnetwork.org SIP/2.0", "3gppnetwork.org; lr SIP/2.0"), 400, "Malformed Request-URI"},
		// RFC 4475 §3.1.2.7: angle brackets around the Request-URI.
		{"Request-URI in angle brackets", replace("OPTIONS sip:bob@ims.mnc001.mcc001.3gppnetwork.org SIP", "OPTIONS <sip:bob@ims.mnc001.mcc001.3gppnetwork.org> SIP"), 400, "Malformed Request-URI"},
		// RFC 4475 §3.1.2.9, §3.1.2.10: extra white space in the Request-Line.
		{"white space in the Request-Line", replace("OPTIONS sip:bob@ims.mnc001.mcc001.3gppnetwork.org SIP/2.0\r\n", "OPTIONS  sip:bob@ims.mnc001.mcc001.3gppnetwork.org  SIP/2.0  \r\n"), 400, "Malformed Request-Line"},
		// RFC 4475 §3.3.3, RFC 3261 §16.3 step 2: a scheme sipgo cannot parse is unsupported, not malformed.
		{"novel URI scheme", replace("OPTIONS sip:bob@ims.mnc001.mcc001.3gppnetwork.org SIP", "OPTIONS soap.beep://192.0.2.103:3002 SIP"), 416, "Unsupported URI Scheme"},
	}
	for _, transport := range []string{transportUDP, transportTCP} {
		t.Run(transport, func(t *testing.T) {
			router := &countingRouter{}
			p := startProxy(t, router)
			for i, tc := range tests {
				t.Run(tc.name, func(t *testing.T) {
					ua := newRawUDP(t, "127.0.0.1:0")
					if transport == transportTCP {
						ua = newRawTCP(t, p.addr(transportTCP))
					}
					before := router.n.Load()
					n := transport + strconv.Itoa(i)
					msg := strings.NewReplacer("{VIA}", ua.local.String(), "{N}", n, "SIP/2.0/UDP", "SIP/2.0/"+transport).Replace(rawOptions)
					ua.sendRaw([]byte(tc.edit(msg)), p.addr(transport))
					res := ua.final()
					if res.StatusCode != tc.wantCode || res.Reason != tc.wantReason {
						t.Errorf("got %q, want %d %s", res.StartLine(), tc.wantCode, tc.wantReason)
					}
					if res.SipVersion != "SIP/2.0" {
						t.Errorf("answered as %q, want SIP/2.0", res.SipVersion)
					}
					routed := router.n.Load() - before
					if want := int64(0); tc.wantCode == 200 {
						if routed != 1 {
							t.Errorf("router saw %d requests, want 1", routed)
						}
					} else if routed != want {
						t.Errorf("router saw the rejected request")
					}
				})
			}
		})
	}
}

// TestResponseOfOtherVersionDropped: a response in another SIP version answers nothing we sent (RFC 3261 §7.2) and
// is dropped; the transaction then ends with the real answer.
func TestResponseOfOtherVersionDropped(t *testing.T) {
	checkLeaksAtEnd(t)
	uas := newRawUDP(t, "127.0.0.1:0")
	target := mustURI(t, "sip:bob@"+uas.local.String())
	p := startProxy(t, RouterFunc(func(context.Context, *sip.Request, Source) (Decision, error) {
		return Decision{Targets: []Target{{URI: &target}}}, nil
	}))
	uac := newRawUDP(t, "127.0.0.1:0")
	uac.send(uac.request(reqOpts{method: sip.MESSAGE, ruri: "sip:bob@ims.mnc001.mcc001.3gppnetwork.org"}), p.addr(transportUDP))
	fwd, ok := uas.next().(*sip.Request)
	if !ok {
		t.Fatal("want the forwarded MESSAGE")
	}
	bad := sip.NewResponseFromRequest(fwd, 202, "Accepted", nil)
	bad.SipVersion = "SIP/3.0"
	uas.send(bad, p.addr(transportUDP))
	uas.send(sip.NewResponseFromRequest(fwd, 200, "OK", nil), p.addr(transportUDP))
	if res := uac.final(); res.StatusCode != 200 {
		t.Errorf("got %s, want the SIP/2.0 200", res.StartLine())
	}
}

// TestViaReflection: a client-supplied received and rport in its own top Via do not steer the response
// (RFC 3261 §18.2.1, RFC 3581 §4): it goes to the packet's real source, never to the address the sender named.
func TestViaReflection(t *testing.T) {
	checkLeaksAtEnd(t)
	p := startProxy(t, localRouter{})
	ua := newRawUDP(t, "127.0.0.1:0")
	victim := newRawUDP(t, "127.0.0.3:0")
	cases := []struct{ name, via string }{
		// sent-by is the real source, so the old code kept the forged received and rport values.
		{"received and rport", ua.local.String() + ";branch=z9hG4bK-refl-1;received=127.0.0.3;rport=" + strconv.Itoa(int(victim.local.Port()))},
		{"received only", "127.0.0.1:" + strconv.Itoa(int(victim.local.Port())) + ";branch=z9hG4bK-refl-2;received=127.0.0.3;rport"},
		{"rport value", "127.0.0.1:" + strconv.Itoa(int(victim.local.Port())) + ";branch=z9hG4bK-refl-3;rport=" + strconv.Itoa(int(victim.local.Port()))},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			msg := strings.NewReplacer("{VIA}", tc.via, "{N}", "refl"+strconv.Itoa(i)).Replace(rawOptions)
			ua.sendRaw([]byte(msg), p.addr(transportUDP))
			res := ua.final()
			if res.StatusCode != 200 {
				t.Fatalf("got %s", res.StartLine())
			}
			v := res.Via()
			if r, _ := v.Params.Get("received"); r == "127.0.0.3" {
				t.Errorf("response Via keeps the forged received: %s", v.Value())
			}
			if rp, _ := v.Params.Get("rport"); rp != strconv.Itoa(int(ua.local.Port())) {
				t.Errorf("rport %q, want the source port %d", rp, ua.local.Port())
			}
		})
	}
	// Every response above went to ua; the victim got none (they would have been sent before ua's).
	select {
	case m := <-victim.msgs:
		t.Errorf("the named address got a message: %s", m.String())
	default:
	}
}

// TestLinearWhiteSpaceAccepted sends RFC 4475 §3.1.1.1 "wsinv" (valid LWS everywhere: folded lines, white space
// around colons, slashes, semicolons and equal signs) over UDP and TCP: the router sees every header with its
// values intact (RFC 3261 §7.3.1, §25.1) and the request is answered.
func TestLinearWhiteSpaceAccepted(t *testing.T) {
	checkLeaksAtEnd(t)
	wsinv, err := os.ReadFile("testdata/wsinv.sip")
	if err != nil {
		t.Fatal(err)
	}
	for _, transport := range []string{transportUDP, transportTCP} {
		t.Run(transport, func(t *testing.T) {
			// A proxy each: the same message twice would match the first one's transaction (RFC 3261 §17.2.3).
			seen := make(chan *sip.Request, 1)
			p := startProxy(t, RouterFunc(func(_ context.Context, req *sip.Request, _ Source) (Decision, error) {
				seen <- req
				return Respond(486, "Busy Here"), nil
			}))
			ua := newRawUDP(t, "127.0.0.1:0")
			msg := string(wsinv)
			if transport == transportTCP {
				ua = newRawTCP(t, p.addr(transportTCP))
				msg = strings.Replace(msg, "/UDP\r\n    192.0.2.2;", "/TCP\r\n    192.0.2.2;", 1)
			} else {
				// the only change: ask for rport, so that the answer comes back to this socket (RFC 3581)
				msg = strings.Replace(msg, "192.0.2.2;branch", "192.0.2.2;rport;branch", 1)
			}
			ua.sendRaw([]byte(msg), p.addr(transport))
			if res := ua.final(); res.StatusCode != 486 {
				t.Fatalf("got %s, want the router's 486", res.StartLine())
			}
			req := <-seen
			param := func(h sip.Header, name string) string {
				var v string
				switch h := h.(type) {
				case *sip.FromHeader:
					v, _ = h.Params.Get(name)
				case *sip.ToHeader:
					v, _ = h.Params.Get(name)
				case *sip.ViaHeader:
					v, _ = h.Params.Get(name)
				case *sip.ContactHeader:
					v, _ = h.Params.Get(name)
				}
				return v
			}
			checks := []struct{ what, got, want string }{
				{"From tag", param(req.From(), "tag"), "98asjd8"},
				{"From display name", req.From().DisplayName, `J Rosenberg \\\"`},
				{"To tag", param(req.To(), "tag"), "1918181833n"},
				{"To URI", req.To().Address.String(), "sip:vivekg@chair-dnrc.example.com"},
				{"Call-ID", callIDOf(req), "wsinv.ndaksdj@192.0.2.1"},
				{"CSeq", req.CSeq().Value(), "9 INVITE"},
				{"Max-Forwards", strconv.Itoa(int(req.MaxForwards().Val())), "68"},
				{"top Via", req.Via().Host + " " + req.Via().Transport + " " + param(req.Via(), "branch"), "192.0.2.2 " + transport + " 390skdjuw"},
				{"Contact q", param(req.Contact(), "q"), "0.33"},
				{"Contact newparam", param(req.Contact(), "newparam"), "newvalue"},
				{"NewFangledHeader", strings.Join(headerValues(req, "NewFangledHeader"), "|"), "newfangled value continued newfangled value"},
				{"body", strconv.Itoa(len(req.Body())), "150"},
			}
			vias := header.Fields(req, "via")
			if len(vias) != 3 {
				t.Fatalf("%d Via values, want 3", len(vias))
			}
			for i, want := range []string{"spindle.example.com TCP z9hG4bK9ikj8", "192.168.255.111 UDP z9hG4bK30239"} {
				v := vias[i+1].(*sip.ViaHeader)
				checks = append(checks, struct{ what, got, want string }{"Via " + strconv.Itoa(i+2), v.Host + " " + v.Transport + " " + param(v, "branch"), want})
			}
			for _, c := range checks {
				if c.got != c.want {
					t.Errorf("%s: got %q, want %q", c.what, c.got, c.want)
				}
			}
		})
	}
}

// TestOverloadSheds503: beyond max_transactions a new request outside a dialog is answered 503 with Retry-After at
// once, without the router (RFC 3261 §21.5.4); the request in flight still gets its retransmissions answered and
// its final response; once it is answered new requests are served again.
func TestOverloadSheds503(t *testing.T) {
	checkLeaksAtEnd(t)
	release := make(chan struct{})
	var routed atomic.Int64
	metrics := &countingMetrics{counts: map[string]int{}}
	p := startProxy(t, RouterFunc(func(ctx context.Context, req *sip.Request, _ Source) (Decision, error) {
		routed.Add(1)
		if strings.HasPrefix(callIDOf(req), "slow") {
			select {
			case <-release:
			case <-ctx.Done():
			}
			return Respond(486, "Busy Here"), nil
		}
		return Respond(200, "OK"), nil
	}), func(c *Config) {
		c.Limits.MaxTransactions = 1
		c.Limits.RetryAfter = 7 * time.Second
		c.Metrics = metrics
	})
	ua := newRawUDP(t, "127.0.0.1:0")
	invite := ua.request(reqOpts{method: sip.INVITE, ruri: "sip:bob@ims.mnc001.mcc001.3gppnetwork.org", callID: "slow-" + uniq("c")})
	ua.send(invite, p.addr(transportUDP))
	ua.response(100) // sent once the server transaction exists: one transaction in flight

	ua.send(ua.request(reqOpts{method: sip.OPTIONS, ruri: "sip:bob@ims.mnc001.mcc001.3gppnetwork.org"}), p.addr(transportUDP))
	res := ua.final()
	if res.StatusCode != 503 || headerValues(res, "Retry-After")[0] != "7" {
		t.Fatalf("got %s Retry-After %v, want 503 with Retry-After 7", res.StartLine(), headerValues(res, "Retry-After"))
	}
	if routed.Load() > 1 {
		t.Errorf("router saw the shed request")
	}
	if metrics.get("limit overload") != 1 {
		t.Errorf("overload counted %d times, want 1", metrics.get("limit overload"))
	}
	// An in-dialog request still goes through.
	ua.send(ua.request(reqOpts{method: sip.INFO, ruri: "sip:bob@ims.mnc001.mcc001.3gppnetwork.org", toTag: "b1"}), p.addr(transportUDP))
	if res := ua.final(); res.StatusCode != 200 {
		t.Errorf("in-dialog INFO: %s, want 200", res.StartLine())
	}
	// The INVITE's retransmission is answered by its transaction (100 again), not shed.
	ua.send(invite, p.addr(transportUDP))
	ua.response(100)
	close(release)
	busy := ua.final()
	if busy.StatusCode != 486 {
		t.Fatalf("INVITE: %s, want 486", busy.StartLine())
	}
	branch, _ := invite.Via().Params.Get("branch")
	toTag, _ := busy.To().Params.Get("tag")
	ua.send(ua.request(reqOpts{method: sip.ACK, ruri: "sip:bob@ims.mnc001.mcc001.3gppnetwork.org", callID: callIDOf(invite),
		branch: branch, toTag: toTag}), p.addr(transportUDP)) // ends the 486's retransmissions (RFC 3261 §17.2.1)
	ua.send(ua.request(reqOpts{method: sip.OPTIONS, ruri: "sip:bob@ims.mnc001.mcc001.3gppnetwork.org"}), p.addr(transportUDP))
	if res := ua.final(); res.StatusCode != 200 {
		t.Errorf("after the load: %s, want 200", res.StartLine())
	}
}

// dialFrom opens a TCP connection to dst from the loopback address src.
func dialFrom(t testing.TB, src string, dst netip.AddrPort) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: waitLong}
	c, err := d.Dial("tcp", dst.String())
	if err != nil {
		t.Fatalf("dial from %s: %v", src, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// TestStreamRefusalAnswered: over TCP, a request sipgo's stream parser would refuse (RFC 4475 §3.1.2.8: LWS in the
// Request-URI) is answered 400 on its connection (RFC 3261 §18.2.2), and the stream goes on: the valid request
// pipelined before it and the one sent after it are answered too. A refused ACK is passed over without an answer
// (§17.2.3). A message that is not SIP at all still closes the connection.
func TestStreamRefusalAnswered(t *testing.T) {
	checkLeaksAtEnd(t)
	p := startProxy(t, &countingRouter{})
	ua := newRawTCP(t, p.addr(transportTCP))
	msg := func(n string, edit func(string) string) string {
		return edit(strings.NewReplacer("{VIA}", ua.local.String(), "{N}", n, "SIP/2.0/UDP", "SIP/2.0/TCP").Replace(rawOptions))
	}
	same := func(s string) string { return s }
	lws := replace("3gppnetwork.org SIP/2.0", "3gppnetwork.org; lr SIP/2.0")
	toACK := func(s string) string { return strings.ReplaceAll(lws(s), "OPTIONS", "ACK") }
	ua.sendRaw([]byte(msg("before", same)+msg("bad", lws)+msg("ack", toACK)), p.addr(transportTCP))
	got := map[string]string{}
	for range 2 {
		res := ua.final()
		got[res.CallID().Value()] = strconv.Itoa(res.StatusCode) + " " + res.Reason
	}
	if got["raw-before@test"] != "200 OK" || got["raw-bad@test"] != "400 Malformed Request-URI" {
		t.Fatalf("answers %v, want 200 OK for the valid request and 400 Malformed Request-URI for the other", got)
	}
	ua.sendRaw([]byte(msg("after", same)), p.addr(transportTCP))
	if res := ua.final(); res.CallID().Value() != "raw-after@test" || res.StatusCode != 200 {
		t.Fatalf("answer %q for %s, want 200 for the request after: the stream did not go on, or the ACK was answered",
			res.StartLine(), res.CallID().Value())
	}
	// Not SIP at all: nothing to answer, and the stream is not followed further (sipgo closes it).
	ua.sendRaw([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), p.addr(transportTCP))
	waitClosed(t, ua.done, "connection after a message that is not SIP")
}

// TestUnsoundViaACKNotAnswered: an ACK whose top Via is unsound (RFC 4475 §3.1.2.1) is dropped, never answered
// (RFC 3261 §17.2.3); the OPTIONS sent after it is the first thing answered.
func TestUnsoundViaACKNotAnswered(t *testing.T) {
	checkLeaksAtEnd(t)
	p := startProxy(t, &countingRouter{})
	for _, transport := range []string{transportUDP, transportTCP} {
		t.Run(transport, func(t *testing.T) {
			ua := newRawUDP(t, "127.0.0.1:0")
			if transport == transportTCP {
				ua = newRawTCP(t, p.addr(transportTCP))
			}
			r := strings.NewReplacer("{VIA}", ua.local.String(), "SIP/2.0/UDP", "SIP/2.0/"+transport)
			ack := strings.NewReplacer("{N}", "ack-"+transport, "OPTIONS", "ACK", ";branch=", ";;,;,,;branch=").Replace(r.Replace(rawOptions))
			ua.sendRaw([]byte(ack), p.addr(transport))
			ua.sendRaw([]byte(strings.ReplaceAll(r.Replace(rawOptions), "{N}", "after-"+transport)), p.addr(transport))
			if res := ua.final(); res.CallID().Value() != "raw-after-"+transport+"@test" {
				t.Fatalf("answered %q for %s: the ACK was answered", res.StartLine(), res.CallID().Value())
			}
		})
	}
}
