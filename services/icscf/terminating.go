package icscf

// Initial requests at the I-CSCF: TS 24.229 §5.3.2 (terminating, and originating for an unregistered user when
// the S-CSCF asks with "orig"). The HSS is asked with a Location-Info-Request (TS 29.228 §6.1.4, TS 29.229
// §6.1.5) and the request goes to the serving S-CSCF: a Route naming it on top, Request-URI unchanged.

import (
	"context"

	"github.com/emiago/sipgo/sip"
	"go.uber.org/zap"

	"github.com/imscore/imscore/diameter"
	"github.com/imscore/imscore/diameter/cx"
	"github.com/imscore/imscore/internal/logging"
	"github.com/imscore/imscore/sip/header"
	"github.com/imscore/imscore/sip/proxy"
)

// SIP answers for an initial request the I-CSCF cannot route.
var (
	// TS 24.229 §5.3.2.1: the HSS does not know the user (DIAMETER_ERROR_USER_UNKNOWN, TS 29.228 §6.1.4.1):
	// 404 (Not Found).
	statusLIAUnknown = &proxy.StatusError{Code: sip.StatusNotFound, Reason: "Not Found"}
	// TS 24.229 §5.3.2.1: the identity is not registered and has no services for the unregistered state
	// (DIAMETER_ERROR_IDENTITY_NOT_REGISTERED): 480 (Temporarily Unavailable).
	statusLIANotRegistered = &proxy.StatusError{Code: sip.StatusTemporarilyUnavailable, Reason: "Temporarily Unavailable"}
	// The location query could not be completed (HSS unreachable, protocol or transient error); as for REGISTER
	// (TS 24.229 §5.3.1.3) the user is temporarily unreachable: 480, with Retry-After (Router.hssUnavailable).
	statusLIRFailed = &proxy.StatusError{Code: sip.StatusTemporarilyUnavailable, Reason: "Temporarily Unavailable"}
	// A base-protocol authorization rejection: 403.
	statusLIAForbidden = &proxy.StatusError{Code: sip.StatusForbidden, Reason: "Forbidden"}
	// An originating request without an asserted identity names no served user (RFC 3325 §9.1): 403.
	statusNoServedUser = &proxy.StatusError{Code: sip.StatusForbidden, Reason: "Forbidden"}
)

// terminating handles an initial non-REGISTER request.
func (r *Router) terminating(ctx context.Context, req *sip.Request, originating bool, log *zap.Logger) (proxy.Decision, error) {
	var impu string
	var err error
	if originating {
		if impu, err = originatingIdentity(req); err != nil {
			return proxy.Decision{}, withCause(statusNoServedUser, err)
		}
	} else if impu, err = publicIdentity(&req.Recipient); err != nil {
		return proxy.Decision{}, withCause(statusLIAUnknown, err)
	}
	log = log.With(logging.IMPU(impu))
	lir := &cx.LIR{PublicIdentity: impu}
	if originating {
		o := cx.Originating
		lir.OriginatingRequest = &o
	}
	lia, err := r.hss.LocationInfo(ctx, lir)
	if err != nil {
		r.metrics.cx("LIR", "unavailable")
		log.Warn("LIR failed", zap.Error(err))
		return proxy.Decision{}, r.hssUnavailable(statusLIRFailed, err)
	}
	code, vendor := lia.Result()
	r.metrics.cx("LIR", resultName(code, vendor))
	switch classify(code, vendor) {
	case outcomeSuccess:
	case outcomeNegative:
		log.Info("LIA negative", zap.String("result", resultName(code, vendor)))
		switch {
		case vendor == cx.Vendor3GPP && code == cx.ErrorIdentityNotRegistered:
			return proxy.Decision{}, withCause(statusLIANotRegistered, nil)
		case vendor == 0 && code == diameter.AuthorizationRejected:
			return proxy.Decision{}, withCause(statusLIAForbidden, nil)
		}
		return proxy.Decision{}, withCause(statusLIAUnknown, nil)
	default:
		log.Warn("LIA could not be used", zap.String("result", resultName(code, vendor)))
		return proxy.Decision{}, r.hssUnavailable(statusLIRFailed, nil)
	}

	var target candidate
	if lia.ServerName != "" {
		target, err = r.dir.lookup(lia.ServerName)
	} else {
		// DIAMETER_UNREGISTERED_SERVICE (2003) or no S-CSCF assigned yet: choose one from the capabilities
		// (TS 24.229 §5.3.2.1, TS 29.228 §6.1.4.1).
		target, err = r.dir.selectByCapabilities(lia.ServerCapabilities, nil)
	}
	if err != nil {
		log.Warn("no S-CSCF for request", zap.String("server_name", lia.ServerName), zap.Error(err))
		return proxy.Decision{}, withCause(statusLIRFailed, err)
	}
	log.Debug("routing to S-CSCF", zap.String("scscf", target.name), zap.String("result", resultName(code, vendor)))
	if !originating && lia.ServerName != "" {
		// TS 23.380 §5.2.2.2: another S-CSCF if this one has failed (reselect.go).
		a := &terminatingAttempt{r: r, impu: impu, first: target, log: log}
		return a.towards(req, target), nil
	}
	return proxy.Forward(proxy.Target{Route: []sip.Uri{routeTo(target, originating)}, NextHop: nextHop(target)}), nil
}

// originatingIdentity is the served user of an originating request: the P-Asserted-Identity the S-CSCF
// passed on (RFC 3325 §9.1, TS 24.229 §5.3.2.1; its first entry). It is only ever an asserted identity
// from inside the trust domain (the boundary removed any other); the From URI is the sender's word and
// never names the served user.
func originatingIdentity(req *sip.Request) (string, error) {
	if pai, err := header.NameAddrs(req, header.PAssertedIdentity); err == nil && len(pai) > 0 {
		var u sip.Uri
		if err := sip.ParseUri(pai[0].URI, &u); err == nil {
			return publicIdentity(&u)
		}
	}
	return "", ErrNoIdentity
}
