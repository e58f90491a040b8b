package xdms

// The application usages served and their documents' checks. Each check is the structure of the
// usage's XML schema, applied to the whole document after every change (RFC 4825 §8.2.5: a document
// that would not validate is refused with 409 <schema-validation-error>); the tests also run xmllint
// against the RFCs' schemas on the same documents.

import (
	"encoding/base64"
	"fmt"
	"strings"

	"github.com/imscore/imscore/services/presence/pidf"
)

// Namespaces of the documents.
const (
	nsCommonPolicy  = "urn:ietf:params:xml:ns:common-policy"  // RFC 4745 §13
	nsPresRules     = "urn:ietf:params:xml:ns:pres-rules"     // RFC 5025 §10
	nsResourceLists = "urn:ietf:params:xml:ns:resource-lists" // RFC 4826 §3.2
	nsRLSServices   = "urn:ietf:params:xml:ns:rls-services"   // RFC 4826 §4.2
	nsPresContent   = "urn:oma:xml:prs:pres-content"          // OMA-TS-Presence_SIMPLE_Content_XDM §5.1
	nsXCAPError     = "urn:ietf:params:xml:ns:xcap-error"     // RFC 4825 §11
)

// Usage is one application usage (RFC 4825 §5).
type Usage struct {
	AUID        string
	ContentType string // of whole documents
	DefaultNS   string // for unprefixed node selector steps
	check       func(root *elem) error
}

// Usages are the application usages this XDMS serves.
var Usages = map[string]Usage{
	"pres-rules": {AUID: "pres-rules", ContentType: "application/auth-policy+xml", DefaultNS: nsPresRules, check: checkPresRules}, // RFC 5025 §9
	"org.openmobilealliance.pres-rules": {AUID: "org.openmobilealliance.pres-rules", ContentType: "application/auth-policy+xml",
		DefaultNS: nsPresRules, check: checkPresRules}, // OMA Presence SIMPLE XDM §5.1
	"resource-lists": {AUID: "resource-lists", ContentType: "application/resource-lists+xml", DefaultNS: nsResourceLists, check: checkResourceLists}, // RFC 4826 §3.4
	"rls-services":   {AUID: "rls-services", ContentType: "application/rls-services+xml", DefaultNS: nsRLSServices, check: checkRLSServices},         // RFC 4826 §4.4
	"org.openmobilealliance.pres-content": {AUID: "org.openmobilealliance.pres-content", ContentType: "application/vnd.oma.pres-content+xml",
		DefaultNS: nsPresContent, check: checkPresContent},
}

func is(e *elem, ns, local string) bool { return e.NS == ns && e.Local == local }

func schemaErr(format string, args ...any) error { return fmt.Errorf(format, args...) }

// checkPresRules: <ruleset> of <rule id> (unique), each with optional conditions, actions,
// transformations in that order (RFC 4745 §13), sub-handling one of RFC 5025 §3.2.1's values.
func checkPresRules(root *elem) error {
	if !is(root, nsCommonPolicy, "ruleset") {
		return schemaErr("root is {%s}%s, want {%s}ruleset", root.NS, root.Local, nsCommonPolicy)
	}
	ids := map[string]bool{}
	for _, r := range root.elems() {
		if !is(r, nsCommonPolicy, "rule") {
			return schemaErr("<%s> in <ruleset>", r.Local)
		}
		id, _ := r.attr("id")
		if !pidf.IsNCName(id) || ids[id] {
			return schemaErr("rule id %q missing, not an ID or repeated", id)
		}
		ids[id] = true
		order := 0
		for _, c := range r.elems() {
			n := map[string]int{"conditions": 1, "actions": 2, "transformations": 3}[c.Local]
			if c.NS != nsCommonPolicy || n == 0 || n <= order {
				return schemaErr("rule %s: <%s> out of place", id, c.Local)
			}
			order = n
			if c.Local == "actions" {
				for _, a := range c.elems() {
					if is(a, nsPresRules, "sub-handling") {
						switch strings.TrimSpace(a.text()) {
						case "block", "confirm", "polite-block", "allow":
						default:
							return schemaErr("rule %s: sub-handling %q", id, a.text())
						}
					}
				}
			}
			if c.Local == "conditions" {
				for _, ident := range c.elems() {
					if !is(ident, nsCommonPolicy, "identity") {
						continue
					}
					for _, x := range ident.elems() {
						if is(x, nsCommonPolicy, "one") {
							if v, _ := x.attr("id"); v == "" {
								return schemaErr("rule %s: <one> without id", id)
							}
						} else if !is(x, nsCommonPolicy, "many") {
							return schemaErr("rule %s: <%s> in <identity>", id, x.Local)
						}
					}
				}
			}
		}
	}
	return nil
}

// checkResourceLists: <resource-lists> of <list>; a list holds display-name, then list, external, entry,
// entry-ref; names unique among sibling lists, entry uri unique in its list (RFC 4826 §3.4.5).
func checkResourceLists(root *elem) error {
	if !is(root, nsResourceLists, "resource-lists") {
		return schemaErr("root is {%s}%s, want {%s}resource-lists", root.NS, root.Local, nsResourceLists)
	}
	names := map[string]bool{}
	for _, l := range root.elems() {
		if !is(l, nsResourceLists, "list") {
			return schemaErr("<%s> in <resource-lists>", l.Local)
		}
		n, _ := l.attr("name")
		if names[n] {
			return schemaErr("list name %q repeated", n)
		}
		names[n] = true
		if err := checkList(l); err != nil {
			return err
		}
	}
	return nil
}

func checkList(l *elem) error {
	uris, names := map[string]bool{}, map[string]bool{}
	for i, c := range l.elems() {
		if c.NS != nsResourceLists {
			continue // ##other extensions
		}
		switch c.Local {
		case "display-name":
			if i != 0 {
				return schemaErr("<display-name> not first in a list")
			}
		case "list":
			n, _ := c.attr("name")
			if names[n] {
				return schemaErr("list name %q repeated", n)
			}
			names[n] = true
			if err := checkList(c); err != nil {
				return err
			}
		case "entry":
			u, ok := c.attr("uri")
			if !ok || !strings.Contains(u, ":") || uris[u] {
				return schemaErr("entry uri %q missing, not a URI or repeated", u)
			}
			uris[u] = true
		case "entry-ref":
			if v, _ := c.attr("ref"); v == "" {
				return schemaErr("entry-ref without ref")
			}
		case "external":
			if v, _ := c.attr("anchor"); v == "" {
				return schemaErr("external without anchor")
			}
		default:
			return schemaErr("<%s> in <list>", c.Local)
		}
	}
	return nil
}

// checkRLSServices: <rls-services> of <service uri> (unique) with exactly one of <resource-list> or
// <list>, then optional <packages> of <package> (RFC 4826 §4.2).
func checkRLSServices(root *elem) error {
	if !is(root, nsRLSServices, "rls-services") {
		return schemaErr("root is {%s}%s, want {%s}rls-services", root.NS, root.Local, nsRLSServices)
	}
	uris := map[string]bool{}
	for _, s := range root.elems() {
		if !is(s, nsRLSServices, "service") {
			return schemaErr("<%s> in <rls-services>", s.Local)
		}
		u, _ := s.attr("uri")
		if !strings.Contains(u, ":") || uris[u] {
			return schemaErr("service uri %q missing, not a URI or repeated", u)
		}
		uris[u] = true
		kids := s.elems()
		if len(kids) == 0 {
			return schemaErr("service %s has neither resource-list nor list", u)
		}
		switch {
		case is(kids[0], nsRLSServices, "resource-list"):
			if !strings.Contains(kids[0].text(), ":") {
				return schemaErr("service %s: resource-list is not a URI", u)
			}
		case is(kids[0], nsRLSServices, "list"):
			if err := checkList(kids[0]); err != nil {
				return fmt.Errorf("service %s: %w", u, err)
			}
		default:
			return schemaErr("service %s: <%s> first", u, kids[0].Local)
		}
		for _, k := range kids[1:] {
			if is(k, nsRLSServices, "packages") {
				for _, p := range k.elems() {
					if !is(p, nsRLSServices, "package") || strings.TrimSpace(p.text()) == "" {
						return schemaErr("service %s: bad <packages>", u)
					}
				}
			} else if k.NS == nsRLSServices {
				return schemaErr("service %s: <%s> out of place", u, k.Local)
			}
		}
	}
	return nil
}

// checkPresContent: <content> with optional mime-type, encoding, description*, then data (required);
// data is base64 when encoding says so.
func checkPresContent(root *elem) error {
	if !is(root, nsPresContent, "content") {
		return schemaErr("root is {%s}%s, want {%s}content", root.NS, root.Local, nsPresContent)
	}
	var data *elem
	encoding := ""
	for _, c := range root.elems() {
		switch {
		case c.NS != nsPresContent:
		case c.Local == "data":
			if data != nil {
				return schemaErr("<data> repeated")
			}
			data = c
		case c.Local == "encoding":
			encoding = strings.TrimSpace(c.text())
		case c.Local == "mime-type" || c.Local == "description":
		default:
			return schemaErr("<%s> in <content>", c.Local)
		}
	}
	if data == nil {
		return schemaErr("<content> without <data>")
	}
	if strings.EqualFold(encoding, "base64") {
		clean := strings.Join(strings.Fields(data.text()), "")
		if _, err := base64.StdEncoding.DecodeString(clean); err != nil {
			return schemaErr("<data> is not base64: %v", err)
		}
	}
	return nil
}
