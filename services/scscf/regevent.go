package scscf

// The reg event package at the S-CSCF (TS 24.229 §5.4.2.1; RFC 3680; RFC 6665): SUBSCRIBE from the UE
// and the P-CSCF, an immediate full NOTIFY, and a NOTIFY on every change of the registration.

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"
	"go.uber.org/zap"

	"github.com/imscore/imscore/internal/logging"
	"github.com/imscore/imscore/services/scscf/registrar"
	"github.com/imscore/imscore/sip/header"
	"github.com/imscore/imscore/sip/identity"
	"github.com/imscore/imscore/sip/proxy"
)

// notification is one change to tell the watchers of a registration about.
type notification struct {
	reg        *registrar.Registration
	event      string
	terminated bool   // the registration is gone
	only       string // when set, notify only this subscription (the first NOTIFY of a new one)
	at         time.Time
	// gone are contacts this change removed from a registration that stays; goneEvent says why
	// (RFC 3680 §5.3: "unregistered", "expired").
	gone      []registrar.Contact
	goneEvent string
}

// isRegEvent reports a SUBSCRIBE for the reg event package (RFC 3680 §4.1).
func isRegEvent(req *sip.Request) bool {
	v := strings.TrimSpace(headerValue(req, "Event"))
	if v == "" {
		v = strings.TrimSpace(headerValue(req, "o")) // compact form, RFC 6665 §8.2.1
	}
	name, _, _ := strings.Cut(v, ";")
	return strings.EqualFold(strings.TrimSpace(name), "reg")
}

func subscriptionID(callID, remoteTag, localTag string) string {
	return callID + ";" + remoteTag + ";" + localTag
}

func newTag() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// handleSubscribe answers a reg event SUBSCRIBE (TS 24.229 §5.4.2.1.1).
func (s *Server) handleSubscribe(ctx context.Context, req *sip.Request, src proxy.Source) (proxy.Decision, error) {
	from, to := req.From(), req.To()
	if from == nil || to == nil || req.CallID() == nil {
		return proxy.Decision{}, &proxy.StatusError{Code: 400, Reason: "Bad Request"}
	}
	remoteTag, _ := from.Params.Get("tag")
	localTag, inDialog := to.Params.Get("tag")
	expires := 3761 * time.Second // RFC 3680 §4.1 default
	if v := headerValue(req, "Expires"); v != "" {
		n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 32)
		if err != nil {
			return proxy.Decision{}, &proxy.StatusError{Code: 400, Reason: "Bad Expires"}
		}
		expires = time.Duration(n) * time.Second
	}
	if expires != 0 && expires < s.cfg.SubscribeMinExpires {
		return proxy.Respond(423, "Interval Too Brief",
			sip.NewHeader("Min-Expires", strconv.Itoa(int(s.cfg.SubscribeMinExpires/time.Second)))), nil
	}
	expires = min(expires, s.cfg.SubscribeMaxExpires)

	var sub *registrar.Subscription
	var reg *registrar.Registration
	if inDialog {
		var err error
		sub, err = s.reg.Subscription(ctx, subscriptionID(req.CallID().Value(), remoteTag, localTag))
		if errors.Is(err, registrar.ErrNotFound) {
			return proxy.Respond(481, "Subscription Does Not Exist"), nil
		}
		if err != nil {
			return proxy.Decision{}, fmt.Errorf("subscribe: %w", err)
		}
		reg, err = s.reg.Registration(ctx, sub.IMPU)
		if err != nil && !errors.Is(err, registrar.ErrNotFound) {
			return proxy.Decision{}, fmt.Errorf("subscribe: %w", err)
		}
	} else {
		impu := identity.URIKey(&req.Recipient)
		var err error
		reg, err = s.reg.Registration(ctx, impu)
		if errors.Is(err, registrar.ErrNotFound) {
			return proxy.Respond(480, "Temporarily Unavailable"), nil
		}
		if err != nil {
			return proxy.Decision{}, fmt.Errorf("subscribe %s: %w", impu, err)
		}
		if !mayWatch(req, reg, src.Remote) {
			// TS 24.229 §5.4.2.1.1: only the user, its P-CSCF (on the Path) or an AS may subscribe.
			return proxy.Respond(403, "Forbidden"), nil
		}
		localTag = newTag()
		// The 200 must carry the tag our NOTIFYs will use (RFC 6665 §4.2.1.2): the proxy copies the To of
		// the request into a local reply and keeps a tag already there.
		req.To().Params.Add("tag", localTag)
		contact := req.Contact()
		if contact == nil {
			return proxy.Decision{}, &proxy.StatusError{Code: 400, Reason: "Missing Contact"}
		}
		watcher := from.Address.String()
		if ids := header.Values(req, "P-Asserted-Identity"); len(ids) > 0 {
			watcher = identity.Key(header.SplitList(ids[0])[0])
		}
		var routeSet []string
		for _, v := range header.Values(req, "Record-Route") {
			routeSet = append(routeSet, header.SplitList(v)...)
		}
		sub = &registrar.Subscription{
			ID:           subscriptionID(req.CallID().Value(), remoteTag, localTag),
			IMPU:         reg.IMPU,
			Watcher:      watcher,
			CallID:       req.CallID().Value(),
			LocalTag:     localTag,
			RemoteTag:    remoteTag,
			LocalURI:     to.Address.String(),
			RemoteURI:    from.Address.String(),
			RemoteTarget: contact.Address.String(),
			RouteSet:     routeSet,
			Created:      time.Now(),
		}
	}
	sub.Expires = time.Now().Add(expires)
	log := s.log.With(logging.IMPU(sub.IMPU), logging.CallID(sub.CallID))
	if expires == 0 {
		// RFC 6665 §4.2.1.4: un-subscription, answered and followed by a final NOTIFY.
		if err := s.reg.DeleteSubscription(ctx, sub.ID); err != nil && !errors.Is(err, registrar.ErrNotFound) {
			return proxy.Decision{}, fmt.Errorf("unsubscribe: %w", err)
		}
		s.sendFinalNotify(sub, reg, "timeout")
		log.Debug("unsubscribed")
	} else {
		if err := s.reg.SaveSubscription(ctx, sub); err != nil {
			return proxy.Decision{}, fmt.Errorf("subscribe: %w", err)
		}
		if reg != nil {
			s.enqueue(notification{reg: reg, event: EventRegistered, only: sub.ID})
		}
		log.Debug("subscribed", zap.Duration("expires", expires))
	}
	return proxy.Decision{Reply: &proxy.Reply{Code: 200, Reason: "OK", Headers: []sip.Header{
		sip.NewHeader("Expires", strconv.Itoa(int(expires/time.Second))),
		sip.NewHeader("Contact", "<"+s.contactURI+">"),
	}}}, nil
}

// notifyAsync queues a NOTIFY to every watcher of reg after a change.
func (s *Server) notifyAsync(reg *registrar.Registration, event string) {
	if reg != nil {
		s.enqueue(notification{reg: reg.Clone(), event: event})
	}
}

// notifyContactsGone queues a NOTIFY for a registration that lost some of its contacts.
func (s *Server) notifyContactsGone(reg *registrar.Registration, gone []registrar.Contact, goneEvent string) {
	if reg != nil {
		s.enqueue(notification{reg: reg.Clone(), event: EventRegistered, gone: gone, goneEvent: goneEvent})
	}
}

// notifyTerminated queues the NOTIFY of a registration that ended, which also ends its subscriptions
// (RFC 3680 §4.4.1, §5.2: state terminated; TS 24.229 §5.4.2.1.2).
func (s *Server) notifyTerminated(reg *registrar.Registration, event string) {
	if reg != nil {
		s.enqueue(notification{reg: reg.Clone(), event: event, terminated: true})
	}
}

func (s *Server) enqueue(n notification) {
	n.at = time.Now()
	select {
	case s.notifyQ <- n:
	default:
		s.log.Warn("NOTIFY queue full, change not notified", logging.IMPU(n.reg.IMPU))
	}
}

// runNotifier sends the queued notifications in order: versions are assigned and stored here, one
// change at a time, and each NOTIFY is then sent on its own goroutine.
func (s *Server) runNotifier(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case n := <-s.notifyQ:
			s.notifyWatchers(ctx, n)
		}
	}
}

func (s *Server) notifyWatchers(ctx context.Context, n notification) {
	subs, err := s.reg.Subscriptions(ctx, n.reg.IMPU)
	if err != nil {
		s.log.Warn("subscriptions", logging.IMPU(n.reg.IMPU), zap.Error(err))
		return
	}
	for _, sub := range subs {
		if n.only != "" && sub.ID != n.only || n.only == "" && sub.Created.After(n.at) {
			continue // a subscription newer than the change got the current state in its first NOTIFY
		}
		doc := buildReginfo(n.reg, sub.Version, n.event, n.terminated, time.Now(), n.gone, n.goneEvent)
		sub.Version++ // RFC 3680 §5.3: 0 in the first document, one more in each
		sub.CSeq++
		state := fmt.Sprintf("active;expires=%d", max(0, int(time.Until(sub.Expires).Round(time.Second)/time.Second)))
		if n.terminated {
			state = "terminated;reason=noresource" // RFC 6665 §4.2.2: the resource (registration) is gone
			if err := s.reg.DeleteSubscription(ctx, sub.ID); err != nil && !errors.Is(err, registrar.ErrNotFound) {
				s.log.Warn("delete subscription", zap.Error(err))
			}
		} else if err := s.reg.SaveSubscription(ctx, sub); err != nil {
			s.log.Warn("save subscription", zap.Error(err))
			continue
		}
		s.sendNotify(sub, doc, state)
	}
}

// sendFinalNotify tells a watcher its subscription ended (RFC 6665 §4.2.2).
func (s *Server) sendFinalNotify(sub *registrar.Subscription, reg *registrar.Registration, reason string) {
	sub.CSeq++
	var doc *Reginfo
	if reg != nil {
		doc = buildReginfo(reg, sub.Version, EventRegistered, false, time.Now(), nil, "")
	} else {
		doc = &Reginfo{Version: sub.Version, State: "full"}
	}
	sub.Version++
	s.sendNotify(sub, doc, "terminated;reason="+reason)
}

// sendNotify sends one NOTIFY in the subscription's dialog, on a goroutine the Server waits for.
func (s *Server) sendNotify(sub *registrar.Subscription, doc *Reginfo, state string) {
	body, err := doc.Marshal()
	if err != nil {
		s.log.Warn("reginfo", zap.Error(err))
		return
	}
	req, err := s.buildNotify(sub, body, state)
	if err != nil {
		s.log.Warn("NOTIFY", logging.IMPU(sub.IMPU), zap.Error(err))
		return
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		ctx, cancel := context.WithTimeout(s.runCtx, 64*500*time.Millisecond)
		defer cancel()
		res, err := s.proxy.Send(ctx, req)
		log := s.log.With(logging.IMPU(sub.IMPU), logging.CallID(sub.CallID))
		switch {
		case err != nil:
			log.Info("NOTIFY failed", zap.Error(err))
		case res.StatusCode == 481 || res.StatusCode == 408:
			// RFC 6665 §4.2.2: the subscriber is gone; so is the subscription.
			_ = s.reg.DeleteSubscription(ctx, sub.ID)
			log.Info("NOTIFY rejected, subscription removed", zap.Int("code", res.StatusCode))
		default:
			log.Debug("NOTIFY answered", zap.Int("code", res.StatusCode))
		}
	}()
}

// buildNotify builds the NOTIFY (RFC 6665 §4.2.2 headers; RFC 3261 §12.2.1.1 dialog fields).
func (s *Server) buildNotify(sub *registrar.Subscription, body []byte, state string) (*sip.Request, error) {
	var target sip.Uri
	if err := sip.ParseUri(strings.Trim(sub.RemoteTarget, "<>"), &target); err != nil {
		return nil, fmt.Errorf("remote target %q: %w", sub.RemoteTarget, err)
	}
	req := sip.NewRequest(sip.NOTIFY, target)
	for _, r := range sub.RouteSet {
		req.AppendHeader(sip.NewHeader("Route", r))
	}
	req.AppendHeader(sip.NewHeader("From", "<"+sub.LocalURI+">;tag="+sub.LocalTag))
	req.AppendHeader(sip.NewHeader("To", "<"+sub.RemoteURI+">;tag="+sub.RemoteTag))
	callID := sip.CallIDHeader(sub.CallID)
	req.AppendHeader(&callID)
	req.AppendHeader(&sip.CSeqHeader{SeqNo: sub.CSeq, MethodName: sip.NOTIFY})
	req.AppendHeader(sip.NewHeader("Contact", "<"+s.contactURI+">"))
	req.AppendHeader(sip.NewHeader("Event", "reg"))
	req.AppendHeader(sip.NewHeader("Subscription-State", state))
	req.AppendHeader(sip.NewHeader("Content-Type", ReginfoContentType))
	req.SetBody(body)
	return req, nil
}

// buildReginfo is the full-state document of reg (TS 24.229 §5.4.2.1.2): one registration element per
// non-barred identity of the implicit set, each with every contact, and the contacts just removed as
// terminated with goneEvent.
func buildReginfo(reg *registrar.Registration, version uint32, event string, terminated bool, now time.Time,
	gone []registrar.Contact, goneEvent string) *Reginfo {
	doc := &Reginfo{Version: version, State: "full"}
	for _, id := range reg.Identities {
		if id.Barred {
			continue
		}
		rr := RegRegistration{AOR: id.URI, ID: registrationID(id.URI), State: RegStateActive}
		if terminated {
			rr.State = RegStateTerminated
		}
		for _, c := range reg.Contacts {
			rc := RegContact{ID: c.ID, State: RegStateActive, Event: event, URI: c.URI}
			if terminated {
				rc.State = RegStateTerminated
				rc.Expires = new(uint32) // expires="0", as for the contacts below
			} else {
				exp := uint32(max(0, c.Expires.Sub(now).Round(time.Second)/time.Second))
				rc.Expires = &exp
				if event == EventRegistered || event == EventRefreshed || event == EventExpired {
					rc.Event = EventRegistered
					if event == EventRefreshed {
						rc.Event = EventRefreshed
					}
				}
			}
			cseq := c.CSeq
			rc.CallID, rc.CSeq = c.CallID, &cseq
			rr.Contacts = append(rr.Contacts, rc)
		}
		for _, c := range gone {
			cseq := c.CSeq
			// expires="0" with the terminated state, as deployed cores send it: RFC 3680 §5.4 makes the attribute
			// optional, but Kamailio's P-CSCF (pua_reginfo) reads a terminated contact without it as still
			// registered and keeps the UE.
			rr.Contacts = append(rr.Contacts, RegContact{ID: c.ID, State: RegStateTerminated, Event: goneEvent,
				Expires: new(uint32), URI: c.URI, CallID: c.CallID, CSeq: &cseq})
		}
		doc.Registrations = append(doc.Registrations, rr)
	}
	return doc
}

// expireSubscriptions ends subscriptions whose time is up (RFC 6665 §4.2.2: reason=timeout).
func (s *Server) expireSubscriptions(ctx context.Context, now time.Time) {
	subs, err := s.reg.ExpiredSubscriptions(ctx, now)
	if err != nil {
		s.log.Warn("subscription sweep", zap.Error(err))
		return
	}
	for _, sub := range subs {
		if err := s.reg.DeleteSubscription(ctx, sub.ID); err != nil {
			continue // another S-CSCF sharing the store took it
		}
		reg, _ := s.reg.Registration(ctx, sub.IMPU)
		s.sendFinalNotify(sub, reg, "timeout")
	}
}

// mayWatch says whether the subscriber is allowed to watch reg (TS 24.229 §5.4.2.1.1): its asserted
// identity (P-Asserted-Identity) belongs to the implicit set, or names the host of a P-CSCF on the Path
// of one of the contacts, or the request comes from the address of such a P-CSCF (which may name itself
// by FQDN). Only an identity asserted from inside the trust domain is left in the request (the boundary
// removed any other, RFC 3325 §5); the From is the sender's word and authorises nothing.
func mayWatch(req *sip.Request, reg *registrar.Registration, from netip.AddrPort) bool {
	for _, ct := range reg.Contacts {
		for _, p := range ct.Path {
			var pu sip.Uri
			if sip.ParseUri(strings.Trim(strings.TrimSpace(p), "<>"), &pu) != nil {
				continue
			}
			port := pu.Port
			if port == 0 {
				port = 5060
			}
			if a, err := netip.ParseAddr(strings.Trim(pu.Host, "[]")); err == nil && from.IsValid() &&
				a == from.Addr().Unmap() && port == int(from.Port()) {
				return true
			}
		}
	}
	var ids []string
	for _, v := range header.Values(req, header.PAssertedIdentity) {
		ids = append(ids, header.SplitList(v)...)
	}
	set := reg.IdentityURIs()
	for _, id := range ids {
		c := identity.Key(id)
		for _, u := range set {
			if c == u {
				return true
			}
		}
		var idURI sip.Uri
		if sip.ParseUri(strings.Trim(strings.TrimSpace(id), "<>"), &idURI) != nil {
			continue
		}
		for _, ct := range reg.Contacts {
			for _, p := range ct.Path {
				var pu sip.Uri
				if sip.ParseUri(strings.Trim(strings.TrimSpace(p), "<>"), &pu) == nil &&
					strings.EqualFold(pu.Host, idURI.Host) && (idURI.Port == 0 || pu.Port == idURI.Port) {
					return true
				}
			}
		}
	}
	return false
}
