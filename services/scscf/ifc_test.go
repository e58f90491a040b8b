package scscf

import (
	"reflect"
	"testing"

	"github.com/emiago/sipgo/sip"

	"github.com/imscore/imscore/diameter/userdata"
)

func ptr[T any](v T) *T { return &v }

func testRequest(t *testing.T, method sip.RequestMethod, ruri string, headers map[string]string, body string) *sip.Request {
	t.Helper()
	var u sip.Uri
	if err := sip.ParseUri(ruri, &u); err != nil {
		t.Fatal(err)
	}
	req := sip.NewRequest(method, u)
	for k, v := range headers {
		req.AppendHeader(sip.NewHeader(k, v))
	}
	if body != "" {
		req.SetBody([]byte(body))
	}
	return req
}

func sptMethod(m string, groups ...int) userdata.SPT {
	return userdata.SPT{Method: ptr(m), Groups: groups}
}
func sptCase(c userdata.SessionCase, groups ...int) userdata.SPT {
	return userdata.SPT{SessionCase: ptr(c), Groups: groups}
}
func negate(s userdata.SPT) userdata.SPT { s.ConditionNegated = userdata.NewBool(true); return s }

func TestMatchTrigger(t *testing.T) {
	const sdp = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nm=audio 4000 RTP/AVP 0\r\nm=video 4002 RTP/AVP 96\r\n"
	invite := testRequest(t, sip.INVITE, "sip:bob@ims.example", map[string]string{"Accept-Contact": "*;+g.3gpp.icsi-ref=\"video\""}, sdp)
	message := testRequest(t, sip.MESSAGE, "tel:+15550001", nil, "")
	register := testRequest(t, sip.REGISTER, "sip:ims.example", nil, "")
	tests := []struct {
		name string
		tp   userdata.TriggerPoint
		req  *sip.Request
		sc   userdata.SessionCase
		rt   RegistrationType
		want bool
	}{
		{name: "method matches", tp: userdata.TriggerPoint{SPTs: []userdata.SPT{sptMethod("INVITE", 0)}}, req: invite, want: true},
		{name: "method differs", tp: userdata.TriggerPoint{SPTs: []userdata.SPT{sptMethod("INVITE", 0)}}, req: message, want: false},
		{name: "negated method", tp: userdata.TriggerPoint{SPTs: []userdata.SPT{negate(sptMethod("INVITE", 0))}}, req: message, want: true},
		{name: "DNF: one group all true", tp: userdata.TriggerPoint{SPTs: []userdata.SPT{
			sptMethod("INVITE", 0), sptCase(userdata.SessionOriginating, 0), sptMethod("MESSAGE", 1)}},
			req: invite, sc: userdata.SessionOriginating, want: true},
		{name: "DNF: no group all true", tp: userdata.TriggerPoint{SPTs: []userdata.SPT{
			sptMethod("INVITE", 0), sptCase(userdata.SessionTerminatingRegistered, 0), sptMethod("MESSAGE", 1)}},
			req: invite, sc: userdata.SessionOriginating, want: false},
		{name: "CNF: every group has a true SPT", tp: userdata.TriggerPoint{ConditionTypeCNF: true, SPTs: []userdata.SPT{
			sptMethod("INVITE", 0), sptMethod("MESSAGE", 0), sptCase(userdata.SessionOriginating, 1)}},
			req: message, sc: userdata.SessionOriginating, want: true},
		{name: "CNF: one group false", tp: userdata.TriggerPoint{ConditionTypeCNF: true, SPTs: []userdata.SPT{
			sptMethod("INVITE", 0), sptMethod("MESSAGE", 0), sptCase(userdata.SessionOriginating, 1)}},
			req: message, sc: userdata.SessionTerminatingRegistered, want: false},
		{name: "SPT in two groups (CNF)", tp: userdata.TriggerPoint{ConditionTypeCNF: true, SPTs: []userdata.SPT{
			sptMethod("INVITE", 0, 1)}}, req: invite, want: true},
		{name: "Request-URI regexp", tp: userdata.TriggerPoint{SPTs: []userdata.SPT{{RequestURI: ptr(`^tel:\+1555`), Groups: []int{0}}}},
			req: message, want: true},
		{name: "Request-URI regexp no match", tp: userdata.TriggerPoint{SPTs: []userdata.SPT{{RequestURI: ptr(`^sip:`), Groups: []int{0}}}},
			req: message, want: false},
		{name: "SIP header present", tp: userdata.TriggerPoint{SPTs: []userdata.SPT{{SIPHeader: &userdata.HeaderCondition{Header: "Accept-Contact"}, Groups: []int{0}}}},
			req: invite, want: true},
		{name: "SIP header absent", tp: userdata.TriggerPoint{SPTs: []userdata.SPT{{SIPHeader: &userdata.HeaderCondition{Header: "Accept-Contact"}, Groups: []int{0}}}},
			req: message, want: false},
		{name: "SIP header content", tp: userdata.TriggerPoint{SPTs: []userdata.SPT{{SIPHeader: &userdata.HeaderCondition{Header: "Accept-Contact", Content: ptr(".*video.*")}, Groups: []int{0}}}},
			req: invite, want: true},
		{name: "SIP header content no match", tp: userdata.TriggerPoint{SPTs: []userdata.SPT{{SIPHeader: &userdata.HeaderCondition{Header: "Accept-Contact", Content: ptr("mmtel")}, Groups: []int{0}}}},
			req: invite, want: false},
		{name: "negated header absent", tp: userdata.TriggerPoint{SPTs: []userdata.SPT{negate(userdata.SPT{SIPHeader: &userdata.HeaderCondition{Header: "Accept-Contact"}, Groups: []int{0}})}},
			req: message, want: true},
		{name: "session description line", tp: userdata.TriggerPoint{SPTs: []userdata.SPT{{SessionDescription: &userdata.SessionDescription{Line: "m", Content: ptr("^video")}, Groups: []int{0}}}},
			req: invite, want: true},
		{name: "session description no match", tp: userdata.TriggerPoint{SPTs: []userdata.SPT{{SessionDescription: &userdata.SessionDescription{Line: "m", Content: ptr("^application")}, Groups: []int{0}}}},
			req: invite, want: false},
		{name: "REGISTER with registration type", tp: userdata.TriggerPoint{SPTs: []userdata.SPT{{Method: ptr("REGISTER"), Groups: []int{0},
			Extension: &userdata.SPTExtension{RegistrationTypes: []int{0, 2}}}}}, req: register, rt: RegistrationDeregistration, want: true},
		{name: "REGISTER other registration type", tp: userdata.TriggerPoint{SPTs: []userdata.SPT{{Method: ptr("REGISTER"), Groups: []int{0},
			Extension: &userdata.SPTExtension{RegistrationTypes: []int{0}}}}}, req: register, rt: RegistrationRe, want: false},
		{name: "no SPT", tp: userdata.TriggerPoint{}, req: invite, want: false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := MatchTrigger(&tc.tp, IFCRequest{Request: tc.req, SessionCase: tc.sc, RegistrationType: tc.rt})
			if got != tc.want {
				t.Fatalf("MatchTrigger = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestMatchingIFCsOrderAndProfilePart(t *testing.T) {
	as := func(name string) userdata.ApplicationServer { return userdata.ApplicationServer{ServerName: name} }
	sp := &userdata.ServiceProfile{InitialFilterCriteria: []userdata.InitialFilterCriteria{
		{Priority: 20, ApplicationServer: as("sip:late@as")},
		{Priority: 5, ApplicationServer: as("sip:registered-only@as"), ProfilePartIndicator: ptr(0)},
		{Priority: 10, ApplicationServer: as("sip:unregistered-only@as"), ProfilePartIndicator: ptr(1)},
		{Priority: 1, ApplicationServer: as("sip:invite@as"), TriggerPoint: &userdata.TriggerPoint{SPTs: []userdata.SPT{sptMethod("INVITE", 0)}}},
	}}
	req := testRequest(t, sip.MESSAGE, "sip:bob@ims.example", nil, "")
	names := func(ifcs []userdata.InitialFilterCriteria) []string {
		var out []string
		for _, i := range ifcs {
			out = append(out, i.ApplicationServer.ServerName)
		}
		return out
	}
	tests := []struct {
		name       string
		registered bool
		want       []string
	}{
		{name: "registered", registered: true, want: []string{"sip:registered-only@as", "sip:late@as"}},
		{name: "unregistered", registered: false, want: []string{"sip:unregistered-only@as", "sip:late@as"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := names(MatchingIFCs(sp, IFCRequest{Request: req, Registered: tc.registered}))
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
}
