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
			if c.Local == "actions" || c.Local == "transformations" {
				if err := checkPermissions(id, c); err != nil {
					return err
				}
			}
			if c.Local == "conditions" {
				if err := checkConditions(id, c); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// checkConditions: identity (one with an id, many of except; at least one), sphere with a value,
// validity of from/until pairs of xs:dateTime, and elements of other namespaces (RFC 4745 §13).
func checkConditions(id string, c *elem) error {
	for _, x := range c.elems() {
		if x.NS != nsCommonPolicy {
			continue // ##other
		}
		switch x.Local {
		case "identity":
			kids := x.elems()
			if len(kids) == 0 {
				return schemaErr("rule %s: empty <identity>", id)
			}
			for _, k := range kids {
				switch {
				case k.NS != nsCommonPolicy:
				case k.Local == "one":
					if v, _ := k.attr("id"); v == "" {
						return schemaErr("rule %s: <one> without id", id)
					}
				case k.Local == "many":
					for _, ex := range k.elems() {
						if ex.NS == nsCommonPolicy && ex.Local != "except" {
							return schemaErr("rule %s: <%s> in <many>", id, ex.Local)
						}
					}
				default:
					return schemaErr("rule %s: <%s> in <identity>", id, k.Local)
				}
			}
		case "sphere":
			if _, ok := x.attr("value"); !ok {
				return schemaErr("rule %s: <sphere> without value", id)
			}
		case "validity":
			kids := x.elems()
			if len(kids) == 0 || len(kids)%2 != 0 {
				return schemaErr("rule %s: <validity> wants from/until pairs", id)
			}
			for i, k := range kids {
				want := [2]string{"from", "until"}[i%2]
				if !is(k, nsCommonPolicy, want) || !pidf.IsDateTime(k.text()) {
					return schemaErr("rule %s: <validity> wants <%s> with an xs:dateTime", id, want)
				}
			}
		default:
			return schemaErr("rule %s: <%s> in <conditions>", id, x.Local)
		}
	}
	return nil
}

// presRulesBoolean are the permissions of RFC 5025 §5 whose value is an xs:boolean.
var presRulesBoolean = map[string]bool{"provide-activities": true, "provide-class": true, "provide-deviceID": true,
	"provide-mood": true, "provide-place-is": true, "provide-place-type": true, "provide-privacy": true,
	"provide-relationship": true, "provide-status-icon": true, "provide-sphere": true, "provide-time-offset": true,
	"provide-note": true, "provide-unknown-attribute": true}

// checkPermissions: actions and transformations hold elements of other namespaces only (RFC 4745
// §13); those of pres-rules have the values RFC 5025 §5 gives them.
func checkPermissions(id string, c *elem) error {
	for _, a := range c.elems() {
		if a.NS == nsCommonPolicy {
			return schemaErr("rule %s: <%s> in <%s>", id, a.Local, c.Local)
		}
		if a.NS != nsPresRules {
			continue
		}
		v := strings.TrimSpace(a.text())
		switch {
		case a.Local == "sub-handling":
			switch v {
			case "block", "confirm", "polite-block", "allow":
			default:
				return schemaErr("rule %s: sub-handling %q", id, a.text())
			}
		case a.Local == "provide-user-input":
			switch v {
			case "false", "bare", "thresholds", "full":
			default:
				return schemaErr("rule %s: provide-user-input %q", id, a.text())
			}
		case presRulesBoolean[a.Local]:
			switch v {
			case "true", "false", "1", "0":
			default:
				return schemaErr("rule %s: %s %q is not a boolean", id, a.Local, a.text())
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
	// OMA pres-content: mime-type?, encoding?, description*, data, then other namespaces.
	order := map[string]int{"mime-type": 1, "encoding": 2, "description": 3, "data": 4}
	last := 0
	for _, c := range root.elems() {
		if c.NS != nsPresContent {
			if data == nil {
				return schemaErr("<%s> before <data>: extensions come last", c.Local)
			}
			continue
		}
		n := order[c.Local]
		if n == 0 {
			return schemaErr("<%s> in <content>", c.Local)
		}
		if n < last || n == last && c.Local != "description" {
			return schemaErr("<%s> out of place or repeated in <content>", c.Local)
		}
		last = n
		switch c.Local {
		case "data":
			data = c
		case "encoding":
			encoding = strings.TrimSpace(c.text())
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
