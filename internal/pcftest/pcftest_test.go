package pcftest

import "testing"

// TestValidate: the OpenAPI validation catches what breaks TS 29.514's schemas, so that the
// tests relying on it can fail.
func TestValidate(t *testing.T) {
	for _, tt := range []struct {
		name, schema, body string
		ok                 bool
	}{
		{"valid", "AppSessionContext", `{"ascReqData":{"notifUri":"http://af/cb/1","suppFeat":"0","ueIpv4":"10.45.0.2",
			"medComponents":{"1":{"medCompN":1,"marBwUl":"41000 bps","medSubComps":{"1":{"fNum":1,"fDescs":["permit out 17 from any to 10.45.0.2 4000"]}}}}}}`, true},
		{"no notifUri", "AppSessionContext", `{"ascReqData":{"suppFeat":"0","ueIpv4":"10.45.0.2"}}`, false},
		{"two UE addresses (oneOf)", "AppSessionContext", `{"ascReqData":{"notifUri":"http://af/cb","suppFeat":"0","ueIpv4":"10.45.0.2","ueIpv6":"2001:db8::2"}}`, false},
		{"bad BitRate", "AppSessionContext", `{"ascReqData":{"notifUri":"http://af/cb","suppFeat":"0","ueIpv4":"10.45.0.2","medComponents":{"1":{"medCompN":1,"marBwUl":"41 kbit/s"}}}}`, false},
		{"bad suppFeat", "AppSessionContext", `{"ascReqData":{"notifUri":"http://af/cb","suppFeat":"xyz","ueIpv4":"10.45.0.2"}}`, false},
		{"termination", "TerminationInfo", `{"termCause":"PDU_SESSION_TERMINATION","resUri":"http://pcf/x"}`, true},
		{"termination without resUri", "TerminationInfo", `{"termCause":"PDU_SESSION_TERMINATION"}`, false},
		{"problem", "ProblemDetails", `{"status":403,"cause":"REQUESTED_SERVICE_NOT_AUTHORIZED"}`, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if err := Validate(t, tt.schema, []byte(tt.body)); (err == nil) != tt.ok {
				t.Fatalf("valid=%t, want %t: %v", err == nil, tt.ok, err)
			}
		})
	}
}
