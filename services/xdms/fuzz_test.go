package xdms

import (
	"bytes"
	"testing"
)

const fuzzDoc = `<?xml version="1.0" encoding="UTF-8"?>
<cr:ruleset xmlns="urn:ietf:params:xml:ns:pres-rules" xmlns:cr="urn:ietf:params:xml:ns:common-policy">
 <cr:rule id="a"><cr:conditions><cr:identity><cr:one id="sip:bob@x"/></cr:identity></cr:conditions>
  <cr:actions><sub-handling>allow</sub-handling></cr:actions></cr:rule><!-- c -->
</cr:ruleset>`

// FuzzSelector: any node selector parses or is refused, and locating it in a document never panics.
func FuzzSelector(f *testing.F) {
	for _, s := range []string{`cr:ruleset/cr:rule[@id="a"]/cr:actions/sub-handling`, `cr:ruleset/cr:rule[1]/@id`,
		`resource-lists/list[@name="friends"]/entry[2]`, `*/*[1][@a='b']`, `a/b[`, `@x`, `a//b`} {
		f.Add(s)
	}
	root, err := parse([]byte(fuzzDoc), nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sel, err := parseSelector(s)
		if err != nil {
			return
		}
		sel.locate(root, nsPresRules, map[string]string{"cr": nsCommonPolicy})
	})
}

// FuzzDocument: any body parses or is refused; a parsed one serialises to a document that parses to
// the same serialisation, and every usage's check runs on it without panicking.
func FuzzDocument(f *testing.F) {
	f.Add([]byte(fuzzDoc))
	f.Add([]byte(`<resource-lists xmlns="urn:ietf:params:xml:ns:resource-lists"><list name="f"><entry uri="sip:b@x"/></list></resource-lists>`))
	f.Add([]byte(`<content xmlns="urn:oma:xml:prs:pres-content"><encoding>base64</encoding><data>iVBO</data></content>`))
	f.Fuzz(func(t *testing.T, b []byte) {
		root, err := parse(b, nil)
		if err != nil {
			return
		}
		for _, u := range Usages {
			_ = u.check(root)
		}
		out := serialize(root)
		again, err := parse(out, nil)
		if err != nil {
			t.Fatalf("serialised document does not parse: %v\n%s", err, out)
		}
		if !bytes.Equal(serialize(again), out) {
			t.Fatalf("serialisation not stable:\n%s\n%s", out, serialize(again))
		}
	})
}
