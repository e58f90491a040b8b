package proxy

import (
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/imscore/imscore/sip/header"

	"github.com/emiago/sipgo/sip"
	"go.uber.org/zap"
)

func parseRequest(t *testing.T, raw string) *sip.Request {
	t.Helper()
	msg, err := newParser().ParseSIP([]byte(strings.ReplaceAll(raw, "\n", "\r\n")))
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	return msg.(*sip.Request)
}

const baseRequest = `INVITE sip:bob@ims.mnc001.mcc001.3gppnetwork.org SIP/2.0
Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKuac1
Max-Forwards: 70
From: <sip:alice@ims.mnc001.mcc001.3gppnetwork.org>;tag=a
To: <sip:bob@ims.mnc001.mcc001.3gppnetwork.org>
Call-ID: c1
CSeq: 1 INVITE
Content-Length: 0

`

// TestLenientParserKeepsMultiValueHeaders pins the parser wrapper to sipgo's behaviour: comma-separated values
// still become several typed headers, and an unparseable mandatory header is kept as text under its name.
func TestLenientParserKeepsMultiValueHeaders(t *testing.T) {
	req := parseRequest(t, strings.Replace(baseRequest, "Max-Forwards: 70\n",
		"Max-Forwards: 70\nRoute: <sip:p1.example.com;lr>, <sip:p2.example.com;lr>\nv: SIP/2.0/TCP 10.0.0.2:5060;branch=z9hG4bKx, SIP/2.0/UDP 10.0.0.3;branch=z9hG4bKy\n", 1))
	if got := routeURIs(req, "route"); !slices.Equal(got, []string{"sip:p1.example.com;lr", "sip:p2.example.com;lr"}) {
		t.Errorf("Route %v", got)
	}
	if got := viaSentBys(req); !slices.Equal(got, []string{"10.0.0.1:5060", "10.0.0.2:5060", "10.0.0.3"}) {
		t.Errorf("Via %v", got)
	}
	bad := parseRequest(t, strings.Replace(baseRequest, "CSeq: 1 INVITE", "CSeq: one INVITE", 1))
	if typedHeaderOK(bad, "cseq") || len(header.Fields(bad, "cseq")) != 1 || bad.CSeq() != nil {
		t.Errorf("malformed CSeq not kept as text")
	}
	if se := missingOrMalformed(bad); se == nil || se.Reason != "Malformed CSeq Header" {
		t.Errorf("missingOrMalformed = %v", se)
	}
}

func testProxyForUnits(t *testing.T) *Proxy {
	t.Helper()
	p, err := New(Config{Listen: []Listen{{Addr: "127.0.0.1:0", Advertise: "pcscf.ims.mnc001.mcc001.3gppnetwork.org"}}, Router: localRouter{},
		Aliases: []string{"10.9.9.9:5070"}}, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p
}

// TestPreprocessRoute covers RFC 3261 §16.4: a Request-URI of ours restores the strict router's Request-URI from
// the last Route; Route values naming us are removed (both of a double Record-Route) and reported.
func TestPreprocessRoute(t *testing.T) {
	p := testProxyForUnits(t)
	us := "sip:pcscf.ims.mnc001.mcc001.3gppnetwork.org:" + portString(p.udp[0].port())
	tests := []struct {
		name      string
		ruri      string
		routes    []string
		wantRURI  string
		wantRoute []string
		consumed  string
	}{
		{name: "not for us", ruri: "sip:bob@example.com", routes: []string{"sip:other.example.com;lr"},
			wantRURI: "sip:bob@example.com", wantRoute: []string{"sip:other.example.com;lr"}},
		{name: "loose route to us", ruri: "sip:bob@example.com", routes: []string{us + ";lr;orig", "sip:next.example.com;lr"},
			wantRURI: "sip:bob@example.com", wantRoute: []string{"sip:next.example.com;lr"}, consumed: us + ";lr;orig"},
		{name: "double record-route", ruri: "sip:bob@example.com", routes: []string{us + ";transport=udp;lr", us + ";transport=tcp;lr", "sip:next.example.com;lr"},
			wantRURI: "sip:bob@example.com", wantRoute: []string{"sip:next.example.com;lr"}, consumed: us + ";transport=udp;lr"},
		{name: "alias", ruri: "sip:bob@example.com", routes: []string{"sip:10.9.9.9:5070;lr"},
			wantRURI: "sip:bob@example.com", consumed: "sip:10.9.9.9:5070;lr"},
		{name: "strict router before us", ruri: us, routes: []string{"sip:next.example.com", "sip:bob@example.com"},
			wantRURI: "sip:bob@example.com", wantRoute: []string{"sip:next.example.com"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var b strings.Builder
			for _, r := range tc.routes {
				b.WriteString("Route: <" + r + ">\n")
			}
			raw := strings.Replace(baseRequest, "INVITE sip:bob@ims.mnc001.mcc001.3gppnetwork.org SIP/2.0", "INVITE "+tc.ruri+" SIP/2.0", 1)
			req := parseRequest(t, strings.Replace(raw, "Max-Forwards: 70\n", "Max-Forwards: 70\n"+b.String(), 1))
			consumed := p.preprocessRoute(req)
			if req.Recipient.String() != tc.wantRURI {
				t.Errorf("Request-URI %s, want %s", req.Recipient.String(), tc.wantRURI)
			}
			if got := routeURIs(req, "route"); !slices.Equal(got, tc.wantRoute) {
				t.Errorf("Route %v, want %v", got, tc.wantRoute)
			}
			got := ""
			if consumed != nil {
				got = consumed.String()
			}
			if got != tc.consumed {
				t.Errorf("consumed %q, want %q", got, tc.consumed)
			}
		})
	}
}

// TestNextHopURI covers §16.6 steps 6–7: loose next hop keeps the Request-URI; a strict one (no lr) takes its
// place and the Request-URI goes to the end of the Route set.
func TestNextHopURI(t *testing.T) {
	loose := parseRequest(t, strings.Replace(baseRequest, "Max-Forwards: 70\n", "Max-Forwards: 70\nRoute: <sip:p1.example.com;lr>\n", 1))
	if hop := nextHopURI(loose); hop.String() != "sip:p1.example.com;lr" || loose.Recipient.User != "bob" {
		t.Errorf("loose: hop %s, Request-URI %s", hop.String(), loose.Recipient.String())
	}
	strict := parseRequest(t, strings.Replace(baseRequest, "Max-Forwards: 70\n", "Max-Forwards: 70\nRoute: <sip:p1.example.com>\nRoute: <sip:p2.example.com;lr>\n", 1))
	hop := nextHopURI(strict)
	if hop.String() != "sip:p1.example.com" || strict.Recipient.String() != "sip:p1.example.com" {
		t.Errorf("strict: hop %s, Request-URI %s", hop.String(), strict.Recipient.String())
	}
	if got := routeURIs(strict, "route"); !slices.Equal(got, []string{"sip:p2.example.com;lr", "sip:bob@ims.mnc001.mcc001.3gppnetwork.org"}) {
		t.Errorf("strict: Route %v", got)
	}
}

// TestLoopHash: the hash ignores Max-Forwards and our own Via, and changes with the Request-URI or Route
// (RFC 3261 §16.6 step 8): a re-targeted request spirals.
func TestLoopHash(t *testing.T) {
	req := parseRequest(t, baseRequest)
	h := loopHash(req, req.Via())
	if len(h) != loopHashLen {
		t.Fatalf("hash %q", h)
	}
	same := parseRequest(t, strings.Replace(baseRequest, "Max-Forwards: 70", "Max-Forwards: 12", 1))
	if loopHash(same, same.Via()) != h {
		t.Error("Max-Forwards changed the hash")
	}
	for name, edit := range map[string][2]string{
		"request-uri": {"INVITE sip:bob@", "INVITE sip:carol@"},
		"route":       {"Max-Forwards: 70\n", "Max-Forwards: 70\nRoute: <sip:as.example.com;lr>\n"},
		"cseq":        {"CSeq: 1 INVITE", "CSeq: 2 INVITE"},
	} {
		other := parseRequest(t, strings.Replace(baseRequest, edit[0], edit[1], 1))
		if loopHash(other, other.Via()) == h {
			t.Errorf("%s change did not change the hash", name)
		}
	}
	if b := newBranch(h); !strings.HasPrefix(b, "z9hG4bK") {
		t.Errorf("branch %q", b)
	} else if got, ok := branchLoopHash(b); !ok || got != h {
		t.Errorf("branchLoopHash(%q) = %q, %v", b, got, ok)
	}
	if _, ok := branchLoopHash("z9hG4bK-foreign"); ok {
		t.Error("foreign branch read as ours")
	}
}

// TestChooseBest covers the §16.7 step 6 selection with generated and real responses.
func TestChooseBest(t *testing.T) {
	req := parseRequest(t, baseRequest)
	type fin struct {
		code      int
		generated bool
	}
	tests := []struct {
		name     string
		finals   []fin
		canceled bool
		want     int
		wantGen  bool
	}{
		{name: "nothing", want: 408, wantGen: true},
		{name: "nothing after cancel", canceled: true, want: 487, wantGen: true},
		{name: "6xx beats 2xx class", finals: []fin{{486, false}, {600, false}}, want: 600},
		{name: "lowest class", finals: []fin{{500, false}, {404, false}, {302, false}}, want: 302},
		{name: "resubmit hint", finals: []fin{{404, false}, {484, false}}, want: 484},
		{name: "real beats generated", finals: []fin{{408, true}, {486, false}}, want: 486},
		{name: "lowest code", finals: []fin{{486, false}, {404, false}}, want: 404},
		{name: "503 skipped", finals: []fin{{503, false}, {502, false}}, want: 502},
		{name: "only 503", finals: []fin{{503, false}, {503, true}}, want: 500, wantGen: true},
		{name: "timeout after cancel", finals: []fin{{408, true}}, canceled: true, want: 487, wantGen: true},
		{name: "timeout", finals: []fin{{408, true}}, want: 408, wantGen: true},
		{name: "real 487 after cancel", finals: []fin{{487, false}, {408, true}}, canceled: true, want: 487},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pc := &proxyCtx{req: req, canceled: tc.canceled}
			for _, f := range tc.finals {
				pc.branches = append(pc.branches, &branch{pc: pc, final: sip.NewResponseFromRequest(req, f.code, "x", nil), generated: f.generated})
			}
			res, gen := pc.chooseBestLocked()
			if res.StatusCode != tc.want || gen != tc.wantGen {
				t.Errorf("got %d generated=%v, want %d generated=%v", res.StatusCode, gen, tc.want, tc.wantGen)
			}
		})
	}
}

// TestResponseAddr covers RFC 3261 §18.2.2 and RFC 3581 for unreliable transports.
func TestResponseAddr(t *testing.T) {
	src := netip.MustParseAddrPort("192.0.2.7:40000")
	tests := []struct {
		via  string
		want string
	}{
		{"SIP/2.0/UDP 192.0.2.7:5060;branch=z9hG4bK1", "192.0.2.7:5060"},
		{"SIP/2.0/UDP 192.0.2.7;branch=z9hG4bK1", "192.0.2.7:5060"},
		{"SIP/2.0/UDP ue.example.com:5062;branch=z9hG4bK1", "192.0.2.7:5062"},
		{"SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK1;rport", "192.0.2.7:40000"},
		// RFC 3581 §4: the server sets rport to the source port, whatever value the client wrote (it MUST NOT write
		// one); a client-supplied received is replaced by the source address (RFC 3261 §18.2.1). Either would
		// otherwise steer the response at an address of the sender's choosing (reflection).
		{"SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK1;rport=41000", "192.0.2.7:40000"},
		{"SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK1;received=198.51.100.9", "192.0.2.7:5060"},
		{"SIP/2.0/UDP 192.0.2.7:5060;branch=z9hG4bK1;received=198.51.100.9;rport=9", "192.0.2.7:40000"},
		{"SIP/2.0/UDP 192.0.2.7:5062;branch=z9hG4bK1;received=198.51.100.9", "192.0.2.7:5062"},
		{"SIP/2.0/UDP 192.0.2.7:5060;branch=z9hG4bK1;RECEIVED=198.51.100.9;rport=9;rport", "192.0.2.7:40000"},
	}
	for _, tc := range tests {
		t.Run(tc.via, func(t *testing.T) {
			req := parseRequest(t, strings.Replace(baseRequest, "SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKuac1", tc.via, 1))
			stampReceived(req.Via(), src)
			if got := responseAddr(req.Via(), src).String(); got != tc.want {
				t.Errorf("got %s, want %s (Via now %s)", got, tc.want, req.Via().Value())
			}
		})
	}
}

// TestConfigValidate: one precise error per bad field.
func TestConfigValidate(t *testing.T) {
	ok := Config{Listen: []Listen{{Addr: "127.0.0.1:5060"}}, Router: localRouter{}}
	tests := []struct {
		name   string
		mutate func(*Config)
		want   string
	}{
		{name: "ok", mutate: func(*Config) {}},
		{name: "no listen", mutate: func(c *Config) { c.Listen = nil }, want: "at least one"},
		{name: "bad addr", mutate: func(c *Config) { c.Listen[0].Addr = "localhost" }, want: "want ip:port"},
		{name: "wildcard needs advertise", mutate: func(c *Config) { c.Listen[0].Addr = "0.0.0.0:5060" }, want: "advertise: required"},
		{name: "no router", mutate: func(c *Config) { c.Router = nil }, want: "router"},
		{name: "negative timer", mutate: func(c *Config) { c.TimerF = -1 }, want: "negative"},
		{name: "max forwards", mutate: func(c *Config) { c.MaxForwards = 300 }, want: "max_forwards"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := ok
			c.Listen = slices.Clone(ok.Listen)
			tc.mutate(&c)
			err := c.Validate()
			if tc.want == "" {
				if err != nil {
					t.Fatalf("unexpected %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v, want it to mention %q", err, tc.want)
			}
		})
	}
	if _, err := New(Config{}, nil); err == nil {
		t.Error("New accepted an empty config")
	}
}

// TestReadRawRequest: what can be answered from a datagram sipgo cannot parse, and what cannot.
func TestReadRawRequest(t *testing.T) {
	src := netip.MustParseAddrPort("127.0.0.1:40000")
	tests := []struct {
		name    string
		data    string
		wantErr bool
		reason  string
		dst     string
	}{
		{name: "garbage", data: "hello world", wantErr: true},
		{name: "response", data: "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP a\r\n\r\n", wantErr: true},
		{name: "no via", data: "OPTIONS sip:a SIP/2.0\r\nCall-ID: x\r\n\r\n", wantErr: true},
		{name: "bad uri", data: "OPTIONS sip:[::1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5099;branch=z9hG4bK1\r\nCall-ID: x\r\nCSeq: 1 OPTIONS\r\n\r\n", reason: "Malformed Request-URI", dst: "127.0.0.1:5099"},
		{name: "rport", data: "OPTIONS sip:a SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.1:5099;rport;branch=z9hG4bK1\r\nbroken line\r\n\r\n", reason: "Malformed Header Line", dst: "127.0.0.1:40000"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			raw, err := readRawRequest([]byte(tc.data))
			if tc.wantErr {
				if !errors.Is(err, errNotARequest) {
					t.Fatalf("err %v, want errNotARequest", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if raw.reason != tc.reason {
				t.Errorf("reason %q, want %q", raw.reason, tc.reason)
			}
			if got := raw.destination(src).String(); got != tc.dst {
				t.Errorf("destination %s, want %s", got, tc.dst)
			}
			msg, err := sip.ParseMessage(raw.response())
			if err != nil {
				t.Fatalf("our 400 does not parse: %v\n%s", err, raw.response())
			}
			if res, ok := msg.(*sip.Response); !ok || res.StatusCode != 400 || res.Reason != tc.reason {
				t.Errorf("response %s", msg.String())
			}
		})
	}
}
