package pcscf

// The P-CSCF's subscription to the reg event of each registered user (TS 24.229 §5.2.3,
// RFC 3680): a network-initiated de-registration or an expiry the S-CSCF decides reaches us as
// a NOTIFY, and the UE's SAs go with it (TS 33.203 §7.4 / docs/design.md §4).

import (
	"context"
	"encoding/xml"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"
	"go.uber.org/zap"

	"github.com/imscore/imscore/internal/logging"
	"github.com/imscore/imscore/sip/header"
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

// RegEventSubscription is a reg event subscription the P-CSCF created: the dialog its NOTIFYs must name and
// the S-CSCF they must come from.
type RegEventSubscription struct {
	// CallID and LocalTag (our From tag) identify the subscription's dialogs (RFC 6665 §4.1.2.4: NOTIFYs of
	// forks carry other From tags, so the notifier's tag is not part of the match).
	CallID   string `json:"call_id"`
	LocalTag string `json:"local_tag"`
	// Peer is the address the SUBSCRIBE was sent to (the S-CSCF, top of the Service-Route).
	Peer    netip.Addr `json:"peer"`
	IMPU    string     `json:"impu"`
	Expires time.Time  `json:"expires"`
}

// regSubs are the live reg event subscriptions by Call-ID. The zero value is ready.
type regSubs struct {
	mu sync.Mutex
	m  map[string]RegEventSubscription
}

func (s *regSubs) put(sub RegEventSubscription) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = make(map[string]RegEventSubscription)
	}
	s.m[sub.CallID] = sub
}

func (s *regSubs) get(callID string) (RegEventSubscription, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sub, ok := s.m[callID]
	return sub, ok
}

func (s *regSubs) remove(callID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, callID)
}

// expire forgets the subscriptions past their expiry (the S-CSCF ends them then, RFC 6665 §4.2.2).
func (s *regSubs) expire(now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, sub := range s.m {
		if !now.Before(sub.Expires) {
			delete(s.m, id)
		}
	}
}

// subscribeReg sends the SUBSCRIBE for impu's reg event along its Service-Route, from our
// core address (the one in our Path, which the S-CSCF uses to recognise us, TS 24.229 §5.4.2.1.1).
func (n *Node) subscribeReg(reg Registration, expires time.Duration) {
	log := n.log.With(logging.IMPU(reg.IMPU))
	core := n.coreFor(n.icscf.Addr())
	var ruri sip.Uri
	if err := sip.ParseUri(reg.IMPU, &ruri); err != nil {
		return
	}
	next := n.nextHopOf(reg)
	sub := RegEventSubscription{CallID: newICID(), LocalTag: newICID()[:12], Peer: next.Addr().Unmap(), IMPU: reg.IMPU,
		Expires: time.Now().Add(expires)}
	// Known before the SUBSCRIBE leaves: the first NOTIFY may overtake the 200 (RFC 6665 §4.1.2.4).
	n.subs.put(sub)
	n.regs.update(reg.IMPU, func(r *Registration) bool {
		if !r.Registered(time.Now()) {
			return len(r.SAs) > 0 // ended meanwhile: nothing to record (and nothing created)
		}
		rec := sub // a copy: sub changes below
		r.RegEvent = &rec
		return true
	})
	req := sip.NewRequest(sip.SUBSCRIBE, ruri)
	self := fmt.Sprintf("sip:pcscf@%s", hostPort(core))
	req.AppendHeader(sip.NewHeader("From", "<"+self+">;tag="+sub.LocalTag))
	req.AppendHeader(sip.NewHeader("To", "<"+reg.IMPU+">"))
	req.AppendHeader(sip.NewHeader("Call-ID", sub.CallID))
	req.AppendHeader(sip.NewHeader("CSeq", "1 SUBSCRIBE"))
	for _, sr := range reg.ServiceRoute {
		nas, err := header.ParseNameAddrs(header.ServiceRoute, sr)
		if err != nil || len(nas) == 0 {
			continue
		}
		if u, err := nas[0].ParsedURI(); err == nil {
			req.AppendHeader(&sip.RouteHeader{Address: u})
		}
	}
	req.AppendHeader(sip.NewHeader("Contact", "<sip:"+hostPort(core)+">"))
	req.AppendHeader(sip.NewHeader(header.Event, "reg"))
	req.AppendHeader(sip.NewHeader(header.Expires, strconv.Itoa(int(expires/time.Second))))
	req.AppendHeader(sip.NewHeader("Accept", "application/reginfo+xml"))
	req.AppendHeader(sip.NewHeader(header.PAssertedIdentity, "<"+self+">"))
	ctx, cancel := context.WithTimeout(n.base, 35*time.Second)
	defer cancel()
	res, err := n.proxy.Send(ctx, req, proxy.WithNextHop(proxy.NextHop{Transport: "UDP", Addr: next, Local: core}))
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
			n.regs.update(reg.IMPU, func(r *Registration) bool {
				if r.RegEvent != nil && r.RegEvent.CallID == sub.CallID {
					rec := sub // the registration's own copy
					r.RegEvent = &rec
				}
				return r.Registered(time.Now()) || len(r.SAs) > 0
			})
		}
	}
	log.Debug("subscribed to the reg event")
}

// nextHopOf is the address of the top Service-Route (the S-CSCF); the I-CSCF when there is none.
func (n *Node) nextHopOf(reg Registration) netip.AddrPort {
	for _, sr := range reg.ServiceRoute {
		nas, err := header.ParseNameAddrs(header.ServiceRoute, sr)
		if err != nil || len(nas) == 0 {
			continue
		}
		u, err := nas[0].ParsedURI()
		if err != nil {
			continue
		}
		port := u.Port
		if port == 0 {
			port = 5060
		}
		if ap, err := parseAddrPort(u.Host, port); err == nil {
			return ap
		}
	}
	return n.icscf
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
	d, err := n.handleRegNotify(req)
	if state := strings.TrimSpace(strings.SplitN(strings.Join(header.Values(req, "Subscription-State"), ","), ";", 2)[0]); strings.EqualFold(state, "terminated") {
		// RFC 6665 §4.1.3: the subscription is over.
		n.subs.remove(sub.CallID)
		n.regs.update(sub.IMPU, func(r *Registration) bool {
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

// handleRegNotify applies a reg event NOTIFY: a registration or our UE's contact that is
// terminated ends the registration and, after DeregDelay, its SAs (TS 24.229 §5.2.5.1).
func (n *Node) handleRegNotify(req *sip.Request) (proxy.Decision, error) {
	var doc reginfo
	if body := req.Body(); len(body) > 0 {
		if err := xml.Unmarshal(body, &doc); err != nil {
			return proxy.Respond(400, "Bad reginfo"), nil
		}
	}
	for _, r := range doc.Registrations {
		reg, ok := n.regs.get(r.AOR)
		if !ok {
			continue
		}
		ended := strings.EqualFold(r.State, "terminated")
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
		if !ended {
			continue
		}
		var gone []SASet
		n.regs.update(reg.IMPU, func(r *Registration) bool { gone = r.SAs; return false })
		n.dialogs.dropIMPU(reg.IMPU)
		n.removeLater(gone, n.cfg.DeregDelay)
		n.persist()
		n.log.Info("registration ended by the network (reg event)", logging.IMPU(reg.IMPU))
	}
	return proxy.Respond(200, "OK"), nil
}

func parseAddrPort(host string, port int) (netip.AddrPort, error) {
	a, err := netip.ParseAddr(strings.Trim(host, "[]"))
	if err != nil {
		return netip.AddrPort{}, err
	}
	return netip.AddrPortFrom(a.Unmap(), uint16(port)), nil
}
