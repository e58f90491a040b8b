package xdms

// XCAP node selectors (RFC 4825 §6.3): a path of element steps, each a name or *, with a position
// [n] and attribute tests [@a="v"], optionally ending in an attribute step @name.

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/imscore/imscore/services/presence/pidf"
)

// ErrSelector: the node selector is not one this server parses (answered 400).
var ErrSelector = errors.New("bad node selector")

type attrTest struct{ name, value string }

type step struct {
	prefix, local string // local "*" for any
	pos           int    // 1-based; 0 none
	attrs         []attrTest
}

// selector is a parsed node selector: element steps, and the attribute named by a final @step ("" none).
type selector struct {
	steps []step
	attr  string
}

// parseSelector reads a node selector (already percent-decoded).
func parseSelector(s string) (selector, error) {
	var sel selector
	if s == "" {
		return sel, fmt.Errorf("%w: empty", ErrSelector)
	}
	if len(s) > 4096 {
		return sel, fmt.Errorf("%w: too long", ErrSelector)
	}
	parts, err := splitSteps(s)
	if err != nil {
		return sel, err
	}
	for i, p := range parts {
		if strings.HasPrefix(p, "@") {
			if i != len(parts)-1 || i == 0 || !isQName(p[1:]) {
				return sel, fmt.Errorf("%w: attribute step %q must be last, after an element", ErrSelector, p)
			}
			sel.attr = p[1:]
			continue
		}
		st, err := parseStep(p)
		if err != nil {
			return sel, err
		}
		sel.steps = append(sel.steps, st)
	}
	if len(sel.steps) == 0 {
		return sel, fmt.Errorf("%w: no element step", ErrSelector)
	}
	return sel, nil
}

// splitSteps splits on / outside quotes and brackets.
func splitSteps(s string) ([]string, error) {
	var out []string
	var quote byte
	depth, start := 0, 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'':
			quote = c
		case c == '[':
			depth++
		case c == ']':
			depth--
			if depth < 0 {
				return nil, fmt.Errorf("%w: unbalanced ]", ErrSelector)
			}
		case c == '/' && depth == 0:
			if i == start {
				return nil, fmt.Errorf("%w: empty step", ErrSelector)
			}
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	if quote != 0 || depth != 0 || start == len(s) {
		return nil, fmt.Errorf("%w: unterminated step", ErrSelector)
	}
	return append(out, s[start:]), nil
}

func parseStep(p string) (step, error) {
	var st step
	name := p
	preds := ""
	if i := strings.IndexByte(p, '['); i >= 0 {
		name, preds = p[:i], p[i:]
	}
	if name == "*" {
		st.local = "*"
	} else {
		if !isQName(name) {
			return st, fmt.Errorf("%w: step name %q", ErrSelector, name)
		}
		if pre, loc, ok := strings.Cut(name, ":"); ok {
			st.prefix, st.local = pre, loc
		} else {
			st.local = name
		}
	}
	for preds != "" {
		if preds[0] != '[' {
			return st, fmt.Errorf("%w: %q", ErrSelector, preds)
		}
		end := predicateEnd(preds)
		if end < 0 {
			return st, fmt.Errorf("%w: unterminated predicate", ErrSelector)
		}
		body := preds[1:end]
		preds = preds[end+1:]
		if n, err := strconv.Atoi(body); err == nil {
			if n < 1 || st.pos != 0 || len(st.attrs) > 0 {
				return st, fmt.Errorf("%w: position [%s]", ErrSelector, body) // by-pos-attr: position first
			}
			st.pos = n
			continue
		}
		a, v, ok := strings.Cut(body, "=")
		if !ok || !strings.HasPrefix(a, "@") || !isQName(a[1:]) || len(v) < 2 || (v[0] != '"' && v[0] != '\'') || v[len(v)-1] != v[0] {
			return st, fmt.Errorf("%w: predicate [%s]", ErrSelector, body)
		}
		st.attrs = append(st.attrs, attrTest{name: a[1:], value: v[1 : len(v)-1]})
	}
	return st, nil
}

func predicateEnd(s string) int {
	var quote byte
	for i := 1; i < len(s); i++ {
		switch c := s[i]; {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'':
			quote = c
		case c == ']':
			return i
		}
	}
	return -1
}

func isQName(s string) bool {
	pre, loc, ok := strings.Cut(s, ":")
	if ok {
		return pidf.IsNCName(pre) && pidf.IsNCName(loc)
	}
	return pidf.IsNCName(s)
}

// matches reports whether e passes st's name test. An unprefixed step names the application usage's
// default namespace (RFC 4825 §6.3); a prefix is resolved by the xmlns() bindings of the request, else
// by the document's own at e.
func (st step) matches(e *elem, defaultNS string, bindings map[string]string) bool {
	if st.local != "*" && st.local != e.Local {
		return false
	}
	if st.local == "*" && st.prefix == "" {
		return true
	}
	ns := defaultNS
	if st.prefix != "" {
		var ok bool
		if ns, ok = bindings[st.prefix]; !ok {
			if ns, ok = e.scope[st.prefix]; !ok {
				return false
			}
		}
	}
	return e.NS == ns
}

// candidates returns the children of parent selected by st (RFC 4825 §6.3: position counts among the
// children passing the name test; the attribute tests then apply).
func (st step) candidates(parent *elem, defaultNS string, bindings map[string]string) []*elem {
	var named []*elem
	for _, c := range parent.elems() {
		if st.matches(c, defaultNS, bindings) {
			named = append(named, c)
		}
	}
	if st.pos > 0 {
		if st.pos > len(named) {
			return nil
		}
		named = named[st.pos-1 : st.pos]
	}
	var out []*elem
	for _, c := range named {
		ok := true
		for _, a := range st.attrs {
			v, has := c.attr(a.name)
			ok = ok && has && v == a.value
		}
		if ok {
			out = append(out, c)
		}
	}
	return out
}

// locate walks sel's element steps from the document root. It returns the selected element (nil when no
// single element is selected) and its parent (nil when the parent itself is missing).
func (sel selector) locate(root *elem, defaultNS string, bindings map[string]string) (target, parent *elem) {
	first := sel.steps[0]
	if !first.matches(root, defaultNS, bindings) || first.pos > 1 {
		return nil, nil
	}
	for _, a := range first.attrs {
		if v, ok := root.attr(a.name); !ok || v != a.value {
			return nil, nil
		}
	}
	cur := root
	var par *elem
	for i, st := range sel.steps[1:] {
		c := st.candidates(cur, defaultNS, bindings)
		if len(c) != 1 {
			if i == len(sel.steps)-2 {
				return nil, cur
			}
			return nil, nil
		}
		par, cur = cur, c[0]
	}
	return cur, par
}
