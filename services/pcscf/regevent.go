package pcscf

// The P-CSCF's subscription to the reg event of each registered user (TS 24.229 §5.2.3,
// RFC 3680): a network-initiated de-registration or an expiry the S-CSCF decides reaches us as
// a NOTIFY, and the UE's SAs go with it (TS 33.203 §7.4 / docs/design.md §4).

import (
	"context"
	"encoding/xml"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"
	"go.uber.org/zap"

	"github.com/imscore/imscore/internal/logging"
	"github.com/imscore/imscore/services/pcscf/bindings"
	"github.com/imscore/imscore/sip/header"
	"github.com/imscore/imscore/sip/identity"
	"github.com/imscore/imscore/sip/proxy"
)

// reginfo is the part of an application/reginfo+xml document (RFC 3680 §5.4) the P-CSCF reads.
type reginfo struct {
	XMLName       xml.Name `xml:"reginfo"`
	Registrations []struct {
		AOR      string `xml:"aor,attr"`
		State    string `xml:"state,attr"`
		Contacts []struct {
			State string `xml:"state,attr"`
			URI   string `xml:"uri"`
		} `xml:"contact"`
	} `xml:"registration"`
}

// RegEventSubscription is a reg event subscription the P-CSCF created for one binding: the dialog its NOTIFYs
// must name and the S-CSCF they must come from.
type RegEventSubscription = bindings.RegEvent

// regSubs are the live reg event subscriptions by Call-ID, with a heap of their expiries so that the expiry
// tick looks only at those that ended. The zero value is ready.
type regSubs struct {
	mu  sync.Mutex
	m   map[string]*subEntry
	due dueHeap[*subEntry]
}

// subEntry is a subscription with its place in the expiry heap.
type subEntry struct {
	RegEventSubscription
	dueSlot
}

func (s *regSubs) put(sub RegEventSubscription) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = make(map[string]*subEntry)
	}
	e := s.m[sub.CallID]
	if e == nil {
		e = &subEntry{dueSlot: dueSlot{idx: -1}}
		s.m[sub.CallID] = e
	}
	e.RegEventSubscription = sub
	s.due.set(e, sub.Expires)
}

func (s *regSubs) get(callID string) (RegEventSubscription, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e := s.m[callID]; e != nil {
		return e.RegEventSubscription, true
	}
	return RegEventSubscription{}, false
}

func (s *regSubs) remove(callID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e := s.m[callID]; e != nil {
		delete(s.m, callID)
		s.due.remove(e)
	}
}

// expire forgets the subscriptions past their expiry (the S-CSCF ends them then, RFC 6665 §4.2.2).
func (s *regSubs) expire(now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range s.due.popDue(now) {
		if !now.Before(e.Expires) {
			delete(s.m, e.CallID)
			continue
		}
		s.due.set(e, e.Expires) // a restored expiry placed before a wall clock step: looked at again next tick
	}
}

// subscribeReg sends the SUBSCRIBE for the reg event of reg's user along its Service-Route (TS 24.229 §5.2.3): to
// the default public identity, from our core address, asserting the SIP URI we put in Path, which is how the
// S-CSCF recognises the P-CSCF of the registration (TS 24.229 §5.4.2.1.1; Kamailio's S-CSCF looks the asserted
// URI up in the stored Path and answers 403 when it is not there).
func (n *Node) subscribeReg(reg Registration, expires time.Duration) {
	log := n.log.With(logging.IMPU(reg.IMPU))
	// TS 24.229 §5.2.3: the Request-URI and To are the default public identity, the first SIP URI of
	// P-Associated-URI (TS 24.229 §5.2.2.1): the registered IMPU may be a barred one (sip:<IMSI>@, docs/design.md
	// §2), which the S-CSCF does not list in its NOTIFYs.
	target := defaultIdentity(reg)
	var ruri sip.Uri
	if err := sip.ParseUri(target, &ruri); err != nil {
		log.Warn("reg event SUBSCRIBE not sent: default public identity unusable", zap.String("identity", target), zap.Error(err))
		return
	}
	var routes []sip.Uri
	for _, sr := range reg.ServiceRoute {
		nas, err := header.ParseNameAddrs(header.ServiceRoute, sr)
		if err != nil || len(nas) == 0 {
			continue
		}
		if u, err := nas[0].ParsedURI(); err == nil {
			routes = append(routes, u)
		}
	}
	ctx, cancel := context.WithTimeout(n.base, 35*time.Second)
	defer cancel()
	// The top Service-Route (the S-CSCF), an address or a host name (RFC 3263); the I-CSCF of the identity's home
	// network when there is none (homenet.go).
	var next proxy.NextHop
	if len(routes) > 0 {
		hop, err := n.proxy.Resolve(ctx, routes[0])
		if err != nil {
			log.Warn("reg event SUBSCRIBE not sent: Service-Route unresolvable", zap.Stringer("route", &routes[0]), zap.Error(err))
			return
		}
		next = hop
	} else {
		home, err := n.homeICSCF(ctx, sip.Uri{Scheme: "sip", Host: ruri.Host})
		if err != nil {
			log.Warn("reg event SUBSCRIBE not sent: home network's I-CSCF not found", zap.String("domain", ruri.Host), zap.Error(err))
			return
		}
		next = *home.NextHop
	}
	core := n.coreFor(next.Addr.Addr()) // the address of our Path, of the next hop's family
	next.Local = core
	sub := RegEventSubscription{CallID: newICID(), LocalTag: newICID()[:12], Peer: next.Addr.Addr().Unmap(), IMPU: reg.IMPU,
		Contact: reg.Contact, Expires: time.Now().Add(expires)}
	bk := keyOf(reg.IMPU, reg.Contact)
	// Known before the SUBSCRIBE leaves: the first NOTIFY may overtake the 200 (RFC 6665 §4.1.2.4).
	n.subs.put(sub)
	n.regs.update(bk, reg.IMPU, func(r *Registration) bool {
		if !r.Registered(time.Now()) {
			return len(r.SAs) > 0 // ended meanwhile: nothing to record (and nothing created)
		}
		rec := sub // a copy: sub changes below
		r.RegEvent = &rec
		return true
	})
	req := sip.NewRequest(sip.SUBSCRIBE, ruri)
	self := n.pathURI(core)
	req.AppendHeader(sip.NewHeader("From", "<"+self+">;tag="+sub.LocalTag))
	req.AppendHeader(sip.NewHeader("To", "<"+target+">"))
	req.AppendHeader(sip.NewHeader("Call-ID", sub.CallID))
	req.AppendHeader(sip.NewHeader("CSeq", "1 SUBSCRIBE"))
	for i := range routes {
		req.AppendHeader(&sip.RouteHeader{Address: routes[i]})
	}
	req.AppendHeader(sip.NewHeader("Contact", "<sip:"+hostPort(core)+">"))
	req.AppendHeader(sip.NewHeader(header.Event, "reg"))
	req.AppendHeader(sip.NewHeader(header.Expires, strconv.Itoa(int(expires/time.Second))))
	req.AppendHeader(sip.NewHeader("Accept", "application/reginfo+xml"))
	req.AppendHeader(sip.NewHeader(header.PAssertedIdentity, "<"+self+">"))
	req.AppendHeader(n.chargingVector())
	res, err := n.proxy.Send(ctx, req, proxy.WithNextHop(next))
	if err != nil {
		n.subs.remove(sub.CallID)
		log.Warn("reg event SUBSCRIBE failed", zap.Error(err))
		return
	}
	if res.StatusCode >= 300 {
		n.subs.remove(sub.CallID)
		log.Warn("reg event SUBSCRIBE refused", zap.Int("code", res.StatusCode))
		return
	}
	// RFC 6665 §4.1.2.1: the 200's Expires is the duration granted, never longer than asked.
	if v := header.Values(res, header.Expires); len(v) > 0 {
		if secs, err := strconv.Atoi(strings.TrimSpace(v[0])); err == nil && secs >= 0 && time.Duration(secs)*time.Second < expires {
			sub.Expires = time.Now().Add(time.Duration(secs) * time.Second)
			n.subs.put(sub)
			n.regs.update(bk, reg.IMPU, func(r *Registration) bool {
				if r.RegEvent != nil && r.RegEvent.CallID == sub.CallID {
					rec := sub // the registration's own copy
					r.RegEvent = &rec
				}
				return r.Registered(time.Now()) || len(r.SAs) > 0
			})
		}
	}
	log.Debug("subscribed to the reg event", zap.String("identity", target))
}

// defaultIdentity is the default public identity of a registration: the first SIP URI of P-Associated-URI
// (TS 24.229 §5.2.3, RFC 7315 §4.1), else the registered IMPU.
func defaultIdentity(reg Registration) string {
	for _, a := range reg.Associated {
		if s := strings.ToLower(strings.TrimSpace(a)); strings.HasPrefix(s, "sip:") || strings.HasPrefix(s, "sips:") {
			return strings.TrimSpace(a)
		}
	}
	return reg.IMPU
}

// isRegNotify reports a NOTIFY for the reg event addressed to us.
func (n *Node) isRegNotify(req *sip.Request) bool {
	if req.Method != sip.NOTIFY || req.Recipient.User != "" && req.Recipient.User != "pcscf" {
		return false
	}
	ev := strings.ToLower(strings.TrimSpace(strings.SplitN(strings.Join(header.Values(req, header.Event), ","), ";", 2)[0]))
	if ev != "reg" {
		return false
	}
	for _, c := range n.core {
		port := req.Recipient.Port
		if port == 0 {
			port = 5060
		}
		if strings.EqualFold(strings.Trim(req.Recipient.Host, "[]"), c.Addr().String()) && uint16(port) == c.Port() {
			return true
		}
	}
	return false
}

// regNotify accepts a reg event NOTIFY only within a subscription the P-CSCF created (same Call-ID, our tag
// in To, no Event id as our SUBSCRIBE had none) and from the core side; anything else is 481 and changes nothing (RFC 6665 §4.1.3: a NOTIFY matching no subscription is answered
// 481; TS 24.229 §5.2.5.1 acts only on the subscription's own NOTIFYs).
func (n *Node) regNotify(req *sip.Request, src proxy.Source, core bool) (proxy.Decision, error) {
	sub, ok := n.subs.get(callID(req))
	var why string
	switch {
	case !ok:
		why = "no subscription with this Call-ID"
	case toTag(req) != sub.LocalTag:
		why = "To tag is not ours"
	case hasEventID(req):
		why = "Event id our SUBSCRIBE did not have"
	case !core:
		why = "not from the core side"
	}
	if why != "" {
		return n.reject(481, "Subscription Does Not Exist", fmt.Errorf("reg event NOTIFY from %v: %s", src.Remote, why))
	}
	if sub.Peer.IsValid() && sub.Peer != src.Remote.Addr().Unmap() {
		// Not refused: the dialog's identifiers went only to the S-CSCF, and the source address of its NOTIFY is
		// the kernel's choice (another interface, or over TCP to our non-loopback address from the same host).
		n.log.Info("reg event NOTIFY from another core address than the SUBSCRIBE went to", logging.CallID(sub.CallID),
			logging.IMPU(sub.IMPU), logging.Peer(src.Remote.String()), zap.Stringer("subscribed_at", sub.Peer))
	}
	d, err := n.handleRegNotify(req, sub)
	if state := strings.TrimSpace(strings.SplitN(strings.Join(header.Values(req, "Subscription-State"), ","), ";", 2)[0]); strings.EqualFold(state, "terminated") {
		// RFC 6665 §4.1.3: the subscription is over.
		n.subs.remove(sub.CallID)
		n.regs.update(keyOf(sub.IMPU, sub.Contact), sub.IMPU, func(r *Registration) bool {
			if r.RegEvent != nil && r.RegEvent.CallID == sub.CallID {
				r.RegEvent = nil
			}
			return r.Registered(time.Now()) || len(r.SAs) > 0
		})
	}
	return d, err
}

// hasEventID reports an id parameter in the Event header field (RFC 6665 §8.2.1).
func hasEventID(req *sip.Request) bool {
	for _, v := range header.Values(req, header.Event) {
		for _, p := range strings.Split(v, ";")[1:] {
			if k, _, _ := strings.Cut(p, "="); strings.EqualFold(strings.TrimSpace(k), "id") {
				return true
			}
		}
	}
	return false
}

// handleRegNotify applies a reg event NOTIFY of subscription sub: a registration element of the user's implicit
// set (TS 24.229 §5.2.5.1: the registered IMPU and its P-Associated-URI, the S-CSCF listing only the non-barred
// ones) that is terminated, or this binding's contact in one that is, ends the binding and, after DeregDelay, its
// SAs. A NOTIFY acts only on the binding of its own subscription: the user's other devices have their own.
func (n *Node) handleRegNotify(req *sip.Request, sub RegEventSubscription) (proxy.Decision, error) {
	var doc reginfo
	if body := req.Body(); len(body) > 0 {
		if err := xml.Unmarshal(body, &doc); err != nil {
			return proxy.Respond(400, "Bad reginfo"), nil
		}
	}
	reg, ok := n.regs.get(keyOf(sub.IMPU, sub.Contact))
	if !ok || reg.RegEvent != nil && reg.RegEvent.CallID != sub.CallID {
		return proxy.Respond(200, "OK"), nil // the registration ended, or is another one with its own subscription
	}
	set := map[string]bool{}
	for _, id := range append([]string{reg.IMPU}, reg.Associated...) {
		if k, err := identity.String(id); err == nil {
			set[k] = true
		}
	}
	ended := false
	for _, r := range doc.Registrations {
		if k, err := identity.String(r.AOR); err != nil || !set[k] {
			continue
		}
		if strings.EqualFold(r.State, "terminated") {
			ended = true
		}
		for _, c := range r.Contacts {
			var u sip.Uri
			if sip.ParseUri(strings.TrimSpace(c.URI), &u) != nil {
				continue
			}
			port := u.Port
			if port == 0 {
				port = 5060
			}
			if strings.EqualFold(strings.Trim(u.Host, "[]"), reg.ContactHost) && uint16(port) == reg.ContactPort &&
				strings.EqualFold(c.State, "terminated") {
				ended = true
			}
		}
	}
	if ended {
		n.endRegistration(keyOf(reg.IMPU, reg.Contact))
		n.log.Info("binding ended by the network (reg event)", logging.IMPU(reg.IMPU), zap.String("contact", reg.Contact),
			logging.CallID(sub.CallID))
	}
	return proxy.Respond(200, "OK"), nil
}
