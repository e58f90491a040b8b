package icscf

import (
	"testing"

	"github.com/emiago/sipgo/sip"

	"github.com/imscore/imscore/diameter/cx"
)

// TestTerminatingReselect: TS 23.380 §5.2.2.2 / TS 24.229 §5.3.2.1. The LIA names an S-CSCF that does not
// answer an INVITE (silent) or answers a MESSAGE with 503: the I-CSCF asks again with
// REGISTRATION_AND_CAPABILITIES and sends the request to the other S-CSCF, whose answer goes upstream. A
// busy callee (486 from the named S-CSCF) is an answer, not a failure: no second LIR.
func TestTerminatingReselect(t *testing.T) {
	tests := []struct {
		name    string
		method  string
		respond func(*sip.Request) *sip.Response // the first S-CSCF; nil: silent
		want    int
		lirs    int
	}{
		{name: "INVITE, first S-CSCF silent", method: "INVITE", want: 200, lirs: 2},
		{name: "MESSAGE, first S-CSCF 503", method: "MESSAGE", respond: func(r *sip.Request) *sip.Response {
			return sip.NewResponseFromRequest(r, 503, "Service Unavailable", nil)
		}, want: 200, lirs: 2},
		{name: "INVITE, callee busy", method: "INVITE", respond: func(r *sip.Request) *sip.Response {
			return sip.NewResponseFromRequest(r, 486, "Busy Here", nil)
		}, want: 486, lirs: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hss := startFakeHSS(t)
			first := startFakeSCSCF(t, "scscf-first", tt.respond == nil)
			first.respond = tt.respond
			second := startFakeSCSCF(t, "scscf-second", false)
			hss.onLIR(func(r *cx.LIR) *cx.LIA {
				if r.UserAuthorizationType != nil && *r.UserAuthorizationType == cx.UATRegistrationAndCapabilities {
					return lia(0, 2001, "", &cx.ServerCapabilities{})
				}
				return lia(0, 2001, first.name, nil)
			})
			n := startICSCF(t, hss, []SCSCF{first.config(), second.config()})
			u := newUE(t)
			res := u.send(sipAddr(n, "UDP"), u.request(tt.method, "sip:bob@"+testDomain, "sip:bob@"+testDomain))
			if res.StatusCode != tt.want {
				t.Fatalf("status %d %s, want %d", res.StatusCode, res.Reason, tt.want)
			}
			first.next(t)
			lirs := hss.seenLIRs()
			if len(lirs) != tt.lirs {
				t.Fatalf("%d LIRs, want %d", len(lirs), tt.lirs)
			}
			if tt.lirs == 2 {
				if lirs[1].UserAuthorizationType == nil || *lirs[1].UserAuthorizationType != cx.UATRegistrationAndCapabilities {
					t.Fatalf("second LIR %+v: want REGISTRATION_AND_CAPABILITIES", lirs[1])
				}
				if r := second.next(t); r.Method != sip.RequestMethod(tt.method) {
					t.Fatalf("second S-CSCF got %s", r.Method)
				}
			} else if second.received() {
				t.Fatal("the second S-CSCF got the request")
			}
		})
	}
}
