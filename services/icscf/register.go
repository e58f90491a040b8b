package icscf

// REGISTER at the I-CSCF: TS 24.229 §5.3.1 (docs/design.md §4 step 3). The HSS is asked with a
// User-Authorization-Request (TS 29.228 §6.1.1, TS 29.229 §6.1.1) and the REGISTER goes to the S-CSCF it names
// or one chosen from the capabilities it returns.

import (
	"context"
	"errors"
	"slices"

	"github.com/emiago/sipgo/sip"
	"go.uber.org/zap"

	"github.com/imscore/imscore/diameter/cx"
	"github.com/imscore/imscore/internal/logging"
	"github.com/imscore/imscore/sip/header"
	"github.com/imscore/imscore/sip/proxy"
)

// SIP answers the I-CSCF gives for a REGISTER it cannot forward.
var (
	// TS 24.229 §5.3.1.2: "If the HSS sends a negative response to the user registration status query request,
	// the I-CSCF shall send back a 403 (Forbidden) response." This covers DIAMETER_ERROR_USER_UNKNOWN (5001),
	// IDENTITIES_DONT_MATCH (5002), IDENTITY_NOT_REGISTERED (5003, a de-registration of an identity without
	// an S-CSCF) and ROAMING_NOT_ALLOWED (5004) alike: a REGISTER never gets 404 from the I-CSCF.
	statusUAANegative = &proxy.StatusError{Code: sip.StatusForbidden, Reason: "Forbidden"}
	// TS 24.229 §5.3.1.3: "If the user registration status query procedure cannot be completed, e.g. due to
	// time-out or incorrect information from the HSS, the I-CSCF shall send back a 480 (Temporarily
	// Unavailable) response to the UE." It goes with a Retry-After (RFC 3261 §20.33 allows one on a 480), see
	// Router.hssUnavailable. It is 480 and not 503 on purpose: the clause says so, and a 503 would not reach
	// the UE anyway, since the P-CSCF, as any proxy, relays no 503 upstream (RFC 3261 §16.7 step 6: it would
	// answer 500, without the Retry-After).
	statusUARFailed = &proxy.StatusError{Code: sip.StatusTemporarilyUnavailable, Reason: "Temporarily Unavailable"}
	// TS 24.229 §5.3.1.2: no S-CSCF fulfils the capabilities the HSS asked for: 600 (Busy Everywhere).
	statusNoSCSCF = &proxy.StatusError{Code: sip.StatusGlobalBusyEverywhere, Reason: "Busy Everywhere"}
	// TS 24.229 §5.3.1.3: every S-CSCF tried failed to answer the REGISTER; RFC 3261 §21.5.5: a server this one
	// needed did not answer in time.
	statusNoSCSCFAnswered = &proxy.StatusError{Code: sip.StatusGatewayTimeout, Reason: "Server Time-out"}
	// The REGISTER names no public identity the HSS could be asked about (RFC 3261 §10.3 step 3 cannot run).
	statusBadIdentity = &proxy.StatusError{Code: sip.StatusBadRequest, Reason: "Bad Request"}
)

// register handles one REGISTER.
func (r *Router) register(ctx context.Context, req *sip.Request, log *zap.Logger) (proxy.Decision, error) {
	to := req.To()
	if to == nil {
		return proxy.Decision{}, statusBadIdentity
	}
	impu, err := publicIdentity(&to.Address)
	if err != nil {
		return proxy.Decision{}, withCause(statusBadIdentity, err)
	}
	impi := privateIdentity(req, impu, r.domain)
	log = log.With(logging.IMPU(impu), logging.IMPI(impi))
	uat := cx.UATRegistration
	if isDeregistration(req) {
		uat = cx.UATDeRegistration // TS 24.229 §5.3.1.2: registration expiration interval of zero
	}
	uar := &cx.UAR{UserName: impi, PublicIdentity: impu,
		VisitedNetworkIdentifier: []byte(visitedNetwork(req, r.domain)), UserAuthorizationType: &uat}
	uaa, se := r.userAuthorization(ctx, uar, log)
	if se != nil {
		return proxy.Decision{}, se
	}

	tried := make(map[string]bool)
	var target candidate
	if uaa.ServerName != "" {
		target, err = r.dir.lookup(uaa.ServerName)
	} else {
		target, err = r.dir.selectByCapabilities(uaa.ServerCapabilities, tried)
	}
	if err != nil {
		log.Warn("no S-CSCF for REGISTER", zap.String("server_name", uaa.ServerName), zap.Error(err))
		r.metrics.register("no_scscf")
		return proxy.Decision{}, withCause(statusNoSCSCF, err)
	}

	a := &registerAttempts{r: r, uar: uar, tried: tried, log: log}
	return a.towards(target), nil
}

// registerAttempts is one REGISTER's search for an S-CSCF that answers (TS 24.229 §5.3.1.3). The proxy
// forwards the REGISTER to one S-CSCF at a time (serial forwarding) and keeps the transaction with the P-CSCF
// open meanwhile; the S-CSCF's responses go upstream as they are, its To tag and challenges included.
type registerAttempts struct {
	r       *Router
	uar     *cx.UAR
	tried   map[string]bool
	attempt int
	current candidate
	caps    *cx.ServerCapabilities // from the REGISTRATION_AND_CAPABILITIES query, once made
	log     *zap.Logger
}

// towards forwards the REGISTER to c (RFC 3261 §16.6: pre-loaded Route, or c's configured address), giving up
// on it when it does not answer within attemptTimeout.
func (a *registerAttempts) towards(c candidate) proxy.Decision {
	a.attempt++
	a.current = c
	d := proxy.Forward(proxy.Target{Route: []sip.Uri{routeTo(c, false)}, NextHop: nextHop(c),
		NoResponseTimeout: a.r.attemptTimeout})
	d.OnFailure = a.onFailure
	d.OnResponse = func(res *sip.Response, generated bool) {
		if res.StatusCode >= 200 && !generated {
			a.r.metrics.register("forwarded")
		}
	}
	return d
}

// onFailure judges the S-CSCF's failure: no answer (408 made by the proxy), unreachable, or a 503 (both become
// a generated 500 under RFC 3261 §16.7) is the S-CSCF failing, and TS 24.229 §5.3.1.3 has the I-CSCF ask the
// HSS again with REGISTRATION_AND_CAPABILITIES and select another S-CSCF. Any other answer is the S-CSCF's
// and goes upstream.
func (a *registerAttempts) onFailure(ctx context.Context, _ *sip.Request, best *sip.Response, generated bool) (*proxy.Decision, error) {
	if !generated || best.StatusCode != sip.StatusRequestTimeout && best.StatusCode != sip.StatusInternalServerError {
		return nil, nil
	}
	r := a.r
	a.tried[a.current.key] = true
	r.metrics.failover()
	a.log.Warn("S-CSCF did not answer REGISTER", zap.String("scscf", a.current.name), zap.Int("attempt", a.attempt),
		zap.Int("treated_as", best.StatusCode))
	if a.attempt >= r.maxAttempts {
		r.metrics.register("no_answer")
		return nil, withCause(statusNoSCSCFAnswered, errors.New("maximum attempts reached"))
	}
	if a.caps == nil {
		withCaps := cx.UATRegistrationAndCapabilities
		capsUAR := &cx.UAR{UserName: a.uar.UserName, PublicIdentity: a.uar.PublicIdentity,
			VisitedNetworkIdentifier: a.uar.VisitedNetworkIdentifier, UserAuthorizationType: &withCaps}
		capsUAA, se := r.userAuthorization(ctx, capsUAR, a.log)
		if se != nil {
			return nil, se
		}
		a.caps = capsUAA.ServerCapabilities
		if a.caps == nil {
			a.caps = &cx.ServerCapabilities{}
		}
	}
	next, err := r.dir.selectByCapabilities(a.caps, a.tried)
	if err != nil {
		r.metrics.register("no_answer")
		return nil, withCause(statusNoSCSCFAnswered, err)
	}
	d := a.towards(next)
	return &d, nil
}

// userAuthorization sends a UAR and maps a failed query or a negative answer to the SIP response it calls for.
func (r *Router) userAuthorization(ctx context.Context, uar *cx.UAR, log *zap.Logger) (*cx.UAA, *proxy.StatusError) {
	uaa, err := r.hss.UserAuthorization(ctx, uar)
	if err != nil {
		r.metrics.cx("UAR", "unavailable")
		r.metrics.register("hss_unavailable")
		log.Warn("UAR failed", zap.Error(err))
		return nil, r.hssUnavailable(statusUARFailed, err)
	}
	code, vendor := uaa.Result()
	r.metrics.cx("UAR", resultName(code, vendor))
	switch classify(code, vendor) {
	case outcomeSuccess:
		log.Debug("UAA", zap.String("result", resultName(code, vendor)), zap.String("server_name", uaa.ServerName))
		return uaa, nil
	case outcomeNegative:
		log.Info("REGISTER refused by HSS", zap.String("result", resultName(code, vendor)))
		r.metrics.register("forbidden")
		return nil, withCause(statusUAANegative, nil)
	default:
		log.Warn("UAA could not be used", zap.String("result", resultName(code, vendor)))
		r.metrics.register("hss_unavailable")
		return nil, r.hssUnavailable(statusUARFailed, nil)
	}
}

// hssUnavailable is the 480 answered when a Cx query could not be completed (TS 24.229 §5.3.1.3, §5.3.2.1),
// with a Retry-After (RFC 3261 §20.33) so that the UE keeps off for a while instead of retrying at once. While
// no HSS connection is usable (diameter/peer: none open, or each routed around after timeouts) the query
// fails without waiting, so the answer goes out at once.
func (r *Router) hssUnavailable(se *proxy.StatusError, err error) *proxy.StatusError {
	c := withCause(se, err)
	if r.retryAfter > 0 {
		c.Headers = append(slices.Clone(c.Headers), header.RetryAfter(r.retryAfter))
	}
	return c
}

// withCause copies a StatusError template and attaches the cause (logged by the proxy, never sent).
func withCause(se *proxy.StatusError, err error) *proxy.StatusError {
	c := *se
	c.Err = err
	return &c
}
