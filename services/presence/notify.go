package presence

// NOTIFY of the presence event package (RFC 3856 §6.8, RFC 6665 §4.2.2).

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
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

// document is the presentity's composed state as watchers see it: the composition of its live
// publications, or the neutral closed document when it has none or has de-registered.
func (s *Server) document(ctx context.Context, presentity string) ([]byte, error) {
	now := time.Now()
	if until, known, err := s.store.Registration(ctx, presentity); err != nil {
		return nil, err
	} else if known && !until.After(now) {
		return pidf.Neutral(presentity), nil // TS 24.141 §5.3.2: a de-registered user is offline
	}
	pubs, err := s.store.Publications(ctx, presentity)
	if err != nil {
		return nil, err
	}
	var docs []*pidf.Document
	for _, p := range pubs {
		if !p.Expires.After(now) {
			continue
		}
		d, err := pidf.Parse(p.Body)
		if err != nil {
			s.log.Warn("stored publication does not parse", logging.IMPU(presentity), zap.String("etag", p.ETag), zap.Error(err))
			continue
		}
		docs = append(docs, d)
	}
	return pidf.Compose(presentity, docs), nil
}

// notifyAllLocked tells every watcher of presentity its new state. The caller holds the presentity's lock.
func (s *Server) notifyAllLocked(ctx context.Context, presentity string) {
	subs, err := s.store.Subscriptions(ctx, presentity)
	if err != nil {
		s.log.Error("watchers not notified", logging.IMPU(presentity), zap.Error(err))
		return
	}
	for i := range subs {
		if subs[i].Event == EventPresence {
			s.notifyLocked(ctx, &subs[i], subs[i].State, "")
		}
	}
}

// notifyLocked saves sub with the next CSeq and sends it a NOTIFY in state (reason for terminated).
// A pending subscription gets no body (RFC 6665 §4.2.2: nothing to tell yet); a politely blocked one the
// neutral document (RFC 5025 §3.2.1).
func (s *Server) notifyLocked(ctx context.Context, sub *store.Subscription, state, reason string) {
	if sub.List != "" {
		// A back-end subscription of the RLS: its change goes to the list's subscriber as partial RLMI
		// (RFC 4662 §5.2: only the resources that changed).
		if state != stateTerminated {
			if err := s.store.SaveSubscription(ctx, sub); err != nil {
				s.log.Error("subscription not saved", logging.CallID(sub.CallID), zap.Error(err))
				return
			}
		}
		s.notifyList(ctx, sub.List, &backendChange{sub: sub, state: state, reason: reason}, nil)
		return
	}
	var body []byte
	switch {
	case sub.Event == EventWinfo:
		if state == stateTerminated {
			break
		}
		var err error
		if body, err = s.watcherinfo(ctx, sub.Presentity, sub.CSeq); err != nil { // version: NOTIFYs sent before
			s.log.Error("watcherinfo document", logging.IMPU(sub.Presentity), zap.Error(err))
			return
		}
	case state == statePending:
	case Handling(sub.Handling) == HandlingPoliteBlock:
		body = pidf.Neutral(sub.Presentity)
	case Handling(sub.Handling) == HandlingBlock:
	default:
		var err error
		if body, err = s.document(ctx, sub.Presentity); err != nil {
			s.log.Error("presence document", logging.IMPU(sub.Presentity), zap.Error(err))
			return
		}
	}
	sub.CSeq++
	if state != stateTerminated {
		if err := s.store.SaveSubscription(ctx, sub); err != nil {
			s.log.Error("subscription not saved", logging.CallID(sub.CallID), zap.Error(err))
			return
		}
	}
	s.sendNotify(ctx, sub, state, reason, "", body)
}

// sendNotify sends one NOTIFY on its own goroutine, owned by the Server (Run waits for it). A failure that
// shows the watcher is gone ends the subscription (RFC 6665 §4.2.2: 481, or a timeout).
func (s *Server) sendNotify(ctx context.Context, sub *store.Subscription, state, reason, ctype string, body []byte) {
	req, err := s.buildNotify(sub, state, reason, ctype, body)
	log := s.log.With(logging.IMPU(sub.Presentity), logging.CallID(sub.CallID), zap.String("watcher", sub.Watcher))
	if err != nil {
		log.Warn("NOTIFY not built", zap.Error(err))
		return
	}
	s.wg.Add(1) // now, not when it starts: Run's Wait must not race a later Add
	start := func() { go s.transmitNotify(req, sub, state, log) }
	if d, ok := ctx.Value(deferKey{}).(*deferred); ok {
		d.add(start) // after the response to the request that caused it (RFC 6665 §4.2.1.2)
		return
	}
	start()
}

// transmitNotify runs one NOTIFY transaction (Server.wg counts it).
func (s *Server) transmitNotify(req *sip.Request, sub *store.Subscription, state string, log *zap.Logger) {
	defer s.wg.Done()
	{
		ctx, cancel := context.WithTimeout(s.runCtx, s.cfg.NotifyTimeout)
		defer cancel()
		res, err := s.proxy.Send(ctx, req)
		switch {
		case err != nil:
			log.Info("NOTIFY failed", zap.Error(err))
		case res.StatusCode == 481 || res.StatusCode == 408:
			log.Info("watcher gone; subscription ended", zap.Int("code", res.StatusCode))
			if err := s.store.DeleteSubscription(context.WithoutCancel(ctx), sub.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
				log.Warn("ending subscription", zap.Error(err))
			}
			for _, m := range sub.Resources {
				s.dropBackend(context.WithoutCancel(ctx), sub.ID, m) // the RLS's subscriptions on its behalf end too
			}
		case res.StatusCode >= 300:
			log.Info("NOTIFY rejected", zap.Int("code", res.StatusCode))
		default:
			log.Debug("notified", zap.String("state", state))
		}
	}
}

// buildNotify makes the in-dialog NOTIFY (RFC 3261 §12.2.1.1: Request-URI the remote target, Route the
// route set; RFC 6665 §8.2.3 Subscription-State).
func (s *Server) buildNotify(sub *store.Subscription, state, reason, ctype string, body []byte) (*sip.Request, error) {
	var target sip.Uri
	if err := sip.ParseUri(sub.RemoteTarget, &target); err != nil {
		return nil, fmt.Errorf("remote target %q: %w", sub.RemoteTarget, err)
	}
	req := sip.NewRequest(sip.NOTIFY, target)
	for _, r := range sub.RouteSet {
		req.AppendHeader(sip.NewHeader(header.Route, r))
	}
	req.AppendHeader(sip.NewHeader("From", "<"+sub.LocalURI+">;tag="+sub.LocalTag))
	req.AppendHeader(sip.NewHeader("To", "<"+sub.RemoteURI+">;tag="+sub.RemoteTag))
	cid := sip.CallIDHeader(sub.CallID)
	req.AppendHeader(&cid)
	req.AppendHeader(&sip.CSeqHeader{SeqNo: sub.CSeq, MethodName: sip.NOTIFY})
	req.AppendHeader(sip.NewHeader(header.Contact, "<"+s.contact+">"))
	req.AppendHeader(sip.NewHeader(header.Event, sub.Event))
	ss := state
	switch state {
	case stateTerminated:
		if reason != "" {
			ss += ";reason=" + reason
		}
	default:
		left := max(time.Until(sub.Expires)/time.Second, 0)
		ss += fmt.Sprintf(";expires=%d", left)
	}
	req.AppendHeader(sip.NewHeader("Subscription-State", ss))
	if sub.RLS {
		req.AppendHeader(sip.NewHeader("Require", rlmi.OptionTag)) // RFC 4662 §5.1
	}
	if body != nil {
		switch {
		case ctype != "":
		case sub.Event == EventWinfo:
			ctype = ContentTypeWinfo
		default:
			ctype = pidf.ContentType
		}
		req.AppendHeader(sip.NewHeader("Content-Type", ctype))
		req.SetBody(body)
	}
	return req, nil
}

// expire removes expired publications (RFC 3903 §4.1) and subscriptions (RFC 6665 §4.2.2: a final NOTIFY
// with reason timeout), and notifies the watchers of presentities whose state changed.
func (s *Server) expire(ctx context.Context, now time.Time) {
	pubs, err := s.store.ExpirePublications(ctx, now)
	if err != nil {
		s.log.Warn("expiring publications", zap.Error(err))
	}
	changed := map[string]bool{}
	for _, p := range pubs {
		changed[p.Presentity] = true
	}
	for p := range changed {
		unlock := s.lock(p)
		s.notifyAllLocked(ctx, p)
		unlock()
	}
	subs, err := s.store.ExpireSubscriptions(ctx, now)
	if err != nil {
		s.log.Warn("expiring subscriptions", zap.Error(err))
	}
	for i := range subs {
		sub := &subs[i]
		if sub.RLS {
			// RFC 4662 §4.4: the list subscription ends; its back-end subscriptions expire with it.
			unlock := s.listLock(sub.ID)
			sub.CSeq++
			s.sendNotify(ctx, sub, stateTerminated, "timeout", "", nil)
			unlock()
			continue
		}
		unlock := s.lock(sub.Presentity)
		if sub.List == "" {
			s.notifyLocked(ctx, sub, stateTerminated, "timeout")
		}
		if sub.Event == EventPresence {
			s.notifyWinfoLocked(ctx, sub.Presentity)
		}
		unlock()
	}
}

// RulesChanged re-evaluates the watchers of user after its pres-rules changed (OMA Presence SIMPLE: a
// change applies to existing subscriptions): one that becomes allowed gets the state, one that becomes
// blocked is terminated (RFC 6665 §4.2.2, reason rejected), others get a NOTIFY of their new state.
func (s *Server) RulesChanged(ctx context.Context, user string) {
	unlock := s.lock(user)
	defer unlock()
	subs, err := s.store.Subscriptions(ctx, user)
	if err != nil {
		s.log.Error("pres-rules change not applied", logging.IMPU(user), zap.Error(err))
		return
	}
	changed := false
	defer func() {
		if changed {
			s.notifyWinfoLocked(ctx, user)
		}
	}()
	for i := range subs {
		sub := &subs[i]
		if sub.Event != EventPresence {
			continue
		}
		h, err := s.handling(ctx, user, sub.Watcher)
		if err != nil {
			s.log.Error("pres-rules", logging.IMPU(user), zap.Error(err))
			return
		}
		if string(h) == sub.Handling {
			continue
		}
		changed = true
		sub.Handling = string(h)
		switch h {
		case HandlingBlock:
			if err := s.store.DeleteSubscription(ctx, sub.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
				s.log.Warn("ending subscription", zap.Error(err))
			}
			s.notifyLocked(ctx, sub, stateTerminated, "rejected")
		case HandlingConfirm:
			sub.State = statePending
			s.notifyLocked(ctx, sub, statePending, "")
		default:
			sub.State = stateActive
			s.notifyLocked(ctx, sub, stateActive, "")
		}
	}
}

// handleRegister takes a third-party REGISTER (TS 24.229 §5.4.1.7): the registration state of the user in
// To. Expires 0 is a de-registration: the user's publications end with its devices (TS 24.141 §5.3.2) and
// watchers see it offline.
func (s *Server) handleRegister(ctx context.Context, req *sip.Request) (proxy.Decision, error) {
	user := identityOfTo(req)
	exp, ok := expires(req, 0)
	if !ok || user == "" {
		return proxy.Respond(400, "Bad Request"), nil
	}
	unlock := s.lock(user)
	defer unlock()
	until := time.Time{}
	if exp > 0 {
		until = time.Now().Add(exp)
	}
	if err := s.store.SetRegistration(ctx, user, until); err != nil {
		return proxy.Decision{}, fmt.Errorf("register: %w", err)
	}
	if exp == 0 {
		if err := s.store.DeletePublications(ctx, user); err != nil {
			return proxy.Decision{}, fmt.Errorf("register: %w", err)
		}
		s.log.Info("presentity de-registered; shown offline", logging.IMPU(user))
	}
	s.notifyAllLocked(ctx, user)
	return proxy.Respond(200, "OK", sip.NewHeader(header.Expires, fmt.Sprint(int(exp/time.Second)))), nil
}

func identityOfTo(req *sip.Request) string {
	to := req.To()
	if to == nil {
		return ""
	}
	return strings.TrimSpace(identity.URIKey(&to.Address))
}

// deferred holds the NOTIFYs a request caused until its response is sent (proxy.Reply.Sent): a
// subscriber gets the 200 of its SUBSCRIBE before the first NOTIFY, and a publisher watching itself the
// 200 of its PUBLISH before the NOTIFY it caused (RFC 6665 §4.2.1.2; UAs such as SIPp depend on it).
type deferred struct {
	mu   sync.Mutex
	fns  []func()
	done bool
}

type deferKey struct{}

func (d *deferred) add(fn func()) {
	d.mu.Lock()
	if !d.done {
		d.fns = append(d.fns, fn)
		d.mu.Unlock()
		return
	}
	d.mu.Unlock()
	fn()
}

// flush starts what was deferred, and anything deferred later at once.
func (d *deferred) flush() {
	d.mu.Lock()
	fns := d.fns
	d.fns, d.done = nil, true
	d.mu.Unlock()
	for _, fn := range fns {
		fn()
	}
}

// afterReply runs handle with NOTIFYs deferred until its reply is sent (at once when it does not
// reply). Should the proxy never send the reply, they go after NotifyTimeout all the same: nothing
// waits for ever.
func (s *Server) afterReply(ctx context.Context, handle func(context.Context) (proxy.Decision, error)) (proxy.Decision, error) {
	d := &deferred{}
	dec, err := handle(context.WithValue(ctx, deferKey{}, d))
	if err != nil || dec.Reply == nil {
		d.flush()
		return dec, err
	}
	t := time.AfterFunc(s.cfg.NotifyTimeout, d.flush)
	r := *dec.Reply
	r.Sent = func() {
		t.Stop()
		d.flush()
	}
	dec.Reply = &r
	return dec, nil
}
