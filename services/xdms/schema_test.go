package xdms_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/imscore/imscore/services/presence/xsdtest"
)

const (
	cpHead = `<cr:ruleset xmlns="urn:ietf:params:xml:ns:pres-rules" xmlns:cr="urn:ietf:params:xml:ns:common-policy">`
	rlHead = `<resource-lists xmlns="urn:ietf:params:xml:ns:resource-lists">`
	rsHead = `<rls-services xmlns="urn:ietf:params:xml:ns:rls-services" xmlns:rl="urn:ietf:params:xml:ns:resource-lists">`
	pcHead = `<content xmlns="urn:oma:xml:prs:pres-content">`
)

// schemaCorpus are documents of each usage, valid and not, near the edges of the schemas.
var schemaCorpus = []struct {
	auid, schema string
	docs         []string
}{
	{"pres-rules", xsdtest.AuthPolicy, []string{
		rulesDoc,
		cpHead + `</cr:ruleset>`,
		cpHead + `<cr:rule id="a"/></cr:ruleset>`,
		cpHead + `<cr:rule id="a"><cr:actions><sub-handling> allow </sub-handling></cr:actions></cr:rule></cr:ruleset>`,
		cpHead + `<cr:rule id="a"><cr:conditions><cr:identity><cr:many domain="x"><cr:except id="sip:b@x"/></cr:many></cr:identity><cr:validity><cr:from>2026-01-01T00:00:00Z</cr:from><cr:until>2027-01-01T00:00:00Z</cr:until></cr:validity></cr:conditions><cr:actions><sub-handling>confirm</sub-handling></cr:actions><cr:transformations><provide-services><all-services/></provide-services><provide-note>true</provide-note></cr:transformations></cr:rule></cr:ruleset>`,
		cpHead + `<cr:rule id="a"><cr:conditions><cr:identity/></cr:conditions></cr:rule></cr:ruleset>`,
		cpHead + `<cr:rule id="1a"><cr:actions><sub-handling>allow</sub-handling></cr:actions></cr:rule></cr:ruleset>`,
		cpHead + `<cr:rule id="a"><cr:actions><sub-handling>allow</sub-handling></cr:actions><cr:conditions/></cr:rule></cr:ruleset>`,
		cpHead + `<cr:rule id="a"><cr:conditions><cr:identity><cr:one/></cr:identity></cr:conditions></cr:rule></cr:ruleset>`,
		cpHead + `<cr:rule id="a"><cr:actions><sub-handling>maybe</sub-handling></cr:actions></cr:rule></cr:ruleset>`,
		cpHead + `<cr:rule id="a"/><cr:rule id="a"/></cr:ruleset>`,
		cpHead + `<cr:rule id="a"><cr:actions><provide-note>yes</provide-note></cr:actions></cr:rule></cr:ruleset>`,
		cpHead + `<cr:rule id="a"><cr:conditions><cr:sphere/></cr:conditions></cr:rule></cr:ruleset>`,
		cpHead + `<cr:rule id="a"><cr:conditions><cr:validity><cr:from>today</cr:from><cr:until>tomorrow</cr:until></cr:validity></cr:conditions></cr:rule></cr:ruleset>`,
		cpHead + `<cr:other/></cr:ruleset>`,
	}},
	{"resource-lists", xsdtest.ResourceLists, []string{
		listsDoc,
		rlHead + `</resource-lists>`,
		rlHead + `<list><display-name xml:lang="en">x</display-name><entry uri="sip:a@x"><display-name>A</display-name></entry><list name="in"><entry uri="sip:b@x"/></list><entry-ref ref="resource-lists/users/sip:a@x/index/~~/resource-lists/list%5b@name=%22l%22%5d"/><external anchor="http://x/y"/></list></resource-lists>`,
		rlHead + `<list><entry/></list></resource-lists>`,
		rlHead + `<list><entry uri="sip:a@x"/><display-name>late</display-name></list></resource-lists>`,
		rlHead + `<list><entry-ref/></list></resource-lists>`,
		rlHead + `<entry uri="sip:a@x"/></resource-lists>`,
		rlHead + `<list name="a"/><list name="a"/></resource-lists>`,
		rlHead + `<list><display-name>a</display-name><display-name>b</display-name></list></resource-lists>`,
	}},
	{"rls-services", xsdtest.RLSServices, []string{
		rsHead + `</rls-services>`,
		rsHead + `<service uri="sip:l@x"><list name="x"><rl:entry uri="sip:a@x"/></list><packages><package>presence</package></packages></service></rls-services>`,
		rsHead + `<service uri="sip:l@x"><resource-list>http://x/resource-lists/users/sip:a@x/index</resource-list></service></rls-services>`,
		rsHead + `<service uri="sip:l@x"><packages/><list/></service></rls-services>`,
		rsHead + `<service><list/></service></rls-services>`,
		rsHead + `<service uri="sip:l@x"><list/><resource-list>http://x</resource-list></service></rls-services>`,
		rsHead + `<service uri="sip:l@x"><list><entry uri="sip:a@x"/></list></service></rls-services>`,
		rsHead + `<service uri="sip:l@x"><list/><packages><pkg>presence</pkg></packages></service></rls-services>`,
	}},
	{"org.openmobilealliance.pres-content", xsdtest.PresContent, []string{
		pcHead + `<mime-type>image/png</mime-type><encoding>base64</encoding><description xml:lang="en">me</description><data>iVBORw0KGgo=</data></content>`,
		pcHead + `<data>plain</data></content>`,
		pcHead + `<mime-type>image/png</mime-type></content>`,
		pcHead + `<data>x</data><mime-type>image/png</mime-type></content>`,
		pcHead + `<data>x</data><data>y</data></content>`,
		pcHead + `<x:ext xmlns:x="urn:x"/><data>x</data></content>`,
		pcHead + `<data>x</data><x:ext xmlns:x="urn:x"/></content>`,
		// The OMA schema lets every child carry attributes of other namespaces (anyAttribute lax).
		pcHead + `<mime-type xmlns:x="urn:x" x:a="1">image/png</mime-type><description xml:lang="en" xmlns:x="urn:x" x:b="2">me</description><data xmlns:x="urn:x" x:c="3">x</data></content>`,
	}},
}

// TestSchemaAcceptedDocuments: every document the XDMS accepts (RFC 4825 §8.2.1: it must be valid)
// validates against its usage's schema with xmllint, and every 409 carries an xcap-error document that
// validates against RFC 4825 §11's schema. The Go checks are compared with the official schemas here.
func TestSchemaAcceptedDocuments(t *testing.T) {
	e := newEnv(t, "127.0.0.1/32")
	accepted, refused := 0, 0
	for _, u := range schemaCorpus {
		for i, doc := range u.docs {
			path := fmt.Sprintf("%s/users/%s/doc%d", u.auid, alice, i)
			code, h, body := e.do(t, "PUT", path, alice, doc)
			switch code {
			case 200, 201:
				accepted++
				_, _, got := e.do(t, "GET", path, alice, "")
				if ok, msg := xsdtest.Check(t, u.schema, []byte(got)); !ok {
					t.Errorf("%s #%d accepted by the XDMS, not valid against %s:\n%s\n%s", u.auid, i, u.schema, msg, got)
				}
			case 409:
				refused++
				if h.Get("Content-Type") != "application/xcap-error+xml" {
					t.Errorf("%s #%d: 409 with Content-Type %q", u.auid, i, h.Get("Content-Type"))
				}
				xsdtest.Valid(t, xsdtest.XCAPError, []byte(body))
				if ok, _ := xsdtest.Check(t, u.schema, []byte(doc)); ok {
					t.Logf("%s #%d refused though schema-valid (a constraint beyond the schema): %s", u.auid, i, body)
				}
			default:
				t.Errorf("%s #%d: PUT %d %s", u.auid, i, code, body)
			}
		}
	}
	if accepted == 0 || refused == 0 {
		t.Errorf("accepted %d, refused %d: the corpus must have both", accepted, refused)
	}
}

// TestSchemaAfterPartialChanges: documents changed by element and attribute PUTs stay valid.
func TestSchemaAfterPartialChanges(t *testing.T) {
	e := newEnv(t, "127.0.0.1/32")
	e.do(t, "PUT", rulesPath, alice, rulesDoc)
	for _, c := range []struct{ sel, body string }{
		{"cr:ruleset/cr:rule%5b@id=%22b%22%5d", `<cr:rule id="b"><cr:actions><sub-handling>block</sub-handling></cr:actions></cr:rule>`},
		{"cr:ruleset/cr:rule%5b@id=%22b%22%5d/cr:actions/sub-handling", `<sub-handling>polite-block</sub-handling>`},
		{"cr:ruleset/cr:rule%5b@id=%22b%22%5d/@id", `c`},
		{"cr:ruleset/cr:rule%5b@id=%22c%22%5d/@id", `9`},
		{"cr:ruleset/cr:rule%5b@id=%22c%22%5d/cr:actions", `<cr:actions><sub-handling>never</sub-handling></cr:actions>`},
	} {
		code, _, body := e.do(t, "PUT", rulesPath+"/~~/"+c.sel, alice, c.body)
		if code == 409 {
			xsdtest.Valid(t, xsdtest.XCAPError, []byte(body))
		}
		_, _, doc := e.do(t, "GET", rulesPath, alice, "")
		if ok, msg := xsdtest.Check(t, xsdtest.AuthPolicy, []byte(doc)); !ok {
			t.Errorf("after PUT %s (%d): not valid:\n%s\n%s", c.sel, code, msg, doc)
		}
	}
	if !strings.Contains(func() string { _, _, d := e.do(t, "GET", rulesPath, alice, ""); return d }(), `id="c"`) {
		t.Error("the attribute change was not applied")
	}
}
