// Package xdms is an XCAP server (RFC 4825) for the documents of the IMS presence service: pres-rules
// (RFC 5025, OMA), resource-lists and rls-services (RFC 4826), and the OMA presence content (avatar).
//
// A user reads and writes only documents under its own XUI. Its identity is either the one an
// authentication proxy asserted in X-3GPP-Asserted-Identity (TS 33.222 §5.3, TS 24.109 §5.3.2), believed
// only from a proxy in the configured networks, or, with GBA set, one the XDMS authenticates itself as a NAF
// (TS 33.222 §5.3, TS 24.623 §5.2.3: HTTP Digest with the B-TID and Ks_NAF, gba.go). Every write is
// checked against the usage's schema (schema.go), with ETags (RFC 4825 §7.11) and conditional requests
// (RFC 7232): a failed precondition is 412.
package xdms

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"strings"

	"go.uber.org/zap"

	"github.com/imscore/imscore/services/bsf/gba"
	"github.com/imscore/imscore/services/presence/store"
	"github.com/imscore/imscore/sip/identity"
	"github.com/imscore/imscore/sip/trust"
)

// AssertedIdentityHeader carries the user an authentication proxy authenticated (TS 24.109 §5.3.2).
const AssertedIdentityHeader = "X-3GPP-Asserted-Identity"

// Content types of parts of documents (RFC 4825 §15.2.1, §15.2.3).
const (
	contentTypeElement   = "application/xcap-el+xml"
	contentTypeAttribute = "application/xcap-att+xml"
	contentTypeError     = "application/xcap-error+xml"
)

// Handler serves XCAP under Root.
type Handler struct {
	Root    string // XCAP root path, e.g. /xcap-root
	Store   store.Store
	Proxies trust.Domain // aggregation proxies trusted to assert identities
	Log     *zap.Logger
	// GBA, when set, authenticates every request itself (gba.go) instead of believing an asserted identity;
	// Proxies is then not used.
	GBA Authenticator
	// OnChange, when set, is called after a document of user changed (the presence server re-evaluates
	// the watchers of a changed pres-rules document).
	OnChange func(ctx context.Context, auid, user string)
}

// xcapError is an RFC 4825 §11 error: its condition element names the problem.
type xcapError struct {
	code      int
	condition string // no-parent, cannot-insert, schema-validation-error, not-xml-frag, not-well-formed, …
	detail    string
}

func (e *xcapError) Error() string { return fmt.Sprintf("%d %s: %s", e.code, e.condition, e.detail) }

func fail(code int, condition, format string, args ...any) *xcapError {
	return &xcapError{code: code, condition: condition, detail: fmt.Sprintf(format, args...)}
}

// target is a parsed XCAP URI (RFC 4825 §6).
type target struct {
	usage    Usage
	user     string // identity key of the XUI
	name     string // document name
	selector *selector
	bindings map[string]string // xmlns() of the query (RFC 4825 §6.4)
}

func (h *Handler) parseURI(r *http.Request) (*target, *xcapError) {
	path := r.URL.EscapedPath()
	rest, ok := strings.CutPrefix(path, h.Root+"/")
	if !ok {
		return nil, fail(404, "", "not under the XCAP root")
	}
	docPart, selPart, hasSel := strings.Cut(rest, "/~~/")
	segs := strings.Split(docPart, "/")
	if len(segs) < 4 || segs[1] != "users" {
		return nil, fail(404, "", "want /auid/users/xui/document (the global tree is not served)")
	}
	u, ok := Usages[segs[0]]
	if !ok {
		return nil, fail(404, "", "unknown application usage %q", segs[0])
	}
	xui, err := url.PathUnescape(segs[2])
	if err != nil || xui == "" {
		return nil, fail(400, "", "bad XUI")
	}
	name, err := url.PathUnescape(strings.Join(segs[3:], "/"))
	if err != nil || name == "" {
		return nil, fail(400, "", "bad document name")
	}
	t := &target{usage: u, user: identity.Key(xui), name: name}
	if hasSel {
		s, err := url.PathUnescape(selPart)
		if err != nil {
			return nil, fail(400, "", "bad node selector escape")
		}
		sel, err := parseSelector(s)
		if err != nil {
			return nil, fail(400, "", "%v", err)
		}
		t.selector = &sel
		t.bindings = xmlnsBindings(r.URL.RawQuery)
	}
	return t, nil
}

// xmlnsBindings reads the xmlns(p=uri) parts of the query (RFC 4825 §6.4).
func xmlnsBindings(q string) map[string]string {
	out := map[string]string{}
	q, _ = url.QueryUnescape(q)
	for _, part := range strings.Split(q, "xmlns(") {
		body, _, ok := strings.Cut(part, ")")
		if !ok {
			continue
		}
		if p, uri, ok := strings.Cut(body, "="); ok {
			out[strings.TrimSpace(p)] = strings.TrimSpace(uri)
		}
	}
	return out
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	log := h.Log
	if log == nil {
		log = zap.NewNop()
	}
	var user *gba.Identity
	if h.GBA != nil {
		if user = h.authenticate(w, r); user == nil {
			return // answered: 401, 413 or 503
		}
	}
	t, xe := h.parseURI(r)
	if xe == nil && user != nil {
		xe = authoriseGBA(user, t)
	} else if xe == nil {
		xe = h.authorise(r, t)
	}
	if xe == nil {
		switch r.Method {
		case http.MethodGet, http.MethodHead:
			xe = h.get(w, r, t)
		case http.MethodPut, http.MethodDelete:
			xe = h.write(w, r, t)
		default:
			w.Header().Set("Allow", "GET, HEAD, PUT, DELETE")
			xe = fail(405, "", "method %s", r.Method)
		}
	}
	if xe != nil {
		log.Info("XCAP request refused", zap.String("method", r.Method), zap.String("uri", r.URL.Path),
			zap.Int("code", xe.code), zap.String("reason", xe.detail))
		writeError(w, xe)
	}
}

func writeError(w http.ResponseWriter, xe *xcapError) {
	if xe.condition == "" {
		http.Error(w, xe.detail, xe.code)
		return
	}
	w.Header().Set("Content-Type", contentTypeError)
	w.WriteHeader(xe.code)
	fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?>`+"\n"+`<xcap-error xmlns="%s"><%s phrase="%s"/></xcap-error>`+"\n",
		nsXCAPError, xe.condition, attrEscape(xe.detail))
}

// authorise lets a user at its own documents only, as asserted by a trusted authentication proxy.
func (h *Handler) authorise(r *http.Request, t *target) *xcapError {
	src, err := netip.ParseAddrPort(r.RemoteAddr)
	asserted := r.Header.Get(AssertedIdentityHeader)
	if err != nil || !h.Proxies.Contains(src.Addr()) || asserted == "" {
		return fail(403, "", "no identity asserted by a trusted authentication proxy")
	}
	if identity.Key(strings.Trim(strings.TrimSpace(asserted), `"<>`)) != t.user {
		return fail(403, "", "a user reaches only its own documents")
	}
	return nil
}

func newETag() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// preconditions applies If-Match and If-None-Match to the current entity-tag ("" : no document).
func preconditions(r *http.Request, etag string) *xcapError {
	if v := r.Header.Get("If-Match"); v != "" {
		if etag == "" || (strings.TrimSpace(v) != "*" && !listHas(v, etag)) {
			return fail(412, "", "If-Match")
		}
	}
	if v := r.Header.Get("If-None-Match"); v != "" {
		if etag != "" && (strings.TrimSpace(v) == "*" || listHas(v, etag)) {
			if r.Method == http.MethodGet || r.Method == http.MethodHead {
				return fail(304, "", "not modified")
			}
			return fail(412, "", "If-None-Match")
		}
	}
	return nil
}

func listHas(v, etag string) bool {
	for _, t := range strings.Split(v, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if strings.Trim(t, `"`) == etag {
			return true
		}
	}
	return false
}

func (h *Handler) load(ctx context.Context, t *target) (*store.Document, *xcapError) {
	d, err := h.Store.Document(ctx, t.usage.AUID, t.user, t.name)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fail(500, "", "%v", err)
	}
	return d, nil
}

func (h *Handler) get(w http.ResponseWriter, r *http.Request, t *target) *xcapError {
	d, xe := h.load(r.Context(), t)
	if xe != nil {
		return xe
	}
	if d == nil {
		return fail(404, "", "no such document")
	}
	if xe := preconditions(r, d.ETag); xe != nil {
		return xe
	}
	body, ctype := d.Body, t.usage.ContentType
	if t.selector != nil {
		root, err := parse(d.Body, nil)
		if err != nil {
			return fail(500, "", "stored document: %v", err)
		}
		el, _ := t.selector.locate(root, t.usage.DefaultNS, t.bindings)
		if el == nil {
			return fail(404, "", "no element selected")
		}
		if t.selector.attr != "" {
			v, ok := el.attr(t.selector.attr)
			if !ok {
				return fail(404, "", "no such attribute")
			}
			body, ctype = []byte(attrEscape(v)), contentTypeAttribute
		} else {
			var b bytes.Buffer
			el.write(&b)
			body, ctype = b.Bytes(), contentTypeElement
		}
	}
	w.Header().Set("ETag", `"`+d.ETag+`"`)
	w.Header().Set("Content-Type", ctype)
	if r.Method == http.MethodHead {
		return nil
	}
	_, _ = w.Write(body)
	return nil
}

// write serves PUT and DELETE of a document, an element or an attribute (RFC 4825 §8.2, §8.3).
func (h *Handler) write(w http.ResponseWriter, r *http.Request, t *target) *xcapError {
	ctx := r.Context()
	var body []byte
	if r.Method == http.MethodPut {
		var err error
		body, err = io.ReadAll(io.LimitReader(r.Body, MaxDocument+1))
		if err != nil {
			return fail(400, "", "body: %v", err)
		}
		if len(body) > MaxDocument {
			return fail(413, "", "body larger than %d bytes", MaxDocument)
		}
	}
	d, xe := h.load(ctx, t)
	if xe != nil {
		return xe
	}
	prev := ""
	if d != nil {
		prev = d.ETag
	}
	if xe := preconditions(r, prev); xe != nil {
		return xe
	}
	var newBody []byte
	created := d == nil
	switch {
	case t.selector == nil && r.Method == http.MethodDelete:
		if d == nil {
			return fail(404, "", "no such document")
		}
		if err := h.Store.DeleteDocument(ctx, t.usage.AUID, t.user, t.name, prev); err != nil {
			if errors.Is(err, store.ErrConflict) {
				return fail(412, "", "changed concurrently")
			}
			return fail(500, "", "%v", err)
		}
		h.changed(ctx, t)
		w.WriteHeader(200)
		return nil
	case t.selector == nil:
		if ct := r.Header.Get("Content-Type"); ct != "" && !strings.EqualFold(strings.TrimSpace(strings.Split(ct, ";")[0]), t.usage.ContentType) {
			return fail(415, "", "want %s", t.usage.ContentType)
		}
		root, err := parse(body, nil)
		if err != nil {
			return fail(409, "not-well-formed", "%v", err)
		}
		if err := t.usage.check(root); err != nil {
			return fail(409, "schema-validation-error", "%v", err)
		}
		newBody = body
	default:
		if d == nil {
			return fail(404, "", "no such document") // RFC 4825 §8.2.1: no document, no parent
		}
		root, err := parse(d.Body, nil)
		if err != nil {
			return fail(500, "", "stored document: %v", err)
		}
		if xe := t.edit(root, r, body); xe != nil {
			return xe
		}
		if err := t.usage.check(root); err != nil {
			return fail(409, "schema-validation-error", "%v", err)
		}
		newBody = serialize(root)
		created = false
	}
	nd := &store.Document{AUID: t.usage.AUID, User: t.user, Name: t.name, ETag: newETag(), Body: newBody}
	if err := h.Store.PutDocument(ctx, nd, prev); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return fail(412, "", "changed concurrently")
		}
		return fail(500, "", "%v", err)
	}
	h.changed(ctx, t)
	w.Header().Set("ETag", `"`+nd.ETag+`"`)
	if created {
		w.WriteHeader(201)
	} else {
		w.WriteHeader(200)
	}
	return nil
}

func (h *Handler) changed(ctx context.Context, t *target) {
	if h.OnChange != nil {
		h.OnChange(context.WithoutCancel(ctx), t.usage.AUID, t.user)
	}
}

// edit applies a PUT or DELETE of an element or attribute to root (RFC 4825 §8.2.3, §8.3).
func (t *target) edit(root *elem, r *http.Request, body []byte) *xcapError {
	sel := t.selector
	el, parent := sel.locate(root, t.usage.DefaultNS, t.bindings)
	if sel.attr != "" {
		if el == nil {
			return fail(409, "no-parent", "the element of the attribute does not exist")
		}
		i := -1
		for j, a := range el.Attr {
			if rawName(a.Name.Space, a.Name.Local) == sel.attr {
				i = j
			}
		}
		if r.Method == http.MethodDelete {
			if i < 0 {
				return fail(404, "", "no such attribute")
			}
			el.Attr = append(el.Attr[:i], el.Attr[i+1:]...)
			return nil
		}
		v := strings.TrimSpace(string(body))
		if strings.ContainsAny(v, "<&") {
			return fail(409, "not-xml-att-value", "attribute value with markup")
		}
		if i >= 0 {
			el.Attr[i].Value = v
		} else {
			pre, loc, ok := strings.Cut(sel.attr, ":")
			if !ok {
				pre, loc = "", sel.attr
			}
			el.Attr = append(el.Attr, xmlAttr(pre, loc, v))
		}
		return nil
	}
	if r.Method == http.MethodDelete {
		if el == nil {
			return fail(404, "", "no element selected")
		}
		if parent == nil {
			return fail(409, "cannot-delete", "the root element goes with its document (DELETE the document)")
		}
		removeKid(parent, el)
		return nil
	}
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.EqualFold(strings.TrimSpace(strings.Split(ct, ";")[0]), contentTypeElement) {
		return fail(415, "", "want %s", contentTypeElement)
	}
	if parent == nil {
		if el != nil {
			return fail(409, "cannot-insert", "the root element is replaced by a PUT of the document")
		}
		return fail(409, "no-parent", "the parent of the element does not exist")
	}
	nu, err := parse(body, parent.scope)
	if err != nil {
		return fail(409, "not-xml-frag", "%v", err)
	}
	if el != nil {
		for i, k := range parent.Kids {
			if k == el {
				parent.Kids[i] = nu
			}
		}
	} else {
		parent.Kids = append(parent.Kids, nu)
	}
	// RFC 4825 §8.2.3: the element must be what the selector now selects, else 409 cannot-insert.
	if got, _ := sel.locate(root, t.usage.DefaultNS, t.bindings); got != nu {
		return fail(409, "cannot-insert", "the new element is not what the node selector selects")
	}
	return nil
}

func removeKid(parent, el *elem) {
	for i, k := range parent.Kids {
		if k == el {
			parent.Kids = append(parent.Kids[:i], parent.Kids[i+1:]...)
			return
		}
	}
}
