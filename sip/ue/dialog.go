package ue

// INVITE dialogs from both ends: the caller's (RFC 3261 §13.2, §12.1.2) with reliable
// provisional responses (RFC 3262: PRACK), UPDATE (RFC 3311), re-INVITE (RFC 3261 §14) and
// CANCEL (RFC 3261 §9.1); the callee's (RFC 3261 §13.3) answering with a reliable 183 when the
// caller supports 100rel, waiting for the UPDATE of a precondition offer (RFC 3312), ringing,
// then answering or, with Config.NoAnswer, waiting for the CANCEL.

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"
	"go.uber.org/zap"

	"github.com/imscore/imscore/sip/header"
)

// t1 is RFC 3261's T1, the first retransmission interval of reliable responses (RFC 3262 §3)
// and of a 2xx to INVITE (RFC 3261 §13.3.1.4).
const t1 = 500 * time.Millisecond

// InviteOptions shape an INVITE.
type InviteOptions struct {
	// Precondition adds precondition to Supported (RFC 3312 §11) and, once the first reliable
	// provisional response is PRACKed, sends an UPDATE with a new offer before the answer: the
	// flow of TS 24.229 §5.1.4.1 with resource reservation. The callee UE waits for that UPDATE.
	Precondition bool
	// CancelOn is a provisional status (e.g. 180) on which the UE cancels the call (RFC 3261
	// §9.1); the INVITE then ends with 487 (a *StatusError). 0: never.
	CancelOn int
	// Headers are added to the INVITE as given.
	Headers []sip.Header
}

// Call is one INVITE dialog placed by the UE.
type Call struct {
	u      *UE
	callID string
	to     string
	cseq   uint32 // of the INVITE

	mu          sync.Mutex
	o           origin
	remote      string   // remote target (Contact)
	routes      []string // route set, RFC 3261 §12.1.2
	toTag       string
	sdpVersion  int
	provisional []int
	pracked     []uint32
	updated     bool
}

// Provisionals lists the provisional statuses the INVITE got (100 included), in order.
func (c *Call) Provisionals() []int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]int(nil), c.provisional...)
}

// PRACKed lists the RSeq of every reliable provisional response the UE acknowledged.
func (c *Call) PRACKed() []uint32 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]uint32(nil), c.pracked...)
}

// Updated reports whether an UPDATE of the early dialog succeeded (InviteOptions.Precondition).
func (c *Call) Updated() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.updated
}

// CallID is the dialog's Call-ID.
func (c *Call) CallID() string { return c.callID }

// Invite places a call to target and returns it once answered (after the ACK); a failure
// response is a *StatusError.
func (u *UE) Invite(ctx context.Context, target string) (*Call, error) {
	return u.InviteWith(ctx, target, InviteOptions{})
}

// InviteWith places a call with options. Reliable provisional responses are PRACKed (RFC 3262
// §4); a failure response is a *StatusError, returned with the Call so that a test can see what
// happened before it.
func (u *UE) InviteWith(ctx context.Context, target string, opts InviteOptions) (*Call, error) {
	var ruri sip.Uri
	if err := sip.ParseUri(target, &ruri); err != nil {
		return nil, fmt.Errorf("ue: target %q: %w", target, err)
	}
	call := &Call{u: u, callID: randHex(12), to: target, sdpVersion: 1}
	var lastRSeq uint32
	cancelled := false
	inv, res, err := u.send(ctx, func(o origin) *sip.Request {
		call.mu.Lock()
		call.o = o
		call.mu.Unlock()
		req := u.baseRequest(sip.INVITE, ruri, target, call.callID, "")
		u.addRoutes(req, o)
		req.AppendHeader(sip.NewHeader("Contact", u.contactValue()))
		req.AppendHeader(sip.NewHeader(header.PPreferredIdentity, "<"+u.cfg.IMPU+">"))
		sup := u.supported(sip.INVITE)
		if opts.Precondition {
			sup += ", precondition"
		}
		req.AppendHeader(sip.NewHeader("Supported", sup))
		for _, h := range opts.Headers {
			req.AppendHeader(sip.HeaderClone(h))
		}
		req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
		req.SetBody(u.offerBody(call.callID)) // media.go
		return req
	}, func(inv *sip.Request, res *sip.Response) {
		u.answered(call.callID, res) // media.go
		call.mu.Lock()
		call.provisional = append(call.provisional, res.StatusCode)
		call.mu.Unlock()
		if res.StatusCode > 100 {
			call.dialogFrom(res)
		}
		if rseq, ok := reliable(res); ok && rseq > lastRSeq {
			lastRSeq = rseq
			if err := call.prack(ctx, inv, rseq); err != nil {
				u.log.Warn("PRACK", zap.Error(err), zap.String("call_id", call.callID))
			} else if opts.Precondition && !call.Updated() {
				if err := call.Update(ctx); err != nil {
					u.log.Warn("UPDATE of the early dialog", zap.Error(err), zap.String("call_id", call.callID))
				}
			}
		}
		if opts.CancelOn != 0 && res.StatusCode == opts.CancelOn && !cancelled {
			cancelled = true
			if err := u.cancelInvite(ctx, inv, call.origin()); err != nil {
				u.log.Warn("CANCEL", zap.Error(err), zap.String("call_id", call.callID))
			}
		}
	})
	if inv != nil {
		call.cseq = inv.CSeq().SeqNo
	}
	if res, err := u.finalOK(res, err); err != nil {
		if res != nil {
			return call, err
		}
		return nil, err
	}
	call.dialogFrom(res)
	u.answered(call.callID, res) // media.go
	if err := call.ack(); err != nil {
		return nil, err
	}
	return call, nil
}

// reliable returns the RSeq of a reliable provisional response (RFC 3262 §3: Require: 100rel
// and an RSeq).
func reliable(res *sip.Response) (uint32, bool) {
	if res.StatusCode <= 100 || res.StatusCode >= 200 || !hasTag(res, "Require", "100rel") {
		return 0, false
	}
	v := header.Values(res, "RSeq")
	if len(v) == 0 {
		return 0, false
	}
	n, err := strconv.ParseUint(strings.TrimSpace(v[0]), 10, 32)
	if err != nil || n == 0 {
		return 0, false
	}
	return uint32(n), true
}

func (c *Call) origin() origin {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.o
}

// dialogFrom takes the dialog's state from a response that creates or confirms it: the remote
// tag, the remote target and the route set, the Record-Route reversed (RFC 3261 §12.1.2).
func (c *Call) dialogFrom(res *sip.Response) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if t := res.To(); t != nil {
		if tag, ok := t.Params.Get("tag"); ok {
			c.toTag = tag
		}
	}
	if ct := res.Contact(); ct != nil {
		c.remote = ct.Address.String()
	}
	rr := header.Values(res, header.RecordRoute)
	c.routes = c.routes[:0]
	for i := len(rr) - 1; i >= 0; i-- {
		c.routes = append(c.routes, rr[i])
	}
}

// inDialog builds a request in the dialog, with the sec-agree headers over SAs.
func (c *Call) inDialog(method sip.RequestMethod) *sip.Request {
	c.mu.Lock()
	defer c.mu.Unlock()
	var ruri sip.Uri
	if err := sip.ParseUri(c.remote, &ruri); err != nil {
		_ = sip.ParseUri(c.to, &ruri)
	}
	req := c.u.baseRequest(method, ruri, c.to, c.callID, c.toTag)
	for _, r := range c.routes {
		req.AppendHeader(sip.NewHeader("Route", r))
	}
	if method != sip.ACK {
		secAgreeHeaders(req, c.o.st)
	}
	return req
}

// ack confirms a 2xx to the INVITE (RFC 3261 §13.2.2.4): a new transaction, CSeq of the INVITE.
func (c *Call) ack() error {
	ack := c.inDialog(sip.ACK)
	ack.CSeq().SeqNo = c.cseq
	w := c.origin().w
	c.u.addVia(ack, w)
	if err := w.write([]byte(ack.String())); err != nil {
		return fmt.Errorf("ue: ack: %w", err)
	}
	return nil
}

// prack acknowledges the reliable provisional response rseq (RFC 3262 §7.2: RAck is the
// RSeq, then the INVITE's CSeq number and method).
func (c *Call) prack(ctx context.Context, inv *sip.Request, rseq uint32) error {
	req := c.inDialog(sip.PRACK)
	req.AppendHeader(sip.NewHeader("RAck", fmt.Sprintf("%d %d INVITE", rseq, inv.CSeq().SeqNo)))
	if _, err := c.u.finalOK(c.u.transact(ctx, req, c.origin().w)); err != nil {
		return err
	}
	c.mu.Lock()
	c.pracked = append(c.pracked, rseq)
	c.mu.Unlock()
	return nil
}

// newOffer is the next SDP offer of the dialog (RFC 4566 §5.2: the version goes up).
func (c *Call) newOffer() []byte {
	c.mu.Lock()
	c.sdpVersion++
	v := c.sdpVersion
	c.mu.Unlock()
	return sdpOffer(c.u.cfg.Local, v)
}

// Update sends an UPDATE with a new offer (RFC 3311 §5.1), in the early or the confirmed dialog.
func (c *Call) Update(ctx context.Context) error {
	req := c.inDialog(sip.UPDATE)
	req.AppendHeader(sip.NewHeader("Contact", c.u.contactValue()))
	req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	req.SetBody(c.newOffer())
	if _, err := c.u.finalOK(c.u.transact(ctx, req, c.origin().w)); err != nil {
		return err
	}
	c.mu.Lock()
	c.updated = true
	c.mu.Unlock()
	return nil
}

// Reinvite sends a re-INVITE with a new offer (RFC 3261 §14.1) and ACKs its answer.
func (c *Call) Reinvite(ctx context.Context) error {
	req := c.inDialog(sip.INVITE)
	req.AppendHeader(sip.NewHeader("Contact", c.u.contactValue()))
	req.AppendHeader(sip.NewHeader("Supported", c.u.supported(sip.INVITE)))
	req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	req.SetBody(c.newOffer())
	w := c.origin().w
	res, err := c.u.transact(ctx, req, w)
	if err != nil {
		return err
	}
	if res.StatusCode >= 300 {
		c.u.ackFailure(req, res, w)
		return &StatusError{Code: res.StatusCode, Reason: res.Reason, Res: res}
	}
	c.dialogTarget(res)
	ack := c.inDialog(sip.ACK)
	ack.CSeq().SeqNo = req.CSeq().SeqNo
	c.u.addVia(ack, w)
	if err := w.write([]byte(ack.String())); err != nil {
		return fmt.Errorf("ue: ack of the re-INVITE: %w", err)
	}
	return nil
}

// dialogTarget updates the remote target from a target refresh's 2xx (RFC 3261 §12.2.1.2).
func (c *Call) dialogTarget(res *sip.Response) {
	if ct := res.Contact(); ct != nil {
		c.mu.Lock()
		c.remote = ct.Address.String()
		c.mu.Unlock()
	}
}

// Hangup sends BYE in the dialog.
func (c *Call) Hangup(ctx context.Context) error {
	_, err := c.u.finalOK(c.u.transact(ctx, c.inDialog(sip.BYE), c.origin().w))
	return err
}

// cancelInvite cancels inv (RFC 3261 §9.1): same Request-URI, Call-ID, From, To, CSeq number
// and Route, and one Via, the INVITE's top one, so that it reaches the same transaction.
func (u *UE) cancelInvite(ctx context.Context, inv *sip.Request, o origin) error {
	req := sameTransaction(inv, sip.CANCEL, inv.To())
	secAgreeHeaders(req, o.st)
	_, err := u.finalOK(u.exchange(ctx, req, o.w, false, nil))
	return err
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

// uasCall is an incoming INVITE being answered.
type uasCall struct {
	inv    *sip.Request
	w      wire
	tag    string
	prack  chan uint32
	update chan struct{}
	cancel chan struct{}
	ack    chan struct{}

	mu   sync.Mutex
	last []byte // the last response sent, again on a retransmitted INVITE
}

func signal[T any](ch chan T, v T) {
	select {
	case ch <- v:
	default:
	}
}

// handleRequest answers what arrives at the UE: 200 to MESSAGE, NOTIFY, OPTIONS, BYE, PRACK and
// UPDATE (with an SDP answer), 481 to a PRACK or CANCEL of no call; an initial INVITE goes to
// answerInvite, a re-INVITE is answered 200 with SDP; nothing to ACK.
func (u *UE) handleRequest(req *sip.Request, w wire) {
	callID := ""
	if cid := req.CallID(); cid != nil {
		callID = cid.Value()
	}
	u.mu.Lock()
	c := u.uas[callID]
	u.mu.Unlock()
	toTag := ""
	if to := req.To(); to != nil {
		toTag, _ = to.Params.Get("tag")
	}
	reply := func(res *sip.Response) {
		// RFC 3261 §18.2.2: over UDP to the packet's source from the socket it came in on;
		// over TCP on the same connection.
		if err := w.write([]byte(res.String())); err != nil {
			u.log.Warn("answering", zap.String("method", string(req.Method)), zap.String("call_id", callID), zap.Error(err))
		}
	}
	switch {
	case req.Method == sip.ACK:
		if c != nil {
			signal(c.ack, struct{}{})
		}
	case req.Method == sip.INVITE && toTag == "" && c != nil:
		// A retransmission (RFC 3261 §17.2.1): the last response again.
		c.mu.Lock()
		last := c.last
		c.mu.Unlock()
		if last != nil {
			_ = w.write(last)
		}
		return
	case req.Method == sip.INVITE && toTag == "":
		c = &uasCall{inv: req, w: w, tag: randHex(4), prack: make(chan uint32, 4), update: make(chan struct{}, 1),
			cancel: make(chan struct{}, 1), ack: make(chan struct{}, 1)}
		u.mu.Lock()
		u.uas[callID] = c
		u.mu.Unlock()
		u.wg.Go(func() {
			u.answerInvite(c)
			u.mu.Lock()
			delete(u.uas, callID)
			u.mu.Unlock()
		})
	case req.Method == sip.CANCEL || req.Method == sip.PRACK:
		if c == nil {
			// RFC 3261 §9.2, RFC 3262 §4: no matching transaction or response.
			reply(sip.NewResponseFromRequest(req, 481, "Call/Transaction Does Not Exist", nil))
			return
		}
		reply(sip.NewResponseFromRequest(req, 200, "OK", nil))
		if req.Method == sip.CANCEL {
			signal(c.cancel, struct{}{})
		} else if rseq, ok := rack(req); ok {
			signal(c.prack, rseq)
			return // PRACK is the reliability of the 183 (RFC 3262), not a request for Incoming
		}
	case req.Method == sip.UPDATE || req.Method == sip.INVITE:
		// RFC 3311 §5.2, RFC 3261 §14.2: the answer to the new offer.
		res := sip.NewResponseFromRequest(req, 200, "OK", nil)
		res.AppendHeader(sip.NewHeader("Contact", u.contactValue()))
		res.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
		res.SetBody(sdpOffer(u.cfg.Local, 2))
		reply(res)
		if c != nil && req.Method == sip.UPDATE {
			signal(c.update, struct{}{})
		}
	default:
		reply(sip.NewResponseFromRequest(req, 200, "OK", nil))
	}
	u.deliver(req)
}

// rack reads a PRACK's RAck response number (RFC 3262 §7.2).
func rack(req *sip.Request) (uint32, bool) {
	v := header.Values(req, "RAck")
	if len(v) == 0 {
		return 0, false
	}
	f := strings.Fields(v[0])
	if len(f) == 0 {
		return 0, false
	}
	n, err := strconv.ParseUint(f[0], 10, 32)
	return uint32(n), err == nil
}

// response builds a response to the INVITE with the call's To tag (RFC 3261 §8.2.6.2: the same
// on every response) and Contact (RFC 3261 §12.1.1).
func (u *UE) response(c *uasCall, code int, reason string, sdp bool) *sip.Response {
	res := sip.NewResponseFromRequest(c.inv, code, reason, nil)
	if to := res.To(); to != nil {
		to.Params.Add("tag", c.tag)
	}
	if code < 300 {
		res.AppendHeader(sip.NewHeader("Contact", u.contactValue()))
	}
	if sdp {
		res.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
		res.SetBody(u.answerBody(c.inv)) // media.go
	}
	return res
}

func (u *UE) write(c *uasCall, res *sip.Response) {
	b := []byte(res.String())
	c.mu.Lock()
	c.last = b
	c.mu.Unlock()
	if err := c.w.write(b); err != nil {
		u.log.Warn("answering INVITE", zap.Int("code", res.StatusCode), zap.String("call_id", c.inv.CallID().Value()), zap.Error(err))
	}
}

// until sends res and, over UDP, sends it again at T1, 2·T1 … (capped at T2 = 4 s) until done
// delivers or 64·T1 have passed (RFC 3262 §3, RFC 3261 §13.3.1.4); it reports whether done did.
func until[T any](u *UE, c *uasCall, res *sip.Response, done <-chan T) bool {
	u.write(c, res)
	interval := t1
	deadline := time.NewTimer(64 * t1)
	defer deadline.Stop()
	for {
		var tick <-chan time.Time
		if c.w.transport() == "UDP" {
			tick = time.After(interval)
		}
		select {
		case <-done:
			return true
		case <-tick:
			u.write(c, res)
			interval = min(2*interval, 4*time.Second)
		case <-deadline.C:
			return false
		case <-u.ctx.Done():
			return false
		}
	}
}

// answerInvite plays the callee: a reliable 183 with the SDP answer when the caller supports
// 100rel (RFC 3262 §3) and, with precondition, the wait for its UPDATE; then 180, and 200 with
// the answer (unless the 183 gave it) retransmitted until the ACK; with NoAnswer, 180 and a wait
// for the CANCEL, answered 487 (RFC 3261 §9.2).
func (u *UE) answerInvite(c *uasCall) {
	inv := c.inv
	callID := inv.CallID().Value()
	rel := hasTag(inv, "Supported", "100rel") || hasTag(inv, "Require", "100rel")
	if rel {
		res := u.response(c, 183, "Session Progress", true)
		res.AppendHeader(sip.NewHeader("Require", "100rel"))
		res.AppendHeader(sip.NewHeader("RSeq", "1"))
		if !until(u, c, res, c.prack) {
			// RFC 3262 §3: no PRACK for a reliable provisional response: reject the INVITE.
			u.log.Warn("no PRACK for the reliable 183", zap.String("call_id", callID))
			u.write(c, u.response(c, 500, "No PRACK", false))
			return
		}
		if hasTag(inv, "Supported", "precondition") || hasTag(inv, "Require", "precondition") {
			t := time.NewTimer(u.cfg.Timeout)
			select {
			case <-c.update:
			case <-t.C:
				u.log.Info("no UPDATE after the PRACK: answering anyway", zap.String("call_id", callID))
			case <-u.ctx.Done():
			}
			t.Stop()
		}
	}
	u.write(c, u.response(c, 180, "Ringing", false))
	if u.cfg.NoAnswer {
		select {
		case <-c.cancel:
			until(u, c, u.response(c, 487, "Request Terminated", false), c.ack)
		case <-u.ctx.Done():
		}
		return
	}
	if !until(u, c, u.response(c, 200, "OK", !rel), c.ack) {
		u.log.Warn("no ACK for the 200 to INVITE", zap.String("call_id", callID))
	}
}
