// Package pidf reads, checks and composes presence documents: PIDF (RFC 3863) with the data model of
// RFC 4479 (person, device) and any extension such as RPID (RFC 4480) carried through as it was
// published.
//
// Checking is strict Go decoding plus the structural rules of the RFC 3863 §4.4 and RFC 4479 §4 schemas:
// the root is <presence> of the PIDF namespace with an entity URI; each <tuple> has an id (an XML ID,
// unique in the document) and a <status> whose <basic>, when present, is open or closed; <timestamp> is
// an xs:dateTime; <person> and <device> have an id, <device> a <deviceID>; nothing else of the PIDF
// namespace stands at the root. The tests check the same documents against the RFCs' XSDs with xmllint.
package pidf

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// Namespaces.
const (
	NS          = "urn:ietf:params:xml:ns:pidf"            // RFC 3863 §4.4
	NSDataModel = "urn:ietf:params:xml:ns:pidf:data-model" // RFC 4479 §4
	NSRPID      = "urn:ietf:params:xml:ns:pidf:rpid"       // RFC 4480 §3
)

// ContentType is the MIME type of a PIDF document (RFC 3863 §4.1).
const ContentType = "application/pidf+xml"

// MaxSize bounds a document Parse accepts.
const MaxSize = 64 << 10

// ErrInvalid is wrapped by every error of Parse: the document is not a valid PIDF document.
var ErrInvalid = errors.New("invalid PIDF document")

// Basic is the basic status of a tuple (RFC 3863 §4.1.4).
type Basic string

// Basic values.
const (
	Open   Basic = "open"
	Closed Basic = "closed"
)

// Kind says which root child an Element is.
type Kind uint8

// Kinds, in the order a composed document lists them (RFC 3863 §4.4: tuple*, note*, any ##other*).
const (
	KindTuple  Kind = 1
	KindNote   Kind = 2
	KindPerson Kind = 3 // RFC 4479 §3.1
	KindDevice Kind = 4 // RFC 4479 §3.3
	KindOther  Kind = 5
)

// Element is one child of the root, kept as published: Raw is its text with the namespace declarations
// it inherited from the root added to its start tag, so that it stands alone.
type Element struct {
	Kind  Kind
	ID    string // tuple, person, device id; the text of a note
	Basic Basic  // tuples
	Note  string // the first note of a tuple or person, or the note itself
	Raw   []byte
}

// Document is a checked PIDF document.
type Document struct {
	Entity   string
	Elements []Element
}

type status struct {
	Basic *string `xml:"urn:ietf:params:xml:ns:pidf basic"`
}

type tuple struct {
	ID        string   `xml:"id,attr"`
	Status    *status  `xml:"urn:ietf:params:xml:ns:pidf status"`
	Notes     []string `xml:"urn:ietf:params:xml:ns:pidf note"`
	Timestamp *string  `xml:"urn:ietf:params:xml:ns:pidf timestamp"`
}

type dmElement struct {
	ID        string   `xml:"id,attr"`
	DeviceID  *string  `xml:"urn:ietf:params:xml:ns:pidf:data-model deviceID"`
	Notes     []string `xml:"urn:ietf:params:xml:ns:pidf:data-model note"`
	Timestamp *string  `xml:"urn:ietf:params:xml:ns:pidf:data-model timestamp"`
}

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

// Parse reads and checks a PIDF document.
func Parse(b []byte) (*Document, error) {
	if len(b) > MaxSize {
		return nil, invalid("larger than %d bytes", MaxSize)
	}
	d := xml.NewDecoder(bytes.NewReader(b))
	d.Strict = true
	var (
		doc     Document
		rootNS  []xml.Attr
		started bool
		ids     = map[string]bool{}
	)
	for {
		off := d.InputOffset()
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, invalid("%v", err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if !started {
				if t.Name.Space != NS || t.Name.Local != "presence" {
					return nil, invalid("root is {%s}%s, want {%s}presence", t.Name.Space, t.Name.Local, NS)
				}
				started = true
				for _, a := range t.Attr {
					switch {
					case a.Name.Space == "" && a.Name.Local == "entity":
						doc.Entity = a.Value
					case a.Name.Space == "xmlns" || a.Name.Space == "" && a.Name.Local == "xmlns":
						rootNS = append(rootNS, a)
					}
				}
				if !isURI(doc.Entity) {
					return nil, invalid("presence entity %q is not a URI", doc.Entity)
				}
				continue
			}
			el, err := child(d, t, b, off)
			if err != nil {
				return nil, err
			}
			if el.Kind == KindTuple || el.Kind == KindPerson || el.Kind == KindDevice {
				if ids[el.ID] {
					return nil, invalid("id %q used twice", el.ID) // xs:ID is unique in a document
				}
				ids[el.ID] = true
			}
			el.Raw = withNamespaces(el.Raw, t, rootNS)
			doc.Elements = append(doc.Elements, el)
		case xml.EndElement:
			// the root's end: only whitespace, comments and PIs may follow
		case xml.CharData:
			if len(bytes.TrimSpace(t)) > 0 {
				return nil, invalid("text outside elements")
			}
		case xml.Directive:
			return nil, invalid("DTDs are not accepted")
		}
	}
	if !started {
		return nil, invalid("no root element")
	}
	return &doc, nil
}

// child decodes one root child whose start tag t began at off, and checks it.
func child(d *xml.Decoder, t xml.StartElement, b []byte, off int64) (Element, error) {
	var el Element
	switch {
	case t.Name.Space == NS && t.Name.Local == "tuple":
		var tu tuple
		if err := d.DecodeElement(&tu, &t); err != nil {
			return el, invalid("tuple: %v", err)
		}
		if !IsNCName(tu.ID) {
			return el, invalid("tuple id %q is not an XML ID", tu.ID)
		}
		if tu.Status == nil {
			return el, invalid("tuple %s has no status", tu.ID) // RFC 3863 §4.1.3: MUST
		}
		if tu.Status.Basic != nil {
			switch Basic(strings.TrimSpace(*tu.Status.Basic)) {
			case Open, Closed:
				el.Basic = Basic(strings.TrimSpace(*tu.Status.Basic))
			default:
				return el, invalid("tuple %s: basic %q is neither open nor closed", tu.ID, *tu.Status.Basic)
			}
		}
		if tu.Timestamp != nil && !IsDateTime(*tu.Timestamp) {
			return el, invalid("tuple %s: timestamp %q is not an xs:dateTime", tu.ID, *tu.Timestamp)
		}
		el.Kind, el.ID = KindTuple, tu.ID
		if len(tu.Notes) > 0 {
			el.Note = tu.Notes[0]
		}
	case t.Name.Space == NS && t.Name.Local == "note":
		var n string
		if err := d.DecodeElement(&n, &t); err != nil {
			return el, invalid("note: %v", err)
		}
		el.Kind, el.ID, el.Note = KindNote, n, n
	case t.Name.Space == NS:
		return el, invalid("<%s> is not a child of <presence>", t.Name.Local)
	case t.Name.Space == NSDataModel && (t.Name.Local == "person" || t.Name.Local == "device"):
		var e dmElement
		if err := d.DecodeElement(&e, &t); err != nil {
			return el, invalid("%s: %v", t.Name.Local, err)
		}
		if !IsNCName(e.ID) {
			return el, invalid("%s id %q is not an XML ID", t.Name.Local, e.ID)
		}
		if e.Timestamp != nil && !IsDateTime(*e.Timestamp) {
			return el, invalid("%s %s: timestamp %q is not an xs:dateTime", t.Name.Local, e.ID, *e.Timestamp)
		}
		el.Kind, el.ID = KindPerson, e.ID
		if t.Name.Local == "device" {
			if e.DeviceID == nil || !isURI(strings.TrimSpace(*e.DeviceID)) {
				return el, invalid("device %s has no deviceID URI", e.ID) // RFC 4479 §4: required
			}
			el.Kind = KindDevice
		}
		if len(e.Notes) > 0 {
			el.Note = e.Notes[0]
		}
	case t.Name.Space == "":
		return el, invalid("<%s> has no namespace", t.Name.Local)
	default:
		if err := d.Skip(); err != nil {
			return el, invalid("%s: %v", t.Name.Local, err)
		}
		el.Kind = KindOther
	}
	el.Raw = append([]byte(nil), b[off:d.InputOffset()]...)
	return el, nil
}

// withNamespaces adds to raw's start tag the root's namespace declarations the element does not make
// itself.
func withNamespaces(raw []byte, t xml.StartElement, rootNS []xml.Attr) []byte {
	var add []byte
	for _, ns := range rootNS {
		if slicesContainsAttr(t.Attr, ns.Name) {
			continue
		}
		name := "xmlns"
		if ns.Name.Space == "xmlns" {
			name += ":" + ns.Name.Local
		}
		add = fmt.Appendf(add, " %s=\"%s\"", name, escape(ns.Value))
	}
	if len(add) == 0 {
		return raw
	}
	i := bytes.IndexAny(raw, " \t\r\n/>")
	if i < 0 {
		return raw
	}
	out := make([]byte, 0, len(raw)+len(add))
	out = append(out, raw[:i]...)
	out = append(out, add...)
	return append(out, raw[i:]...)
}

func slicesContainsAttr(attrs []xml.Attr, n xml.Name) bool {
	for _, a := range attrs {
		if a.Name == n {
			return true
		}
	}
	return false
}

func escape(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return strings.ReplaceAll(b.String(), `"`, "&quot;")
}

// isURI is the check an xs:anyURI needs here: a scheme, a colon, no spaces.
func isURI(s string) bool {
	scheme, rest, ok := strings.Cut(s, ":")
	if !ok || scheme == "" || rest == "" || strings.ContainsAny(s, " \t\r\n<>\"") {
		return false
	}
	for i, c := range scheme {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && (c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.')) {
			return false
		}
	}
	return true
}

// IsNCName approximates an XML NCName (xs:ID, and the names of XCAP node selectors): a letter or _
// first, then letters, digits, . - _.
func IsNCName(s string) bool {
	if s == "" {
		return false
	}
	for i, c := range s {
		letter := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || c > 0x7f
		if !letter && (i == 0 || !(c >= '0' && c <= '9' || c == '.' || c == '-')) {
			return false
		}
	}
	return true
}

// IsDateTime reports whether s is an xs:dateTime (with or without a time zone).
func IsDateTime(s string) bool {
	s = strings.TrimSpace(s)
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02T15:04:05.999999999"} {
		if _, err := time.Parse(layout, s); err == nil {
			return true
		}
	}
	return false
}

// Compose makes one document for entity from the documents of several publications, oldest first
// (RFC 4479 §3.4, RFC 3903 §4: the state of a presentity is the composition of its publications). The
// policy: every tuple and device, the one of the newest publication when two share an id; the person of
// the newest publication that has one (a presentity is one person, RFC 4479 §3.1); every distinct note and
// extension. With no document it is Neutral(entity).
func Compose(entity string, docs []*Document) []byte {
	if len(docs) == 0 {
		return Neutral(entity)
	}
	var person *Element
	byID := map[string]int{}
	var out []Element
	seen := map[string]bool{}
	for _, d := range docs {
		for i := range d.Elements {
			e := d.Elements[i]
			switch e.Kind {
			case KindPerson:
				person = &e
				continue
			case KindTuple, KindDevice:
				key := fmt.Sprint(e.Kind, e.ID)
				if j, ok := byID[key]; ok {
					out[j] = e
					continue
				}
				byID[key] = len(out)
			default:
				key := fmt.Sprint(e.Kind) + string(e.Raw)
				if seen[key] {
					continue
				}
				seen[key] = true
			}
			out = append(out, e)
		}
	}
	if person != nil {
		out = append(out, *person)
	}
	var b bytes.Buffer
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
	fmt.Fprintf(&b, `<presence xmlns="%s" entity="%s">`, NS, escape(entity))
	for _, k := range []Kind{KindTuple, KindNote, KindPerson, KindDevice, KindOther} {
		for _, e := range out {
			if e.Kind == k {
				b.WriteString("\n")
				b.Write(e.Raw)
			}
		}
	}
	b.WriteString("\n</presence>\n")
	return b.Bytes()
}

// Neutral is the document of a presentity with no state to show: one closed tuple. It is also what a
// politely blocked watcher sees (RFC 5025 §3.2.1: "polite-block" presents a closed state) and what a
// presentity that de-registered shows.
func Neutral(entity string) []byte {
	return fmt.Appendf(nil, `<?xml version="1.0" encoding="UTF-8"?>
<presence xmlns="%s" entity="%s">
<tuple id="t0"><status><basic>closed</basic></status></tuple>
</presence>
`, NS, escape(entity))
}
