package xdms_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"go.uber.org/zap/zaptest"

	"github.com/imscore/imscore/services/presence/store"
	"github.com/imscore/imscore/services/xdms"
	"github.com/imscore/imscore/sip/trust"
)

const alice = "sip:alice@ims.example.org"

const rulesDoc = `<?xml version="1.0" encoding="UTF-8"?>
<cr:ruleset xmlns="urn:ietf:params:xml:ns:pres-rules" xmlns:cr="urn:ietf:params:xml:ns:common-policy">
 <cr:rule id="a"><cr:conditions><cr:identity><cr:one id="sip:bob@ims.example.org"/></cr:identity></cr:conditions>
  <cr:actions><sub-handling>allow</sub-handling></cr:actions></cr:rule>
</cr:ruleset>`

const listsDoc = `<?xml version="1.0" encoding="UTF-8"?>
<resource-lists xmlns="urn:ietf:params:xml:ns:resource-lists">
 <list name="friends"><entry uri="sip:bob@ims.example.org"/><entry uri="sip:carol@ims.example.org"/></list>
</resource-lists>`

type env struct {
	srv     *httptest.Server
	mu      sync.Mutex
	changes []string
}

func newEnv(t *testing.T, trusted string) *env {
	d, err := trust.ParseDomain([]string{trusted})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{}
	h := &xdms.Handler{Root: "/xcap-root", Store: store.NewMemory(), Proxies: d, Log: zaptest.NewLogger(t),
		OnChange: func(_ context.Context, auid, user string) {
			e.mu.Lock()
			e.changes = append(e.changes, auid+" "+user)
			e.mu.Unlock()
		}}
	e.srv = httptest.NewServer(h)
	t.Cleanup(e.srv.Close)
	return e
}

func (e *env) do(t *testing.T, method, path, as, body string, hdr ...string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+"/xcap-root/"+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if as != "" {
		req.Header.Set(xdms.AssertedIdentityHeader, as)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, res.Header, string(b)
}

const rulesPath = "pres-rules/users/sip:alice@ims.example.org/index"

func TestDocumentsAndSelectors(t *testing.T) {
	e := newEnv(t, "127.0.0.1/32")
	code, h, _ := e.do(t, "PUT", rulesPath, alice, rulesDoc, "Content-Type", "application/auth-policy+xml")
	if code != 201 || h.Get("ETag") == "" {
		t.Fatalf("PUT document: %d", code)
	}
	etag := h.Get("ETag")
	if code, h, body := e.do(t, "GET", rulesPath, alice, ""); code != 200 || h.Get("ETag") != etag || body != rulesDoc {
		t.Errorf("GET: %d %s\n%s", code, h.Get("ETag"), body)
	}
	// Conditional requests.
	if code, _, _ := e.do(t, "PUT", rulesPath, alice, rulesDoc, "If-Match", `"stale"`); code != 412 {
		t.Errorf("stale If-Match: %d, want 412", code)
	}
	if code, _, _ := e.do(t, "PUT", rulesPath, alice, rulesDoc, "If-None-Match", "*"); code != 412 {
		t.Errorf("If-None-Match * on an existing document: %d, want 412", code)
	}
	if code, _, _ := e.do(t, "GET", rulesPath, alice, "", "If-None-Match", etag); code != 304 {
		t.Errorf("GET If-None-Match current: %d, want 304", code)
	}
	// Element by attribute, by position; attribute selector.
	sel := rulesPath + "/~~/cr:ruleset/cr:rule%5b@id=%22a%22%5d/cr:actions/sub-handling"
	if code, h, body := e.do(t, "GET", sel, alice, ""); code != 200 || body != "<sub-handling>allow</sub-handling>" ||
		h.Get("Content-Type") != "application/xcap-el+xml" {
		t.Errorf("GET element: %d %q", code, body)
	}
	if code, _, body := e.do(t, "GET", rulesPath+"/~~/cr:ruleset/cr:rule%5b1%5d/@id", alice, ""); code != 200 || body != "a" {
		t.Errorf("GET attribute: %d %q", code, body)
	}
	// PUT a new element (inserted), then replace an element, then an attribute.
	rule := `<cr:rule id="b"><cr:actions><sub-handling>block</sub-handling></cr:actions></cr:rule>`
	code, h, _ = e.do(t, "PUT", rulesPath+"/~~/cr:ruleset/cr:rule%5b@id=%22b%22%5d", alice, rule,
		"Content-Type", "application/xcap-el+xml", "If-Match", etag)
	if code != 200 || h.Get("ETag") == etag {
		t.Fatalf("PUT element: %d", code)
	}
	if code, _, body := e.do(t, "GET", rulesPath+"/~~/cr:ruleset/cr:rule%5b2%5d/cr:actions/sub-handling", alice, ""); code != 200 || !strings.Contains(body, "block") {
		t.Errorf("inserted element: %d %q", code, body)
	}
	if code, _, _ := e.do(t, "PUT", rulesPath+"/~~/cr:ruleset/cr:rule%5b@id=%22b%22%5d/cr:actions/sub-handling", alice,
		`<sub-handling>polite-block</sub-handling>`); code != 200 {
		t.Errorf("replace element: %d", code)
	}
	// Errors with RFC 4825 §11 bodies.
	if code, h, body := e.do(t, "PUT", rulesPath+"/~~/cr:ruleset/cr:rule%5b@id=%22b%22%5d/cr:actions/sub-handling", alice,
		`<sub-handling>maybe</sub-handling>`); code != 409 || !strings.Contains(body, "<schema-validation-error") || h.Get("Content-Type") != "application/xcap-error+xml" {
		t.Errorf("invalid value: %d %s", code, body)
	}
	if code, _, body := e.do(t, "PUT", rulesPath+"/~~/cr:ruleset/cr:rule%5b@id=%22zz%22%5d/cr:actions/sub-handling", alice,
		`<sub-handling>allow</sub-handling>`); code != 409 || !strings.Contains(body, "<no-parent") {
		t.Errorf("no parent: %d %s", code, body)
	}
	if code, _, body := e.do(t, "PUT", rulesPath+"/~~/cr:ruleset/cr:rule%5b@id=%22c%22%5d", alice, rule); code != 409 || !strings.Contains(body, "<cannot-insert") {
		t.Errorf("element the selector does not select: %d %s", code, body)
	}
	if code, _, _ := e.do(t, "GET", rulesPath+"/~~/cr:ruleset/cr:rule%5b9%5d", alice, ""); code != 404 {
		t.Errorf("no such element: %d", code)
	}
	if code, _, _ := e.do(t, "PUT", rulesPath, alice, "<cr:ruleset"); code != 409 {
		t.Errorf("not well-formed: %d", code)
	}
	// DELETE an element, then the document.
	if code, _, _ := e.do(t, "DELETE", rulesPath+"/~~/cr:ruleset/cr:rule%5b@id=%22b%22%5d", alice, ""); code != 200 {
		t.Errorf("DELETE element: %d", code)
	}
	if code, _, _ := e.do(t, "DELETE", rulesPath, alice, ""); code != 200 {
		t.Errorf("DELETE document: %d", code)
	}
	if code, _, _ := e.do(t, "GET", rulesPath, alice, ""); code != 404 {
		t.Errorf("deleted document: %d", code)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.changes) != 5 || e.changes[0] != "pres-rules "+alice {
		t.Errorf("changes %v", e.changes)
	}
}

func TestUsagesValidate(t *testing.T) {
	e := newEnv(t, "127.0.0.1/32")
	for _, tc := range []struct {
		path, body string
		code       int
	}{
		{"resource-lists/users/" + alice + "/index", listsDoc, 201},
		{"resource-lists/users/" + alice + "/dup", strings.Replace(listsDoc, "carol", "bob", 1), 409},
		{"rls-services/users/" + alice + "/index", `<rls-services xmlns="urn:ietf:params:xml:ns:rls-services"><service uri="sip:alice-buddies@ims.example.org"><resource-list>http://x/resource-lists/users/sip:alice@ims.example.org/index/~~/resource-lists/list%5b@name=%22friends%22%5d</resource-list><packages><package>presence</package></packages></service></rls-services>`, 201},
		{"rls-services/users/" + alice + "/bad", `<rls-services xmlns="urn:ietf:params:xml:ns:rls-services"><service uri="sip:x@y"/></rls-services>`, 409},
		{"org.openmobilealliance.pres-content/users/" + alice + "/oma_status-icon/rcs_status_icon", `<content xmlns="urn:oma:xml:prs:pres-content"><mime-type>image/png</mime-type><encoding>base64</encoding><data>iVBORw0KGgo=</data></content>`, 201},
		{"org.openmobilealliance.pres-content/users/" + alice + "/bad", `<content xmlns="urn:oma:xml:prs:pres-content"><encoding>base64</encoding><data>!!</data></content>`, 409},
		{"pres-rules/users/" + alice + "/dtd", `<!DOCTYPE x [<!ENTITY a "aaaa">]><x/>`, 409},
		{"unknown/users/" + alice + "/index", `<x/>`, 404},
	} {
		if code, _, body := e.do(t, "PUT", tc.path, alice, tc.body); code != tc.code {
			t.Errorf("PUT %s: %d, want %d: %s", tc.path, code, tc.code, body)
		}
	}
	if code, _, body := e.do(t, "GET", "resource-lists/users/"+alice+"/index/~~/resource-lists/list%5b@name=%22friends%22%5d/entry%5b2%5d/@uri", alice, ""); code != 200 || body != "sip:carol@ims.example.org" {
		t.Errorf("attribute of the second entry: %d %q", code, body)
	}
}

// TestAuthorisation: only the owner, only as asserted by a trusted proxy.
func TestAuthorisation(t *testing.T) {
	e := newEnv(t, "127.0.0.1/32")
	e.do(t, "PUT", rulesPath, alice, rulesDoc)
	if code, _, _ := e.do(t, "GET", rulesPath, "sip:bob@ims.example.org", ""); code != 403 {
		t.Errorf("another user: %d, want 403", code)
	}
	if code, _, _ := e.do(t, "GET", rulesPath, "", ""); code != 403 {
		t.Errorf("no asserted identity: %d, want 403", code)
	}
	untrusted := newEnv(t, "192.0.2.1/32")
	if code, _, _ := untrusted.do(t, "GET", rulesPath, alice, ""); code != 403 {
		t.Errorf("identity asserted from outside the trusted proxies: %d, want 403", code)
	}
}
