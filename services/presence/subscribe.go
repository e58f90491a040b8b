package presence

// SUBSCRIBE to the presence event package: RFC 3856 §6, RFC 6665 §4.2.1 (the notifier's side), with the
// watcher authorised by the presentity's pres-rules (RFC 5025 §3.2.1).

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"
	"go.uber.org/zap"

	"github.com/imscore/imscore/internal/logging"
	"github.com/imscore/imscore/services/presence/pidf"
	"github.com/imscore/imscore/services/presence/store"
	"github.com/imscore/imscore/sip/header"
	"github.com/imscore/imscore/sip/proxy"
)

// Subscription states (RFC 6665 §4.1.3).
const (
	stateActive     = "active"
	statePending    = "pending"
	stateTerminated = "terminated"
)

func subscriptionID(callID, remoteTag, localTag string) string {
	return callID + ";" + remoteTag + ";" + localTag
}

// accepts reports whether the Accept header allows ctype (RFC 3856 §6.7, RFC 3857 §4.4: the package's
// type is the default when there is none).
func accepts(req *sip.Request, ctype string) bool {
	vals := header.Values(req, "Accept")
	if len(vals) == 0 {
		return true
	}
	for _, v := range vals {
		for _, t := range strings.Split(v, ",") {
			t = strings.ToLower(strings.TrimSpace(strings.Split(t, ";")[0]))
			if t == ctype || t == "application/*" || t == "*/*" {
				return true
			}
		}
	}
	return false
}

func (s *Server) handleSubscribe(ctx context.Context, req *sip.Request) (proxy.Decision, error) {
	ev := eventPackage(req)
	ctype := pidf.ContentType
	switch ev {
	case EventPresence:
	case EventWinfo:
		ctype = ContentTypeWinfo
	default:
		return proxy.Respond(489, "Bad Event", sip.NewHeader(header.AllowEvents, EventPresence+", "+EventWinfo)), nil // RFC 6665 §4.2.1.1
	}
	exp, ok := expires(req, s.cfg.SubscribeExpires)
	if !ok {
		return proxy.Respond(400, "Bad Expires"), nil
	}
	if exp != 0 && exp < s.cfg.SubscribeMinExpires {
		return proxy.Respond(423, "Interval Too Brief", // RFC 6665 §4.2.1.1
			sip.NewHeader("Min-Expires", strconv.Itoa(int(s.cfg.SubscribeMinExpires/time.Second)))), nil
	}
	exp = min(exp, s.cfg.SubscribeMaxExpires)
	from, to := req.From(), req.To()
	remoteTag, _ := from.Params.Get("tag")
	localTag, inDialog := to.Params.Get("tag")
	if ev == EventPresence {
		// RFC 4662: a SUBSCRIBE to a service URI (or within a list subscription) is the RLS's.
		if inDialog {
			sub, err := s.store.Subscription(ctx, subscriptionID(req.CallID().Value(), remoteTag, localTag))
			if err == nil && sub.RLS {
				return s.handleListSubscribe(ctx, req, sub, exp)
			}
		} else if _, err := s.lookupService(ctx, servedUser(req)); !errors.Is(err, errNoService) {
			return s.handleListSubscribe(ctx, req, nil, exp)
		}
	}
	if !accepts(req, ctype) {
		return proxy.Respond(406, "Not Acceptable", sip.NewHeader("Accept", ctype)), nil
	}
	now := time.Now()
	var sub *store.Subscription
	if inDialog {
		// RFC 6665 §4.2.1.2: a refresh or an unsubscription within the dialog.
		var err error
		sub, err = s.store.Subscription(ctx, subscriptionID(req.CallID().Value(), remoteTag, localTag))
		if errors.Is(err, store.ErrNotFound) {
			return proxy.Respond(481, "Subscription Does Not Exist"), nil
		}
		if err != nil {
			return proxy.Decision{}, fmt.Errorf("subscribe: %w", err)
		}
	} else {
		watcher := assertedIdentity(req)
		if watcher == "" {
			// TS 24.141 §5.3.2: the watcher is the identity the core asserted; without it, no one.
			return proxy.Respond(403, "Forbidden: no asserted identity"), nil
		}
		contact := req.Contact()
		if contact == nil {
			return proxy.Respond(400, "Bad Request: no Contact"), nil
		}
		localTag = newTag()
		// The 200 carries the tag our NOTIFYs use (RFC 6665 §4.2.1.2): the proxy keeps a To tag already there.
		req.To().Params.Add("tag", localTag)
		var routeSet []string
		for _, v := range header.Values(req, header.RecordRoute) {
			routeSet = append(routeSet, header.SplitList(v)...) // RFC 3261 §12.1.1: the UAS keeps the order
		}
		sub = &store.Subscription{
			ID: subscriptionID(req.CallID().Value(), remoteTag, localTag), Presentity: servedUser(req), Event: ev,
			Watcher: watcher, CallID: req.CallID().Value(), LocalTag: localTag, RemoteTag: remoteTag,
			LocalURI: to.Address.String(), RemoteURI: from.Address.String(), RemoteTarget: contact.Address.String(),
			RouteSet: routeSet,
		}
	}
	if c := req.Contact(); c != nil && inDialog {
		sub.RemoteTarget = c.Address.String() // RFC 6665 §4.1.2.1 (target refresh)
	}
	log := s.log.With(logging.IMPU(sub.Presentity), logging.CallID(sub.CallID), zap.String("watcher", sub.Watcher))
	unlock := s.lock(sub.Presentity)
	defer unlock()
	h, err := s.handling(ctx, sub.Presentity, sub.Watcher)
	if err != nil {
		return proxy.Decision{}, fmt.Errorf("subscribe: %w", err)
	}
	if sub.Event == EventWinfo {
		// RFC 3857 §5.2: the watchers of a presentity are the presentity's business only.
		h = HandlingAllow
		if sub.Watcher != sub.Presentity {
			h = HandlingBlock
		}
	}
	sub.Handling = string(h)
	if h == HandlingBlock {
		// RFC 5025 §3.2.1: block rejects the subscription.
		if inDialog {
			_ = s.store.DeleteSubscription(ctx, sub.ID)
			s.sendNotify(ctx, sub, stateTerminated, "rejected", "", nil)
		}
		log.Info("subscription blocked by pres-rules")
		return proxy.Respond(403, "Forbidden"), nil
	}
	sub.State = stateActive
	if h == HandlingConfirm {
		sub.State = statePending // RFC 5025 §3.2.1: until the presentity decides
	}
	sub.Expires = now.Add(exp)
	if exp == 0 {
		// RFC 6665 §4.2.1.4: an unsubscription (or a fetch) is answered and followed by a final NOTIFY.
		if err := s.store.DeleteSubscription(ctx, sub.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
			return proxy.Decision{}, fmt.Errorf("unsubscribe: %w", err)
		}
		s.notifyLocked(ctx, sub, stateTerminated, "timeout")
		log.Debug("unsubscribed")
	} else {
		s.notifyLocked(ctx, sub, sub.State, "") // RFC 6665 §4.2.1.2: a NOTIFY at once; it also saves sub
		log.Debug("subscribed", zap.String("event", sub.Event), zap.String("state", sub.State), zap.Duration("expires", exp))
	}
	if sub.Event == EventPresence && !inDialog || exp == 0 {
		s.notifyWinfoLocked(ctx, sub.Presentity) // RFC 3857 §5.3: a watcher came or went
	}
	return proxy.Respond(200, "OK", sip.NewHeader(header.Expires, strconv.Itoa(int(exp/time.Second))),
		sip.NewHeader(header.Contact, "<"+s.contact+">")), nil
}
