package presence

// The resource list server (RFC 4662): one SUBSCRIBE to a service URI of a user's rls-services document
// (RFC 4826 §4) subscribes its owner to the presence of every member of the list. The server keeps one
// back-end subscription per member (store.Subscription with List set: RFC 4662 §4.3 lets the RLS
// subscribe on the subscriber's behalf), each authorised by that member's pres-rules like any watcher's,
// and tells the subscriber in RLMI (RFC 4662 §5) with multipart/related bodies: the full state of the
// list in the first NOTIFY and after each SUBSCRIBE, then the changed resources only.

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"
	"go.uber.org/zap"

	"github.com/imscore/imscore/internal/logging"
	"github.com/imscore/imscore/services/presence/pidf"
	"github.com/imscore/imscore/services/presence/rlmi"
	"github.com/imscore/imscore/services/presence/store"
	"github.com/imscore/imscore/sip/header"
	"github.com/imscore/imscore/sip/identity"
	"github.com/imscore/imscore/sip/proxy"
)

// Application usages the RLS reads (RFC 4826 §3, §4).
const (
	auidRLSServices   = "rls-services"
	auidResourceLists = "resource-lists"
	nsRLSServices     = "urn:ietf:params:xml:ns:rls-services"
	nsResourceLists   = "urn:ietf:params:xml:ns:resource-lists"
)

// MaxListResources bounds the members of one list subscription (a list is flattened: nested lists add
// their entries); a longer list is answered 403 with the reason.
const MaxListResources = 200

// service is a resolved RLS service: its URI, the user whose rls-services document defines it, and
// the members, flattened, each once, in document order.
type service struct {
	URI       string
	Owner     string
	Resources []string
}

type xmlList struct {
	Name    string `xml:"name,attr"`
	Entries []struct {
		URI string `xml:"uri,attr"`
	} `xml:"urn:ietf:params:xml:ns:resource-lists entry"`
	Lists []xmlList `xml:"urn:ietf:params:xml:ns:resource-lists list"`
}

type xmlRLSServices struct {
	Services []struct {
		URI          string   `xml:"uri,attr"`
		ResourceList string   `xml:"urn:ietf:params:xml:ns:rls-services resource-list"`
		List         *xmlList `xml:"urn:ietf:params:xml:ns:rls-services list"`
		Packages     []string `xml:"urn:ietf:params:xml:ns:rls-services packages>package"`
	} `xml:"urn:ietf:params:xml:ns:rls-services service"`
}

type xmlResourceLists struct {
	Lists []xmlList `xml:"urn:ietf:params:xml:ns:resource-lists list"`
}

func decodeStrict(b []byte, v any) error {
	d := xml.NewDecoder(bytes.NewReader(b))
	d.Strict = true
	return d.Decode(v)
}

// errNoService: the URI is no service of any rls-services document.
var errNoService = errors.New("no such RLS service")

// lookupService finds uri among the services of every user's rls-services document (RFC 4826 §4.4: the
// services of all users form the RLS's global view) and resolves its list.
func (s *Server) lookupService(ctx context.Context, uri string) (*service, error) {
	docs, err := s.store.Documents(ctx, auidRLSServices)
	if err != nil {
		return nil, fmt.Errorf("rls-services: %w", err)
	}
	for _, d := range docs {
		var rs xmlRLSServices
		if err := decodeStrict(d.Body, &rs); err != nil {
			s.log.Warn("stored rls-services does not parse", logging.IMPU(d.User), zap.Error(err))
			continue
		}
		for _, sv := range rs.Services {
			if identity.Key(strings.TrimSpace(sv.URI)) != uri {
				continue
			}
			if len(sv.Packages) > 0 && !containsFold(sv.Packages, EventPresence) {
				return nil, fmt.Errorf("service %s: %w: not for the presence package", uri, errNoService)
			}
			out := &service{URI: uri, Owner: d.User}
			seen := map[string]bool{}
			add := func(l *xmlList) error { return flatten(l, seen, &out.Resources, 0) }
			if sv.List != nil {
				err = add(sv.List)
			} else {
				var l *xmlList
				if l, err = s.resourceList(ctx, d.User, strings.TrimSpace(sv.ResourceList)); err == nil {
					err = add(l)
				}
			}
			if err != nil {
				return nil, fmt.Errorf("service %s: %w", uri, err)
			}
			return out, nil
		}
	}
	return nil, errNoService
}

func containsFold(vals []string, v string) bool {
	for _, x := range vals {
		if strings.EqualFold(strings.TrimSpace(x), v) {
			return true
		}
	}
	return false
}

// flatten appends the entries of l and of its nested lists (RFC 4826 §3.2) to out, each URI once.
func flatten(l *xmlList, seen map[string]bool, out *[]string, depth int) error {
	if depth > 8 {
		return errors.New("resource list nested too deep")
	}
	for _, e := range l.Entries {
		k := identity.Key(strings.TrimSpace(e.URI))
		if k == "" || seen[k] {
			continue
		}
		if len(*out) >= MaxListResources {
			return fmt.Errorf("resource list longer than %d", MaxListResources)
		}
		seen[k] = true
		*out = append(*out, k)
	}
	for i := range l.Lists {
		if err := flatten(&l.Lists[i], seen, out, depth+1); err != nil {
			return err
		}
	}
	return nil
}

// listStep is one step of the node selectors a <resource-list> may use: list[@name="x"].
var listStep = regexp.MustCompile(`^(?:[A-Za-z_][\w.-]*:)?list\[@name=["']([^"']*)["']\]$`)

// resourceList resolves a <resource-list> reference (RFC 4826 §4.2: an HTTP URI of a resource-lists
// document, usually with a node selector of the list) to the list it names. Only the owner's own
// documents in this XDMS are followed; the node selector may be absent (every list of the document)
// or a path of list[@name="…"] steps under resource-lists.
func (s *Server) resourceList(ctx context.Context, owner, ref string) (*xmlList, error) {
	u, err := url.Parse(ref)
	if err != nil {
		return nil, fmt.Errorf("resource-list %q: %w", ref, err)
	}
	path := u.Path
	if u.Scheme == "" && u.Host == "" && !strings.HasPrefix(path, "/") {
		return nil, fmt.Errorf("resource-list %q: not an XCAP URI", ref)
	}
	marker := s.cfg.XCAPRoot + "/" + auidResourceLists + "/users/"
	_, rest, ok := strings.Cut(path, marker)
	if !ok {
		return nil, fmt.Errorf("resource-list %q: not under %s", ref, marker)
	}
	docPath, sel, _ := strings.Cut(rest, "/~~/")
	slash := strings.LastIndex(docPath, "/")
	if slash <= 0 {
		return nil, fmt.Errorf("resource-list %q: no document name", ref)
	}
	xui, name := identity.Key(docPath[:slash]), docPath[slash+1:]
	if xui != owner {
		return nil, fmt.Errorf("resource-list %q: another user's document", ref)
	}
	doc, err := s.store.Document(ctx, auidResourceLists, xui, name)
	if err != nil {
		return nil, fmt.Errorf("resource-list %q: %w", ref, err)
	}
	var rl xmlResourceLists
	if err := decodeStrict(doc.Body, &rl); err != nil {
		return nil, fmt.Errorf("resource-list %q: %w", ref, err)
	}
	cur := &xmlList{Lists: rl.Lists}
	if sel == "" {
		return cur, nil
	}
	steps := strings.Split(sel, "/")
	if root := steps[0]; root != "resource-lists" && !strings.HasSuffix(root, ":resource-lists") {
		return nil, fmt.Errorf("resource-list %q: selector does not start at resource-lists", ref)
	}
	for _, st := range steps[1:] {
		m := listStep.FindStringSubmatch(st)
		if m == nil {
			return nil, fmt.Errorf("resource-list %q: selector step %q not served", ref, st)
		}
		var next *xmlList
		for i := range cur.Lists {
			if cur.Lists[i].Name == m[1] {
				next = &cur.Lists[i]
				break
			}
		}
		if next == nil {
			return nil, fmt.Errorf("resource-list %q: %w", ref, store.ErrNotFound)
		}
		cur = next
	}
	return cur, nil
}

// hasOptionTag reports whether a Supported or Require header lists tag.
func hasOptionTag(req *sip.Request, tag string) bool {
	for _, name := range []string{"Supported", "k", "Require"} {
		for _, v := range header.Values(req, name) {
			for _, t := range strings.Split(v, ",") {
				if strings.EqualFold(strings.TrimSpace(t), tag) {
					return true
				}
			}
		}
	}
	return false
}

// backendID names the back-end subscription of a list subscription to one member.
func backendID(listID, member string) string { return listID + "|" + member }

// handleListSubscribe serves a SUBSCRIBE to a service URI (RFC 4662 §4.4), sub nil for an initial
// one. Only the owner of the service may subscribe to it (OMA Presence SIMPLE: a buddy list is its
// owner's); the members' pres-rules decide what it sees of each.
func (s *Server) handleListSubscribe(ctx context.Context, req *sip.Request, sub *store.Subscription, exp time.Duration) (proxy.Decision, error) {
	if !hasOptionTag(req, rlmi.OptionTag) {
		return proxy.Respond(421, "Extension Required", sip.NewHeader("Require", rlmi.OptionTag)), nil // RFC 4662 §4.4
	}
	if !accepts(req, rlmi.Multipart) || !accepts(req, rlmi.ContentType) {
		return proxy.Respond(406, "Not Acceptable", sip.NewHeader("Accept", rlmi.Multipart+", "+rlmi.ContentType+", "+pidf.ContentType)), nil
	}
	uri := servedUser(req)
	if sub != nil {
		uri = sub.Presentity
	}
	svc, err := s.lookupService(ctx, uri)
	switch {
	case errors.Is(err, errNoService) && sub != nil:
		s.endList(ctx, sub, "noresource") // the owner removed the service (RFC 6665 §4.2.2)
		return proxy.Respond(404, "Not Found: no such resource list"), nil
	case errors.Is(err, errNoService):
		return proxy.Respond(404, "Not Found: no such resource list"), nil
	case err != nil:
		s.log.Info("resource list not usable", zap.String("list", uri), zap.Error(err))
		return proxy.Respond(403, "Forbidden: "+reasonOf(err)), nil
	}
	if sub == nil {
		watcher := assertedIdentity(req)
		if watcher == "" {
			return proxy.Respond(403, "Forbidden: no asserted identity"), nil
		}
		if watcher != svc.Owner {
			return proxy.Respond(403, "Forbidden: not the owner of the list"), nil
		}
		contact := req.Contact()
		if contact == nil {
			return proxy.Respond(400, "Bad Request: no Contact"), nil
		}
		from, to := req.From(), req.To()
		remoteTag, _ := from.Params.Get("tag")
		localTag := newTag()
		req.To().Params.Add("tag", localTag)
		var routeSet []string
		for _, v := range header.Values(req, header.RecordRoute) {
			routeSet = append(routeSet, header.SplitList(v)...)
		}
		sub = &store.Subscription{
			ID: subscriptionID(req.CallID().Value(), remoteTag, localTag), Presentity: uri, Event: EventPresence,
			Watcher: watcher, CallID: req.CallID().Value(), LocalTag: localTag, RemoteTag: remoteTag,
			LocalURI: to.Address.String(), RemoteURI: from.Address.String(), RemoteTarget: contact.Address.String(),
			RouteSet: routeSet, State: stateActive, Handling: string(HandlingAllow), RLS: true,
		}
	} else if c := req.Contact(); c != nil {
		sub.RemoteTarget = c.Address.String()
	}
	log := s.log.With(zap.String("list", uri), logging.CallID(sub.CallID), zap.String("watcher", sub.Watcher))
	if exp == 0 {
		s.endList(ctx, sub, "timeout") // RFC 6665 §4.2.1.4
		log.Debug("unsubscribed from list")
	} else {
		sub.Expires = time.Now().Add(exp)
		old := sub.Resources
		sub.Resources = svc.Resources
		if err := s.syncBackends(ctx, sub, old); err != nil {
			return proxy.Decision{}, fmt.Errorf("list subscribe: %w", err)
		}
		s.notifyList(ctx, sub.ID, nil, sub) // RFC 4662 §5.2: full state after each SUBSCRIBE
		log.Debug("subscribed to list", zap.Int("resources", len(sub.Resources)), zap.Duration("expires", exp))
	}
	return proxy.Respond(200, "OK", sip.NewHeader(header.Expires, strconv.Itoa(int(exp/time.Second))),
		sip.NewHeader("Require", rlmi.OptionTag), // RFC 4662 §4.4
		sip.NewHeader(header.Contact, "<"+s.contact+">")), nil
}

// syncBackends makes the list subscription's back-end subscriptions match its Resources and Expires:
// new members are authorised by their pres-rules (their watchers' information tells them), members
// no longer listed lose theirs. Each member is changed under its own lock, never under the list's.
func (s *Server) syncBackends(ctx context.Context, sub *store.Subscription, old []string) error {
	keep := map[string]bool{}
	for _, m := range sub.Resources {
		keep[m] = true
	}
	for _, m := range old {
		if !keep[m] {
			s.dropBackend(ctx, sub.ID, m)
		}
	}
	for _, m := range sub.Resources {
		if err := s.upsertBackend(ctx, sub, m); err != nil {
			return err
		}
	}
	return nil
}

func (s *Server) upsertBackend(ctx context.Context, list *store.Subscription, member string) error {
	unlock := s.lock(member)
	defer unlock()
	id := backendID(list.ID, member)
	b, err := s.store.Subscription(ctx, id)
	fresh := errors.Is(err, store.ErrNotFound)
	if err != nil && !fresh {
		return err
	}
	h, err := s.handling(ctx, member, list.Watcher)
	if err != nil {
		return err
	}
	if fresh {
		b = &store.Subscription{ID: id, Presentity: member, Event: EventPresence, Watcher: list.Watcher,
			CallID: list.CallID, List: list.ID}
	}
	if h == HandlingBlock {
		// RFC 5025 §3.2.1: blocked; the RLMI shows the instance terminated (rejected).
		if !fresh {
			_ = s.store.DeleteSubscription(ctx, id)
			s.notifyWinfoLocked(ctx, member)
		}
		return nil
	}
	b.Handling, b.State, b.Expires = string(h), stateActive, list.Expires
	if h == HandlingConfirm {
		b.State = statePending
	}
	if err := s.store.SaveSubscription(ctx, b); err != nil {
		return err
	}
	if fresh {
		s.notifyWinfoLocked(ctx, member) // RFC 3857 §5.3: a watcher came (through the RLS)
	}
	return nil
}

func (s *Server) dropBackend(ctx context.Context, listID, member string) {
	unlock := s.lock(member)
	defer unlock()
	if err := s.store.DeleteSubscription(ctx, backendID(listID, member)); err == nil {
		s.notifyWinfoLocked(ctx, member)
	}
}

// endList ends a list subscription: its back-end subscriptions, then the final NOTIFY (reason).
func (s *Server) endList(ctx context.Context, sub *store.Subscription, reason string) {
	for _, m := range sub.Resources {
		s.dropBackend(ctx, sub.ID, m)
	}
	unlock := s.listLock(sub.ID)
	defer unlock()
	if err := s.store.DeleteSubscription(ctx, sub.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
		s.log.Warn("ending list subscription", logging.CallID(sub.CallID), zap.Error(err))
	}
	sub.CSeq++
	s.sendNotify(ctx, sub, stateTerminated, reason, "", nil)
}

// listLock serialises the NOTIFYs (CSeq, RLMI version) of one list subscription. It is taken after a
// presentity's lock, never before one.
func (s *Server) listLock(id string) func() {
	m := &s.listLocks[fnv32(id)%uint32(len(s.listLocks))]
	m.Lock()
	return m.Unlock
}

// notifyList sends a NOTIFY with RLMI on the list subscription listID: the full state when changed is
// nil, else the state of the back-end subscription changed (state and reason its instance's). cur is
// the list subscription when the caller has it (not yet saved).
func (s *Server) notifyList(ctx context.Context, listID string, changed *backendChange, cur *store.Subscription) {
	unlock := s.listLock(listID)
	defer unlock()
	sub, err := s.store.Subscription(ctx, listID)
	switch {
	case err == nil && cur != nil:
		cur.CSeq = max(cur.CSeq, sub.CSeq) // a partial NOTIFY may have gone since the caller read it
		sub = cur
	case errors.Is(err, store.ErrNotFound) && cur != nil:
		sub = cur
	case err != nil:
		if !errors.Is(err, store.ErrNotFound) {
			s.log.Warn("list subscription", zap.String("id", listID), zap.Error(err))
		}
		return // the list subscription ended (or its first NOTIFY is still to come, with the full state)
	}
	l := &rlmi.List{URI: sub.Presentity, Version: sub.CSeq, FullState: changed == nil}
	var parts []rlmi.Part
	add := func(member string, b *store.Subscription, state, reason string) error {
		in := rlmi.Instance{ID: fmt.Sprintf("i%x", fnv32(backendID(listID, member))), State: state, Reason: reason}
		if state == stateActive && b != nil {
			doc, err := s.backendDocument(ctx, b)
			if err != nil {
				return err
			}
			in.CID = fmt.Sprintf("%s-%d@%s", in.ID, sub.CSeq, s.contactHost())
			parts = append(parts, rlmi.Part{CID: in.CID, ContentType: pidf.ContentType, Body: doc})
		}
		l.Resources = append(l.Resources, rlmi.Resource{URI: member, Instances: []rlmi.Instance{in}})
		return nil
	}
	if changed != nil {
		err = add(changed.sub.Presentity, changed.sub, changed.state, changed.reason)
	} else {
		for _, m := range sub.Resources {
			b, e := s.store.Subscription(ctx, backendID(listID, m))
			switch {
			case errors.Is(e, store.ErrNotFound):
				err = add(m, nil, stateTerminated, "rejected") // blocked by the member's pres-rules
			case e != nil:
				err = e
			default:
				err = add(m, b, b.State, "")
			}
			if err != nil {
				break
			}
		}
	}
	if err != nil {
		s.log.Error("RLMI not built", zap.String("list", sub.Presentity), zap.Error(err))
		return
	}
	ctype, body, err := rlmi.Build(l, parts, s.contactHost())
	if err != nil {
		s.log.Error("RLMI not built", zap.String("list", sub.Presentity), zap.Error(err))
		return
	}
	sub.CSeq++
	if err := s.store.SaveSubscription(ctx, sub); err != nil {
		s.log.Error("list subscription not saved", logging.CallID(sub.CallID), zap.Error(err))
		return
	}
	s.sendNotify(ctx, sub, sub.State, "", ctype, body)
}

// backendChange is the new state of one back-end subscription for a partial RLMI NOTIFY.
type backendChange struct {
	sub           *store.Subscription
	state, reason string
}

// backendDocument is what the list's owner may see of a member: its composed state, or the neutral
// document when the member politely blocks it (RFC 5025 §3.2.1).
func (s *Server) backendDocument(ctx context.Context, b *store.Subscription) ([]byte, error) {
	if Handling(b.Handling) == HandlingPoliteBlock {
		return pidf.Neutral(b.Presentity), nil
	}
	return s.document(ctx, b.Presentity)
}

func (s *Server) contactHost() string {
	h := strings.TrimPrefix(s.contact, "sip:")
	if i := strings.LastIndex(h, ":"); i > 0 && !strings.HasSuffix(h, "]") {
		h = h[:i]
	}
	return strings.Trim(h, "[]")
}
