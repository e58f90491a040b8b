// Package rlmi is the Resource List Meta-Information document of RFC 4662 §5 and the multipart/related
// body (RFC 2387) a resource list server's NOTIFY carries: the RLMI document first (the root), then one
// part per active resource instance with that resource's state (here PIDF).
package rlmi

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/textproto"
	"strings"
)

// Content types and the namespace (RFC 4662 §5, §8).
const (
	ContentType = "application/rlmi+xml"
	Multipart   = "multipart/related"
	Namespace   = "urn:ietf:params:xml:ns:rlmi"
	// OptionTag is the SIP option tag of the extension (RFC 4662 §4.1, Supported and Require).
	OptionTag = "eventlist"
)

// Instance states (RFC 4662 §5.2).
const (
	StateActive     = "active"
	StatePending    = "pending"
	StateTerminated = "terminated"
)

// MaxBody bounds a body Parse reads.
const MaxBody = 1 << 20

// List is the RLMI document: the list's URI, its version (counting from 0 in the subscription) and
// whether it carries the state of every resource (fullState) or only of those that changed.
type List struct {
	XMLName   xml.Name   `xml:"urn:ietf:params:xml:ns:rlmi list"`
	URI       string     `xml:"uri,attr"`
	Version   uint32     `xml:"version,attr"`
	FullState bool       `xml:"fullState,attr"`
	Names     []string   `xml:"urn:ietf:params:xml:ns:rlmi name,omitempty"`
	Resources []Resource `xml:"urn:ietf:params:xml:ns:rlmi resource"`
}

// Resource is one member of the list (RFC 4662 §5.2) and its subscription instance.
type Resource struct {
	URI       string     `xml:"uri,attr"`
	Names     []string   `xml:"urn:ietf:params:xml:ns:rlmi name,omitempty"`
	Instances []Instance `xml:"urn:ietf:params:xml:ns:rlmi instance"`
}

// Instance is the back-end subscription to a resource: its state, the reason when terminated, and the
// Content-ID of the part that holds the resource's state (active instances with state to tell).
type Instance struct {
	ID     string `xml:"id,attr"`
	State  string `xml:"state,attr"`
	Reason string `xml:"reason,attr,omitempty"`
	CID    string `xml:"cid,attr,omitempty"`
}

// Part is the state of one instance: its Content-ID (without angle brackets), type and document.
type Part struct {
	CID         string
	ContentType string
	Body        []byte
}

// Build makes the multipart/related body of a NOTIFY: the RLMI document of l as the root, then parts.
// It returns the Content-Type (with type, start and boundary, RFC 2387 §3) and the body. host names the
// Content-IDs of the root.
func Build(l *List, parts []Part, host string) (string, []byte, error) {
	var doc bytes.Buffer
	doc.WriteString(xml.Header)
	enc := xml.NewEncoder(&doc)
	if err := enc.Encode(l); err != nil {
		return "", nil, fmt.Errorf("rlmi: %w", err)
	}
	doc.WriteString("\n")
	var b bytes.Buffer
	w := multipart.NewWriter(&b)
	var rnd [6]byte
	_, _ = rand.Read(rnd[:])
	rootCID := "rlmi-" + hex.EncodeToString(rnd[:]) + "@" + host
	write := func(cid, ctype string, body []byte) error {
		h := textproto.MIMEHeader{}
		h.Set("Content-Transfer-Encoding", "binary")
		h.Set("Content-ID", "<"+cid+">")
		h.Set("Content-Type", ctype+`;charset="UTF-8"`)
		pw, err := w.CreatePart(h)
		if err != nil {
			return err
		}
		_, err = pw.Write(body)
		return err
	}
	if err := write(rootCID, ContentType, doc.Bytes()); err != nil {
		return "", nil, fmt.Errorf("rlmi: %w", err)
	}
	for _, p := range parts {
		if err := write(p.CID, p.ContentType, p.Body); err != nil {
			return "", nil, fmt.Errorf("rlmi: %w", err)
		}
	}
	if err := w.Close(); err != nil {
		return "", nil, fmt.Errorf("rlmi: %w", err)
	}
	ctype := mime.FormatMediaType(Multipart, map[string]string{"type": ContentType, "start": "<" + rootCID + ">", "boundary": w.Boundary()})
	return ctype, b.Bytes(), nil
}

// Errors of Parse.
var (
	ErrNotMultipart = errors.New("rlmi: not multipart/related of application/rlmi+xml")
	ErrNoRoot       = errors.New("rlmi: no RLMI root part")
)

// Parse reads a NOTIFY body of Content-Type ctype: the RLMI document and the parts by Content-ID.
// A body that is not what RFC 4662 §5 describes is an error, never a panic.
func Parse(ctype string, body []byte) (*List, map[string]Part, error) {
	if len(body) > MaxBody {
		return nil, nil, fmt.Errorf("rlmi: body of %d bytes is over %d", len(body), MaxBody)
	}
	mt, params, err := mime.ParseMediaType(ctype)
	if err != nil || mt != Multipart || params["boundary"] == "" {
		return nil, nil, ErrNotMultipart
	}
	if t := params["type"]; t != "" && t != ContentType {
		return nil, nil, ErrNotMultipart
	}
	start := strings.Trim(params["start"], "<>")
	r := multipart.NewReader(bytes.NewReader(body), params["boundary"])
	var root *List
	parts := map[string]Part{}
	for i := 0; ; i++ {
		p, err := r.NextRawPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, nil, fmt.Errorf("rlmi: part %d: %w", i, err)
		}
		data, err := io.ReadAll(io.LimitReader(p, MaxBody))
		if err != nil {
			return nil, nil, fmt.Errorf("rlmi: part %d: %w", i, err)
		}
		cid := strings.Trim(p.Header.Get("Content-ID"), "<> ")
		pt, _, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
		isRoot := root == nil && (start == "" && i == 0 || start != "" && cid == start)
		if !isRoot {
			parts[cid] = Part{CID: cid, ContentType: pt, Body: data}
			continue
		}
		if pt != ContentType {
			return nil, nil, fmt.Errorf("rlmi: root part is %q", pt)
		}
		var l List
		d := xml.NewDecoder(bytes.NewReader(data))
		d.Strict = true
		if err := d.Decode(&l); err != nil {
			return nil, nil, fmt.Errorf("rlmi: root: %w", err)
		}
		if l.URI == "" {
			return nil, nil, errors.New("rlmi: list without uri")
		}
		for _, res := range l.Resources {
			for _, in := range res.Instances {
				switch in.State {
				case StateActive, StatePending, StateTerminated:
				default:
					return nil, nil, fmt.Errorf("rlmi: instance %q: state %q", in.ID, in.State)
				}
			}
		}
		root = &l
	}
	if root == nil {
		return nil, nil, ErrNoRoot
	}
	return root, parts, nil
}
