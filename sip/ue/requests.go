package ue

// Requests after registration, TS 24.229 §5.1.2A (originating) and §5.1.4 (terminating):
// MESSAGE (RFC 3428), SUBSCRIBE to the reg event (RFC 3680), INVITE placed and answered.

import (
	"context"
	"fmt"
	"net/netip"
	"sync"

	"github.com/emiago/sipgo/sip"
	"go.uber.org/zap"

	"github.com/imscore/imscore/sip/header"
)

// originWire is where the UE's own requests go: its SAs when it has them, else the P-CSCF's
// unprotected port. firstRoute is the P-CSCF URI on top of the route set (TS 24.229 §5.1.2A.1.1).
func (u *UE) originWire(ctx context.Context) (wire, string, error) {
	u.mu.Lock()
	st, reg := u.sa, u.reg
	u.mu.Unlock()
	if reg == nil {
		return nil, "", ErrNotRegistered
	}
	tp := ""
	if u.cfg.Transport == "TCP" {
		tp = ";transport=tcp"
	}
	if st != nil && st.pair != nil {
		w, err := u.protWire(st)
		return w, fmt.Sprintf("<sip:%s:%d;lr%s>", hostOf(st.pcscf.Addr()), st.pcscf.Port(), tp), err
	}
	w, err := u.unprotWire(ctx)
	return w, fmt.Sprintf("<sip:%s:%d;lr%s>", hostOf(u.cfg.PCSCF.Addr()), u.cfg.PCSCF.Port(), tp), err
}

// routeSet is the P-CSCF then the Service-Route (TS 24.229 §5.1.2A.1.1).
func (u *UE) addRoutes(req *sip.Request, first string) {
	req.AppendHeader(sip.NewHeader("Route", first))
	if reg := u.Registration(); reg != nil {
		for _, r := range reg.ServiceRoute {
			req.AppendHeader(sip.NewHeader("Route", r))
		}
	}
}

// Message sends a MESSAGE with a text/plain body to target (a SIP or tel URI) and returns the
// final response; a failure response is a *StatusError.
//
// extra headers are added as given; one named P-Preferred-Identity replaces the UE's default
// (its IMPU), and one named P-Asserted-Identity lets a test check that the P-CSCF removes it.
func (u *UE) Message(ctx context.Context, target, text string, extra ...sip.Header) (*sip.Response, error) {
	w, first, err := u.originWire(ctx)
	if err != nil {
		return nil, err
	}
	var ruri sip.Uri
	if err := sip.ParseUri(target, &ruri); err != nil {
		return nil, fmt.Errorf("ue: target %q: %w", target, err)
	}
	req := u.baseRequest(sip.MESSAGE, ruri, target, randHex(12), "")
	u.addRoutes(req, first)
	ppi := true
	for _, h := range extra {
		req.AppendHeader(h)
		ppi = ppi && !header.SameName(h.Name(), header.PPreferredIdentity)
	}
	if ppi {
		req.AppendHeader(sip.NewHeader(header.PPreferredIdentity, "<"+u.cfg.IMPU+">"))
	}
	req.AppendHeader(sip.NewHeader("Content-Type", "text/plain"))
	req.SetBody([]byte(text))
	return u.finalOK(u.transact(ctx, req, w))
}

// SubscribeReg subscribes to the reg event of the UE's own IMPU (TS 24.229 §5.1.1.3).
func (u *UE) SubscribeReg(ctx context.Context) (*sip.Response, error) {
	w, first, err := u.originWire(ctx)
	if err != nil {
		return nil, err
	}
	var ruri sip.Uri
	_ = sip.ParseUri(u.cfg.IMPU, &ruri)
	req := u.baseRequest(sip.SUBSCRIBE, ruri, u.cfg.IMPU, randHex(12), "")
	u.addRoutes(req, first)
	c := u.Contact()
	req.AppendHeader(sip.NewHeader("Contact", fmt.Sprintf("<sip:%s:%d%s>", hostOf(c.Addr()), c.Port(), u.transportParam())))
	req.AppendHeader(sip.NewHeader(header.Event, "reg"))
	req.AppendHeader(sip.NewHeader(header.Expires, "600000"))
	req.AppendHeader(sip.NewHeader("Accept", "application/reginfo+xml"))
	req.AppendHeader(sip.NewHeader(header.PPreferredIdentity, "<"+u.cfg.IMPU+">"))
	return u.finalOK(u.transact(ctx, req, w))
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

// Call is one INVITE dialog.
type Call struct {
	u        *UE
	callID   string
	localTag string
	remote   string // remote target (Contact)
	routes   []string
	to       string
	toTag    string
	w        wire
	mu       sync.Mutex
}

// sdpOffer is a minimal audio offer (RFC 4566); no media flows.
func sdpOffer(a netip.Addr) []byte {
	ip := "IP4"
	if a.Is6() && !a.Is4In6() {
		ip = "IP6"
	}
	return []byte("v=0\r\no=- 1 1 IN " + ip + " " + a.String() + "\r\ns=-\r\nc=IN " + ip + " " + a.String() +
		"\r\nt=0 0\r\nm=audio 49170 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n")
}

// Invite places a call to target and returns it once answered (after the ACK); a failure
// response is a *StatusError.
func (u *UE) Invite(ctx context.Context, target string) (*Call, error) {
	w, first, err := u.originWire(ctx)
	if err != nil {
		return nil, err
	}
	var ruri sip.Uri
	if err := sip.ParseUri(target, &ruri); err != nil {
		return nil, fmt.Errorf("ue: target %q: %w", target, err)
	}
	callID := randHex(12)
	req := u.baseRequest(sip.INVITE, ruri, target, callID, "")
	u.addRoutes(req, first)
	c := u.Contact()
	req.AppendHeader(sip.NewHeader("Contact", fmt.Sprintf("<sip:%s:%d%s>", hostOf(c.Addr()), c.Port(), u.transportParam())))
	req.AppendHeader(sip.NewHeader(header.PPreferredIdentity, "<"+u.cfg.IMPU+">"))
	req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	req.SetBody(sdpOffer(u.cfg.Local))
	res, err := u.finalOK(u.transact(ctx, req, w))
	if err != nil {
		return nil, err
	}
	call := &Call{u: u, callID: callID, localTag: u.fromTag(callID), to: target, w: w}
	if t := res.To(); t != nil {
		call.toTag, _ = t.Params.Get("tag")
	}
	if ct := res.Contact(); ct != nil {
		call.remote = ct.Address.String()
	}
	// RFC 3261 §12.1.2: the UAC's route set is the Record-Route of the 2xx, reversed.
	rr := header.Values(res, header.RecordRoute)
	for i := len(rr) - 1; i >= 0; i-- {
		call.routes = append(call.routes, rr[i])
	}
	ack := call.inDialog(sip.ACK)
	ack.CSeq().SeqNo = req.CSeq().SeqNo
	u.addVia(ack, w)
	if err := w.write([]byte(ack.String())); err != nil {
		return nil, fmt.Errorf("ue: ack: %w", err)
	}
	return call, nil
}

// Hangup sends BYE in the dialog.
func (c *Call) Hangup(ctx context.Context) error {
	_, err := c.u.finalOK(c.u.transact(ctx, c.inDialog(sip.BYE), c.w))
	return err
}

func (c *Call) inDialog(method sip.RequestMethod) *sip.Request {
	var ruri sip.Uri
	if err := sip.ParseUri(c.remote, &ruri); err != nil {
		_ = sip.ParseUri(c.to, &ruri)
	}
	req := c.u.baseRequest(method, ruri, c.to, c.callID, c.toTag)
	for _, r := range c.routes {
		req.AppendHeader(sip.NewHeader("Route", r))
	}
	return req
}

func (u *UE) addVia(req *sip.Request, w wire) {
	local := w.local()
	vp := sip.NewParams()
	vp.Add("branch", "z9hG4bK"+randHex(8))
	req.PrependHeader(&sip.ViaHeader{ProtocolName: "SIP", ProtocolVersion: "2.0", Transport: w.transport(),
		Host: hostOf(local.Addr()), Port: int(local.Port()), Params: vp})
	if req.Body() == nil {
		req.SetBody(nil)
	}
}

// handleRequest answers what arrives at the UE: 200 to MESSAGE, NOTIFY, OPTIONS and BYE; 180
// then 200 to INVITE (an answering machine, with SDP and our Contact); nothing to ACK.
func (u *UE) handleRequest(req *sip.Request, w wire) {
	if req.Method == sip.ACK {
		u.deliver(req)
		return
	}
	res := sip.NewResponseFromRequest(req, 200, "OK", nil)
	if req.Method == sip.INVITE {
		tag := randHex(4)
		if to := res.To(); to != nil {
			if _, ok := to.Params.Get("tag"); !ok {
				to.Params.Add("tag", tag)
			}
		}
		// Ringing first, as a handset does (RFC 3261 §13.3.1.1), with the dialog's To tag; a
		// 180 without Require: 100rel needs no PRACK (RFC 3262 §3).
		c := u.Contact()
		contact := fmt.Sprintf("<sip:%s:%d%s>", hostOf(c.Addr()), c.Port(), u.transportParam())
		ringing := sip.NewResponseFromRequest(req, 180, "Ringing", nil)
		if to := ringing.To(); to != nil {
			if _, ok := to.Params.Get("tag"); !ok {
				to.Params.Add("tag", tag)
			}
		}
		ringing.AppendHeader(sip.NewHeader("Contact", contact)) // RFC 3261 §12.1.1: it makes an early dialog
		if err := w.write([]byte(ringing.String())); err != nil {
			u.log.Warn("answering", zap.String("method", string(req.Method)), zap.Error(err))
		}
		res.AppendHeader(sip.NewHeader("Contact", contact))
		res.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
		res.SetBody(sdpOffer(u.cfg.Local))
	}
	// RFC 3261 §18.2.2: over UDP to the Via's received/rport, here the packet's source, from
	// the socket it came in on; over TCP on the same connection.
	if err := w.write([]byte(res.String())); err != nil {
		u.log.Warn("answering", zap.String("method", string(req.Method)), zap.Error(err))
	}
	u.deliver(req)
}

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
