package icscf

import (
	"context"

	"github.com/emiago/sipgo/sip"
	"go.uber.org/zap"

	"github.com/imscore/imscore/diameter/cx"
	"github.com/imscore/imscore/sip/proxy"
)

// terminatingAttempt forwards a terminating request to the S-CSCF the HSS named and, when that S-CSCF has
// failed (TS 23.380 §5.2.2.2, TS 24.229 §5.3.2.1: no answer, unreachable, 503), asks the HSS again with
// User-Authorization-Type REGISTRATION_AND_CAPABILITIES and forwards the request once to another S-CSCF
// selected by capabilities. That S-CSCF restores the user's registration from the HSS (SAR
// UNREGISTERED_USER) and serves the request. Originating requests and a second failure go upstream as they
// are.
type terminatingAttempt struct {
	r      *Router
	impu   string
	first  candidate
	failed bool
	log    *zap.Logger
}

// towards is the Decision forwarding req to c. An INVITE gets attemptTimeout to show life (a live S-CSCF
// answers 100 Trying at once, RFC 3261 §16.2; TS 24.229 §5.3.2.1); other methods wait for their final answer,
// which may come from the callee much later, so only a transport failure or Timer F ends them early.
func (a *terminatingAttempt) towards(req *sip.Request, c candidate) proxy.Decision {
	t := proxy.Target{Route: []sip.Uri{routeTo(c, false)}, NextHop: nextHop(c)}
	if req.Method == sip.INVITE {
		t.NoResponseTimeout = a.r.attemptTimeout
	}
	d := proxy.Forward(t)
	if !a.failed {
		d.OnFailure = a.onFailure
	}
	return d
}

// onFailure judges the first S-CSCF's failure: no answer (408 made by the proxy), unreachable (a generated
// 500) or its own 503. Anything else is the S-CSCF's (or the callee's) answer and goes upstream.
func (a *terminatingAttempt) onFailure(ctx context.Context, req *sip.Request, best *sip.Response, generated bool) (*proxy.Decision, error) {
	switch {
	case generated && (best.StatusCode == sip.StatusRequestTimeout || best.StatusCode == sip.StatusInternalServerError):
	case !generated && best.StatusCode == sip.StatusServiceUnavailable:
	default:
		return nil, nil
	}
	a.failed = true
	r := a.r
	r.metrics.failover()
	log := a.log.With(zap.String("scscf", a.first.name), zap.Int("treated_as", best.StatusCode))
	withCaps := cx.UATRegistrationAndCapabilities
	lia, err := r.hss.LocationInfo(ctx, &cx.LIR{PublicIdentity: a.impu, UserAuthorizationType: &withCaps})
	if err != nil {
		r.metrics.cx("LIR", "unavailable")
		log.Warn("S-CSCF failed; LIR for another one failed", zap.Error(err))
		return nil, nil
	}
	code, vendor := lia.Result()
	r.metrics.cx("LIR", resultName(code, vendor))
	if classify(code, vendor) != outcomeSuccess || lia.ServerCapabilities == nil && lia.ServerName == "" {
		log.Warn("S-CSCF failed; the HSS named no other", zap.String("result", resultName(code, vendor)))
		return nil, nil
	}
	var next candidate
	if lia.ServerName != "" && lia.ServerCapabilities == nil {
		next, err = r.dir.lookup(lia.ServerName)
		if err == nil && next.key == a.first.key {
			log.Warn("S-CSCF failed; the HSS names it again")
			return nil, nil
		}
	} else {
		next, err = r.dir.selectByCapabilities(lia.ServerCapabilities, map[string]bool{a.first.key: true})
	}
	if err != nil {
		log.Warn("S-CSCF failed; no other to select", zap.Error(err))
		return nil, nil
	}
	log.Info("S-CSCF failed: request sent to another (restoration)", zap.String("next", next.name))
	d := a.towards(req, next)
	return &d, nil
}
