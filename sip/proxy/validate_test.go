package proxy

import (
	"context"
	"strings"
	"testing"

	"github.com/emiago/sipgo/sip"
)

// localRouter answers everything 200 itself and declares option-tags.
type localRouter struct {
	tags []string
	uas  bool
}

func (r localRouter) Route(context.Context, *sip.Request, Source) (Decision, error) {
	return Respond(200, "OK"), nil
}

func (r localRouter) OptionTags(*sip.Request) ([]string, bool) { return r.tags, r.uas }

var _ OptionTagger = localRouter{}

// rawOptions is a well-formed request the malformed cases below are derived from. {VIA} is replaced by the test
// UA's sent-by so the answer comes back to it.
const rawOptions = "OPTIONS sip:bob@ims.mnc001.mcc001.3gppnetwork.org SIP/2.0\r\n" +
	"Via: SIP/2.0/UDP {VIA};branch=z9hG4bK-raw-{N}\r\n" +
	"Max-Forwards: 70\r\n" +
	"From: <sip:alice@ims.mnc001.mcc001.3gppnetwork.org>;tag=a1\r\n" +
	"To: <sip:bob@ims.mnc001.mcc001.3gppnetwork.org>\r\n" +
	"Call-ID: raw-{N}@test\r\n" +
	"CSeq: 7 OPTIONS\r\n" +
	"Content-Length: 0\r\n\r\n"

// TestMalformedRequests sends broken datagrams and checks the 400 names the problem (RFC 3261 §16.3 step 1,
// §18.3), and that the proxy keeps serving afterwards.
func TestMalformedRequests(t *testing.T) {
	checkLeaksAtEnd(t)
	p := startProxy(t, localRouter{})
	uac := newRawUDP(t, "127.0.0.1:0")
	tests := []struct {
		name       string
		edit       func(string) string
		wantReason string // "" means no response at all
	}{
		{name: "well formed", edit: func(s string) string { return s }, wantReason: "OK"},
		{name: "missing Call-ID", edit: dropLine("Call-ID"), wantReason: "Missing Call-ID Header"},
		{name: "missing From", edit: dropLine("From"), wantReason: "Missing From Header"},
		{name: "missing To", edit: dropLine("To"), wantReason: "Missing To Header"},
		{name: "missing CSeq", edit: dropLine("CSeq"), wantReason: "Missing CSeq Header"},
		{name: "malformed CSeq", edit: replace("CSeq: 7 OPTIONS", "CSeq: seven OPTIONS"), wantReason: "Malformed CSeq Header"},
		{name: "CSeq method mismatch", edit: replace("CSeq: 7 OPTIONS", "CSeq: 7 INFO"), wantReason: "CSeq Method Does Not Match"},
		{name: "malformed Max-Forwards", edit: replace("Max-Forwards: 70", "Max-Forwards: many"), wantReason: "Malformed Max-Forwards Header"},
		{name: "malformed From", edit: replace("From: <sip:alice@ims.mnc001.mcc001.3gppnetwork.org>;tag=a1", "From: <sip:alice@"), wantReason: "Malformed From Header"},
		{name: "compact forms accepted", edit: func(s string) string {
			return replace("Call-ID:", "i:")(replace("From:", "f:")(replace("To:", "t:")(s)))
		}, wantReason: "OK"},
		{name: "bad Request-URI", edit: replace("OPTIONS sip:bob@ims", "OPTIONS sip:[::1@ims"), wantReason: "Malformed Request-URI"},
		{name: "header line without colon", edit: replace("Max-Forwards: 70\r\n", "Max-Forwards 70\r\n"), wantReason: "Malformed Header Line"},
		{name: "body shorter than Content-Length", edit: replace("Content-Length: 0", "Content-Length: 40"), wantReason: "Content-Length Exceeds Body"},
		{name: "unknown URI scheme", edit: replace("OPTIONS sip:bob@", "OPTIONS mailto:bob@"), wantReason: "Unsupported URI Scheme"},
		{name: "missing Via", edit: dropLine("Via"), wantReason: ""},
		{name: "malformed top Via", edit: replace("Via: SIP/2.0/UDP 127.0.0.1:", "Via: SIP/2.0/UDP [::1:"), wantReason: ""},
		{name: "malformed second Via", edit: replace("Max-Forwards: 70", "Via: SIP/2.0/UDP [::1;branch=z9hG4bKx\r\nMax-Forwards: 70"), wantReason: "Malformed Via Header"},
		{name: "garbage", edit: func(string) string { return "\x00\x01 this is not SIP at all \xff\r\n\r\n" }, wantReason: ""},
		{name: "response from nowhere", edit: func(string) string { return "SIP/2.0 200 OK\r\nCall-ID: x\r\n\r\n" }, wantReason: ""},
		{name: "malformed ACK", edit: func(s string) string {
			return replace("OPTIONS sip:bob@ims", "ACK sip:[::1@ims")(replace("CSeq: 7 OPTIONS", "CSeq: 7 ACK")(s))
		}, wantReason: ""},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n := strings.Repeat("x", i+1)
			msg := strings.NewReplacer("{VIA}", uac.local.String(), "{N}", n).Replace(rawOptions)
			brokenID, okID := "z9hG4bK-raw-"+n, "z9hG4bK-raw-"+n+"-ok"
			uac.sendRaw([]byte(tc.edit(msg)), p.addr(transportUDP))
			// A well-formed request always follows: it proves the proxy still serves. A request that must not be
			// answered is dropped on the reading goroutine, before the next datagram is read, so any answer to it
			// would arrive before the well-formed request's answer.
			okMsg := strings.NewReplacer("{VIA}", uac.local.String(), "{N}", n+"-ok").Replace(rawOptions)
			uac.sendRaw([]byte(okMsg), p.addr(transportUDP))
			var broken, ok *sip.Response
			for ok == nil || (tc.wantReason != "" && broken == nil) {
				res := uac.final()
				branch := ""
				if v := res.Via(); v != nil {
					branch, _ = v.Params.Get("branch")
				}
				switch branch {
				case okID:
					ok = res
				case brokenID:
					broken = res
				default:
					t.Fatalf("response for another request: %s (branch %s)", res.StartLine(), branch)
				}
			}
			if ok.StatusCode != 200 {
				t.Errorf("follow-up request: %s", ok.StartLine())
			}
			if tc.wantReason == "" {
				if broken != nil {
					t.Fatalf("broken request was answered: %s", broken.StartLine())
				}
				return
			}
			if broken.Reason != tc.wantReason {
				t.Errorf("got %q, want reason %q", broken.StartLine(), tc.wantReason)
			}
			if tc.wantReason != "OK" && broken.StatusCode != 400 && broken.StatusCode != 416 {
				t.Errorf("got %s, want a 400-class rejection", broken.StartLine())
			}
			if to := broken.To(); to != nil {
				if tag, _ := to.Params.Get("tag"); tag == "" {
					t.Errorf("response without To tag")
				}
			}
		})
	}
}

func dropLine(name string) func(string) string {
	return func(s string) string {
		var out []string
		for _, l := range strings.Split(s, "\r\n") {
			if !strings.HasPrefix(l, name+":") {
				out = append(out, l)
			}
		}
		return strings.Join(out, "\r\n")
	}
}

func replace(old, new string) func(string) string {
	return func(s string) string { return strings.Replace(s, old, new, 1) }
}

// TestOptionTags: Proxy-Require is checked against the router's option-tags (RFC 3261 §16.3 step 5), Require
// only when this node is the UAS (§8.2.2.3); unknown tags get 420 with Unsupported listing them.
func TestOptionTags(t *testing.T) {
	checkLeaksAtEnd(t)
	tests := []struct {
		name        string
		router      localRouter
		header      string
		want        int
		unsupported string
	}{
		{name: "unknown Proxy-Require", router: localRouter{tags: []string{"sec-agree"}}, header: "Proxy-Require: foo, sec-agree", want: 420, unsupported: "foo"},
		{name: "known Proxy-Require", router: localRouter{tags: []string{"sec-agree"}}, header: "Proxy-Require: Sec-Agree", want: 200},
		{name: "no tags declared", router: localRouter{}, header: "Proxy-Require: sec-agree", want: 420, unsupported: "sec-agree"},
		{name: "unknown Require as UAS", router: localRouter{tags: []string{"path"}, uas: true}, header: "Require: path, gruu, bar", want: 420, unsupported: "bar, gruu"},
		{name: "Require is not a proxy's business", router: localRouter{tags: []string{"path"}}, header: "Require: 100rel", want: 200},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := startProxy(t, tc.router)
			uac := newRawUDP(t, "127.0.0.1:0")
			name, value, _ := strings.Cut(tc.header, ": ")
			req := uac.request(reqOpts{method: sip.OPTIONS, ruri: "sip:bob@ims.mnc001.mcc001.3gppnetwork.org", extra: []sip.Header{sip.NewHeader(name, value)}})
			uac.send(req, p.addr(transportUDP))
			res := uac.final()
			if res.StatusCode != tc.want {
				t.Fatalf("got %s, want %d", res.StartLine(), tc.want)
			}
			if got := strings.Join(headerValues(res, "unsupported"), ","); got != tc.unsupported {
				t.Errorf("Unsupported %q, want %q", got, tc.unsupported)
			}
		})
	}
}
