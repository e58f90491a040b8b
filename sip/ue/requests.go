package ue

// Requests after registration, TS 24.229 §5.1.2A (originating) and §5.1.4 (terminating):
// MESSAGE (RFC 3428), SUBSCRIBE to the reg event (RFC 3680), INVITE placed and answered.

import (
	"context"
	"encoding/xml"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/emiago/sipgo/sip"
	"go.uber.org/zap"

	"github.com/imscore/imscore/sip/header"
)

// origin is how the UE's own requests leave: the wire, the P-CSCF URI on top of the route set
// (TS 24.229 §5.1.2A.1.1) and, over SAs, the set whose Security-Server is verified.
type origin struct {
	w     wire
	first string
	st    *saState // nil: no SAs
}

// originWire is where the UE's own requests go: its SAs when it has them, else the P-CSCF's
// unprotected port.
func (u *UE) originWire(ctx context.Context) (origin, error) {
	u.mu.Lock()
	st, reg := u.sa, u.reg
	u.mu.Unlock()
	if reg == nil {
		return origin{}, ErrNotRegistered
	}
	tp := ""
	if u.cfg.Transport == "TCP" {
		tp = ";transport=tcp"
	}
	if st != nil && st.pair != nil {
		w, err := u.protWire(st)
		return origin{w: w, st: st, first: fmt.Sprintf("<sip:%s:%d;lr%s>", hostOf(st.pcscf.Addr()), st.pcscf.Port(), tp)}, err
	}
	w, err := u.unprotWire(ctx)
	return origin{w: w, first: fmt.Sprintf("<sip:%s:%d;lr%s>", hostOf(u.cfg.PCSCF.Addr()), u.cfg.PCSCF.Port(), tp)}, err
}

// addRoutes puts the P-CSCF then the Service-Route as the route set (TS 24.229 §5.1.2A.1.1)
// and the sec-agree headers.
func (u *UE) addRoutes(req *sip.Request, o origin) {
	req.AppendHeader(sip.NewHeader("Route", o.first))
	if reg := u.Registration(); reg != nil {
		for _, r := range reg.ServiceRoute {
			req.AppendHeader(sip.NewHeader("Route", r))
		}
	}
	secAgreeHeaders(req, o.st)
}

// secAgreeHeaders: every request the UE sends over its SAs carries Security-Verify with the
// P-CSCF's Security-Server, and sec-agree in Require and Proxy-Require (RFC 3329 §2.3.1 step 4,
// TS 24.229 §5.1.2A.1.1, TS 33.203 §7.2).
func secAgreeHeaders(req *sip.Request, st *saState) {
	if st == nil || st.pair == nil || st.server == "" {
		return
	}
	req.AppendHeader(sip.NewHeader(header.SecurityVerify, st.server))
	req.AppendHeader(sip.NewHeader(header.Require, "sec-agree"))
	req.AppendHeader(sip.NewHeader(header.ProxyRequire, "sec-agree"))
}

// restoration tells whether a failure response asks the UE to register again: a 305 (Use
// Proxy) to a request (TS 24.229 §5.1.2A.1.1), or a 504 whose 3GPP IM CN subsystem XML body
// carries an alternative service of type restoration with the action initial-registration
// (TS 24.229 §5.1.2A.1.6, §7.6).
func restoration(res *sip.Response) bool {
	if res.StatusCode == 305 {
		return true
	}
	if res.StatusCode != 504 {
		return false
	}
	ct := strings.ToLower(strings.Join(header.Values(res, "Content-Type"), ","))
	if !strings.Contains(ct, "application/3gpp-ims+xml") {
		return false
	}
	var doc struct {
		Alt struct {
			Type   string `xml:"type"`
			Action string `xml:"action"`
		} `xml:"alternative-service"`
	}
	if err := xml.Unmarshal(res.Body(), &doc); err != nil {
		return false
	}
	return strings.TrimSpace(doc.Alt.Type) == "restoration" && strings.TrimSpace(doc.Alt.Action) == "initial-registration"
}

// send sends an out-of-dialog request and reacts to its failure as TS 24.229 §5.1.2A.1 says:
// a 305 or a 504 asking for restoration starts an initial registration (the request fails
// and may be sent again once registered); a 500 or 503 with a short Retry-After is sent again
// once after it (RFC 3261 §21.5.2, §21.5.4). build makes a fresh copy for each attempt.
func (u *UE) send(ctx context.Context, build func(o origin) *sip.Request, onProv func(*sip.Request, *sip.Response)) (*sip.Request, *sip.Response, error) {
	waited := false
	for {
		o, err := u.originWire(ctx)
		if err != nil {
			return nil, nil, err
		}
		req := build(o)
		var prov func(*sip.Response)
		if onProv != nil {
			prov = func(res *sip.Response) { onProv(req, res) }
		}
		res, err := u.exchange(ctx, req, o.w, true, prov)
		if err != nil {
			return req, nil, err
		}
		if res.StatusCode >= 300 && req.Method == sip.INVITE {
			u.ackFailure(req, res, o.w) // RFC 3261 §17.1.1.3
		}
		switch {
		case restoration(res):
			u.log.Warn("the network asks for an initial registration", zap.String("method", string(req.Method)),
				zap.Int("code", res.StatusCode), zap.String("call_id", req.CallID().Value()))
			u.dropRegistration()
			if _, rerr := u.register(ctx, u.cfg.Expires); rerr != nil {
				u.log.Warn("initial registration after a restoration request", zap.Error(rerr))
			}
		case (res.StatusCode == 500 || res.StatusCode == 503) && !waited && u.waitRetryAfter(ctx, res):
			waited = true
			continue
		}
		return req, res, nil
	}
}

// ackFailure sends the ACK of a non-2xx final response to INVITE, part of the INVITE client
// transaction (RFC 3261 §17.1.1.3): the response's To, the rest as in the INVITE.
func (u *UE) ackFailure(inv *sip.Request, res *sip.Response, w wire) {
	ack := sameTransaction(inv, sip.ACK, res.To())
	if err := w.write([]byte(ack.String())); err != nil {
		u.log.Warn("ACK of a failure", zap.Error(err), zap.String("call_id", inv.CallID().Value()))
	}
}

// sameTransaction builds the ACK of a non-2xx (RFC 3261 §17.1.1.3) or the CANCEL (§9.1) of inv:
// its Request-URI, its top Via only (the same branch), Route, From, Call-ID and CSeq number, with
// the given To and method.
func sameTransaction(inv *sip.Request, method sip.RequestMethod, to *sip.ToHeader) *sip.Request {
	req := sip.NewRequest(method, inv.Recipient)
	req.AppendHeader(sip.HeaderClone(inv.Via()))
	for _, h := range inv.GetHeaders("Route") {
		req.AppendHeader(sip.HeaderClone(h))
	}
	req.AppendHeader(sip.HeaderClone(inv.From()))
	req.AppendHeader(sip.HeaderClone(to))
	cid := sip.CallIDHeader(inv.CallID().Value())
	req.AppendHeader(&cid)
	req.AppendHeader(&sip.CSeqHeader{SeqNo: inv.CSeq().SeqNo, MethodName: method})
	mf := sip.MaxForwardsHeader(70)
	req.AppendHeader(&mf)
	req.SetBody(nil)
	return req
}

// Message sends a MESSAGE with a text/plain body to target (a SIP or tel URI) and returns the
// final response; a failure response is a *StatusError.
//
// extra headers are added as given; one named P-Preferred-Identity replaces the UE's default
// (its IMPU), and one named P-Asserted-Identity lets a test check that the P-CSCF removes it.
func (u *UE) Message(ctx context.Context, target, text string, extra ...sip.Header) (*sip.Response, error) {
	var ruri sip.Uri
	if err := sip.ParseUri(target, &ruri); err != nil {
		return nil, fmt.Errorf("ue: target %q: %w", target, err)
	}
	callID := randHex(12)
	_, res, err := u.send(ctx, func(o origin) *sip.Request {
		req := u.baseRequest(sip.MESSAGE, ruri, target, callID, "")
		u.addRoutes(req, o)
		ppi := true
		for _, h := range extra {
			req.AppendHeader(sip.HeaderClone(h))
			ppi = ppi && !header.SameName(h.Name(), header.PPreferredIdentity)
		}
		if ppi {
			req.AppendHeader(sip.NewHeader(header.PPreferredIdentity, "<"+u.cfg.IMPU+">"))
		}
		req.AppendHeader(sip.NewHeader("Content-Type", "text/plain"))
		req.SetBody([]byte(text))
		return req
	}, nil)
	return u.finalOK(res, err)
}

// SubscribeReg subscribes to the reg event of the UE's own IMPU (TS 24.229 §5.1.1.3).
func (u *UE) SubscribeReg(ctx context.Context) (*sip.Response, error) {
	var ruri sip.Uri
	_ = sip.ParseUri(u.cfg.IMPU, &ruri)
	callID := randHex(12)
	_, res, err := u.send(ctx, func(o origin) *sip.Request {
		req := u.baseRequest(sip.SUBSCRIBE, ruri, u.cfg.IMPU, callID, "")
		u.addRoutes(req, o)
		req.AppendHeader(sip.NewHeader("Contact", u.contactValue()))
		req.AppendHeader(sip.NewHeader(header.Event, "reg"))
		req.AppendHeader(sip.NewHeader(header.Expires, "600000"))
		req.AppendHeader(sip.NewHeader("Accept", "application/reginfo+xml"))
		req.AppendHeader(sip.NewHeader(header.PPreferredIdentity, "<"+u.cfg.IMPU+">"))
		return req
	}, nil)
	return u.finalOK(res, err)
}

func (u *UE) contactValue() string {
	c := u.Contact()
	return fmt.Sprintf("<sip:%s:%d%s>", hostOf(c.Addr()), c.Port(), u.transportParam())
}

func (u *UE) transportParam() string {
	if u.cfg.Transport == "TCP" {
		return ";transport=tcp"
	}
	return ""
}

func (u *UE) finalOK(res *sip.Response, err error) (*sip.Response, error) {
	if err != nil {
		return nil, err
	}
	if res.StatusCode >= 300 {
		return res, &StatusError{Code: res.StatusCode, Reason: res.Reason, Res: res}
	}
	return res, nil
}

// sdpOffer is a minimal audio offer (RFC 4566), version v; no media flows.
func sdpOffer(a netip.Addr, v int) []byte {
	ip := "IP4"
	if a.Is6() && !a.Is4In6() {
		ip = "IP6"
	}
	return []byte("v=0\r\no=- 1 " + strconv.Itoa(v) + " IN " + ip + " " + a.String() + "\r\ns=-\r\nc=IN " + ip + " " + a.String() +
		"\r\nt=0 0\r\nm=audio 49170 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n")
}

// hasTag reports whether an option-tag header field (Supported, Require…) lists tag.
func hasTag(m sip.Message, name, tag string) bool {
	for _, v := range header.Values(m, name) {
		for _, t := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), tag) {
				return true
			}
		}
	}
	return false
}

// deliver hands req to Incoming; when nobody reads, the oldest is dropped.
func (u *UE) deliver(req *sip.Request) {
	select {
	case u.incoming <- req:
	default:
		select {
		case <-u.incoming:
		default:
		}
		select {
		case u.incoming <- req:
		default:
		}
	}
}
