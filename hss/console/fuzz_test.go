package console

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
)

// FuzzIFCForm: whatever a browser posts to the iFC form, ifcFromForm never panics, and what it accepts uses
// only the form's lists: a known method, REGISTER kinds on REGISTER only, a known session case, a SIP AS.
func FuzzIFCForm(f *testing.F) {
	f.Add("priority=10&server_name=sip%3Aas.example.org&default_handling=SESSION_CONTINUED&method=INVITE&session_case=ORIGINATING_REGISTERED")
	f.Add("priority=0&server_name=sips%3Aas&default_handling=SESSION_TERMINATED&method=REGISTER&registration_type=INITIAL_REGISTRATION&registration_type=DE-REGISTRATION&profile_part=REGISTERED")
	f.Add("priority=1&server_name=sip%3Aas&default_handling=SESSION_CONTINUED&request_uri=%5Esip%3A.*&request_uri_negated=on")
	f.Add("priority=-1&server_name=http%3A%2F%2Fx&method=FOO&registration_type=X")
	f.Fuzz(func(t *testing.T, body string) {
		r, err := http.NewRequest(http.MethodPost, "/profiles/p/ifcs", strings.NewReader(body))
		if err != nil {
			return
		}
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if _, err := url.ParseQuery(body); err != nil {
			return
		}
		ifc, err := ifcFromForm(r)
		if err != nil {
			return
		}
		if ifc.Priority < 0 || !strings.HasPrefix(ifc.ApplicationServer.ServerName, "sip") {
			t.Fatalf("accepted %+v", ifc)
		}
		if ifc.TriggerPoint == nil {
			return
		}
		for _, s := range ifc.TriggerPoint.SPTs {
			if s.Method != "" && !slices.Contains(ifcMethods, s.Method) ||
				s.SessionCase != "" && !slices.Contains(sessionCases, s.SessionCase) ||
				len(s.RegistrationTypes) > 0 && s.Method != "REGISTER" {
				t.Fatalf("accepted SPT %+v", s)
			}
		}
	})
}
