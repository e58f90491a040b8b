package xdms

// A small XML tree that keeps what a client wrote (prefixes, attribute order, comments) so that a
// document is served back as stored apart from the parts a request changed (RFC 4825 §8.2.5: the
// server keeps the document as the client wrote it, other than the changes).

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
)

// MaxDocument bounds a document or element body.
const MaxDocument = 256 << 10

// maxDepth bounds the nesting a document may have.
const maxDepth = 64

var errNotWellFormed = errors.New("not well-formed")

type node interface{ write(*bytes.Buffer) }

type elem struct {
	Prefix, Local string
	NS            string // resolved namespace
	Attr          []xml.Attr
	Kids          []node
	scope         map[string]string // prefix → namespace in effect here ("" the default)
}

type text string
type comment string

func (t text) write(b *bytes.Buffer) { _ = xml.EscapeText(b, []byte(t)) }
func (c comment) write(b *bytes.Buffer) {
	b.WriteString("<!--")
	b.WriteString(string(c))
	b.WriteString("-->")
}

func rawName(prefix, local string) string {
	if prefix == "" {
		return local
	}
	return prefix + ":" + local
}

func (e *elem) write(b *bytes.Buffer) {
	b.WriteByte('<')
	b.WriteString(rawName(e.Prefix, e.Local))
	for _, a := range e.Attr {
		fmt.Fprintf(b, ` %s="%s"`, rawName(a.Name.Space, a.Name.Local), attrEscape(a.Value))
	}
	if len(e.Kids) == 0 {
		b.WriteString("/>")
		return
	}
	b.WriteByte('>')
	for _, k := range e.Kids {
		k.write(b)
	}
	b.WriteString("</")
	b.WriteString(rawName(e.Prefix, e.Local))
	b.WriteByte('>')
}

func attrEscape(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return strings.ReplaceAll(b.String(), `"`, "&quot;")
}

// attr returns the value of an unprefixed attribute.
func (e *elem) attr(name string) (string, bool) {
	for _, a := range e.Attr {
		if a.Name.Space == "" && a.Name.Local == name {
			return a.Value, true
		}
	}
	return "", false
}

func (e *elem) elems() []*elem {
	var out []*elem
	for _, k := range e.Kids {
		if c, ok := k.(*elem); ok {
			out = append(out, c)
		}
	}
	return out
}

// text is the concatenated character data of e's children.
func (e *elem) text() string {
	var b strings.Builder
	for _, k := range e.Kids {
		if t, ok := k.(text); ok {
			b.WriteString(string(t))
		}
	}
	return b.String()
}

// parse reads one element (a document, or an element body for PUT) with scope the namespaces in effect
// around it. Strict: one root, tags that match, prefixes that are declared, no DTD.
func parse(b []byte, scope map[string]string) (*elem, error) {
	if len(b) > MaxDocument {
		return nil, fmt.Errorf("%w: larger than %d bytes", errNotWellFormed, MaxDocument)
	}
	d := xml.NewDecoder(bytes.NewReader(b))
	d.Strict = true
	var root *elem
	var stack []*elem
	for {
		tok, err := d.RawToken()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %v", errNotWellFormed, err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if len(stack) == 0 && root != nil {
				return nil, fmt.Errorf("%w: more than one root element", errNotWellFormed)
			}
			if len(stack) >= maxDepth {
				return nil, fmt.Errorf("%w: nested deeper than %d", errNotWellFormed, maxDepth)
			}
			parent := scope
			if len(stack) > 0 {
				parent = stack[len(stack)-1].scope
			}
			e := &elem{Prefix: t.Name.Space, Local: t.Name.Local, Attr: t.Attr, scope: parent}
			seen, copied := map[xml.Name]bool{}, false
			for _, a := range t.Attr {
				if seen[a.Name] {
					return nil, fmt.Errorf("%w: attribute %s repeated", errNotWellFormed, rawName(a.Name.Space, a.Name.Local))
				}
				seen[a.Name] = true
				if a.Name.Space == "xmlns" || a.Name.Space == "" && a.Name.Local == "xmlns" {
					if !copied {
						e.scope, copied = copyMap(parent), true
					}
					p := ""
					if a.Name.Space == "xmlns" {
						p = a.Name.Local
					}
					e.scope[p] = a.Value
				}
			}
			ns, ok := e.scope[e.Prefix]
			if !ok && e.Prefix != "" {
				return nil, fmt.Errorf("%w: prefix %q not declared", errNotWellFormed, e.Prefix)
			}
			for _, a := range t.Attr {
				if a.Name.Space != "" && a.Name.Space != "xmlns" && a.Name.Space != "xml" {
					if _, ok := e.scope[a.Name.Space]; !ok {
						return nil, fmt.Errorf("%w: prefix %q not declared", errNotWellFormed, a.Name.Space)
					}
				}
			}
			e.NS = ns
			if len(stack) == 0 {
				root = e
			} else {
				p := stack[len(stack)-1]
				p.Kids = append(p.Kids, e)
			}
			stack = append(stack, e)
		case xml.EndElement:
			if len(stack) == 0 {
				return nil, fmt.Errorf("%w: unexpected end tag", errNotWellFormed)
			}
			top := stack[len(stack)-1]
			if t.Name.Space != top.Prefix || t.Name.Local != top.Local {
				return nil, fmt.Errorf("%w: </%s> closes <%s>", errNotWellFormed, rawName(t.Name.Space, t.Name.Local), rawName(top.Prefix, top.Local))
			}
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) == 0 {
				if len(bytes.TrimSpace(t)) > 0 {
					return nil, fmt.Errorf("%w: text outside the root", errNotWellFormed)
				}
				continue
			}
			p := stack[len(stack)-1]
			p.Kids = append(p.Kids, text(t))
		case xml.Comment:
			if len(stack) > 0 {
				p := stack[len(stack)-1]
				p.Kids = append(p.Kids, comment(t))
			}
		case xml.Directive:
			return nil, fmt.Errorf("%w: DTDs are not accepted", errNotWellFormed)
		case xml.ProcInst:
			if len(stack) > 0 || root != nil {
				return nil, fmt.Errorf("%w: processing instruction inside the document", errNotWellFormed)
			}
		}
	}
	if root == nil || len(stack) > 0 {
		return nil, fmt.Errorf("%w: no complete root element", errNotWellFormed)
	}
	return root, nil
}

func copyMap(m map[string]string) map[string]string {
	out := make(map[string]string, len(m)+1)
	for k, v := range m {
		out[k] = v
	}
	return out
}

// serialize writes a whole document.
func serialize(root *elem) []byte {
	var b bytes.Buffer
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
	root.write(&b)
	b.WriteByte('\n')
	return b.Bytes()
}

func xmlAttr(prefix, local, value string) xml.Attr {
	return xml.Attr{Name: xml.Name{Space: prefix, Local: local}, Value: value}
}
