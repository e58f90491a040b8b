package pcscf

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/imscore/imscore/internal/adminhttp"
	"github.com/imscore/imscore/internal/adminhttp/adminhttptest"
	"github.com/imscore/imscore/internal/httpauth"
	"github.com/imscore/imscore/internal/regstate"
)

// /admin/v1/bindings after a UE registered with sec-agree: the read scope is needed, the binding shows the
// UE's address, its SA set's ports, SPIs and algorithms, and never CK or IK.
func TestAdminBindings(t *testing.T) {
	alice := newSubscriber(t, 1)
	core := startFakeCore(t, "127.0.0.1:0", alice)
	n := startPCSCF(t, "127.0.0.1", core.addr, newFakeSAs(), func(c *Config) { c.IPsec = IPsecRequired })
	tokensFile, tokens := adminhttptest.TokensFile(t)
	admin, err := adminhttp.New(adminhttp.Config{TokensFile: tokensFile}, nil)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(n.httpHandler(admin))
	defer srv.Close()
	u := newUE(t, alice, n.CoreAddr(), "udp", true)
	if _, err := u.Register(ctxT(t)); err != nil {
		t.Fatalf("register: %v", err)
	}
	target := srv.URL + regstate.PCSCFPath + "?impu=" + url.QueryEscape(alice.impu)
	if code, _, _ := adminhttptest.GetAuth(t, nil, target, ""); code != http.StatusUnauthorized {
		t.Errorf("no token: %d, want 401", code)
	}
	if code, _, _ := adminhttptest.GetAuth(t, nil, target, tokens[httpauth.ScopeMetrics]); code != http.StatusForbidden {
		t.Errorf("metrics token: %d, want 403", code)
	}
	code, _, body := adminhttptest.GetAuth(t, nil, target, tokens[httpauth.ScopeRead])
	if code != http.StatusOK {
		t.Fatalf("read token: %d %s", code, body)
	}
	for _, secret := range []string{`"ck"`, `"ik"`, `"CK"`, `"IK"`, `"pair"`} {
		if strings.Contains(string(body), secret) {
			t.Errorf("the answer holds %s: %s", secret, body)
		}
	}
	var out regstate.Bindings
	if err := json.Unmarshal(body, &out); err != nil {
		t.Fatal(err)
	}
	if len(out.Bindings) != 1 {
		t.Fatalf("%d bindings, want 1: %s", len(out.Bindings), body)
	}
	b := out.Bindings[0]
	if !b.Registered || b.IMPI != alice.impi || b.Source == "" || b.Contact == "" || len(b.SAs) != 1 || len(b.ServiceRoute) == 0 {
		t.Fatalf("binding %+v", b)
	}
	sa := b.SAs[0]
	if sa.UE.PortC == 0 || sa.UE.PortS == 0 || sa.PCSCF.PortS == 0 || sa.UE.SPIC == 0 || sa.PCSCF.SPIS == 0 ||
		sa.Integrity == "" || sa.Encryption == "" || !sa.Confirmed {
		t.Errorf("SA set %+v", sa)
	}
	none := srv.URL + regstate.PCSCFPath + "?impu=" + url.QueryEscape("sip:nobody@example.net")
	if code, _, body := adminhttptest.GetAuth(t, nil, none, tokens[httpauth.ScopeRead]); code != 200 || !strings.Contains(string(body), `"bindings":[]`) {
		t.Errorf("unknown IMPU: %d %s", code, body)
	}
}
