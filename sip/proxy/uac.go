package proxy

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/imscore/imscore/sip/header"

	"math/rand/v2"

	"github.com/emiago/sipgo/sip"
)

// SendOption adjusts one Send.
type SendOption func(*sendOptions)

type sendOptions struct {
	nextHop *NextHop
}

// WithNextHop sends the request to hop instead of the address derived from its Route set or Request-URI.
func WithNextHop(hop NextHop) SendOption {
	return func(o *sendOptions) { o.nextHop = &hop }
}

// Send sends a request this node originates (the S-CSCF's NOTIFY or third-party REGISTER, a P-CSCF's BYE) and
// returns its final response; provisional responses are skipped. The caller builds the request (From with tag,
// To, Call-ID, CSeq, and Route if any); Send works on a copy, adds Via, Max-Forwards when missing and
// Content-Length, and routes by the top Route or the Request-URI (RFC 3261 §8.1.2) or by WithNextHop.
//
// INVITE, ACK and CANCEL are refused (ErrNotSendable): they need dialog and CANCEL state that belongs to a UA.
// Errors: ErrTimeout after Config.TimerF, ErrTransport when the next hop cannot be reached, ErrNoRoute, ctx's
// error, ErrClosed. Run must be running: responses arrive through the listeners.
func (p *Proxy) Send(ctx context.Context, req *sip.Request, opts ...SendOption) (*sip.Response, error) {
	if p.closing.Load() {
		return nil, ErrClosed
	}
	var o sendOptions
	for _, opt := range opts {
		opt(&o)
	}
	switch req.Method {
	case sip.INVITE, sip.ACK, sip.CANCEL:
		return nil, fmt.Errorf("send %s: %w", req.Method, ErrNotSendable)
	}
	if req.From() == nil || req.To() == nil || req.CallID() == nil || req.CSeq() == nil {
		return nil, fmt.Errorf("send %s: From, To, Call-ID and CSeq are required: %w", req.Method, ErrInvalidRequest)
	}
	if req.CSeq().MethodName != req.Method {
		return nil, fmt.Errorf("send %s: CSeq method %s: %w", req.Method, req.CSeq().MethodName, ErrInvalidRequest)
	}
	r := req.Clone()
	r.SetTransport("")
	r.SetSource("")
	r.SetDestination("")
	r.Laddr = sip.Addr{}
	header.Remove(r, "via")
	if r.MaxForwards() == nil {
		mf := sip.MaxForwardsHeader(p.cfg.MaxForwards)
		r.AppendHeader(&mf)
	}
	hopURI := nextHopURI(r)
	out, err := p.prepareOutbound(ctx, r, hopURI, o.nextHop, nil, false, newBranch(randomHex()))
	if err != nil {
		return nil, fmt.Errorf("send %s to %s: %w", r.Method, hopURI.String(), err)
	}
	key, err := sip.ClientTxKeyMake(r)
	if err != nil {
		_, _ = out.conn.TryClose()
		return nil, fmt.Errorf("send %s: %w", r.Method, err)
	}
	tx := sip.NewClientTx(key, r, out.conn, p.slog)
	if err := p.addClientTx(key, tx); err != nil {
		_, _ = out.conn.TryClose()
		return nil, err
	}
	defer tx.Terminate()
	if err := tx.Init(); err != nil {
		return nil, fmt.Errorf("send %s to %s: %w: %w", r.Method, out.dst, ErrTransport, err)
	}
	timerF := time.NewTimer(p.cfg.TimerF)
	defer timerF.Stop()
	for {
		select {
		case res := <-tx.Responses():
			if res.StatusCode >= 200 {
				return res, nil
			}
		case <-tx.Done():
			err := tx.Err()
			switch {
			case errors.Is(err, sip.ErrTransactionTimeout):
				return nil, fmt.Errorf("send %s to %s: %w", r.Method, out.dst, ErrTimeout)
			case errors.Is(err, sip.ErrTransactionTransport):
				return nil, fmt.Errorf("send %s to %s: %w: %w", r.Method, out.dst, ErrTransport, err)
			case p.closing.Load():
				return nil, ErrClosed
			default:
				return nil, fmt.Errorf("send %s to %s: transaction ended: %w", r.Method, out.dst, err)
			}
		case <-timerF.C:
			return nil, fmt.Errorf("send %s to %s: %w", r.Method, out.dst, ErrTimeout)
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// randomHex is a loop-hash stand-in for requests this node originates: they have no received request to hash.
func randomHex() string {
	s := strconv.FormatUint(rand.Uint64(), 16)
	for len(s) < loopHashLen {
		s = "0" + s
	}
	return s
}
