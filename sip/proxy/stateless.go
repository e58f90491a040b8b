package proxy

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"strconv"

	"github.com/emiago/sipgo/sip"
	"go.uber.org/zap"

	"github.com/imscore/imscore/internal/logging"
)

// forwardAck forwards an ACK that matched no server transaction: the ACK for a 2xx, a transaction of its own that
// follows the route set (RFC 3261 §13.2.2.4, §16.4, §16.12). It is forwarded statelessly: ACK has no response.
func (p *Proxy) forwardAck(v *view, in inbound) {
	req := v.req
	log := p.log.With(logging.CallID(callIDOf(req)))
	if v.missingOrMalformed() != nil || !v.typedOK("route") || !v.typedOK("max-forwards") {
		log.Info("dropped malformed ACK")
		return
	}
	if mf := req.MaxForwards(); mf != nil && mf.Val() == 0 {
		log.Info("dropped ACK with Max-Forwards 0") // RFC 3261 §16.3 step 3; an ACK is never answered
		return
	}
	src := in.source()
	src.ConsumedRoute = p.preprocessRoute(req)
	ctx, cancel := context.WithTimeout(p.base, p.cfg.RouteTimeout)
	defer cancel()
	d, err := p.routeAck(ctx, req, src)
	if err != nil || d.Reply != nil {
		log.Debug("ACK not forwarded", zap.Error(err))
		return
	}
	var t Target
	if len(d.Targets) > 0 {
		t = d.Targets[0]
	}
	fwd, hopURI := p.buildCopy(req, &d, &t)
	out, err := p.prepareOutbound(ctx, fwd, hopURI, t.NextHop, in.l, false, statelessBranch(req))
	if err != nil {
		log.Info("ACK not forwarded: next hop unreachable", zap.String("next_hop", hopURI.String()), zap.Error(err))
		return
	}
	defer func() { _, _ = out.conn.TryClose() }()
	if err := out.conn.WriteMsg(fwd); err != nil {
		log.Info("ACK not forwarded", zap.Error(err))
	}
}

func (p *Proxy) routeAck(ctx context.Context, req *sip.Request, src Source) (d Decision, err error) {
	defer func() {
		if r := recover(); r != nil {
			p.log.Error("router panicked on ACK", zap.Any("panic", r))
			err = &StatusError{Code: sip.StatusInternalServerError, Reason: "Router Panic"}
		}
	}()
	return p.router.Route(ctx, req, src)
}

// statelessBranch is the branch for a statelessly forwarded request: the same for every retransmission of it
// (RFC 3261 §16.11), derived from the incoming top Via and Request-URI.
func statelessBranch(req *sip.Request) string {
	h := md5.New()
	if v := req.Via(); v != nil {
		b, _ := v.Params.Get("branch")
		h.Write([]byte(b + "|" + v.Host + "|" + strconv.Itoa(v.Port) + "|"))
	}
	h.Write([]byte(req.Recipient.String() + "|" + callIDOf(req)))
	sum := hex.EncodeToString(h.Sum(nil))
	return branchPrefix + sum[:loopHashLen] + "-" + sum[loopHashLen:loopHashLen+branchRandLen]
}
