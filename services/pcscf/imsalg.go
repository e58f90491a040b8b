package pcscf

// The IMS-ALG (TS 23.334 §6.2.10, TS 33.328 e2ae; services/pcscf/alg, docs/imsagw.md): the SDP of every
// dialog of a registered UE goes through here, and the IMS-AGW's terminations are reserved, configured and
// released with it over Iq. This file is the whole hook: the configuration, the Iq endpoint, the state per
// dialog leg (Call-ID and the UE's binding: a call between two UEs of this P-CSCF has two legs), the calls
// route.go and register.go make, and the AGW's bearer-released notifications.

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"
	"go.uber.org/zap"

	"github.com/imscore/imscore/internal/logging"
	"github.com/imscore/imscore/services/imsagw/h248"
	"github.com/imscore/imscore/services/pcscf/alg"
	"github.com/imscore/imscore/sip/header"
	"github.com/imscore/imscore/sip/proxy"
	"github.com/imscore/imscore/sip/secagree"
)

// MediaAnchoring is when RTP is anchored at the AGW.
type MediaAnchoring string

// The values of alg.media_anchoring.
const (
	// AnchorNever leaves RTP end to end (the default).
	AnchorNever MediaAnchoring = "never"
	// AnchorNAT anchors the calls of UEs behind a NAT: the Contact's host is not the address the UE's
	// REGISTER came from (hosted NAT traversal, TS 23.334 Annex E / §6.2.5 latching).
	AnchorNAT MediaAnchoring = "nat"
	// AnchorAlways anchors every call's RTP.
	AnchorAlways MediaAnchoring = "always"
)

// ALGConfig is the alg section of the configuration. Off unless AGW is set.
type ALGConfig struct {
	// AGW is the IMS-AGW's Iq address, host:port (H.248.1 text over UDP, TS 29.334). Empty: no IMS-ALG.
	AGW string `yaml:"agw"`
	// IqListen is the P-CSCF's own Iq address (the AGW answers and notifies the sender of a context's
	// latest command). Default 127.0.0.1:0; it must be in the AGW's iq.peers.
	IqListen string `yaml:"iq_listen"`
	// Establish is when the AGW opens its TCP connection of an e2ae MSRP stream: interlinked (default, the
	// UE's connection at T1 triggers the one at T2, TS 23.334 §6.2.10.3.1.1.1) or on_answer (the ALG asks for
	// it once the answer's a=setup is known, §6.2.10.3.1.1.2).
	Establish string `yaml:"establish"`
	// MediaAnchoring is never (default), nat or always: which calls get their RTP relayed by the AGW.
	MediaAnchoring MediaAnchoring `yaml:"media_anchoring"`
	// Timeout bounds one Iq transaction, retransmissions included. Default 5s.
	Timeout time.Duration `yaml:"timeout"`
}

// The defaults of ALGConfig.
const (
	DefaultALGIqListen = "127.0.0.1:0"
	DefaultALGTimeout  = 5 * time.Second
)

func (c ALGConfig) withDefaults() ALGConfig {
	if c.IqListen == "" {
		c.IqListen = DefaultALGIqListen
	}
	if c.Establish == "" {
		c.Establish = "interlinked"
	}
	if c.MediaAnchoring == "" {
		c.MediaAnchoring = AnchorNever
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultALGTimeout
	}
	return c
}

func (c ALGConfig) validate() error {
	if c.AGW == "" {
		return nil
	}
	c = c.withDefaults()
	if _, err := netip.ParseAddrPort(c.AGW); err != nil {
		return fmt.Errorf("alg.agw %q: want ip:port: %w", c.AGW, err)
	}
	if _, err := netip.ParseAddrPort(c.IqListen); err != nil {
		return fmt.Errorf("alg.iq_listen %q: want ip:port: %w", c.IqListen, err)
	}
	switch c.Establish {
	case "interlinked", "on_answer":
	default:
		return fmt.Errorf("alg.establish %q: want interlinked or on_answer", c.Establish)
	}
	switch c.MediaAnchoring {
	case AnchorNever, AnchorNAT, AnchorAlways:
	default:
		return fmt.Errorf("alg.media_anchoring %q: want never, nat or always", c.MediaAnchoring)
	}
	if c.Timeout < 0 {
		return fmt.Errorf("alg.timeout %s: negative", c.Timeout)
	}
	return nil
}

// algHook is the running IMS-ALG; nil when alg.agw is empty.
type algHook struct {
	cfg    ALGConfig
	est    alg.Establish
	ep     *h248.Endpoint
	client *alg.Client
	log    *zap.Logger

	mu        sync.Mutex
	legs      map[string]*algLeg  // by Call-ID and binding
	byContext map[string]*algLeg  // AGW context → its leg
	mediasec  map[bindingKey]bool // bindings whose UE indicated e2ae support at registration
}

// algLeg is one UE's side of a dialog as the ALG sees it. mu serializes its Iq transactions (an answer in a
// 183 and the same in the 200 come in order).
type algLeg struct {
	key, callID string
	mu          sync.Mutex
	anchorRTP   bool
	mediasec    bool
	msrp        *alg.Stream // the e2ae MSRP stream, nil when none (yet)
	msrpFromUE  bool        // the UE offered it (originating, §6.2.10.3.1.1)
	answered    bool        // its answer went through
	msrpPlain   bool        // an MSRP stream went through without e2ae: it stays so in this dialog
	rtp         alg.Media
	released    bool
}

// newALG binds the Iq endpoint.
func (n *Node) newALG() error {
	c := n.cfg.ALG.withDefaults()
	if c.AGW == "" {
		return nil
	}
	agw := netip.MustParseAddrPort(c.AGW)
	h := &algHook{cfg: c, est: alg.Interlinked, log: n.log.Named("alg"), legs: map[string]*algLeg{},
		byContext: map[string]*algLeg{}, mediasec: map[bindingKey]bool{}}
	if c.Establish == "on_answer" {
		h.est = alg.OnAnswer
	}
	ep, err := h248.Listen(h248.EndpointConfig{Listen: netip.MustParseAddrPort(c.IqListen), Peers: []netip.Addr{agw.Addr()}},
		alg.NotifyHandler(n.algNotified), h.log)
	if err != nil {
		return fmt.Errorf("alg iq %s: %w", c.IqListen, err)
	}
	h.ep, h.client = ep, alg.New(ep, agw)
	n.alg = h
	return nil
}

// runALG serves the Iq endpoint until ctx ends. Contexts at the AGW stay: calls outlive a P-CSCF restart,
// and the AGW removes what no longer relays (its setup_timeout).
func (n *Node) runALG(ctx context.Context) {
	if n.alg == nil {
		return
	}
	n.wg.Go(func() {
		if err := n.alg.ep.Run(ctx); err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, net.ErrClosed) {
			n.alg.log.Error("Iq endpoint", zap.Error(err))
		}
	})
	n.alg.log.Info("IMS-ALG ready", zap.String("agw", n.alg.cfg.AGW), zap.Stringer("iq", n.alg.ep.Addr()),
		zap.String("establish", n.alg.cfg.Establish), zap.String("media_anchoring", string(n.alg.cfg.MediaAnchoring)))
}

// Mechanism names with the mediasec parameter (TS 24.229 §7.2A.7, TS 33.328 §7.2.2; RFC 8871's registry): the
// UE's Security-Client lists the media security it supports; "msrp-tls" is e2ae for MSRP.
const (
	mechMSRPTLS   = "msrp-tls"
	paramMediasec = "mediasec"
)

// algMediasec reports whether a REGISTER's Security-Client carries msrp-tls with the mediasec parameter
// (TS 24.229 §5.1.1.2.1: the UE indicates its support of end-to-access-edge media security).
func algMediasec(req *sip.Request) bool {
	offers, err := secagree.FromMessage(req, header.SecurityClient)
	if err != nil {
		return false
	}
	for _, m := range offers {
		if !strings.EqualFold(m.Name, mechMSRPTLS) {
			continue
		}
		for _, p := range m.Params {
			if strings.EqualFold(p.Name, paramMediasec) {
				return true
			}
		}
	}
	return false
}

// algRegister applies the mediasec negotiation to a REGISTER's response (TS 24.229 §5.2.2.1): a 401 to a UE
// that indicated support gets Security-Server "msrp-tls;mediasec" (this P-CSCF supports e2ae for MSRP); a 2xx
// records the binding as e2ae-capable, a de-registration forgets it. With IPsec sec-agree the Security-Server
// of the 401 is the SA's alone (the UE would repeat a second value in Security-Verify, which the IPsec check
// compares with what it sent): the binding is still recorded from the Security-Client.
func (n *Node) algRegister(res *sip.Response, bk bindingKey, mediasec, dereg bool) {
	if n.alg == nil {
		return
	}
	switch {
	case res.StatusCode == 401 && mediasec && n.sas == nil:
		res.AppendHeader(sip.NewHeader(header.SecurityServer, mechMSRPTLS+";"+paramMediasec))
	case res.StatusCode >= 200 && res.StatusCode < 300:
		n.alg.mu.Lock()
		if mediasec && !dereg {
			n.alg.mediasec[bk] = true
		} else {
			delete(n.alg.mediasec, bk)
		}
		n.alg.mu.Unlock()
	}
}

// algDeregistered releases the AGW contexts of every leg of a binding that ended (de-registration, expiry, a
// network de-registration): its dialogs are gone with it (edge.go dropBinding).
func (n *Node) algDeregistered(bk bindingKey) {
	if n.alg == nil {
		return
	}
	h := n.alg
	suffix := "\n" + qosKey(bk)
	var gone []*algLeg
	h.mu.Lock()
	delete(h.mediasec, bk)
	for k, l := range h.legs {
		if strings.HasSuffix(k, suffix) {
			gone = append(gone, l)
			delete(h.legs, k)
		}
	}
	h.mu.Unlock()
	for _, l := range gone {
		n.wg.Go(func() { n.algRelease(l, "binding ended") })
	}
}

// algRequest applies the IMS-ALG to a request the P-CSCF forwards for reg's UE (fromUE: the UE sent it): its
// SDP, and the SDP of the responses, is rewritten towards the AGW (d.Body, OnResponse), BYE and the failure of
// the initial INVITE (CANCEL's 487 included) release the leg's terminations. An Iq failure on an offer refuses
// the request with 503 (the AGW is the media path: the session cannot work without it).
func (n *Node) algRequest(req *sip.Request, reg Registration, fromUE bool, d *proxy.Decision) error {
	if n.alg == nil {
		return nil
	}
	h := n.alg
	cid := callID(req)
	bk := keyOf(reg.IMPU, reg.Contact)
	key := cid + "\n" + qosKey(bk)
	initial := req.Method == sip.INVITE && !hasToTag(req)
	if req.Method == sip.BYE {
		if leg := h.take(key); leg != nil {
			n.wg.Go(func() { n.algRelease(leg, "BYE") })
		}
		return nil
	}
	leg := h.leg(key, cid, initial, func() *algLeg {
		h.mu.Lock()
		ms := h.mediasec[bk]
		h.mu.Unlock()
		return &algLeg{key: key, callID: cid, mediasec: ms, anchorRTP: n.anchors(reg)}
	})
	if leg == nil {
		return nil
	}
	if body := sdpBody(req); body != nil {
		out, err := n.algBody(leg, body, fromUE)
		if err != nil {
			if initial {
				h.take(key)
				n.wg.Go(func() { n.algRelease(leg, "Iq failure") })
			}
			return &proxy.StatusError{Code: 503, Reason: "Service Unavailable", Err: err}
		}
		d.Body = out
	}
	if req.Method == sip.ACK {
		return nil
	}
	prev := d.OnResponse
	d.OnResponse = func(res *sip.Response, generated bool) {
		if prev != nil {
			prev(res, generated)
		}
		switch {
		case res.StatusCode >= 300 && initial:
			if l := h.take(key); l != nil {
				n.wg.Go(func() { n.algRelease(l, fmt.Sprintf("INVITE answered %d", res.StatusCode)) })
			}
		case res.StatusCode > 100 && res.StatusCode < 300 && !generated:
			if b := sdpBody(res); b != nil {
				// Under the transaction's lock: one Iq round trip to the AGW, bounded by alg.timeout.
				out, err := n.algBody(leg, b, !fromUE)
				if err != nil {
					h.log.Warn("SDP of a response not anchored", logging.CallID(cid), zap.Int("code", res.StatusCode), zap.Error(err))
					return
				}
				res.SetBody(out)
			}
		}
	}
	return nil
}

// anchors applies alg.media_anchoring to a UE's binding.
func (n *Node) anchors(reg Registration) bool {
	switch n.alg.cfg.MediaAnchoring {
	case AnchorAlways:
		return true
	case AnchorNAT:
		a, err := netip.ParseAddr(strings.Trim(reg.ContactHost, "[]"))
		return err != nil || a.Unmap() != reg.Source.Addr().Unmap()
	}
	return false
}

// leg returns the leg of key, made by mk for an initial INVITE; nil for a request of no leg.
func (h *algHook) leg(key, cid string, initial bool, mk func() *algLeg) *algLeg {
	h.mu.Lock()
	l := h.legs[key]
	h.mu.Unlock()
	if l != nil || !initial {
		return l
	}
	l = mk()
	h.mu.Lock()
	defer h.mu.Unlock()
	if old := h.legs[key]; old != nil {
		return old
	}
	h.legs[key] = l
	return l
}

// take removes the leg of key and returns it (nil when none).
func (h *algHook) take(key string) *algLeg {
	h.mu.Lock()
	defer h.mu.Unlock()
	l := h.legs[key]
	delete(h.legs, key)
	return l
}

// algBody rewrites one SDP body sent by the UE (fromUE) or the core: the e2ae MSRP stream (the UE's offer
// with a=3ge2ae:requested from a UE that registered mediasec, or the core's offer to such a UE), then the RTP
// when the leg anchors it.
func (n *Node) algBody(leg *algLeg, body []byte, fromUE bool) ([]byte, error) {
	h := n.alg
	leg.mu.Lock()
	defer leg.mu.Unlock()
	if leg.released {
		return body, nil
	}
	ctx, cancel := context.WithTimeout(n.base, h.cfg.Timeout)
	defer cancel()
	log := h.log.With(logging.CallID(leg.callID))
	out := body
	var err error
	switch {
	case leg.msrp == nil && !leg.msrpPlain && leg.mediasec:
		var st *alg.Stream
		if fromUE {
			st, out, err = h.client.OriginatingOffer(ctx, body, h.est)
		} else {
			st, out, err = h.client.TerminatingOffer(ctx, body, h.est)
		}
		switch {
		case errors.Is(err, alg.ErrNotE2AE):
			out, err = body, nil
			leg.msrpPlain = hasMSRP(body)
		case err != nil:
			return body, err
		default:
			leg.msrp, leg.msrpFromUE = st, fromUE
			h.bind(st.Context, leg)
			log.Info("e2ae MSRP stream anchored", zap.String("context", st.Context), zap.Bool("originating", fromUE),
				zap.String("t1", st.T1), zap.String("t2", st.T2))
		}
	case leg.msrp == nil:
		leg.msrpPlain = leg.msrpPlain || hasMSRP(body)
	case !leg.answered && fromUE != leg.msrpFromUE:
		if fromUE {
			out, err = h.client.TerminatingAnswer(ctx, leg.msrp, body)
		} else {
			out, err = h.client.OriginatingAnswer(ctx, leg.msrp, body)
		}
		if err != nil {
			return body, err
		}
		leg.answered = true
	default:
		if out, err = h.client.Rewrite(leg.msrp, body, !fromUE); err != nil {
			return body, err
		}
	}
	if !leg.anchorRTP {
		return out, nil
	}
	before := len(leg.rtp.Contexts())
	out, err = h.client.AnchorRTP(ctx, &leg.rtp, out, fromUE)
	if err != nil {
		return body, err
	}
	if cs := leg.rtp.Contexts(); len(cs) > before {
		for _, c := range cs {
			h.bind(c, leg)
		}
		log.Info("RTP anchored", zap.Strings("contexts", cs))
	}
	return out, nil
}

func hasMSRP(body []byte) bool {
	return strings.Contains(string(body), "TCP/MSRP") || strings.Contains(string(body), "TCP/TLS/MSRP")
}

func (h *algHook) bind(id string, leg *algLeg) {
	h.mu.Lock()
	h.byContext[id] = leg
	h.mu.Unlock()
}

// algRelease is Release AGW Termination for every context of a leg (BYE, CANCEL, a failure, the end of a
// binding).
func (n *Node) algRelease(leg *algLeg, why string) {
	leg.mu.Lock()
	leg.released = true
	var contexts []string
	if leg.msrp != nil {
		contexts = append(contexts, leg.msrp.Context)
	}
	contexts = append(contexts, leg.rtp.Contexts()...)
	leg.msrp, leg.rtp = nil, alg.Media{}
	leg.mu.Unlock()
	for _, c := range contexts {
		n.algSubtract(c, leg.callID, why)
	}
}

// algSubtract releases one context and forgets it.
func (n *Node) algSubtract(id, callID, why string) {
	h := n.alg
	h.mu.Lock()
	delete(h.byContext, id)
	h.mu.Unlock()
	ctx, cancel := context.WithTimeout(n.base, h.cfg.Timeout)
	defer cancel()
	err := h.client.ReleaseContext(ctx, id)
	var he *h248.Error
	if errors.As(err, &he) && he.Code == 411 { // H.248.8: unknown context, already gone at the AGW
		err = nil
	}
	if err != nil {
		h.log.Warn("releasing AGW context failed", logging.CallID(callID), zap.String("context", id), zap.Error(err))
		return
	}
	h.log.Info("AGW context released", logging.CallID(callID), zap.String("context", id), zap.String("why", why))
}

// algNotified handles the AGW's Notify (the bearer of a termination was released: its TCP connection
// dropped, media stopped, or the AGW's own establishment failed): the context is released, the leg keeps its
// dialog (the UE or the core ends it with a BYE).
func (n *Node) algNotified(id, termination, cause string) {
	h := n.alg
	h.mu.Lock()
	leg := h.byContext[id]
	delete(h.byContext, id)
	h.mu.Unlock()
	if leg == nil {
		return
	}
	leg.mu.Lock()
	if leg.msrp != nil && leg.msrp.Context == id {
		leg.msrp, leg.msrpPlain = nil, true
	}
	for i, a := range leg.rtp.Anchors {
		if a != nil && a.Context == id {
			leg.rtp.Anchors[i] = nil
		}
	}
	leg.mu.Unlock()
	n.wg.Go(func() { n.algSubtract(id, leg.callID, "bearer released ("+termination+" "+cause+")") })
}
