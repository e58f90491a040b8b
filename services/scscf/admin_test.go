package scscf

import (
	"encoding/json"
	"net/http"
	"net/url"
	"testing"

	"github.com/imscore/imscore/internal/adminhttp"
	"github.com/imscore/imscore/internal/adminhttp/adminhttptest"
	"github.com/imscore/imscore/internal/httpauth"
	"github.com/imscore/imscore/internal/regstate"
)

// /admin/v1/registrations after a real registration: the read scope is needed, any identity of the implicit
// set and the IMPI find the registration, its contact carries +sip.instance, reg-id, Path and expiry.
func TestAdminRegistrations(t *testing.T) {
	hss := startFakeHSS(t)
	sub := hss.addSubscriber(t, "001010000000062", "15550000062")
	tokensFile, tokens := adminhttptest.TokensFile(t)
	s := startSCSCF(t, hss, nil, func(c *Config) { c.Admin = adminhttp.Config{TokensFile: tokensFile} })
	base := "http://" + s.HTTPAddr().String()
	ue := newUE(t, s, sub)
	ue.regID = "1"
	ue.registerFully(600)

	get := func(query string, scope httpauth.Scope) (int, regstate.Registrations) {
		t.Helper()
		code, _, body := adminhttptest.GetAuth(t, nil, base+regstate.SCSCFPath+"?"+query, tokens[scope])
		var out regstate.Registrations
		if code == http.StatusOK {
			if err := json.Unmarshal(body, &out); err != nil {
				t.Fatalf("%s: %v: %s", query, err, body)
			}
		}
		return code, out
	}
	q := "impu=" + url.QueryEscape(sub.impus[1])
	if code, _ := get(q, ""); code != http.StatusUnauthorized {
		t.Errorf("no token: %d, want 401", code)
	}
	if code, _ := get(q, httpauth.ScopeMetrics); code != http.StatusForbidden {
		t.Errorf("metrics token: %d, want 403", code)
	}
	if code, _ := get("", httpauth.ScopeRead); code != http.StatusBadRequest {
		t.Errorf("no impu nor impi: %d, want 400", code)
	}
	for _, query := range []string{q, "impu=" + url.QueryEscape(sub.impus[2]), "impi=" + url.QueryEscape(sub.impi)} {
		code, out := get(query, httpauth.ScopeRead)
		if code != http.StatusOK || len(out.Registrations) != 1 {
			t.Fatalf("%s: %d, %d registrations, want 200 and 1", query, code, len(out.Registrations))
		}
		r := out.Registrations[0]
		if r.IMPU != sub.impus[1] || r.IMPI != sub.impi || len(r.Identities) != 3 || r.SCSCFName == "" || len(r.Contacts) != 1 {
			t.Fatalf("%s: %+v", query, r)
		}
		c := r.Contacts[0]
		if c.Instance != testInstance || c.RegID != "1" || len(c.Path) != 1 || c.Expires.IsZero() || c.CallID == "" {
			t.Errorf("%s: contact %+v", query, c)
		}
	}
	if code, out := get("impu="+url.QueryEscape("sip:nobody@"+testDomain), httpauth.ScopeRead); code != http.StatusOK || len(out.Registrations) != 0 {
		t.Errorf("unknown IMPU: %d %+v, want 200 and none", code, out)
	}
}
