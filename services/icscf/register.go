package icscf

// REGISTER at the I-CSCF: TS 24.229 §5.3.1 (DESIGN.md §4 step 3). The HSS is asked with a
// User-Authorization-Request (TS 29.228 §6.1.1, TS 29.229 §6.1.1) and the REGISTER goes to the S-CSCF it names
// or one chosen from the capabilities it returns.

import (
	"context"
	"errors"
	"strings"

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
	// Unavailable) response to the UE."
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

	var caps *cx.ServerCapabilities // from the REGISTRATION_AND_CAPABILITIES query, once made
	for attempt := 1; ; attempt++ {
		res, err := r.forwardRegister(ctx, req, target)
		if err == nil {
			log.Debug("REGISTER answered", zap.String("scscf", target.name), zap.Int("code", res.StatusCode))
			r.metrics.register("forwarded")
			return proxy.Decision{Reply: replyFrom(res)}, nil
		}
		if ctx.Err() != nil || errors.Is(err, proxy.ErrClosed) {
			return proxy.Decision{}, err
		}
		tried[target.key] = true
		r.metrics.failover()
		log.Warn("S-CSCF did not answer REGISTER", zap.String("scscf", target.name), zap.Int("attempt", attempt),
			zap.Error(err))
		if attempt >= r.maxAttempts {
			r.metrics.register("no_answer")
			return proxy.Decision{}, withCause(statusNoSCSCFAnswered, err)
		}
		// TS 24.229 §5.3.1.3: the I-CSCF asks the HSS again with User-Authorization-Type
		// REGISTRATION_AND_CAPABILITIES and selects a new S-CSCF from the capabilities returned.
		if caps == nil {
			withCaps := cx.UATRegistrationAndCapabilities
			capsUAR := &cx.UAR{UserName: impi, PublicIdentity: impu, VisitedNetworkIdentifier: uar.VisitedNetworkIdentifier,
				UserAuthorizationType: &withCaps}
			capsUAA, se := r.userAuthorization(ctx, capsUAR, log)
			if se != nil {
				return proxy.Decision{}, se
			}
			caps = capsUAA.ServerCapabilities
			if caps == nil {
				caps = &cx.ServerCapabilities{}
			}
		}
		target, err = r.dir.selectByCapabilities(caps, tried)
		if err != nil {
			r.metrics.register("no_answer")
			return proxy.Decision{}, withCause(statusNoSCSCFAnswered, err)
		}
	}
}

// userAuthorization sends a UAR and maps a failed query or a negative answer to the SIP response it calls for.
func (r *Router) userAuthorization(ctx context.Context, uar *cx.UAR, log *zap.Logger) (*cx.UAA, *proxy.StatusError) {
	uaa, err := r.hss.UserAuthorization(ctx, uar)
	if err != nil {
		r.metrics.cx("UAR", "unavailable")
		r.metrics.register("hss_unavailable")
		log.Warn("UAR failed", zap.Error(err))
		return nil, withCause(statusUARFailed, err)
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
		return nil, withCause(statusUARFailed, nil)
	}
}

// forwardRegister sends a copy of the REGISTER to the S-CSCF c (RFC 3261 §16.6 steps 1-3: copy, Max-Forwards,
// pre-loaded Route) and waits at most attemptTimeout for its final response. The I-CSCF keeps the transaction
// with the P-CSCF open meanwhile, so that another S-CSCF can be tried when this one does not answer.
func (r *Router) forwardRegister(ctx context.Context, req *sip.Request, c candidate) (*sip.Response, error) {
	fwd := req.Clone()
	if mf := fwd.MaxForwards(); mf != nil {
		mf.Dec()
	}
	route := routeTo(c, false)
	fwd.PrependHeader(&sip.RouteHeader{Address: route})
	var opts []proxy.SendOption
	if hop := nextHop(c); hop != nil {
		opts = append(opts, proxy.WithNextHop(*hop))
	}
	actx, cancel := context.WithTimeout(ctx, r.attemptTimeout)
	defer cancel()
	res, err := r.sender.Send(actx, fwd, opts...)
	if err != nil {
		return nil, err
	}
	if res.StatusCode == sip.StatusServiceUnavailable {
		// RFC 3261 §16.7: a 503 says that S-CSCF cannot serve now; it is never passed upstream as is.
		return nil, &proxy.StatusError{Code: res.StatusCode, Reason: res.Reason}
	}
	return res, nil
}

// replyFrom turns the S-CSCF's response into the I-CSCF's answer upstream: status, reason, body and every
// header field but those the answer takes from the request being answered (Via, From, To, Call-ID, CSeq,
// RFC 3261 §8.2.6.2) and Content-Length, which is recomputed.
func replyFrom(res *sip.Response) *proxy.Reply {
	rep := &proxy.Reply{Code: res.StatusCode, Reason: res.Reason}
	for _, h := range res.Headers() {
		switch {
		case header.SameName(h.Name(), "Via"), header.SameName(h.Name(), "From"), header.SameName(h.Name(), "To"),
			header.SameName(h.Name(), "Call-ID"), header.SameName(h.Name(), "CSeq"),
			header.SameName(h.Name(), "Content-Length"), strings.EqualFold(h.Name(), "Record-Route"):
			continue
		}
		rep.Headers = append(rep.Headers, sip.HeaderClone(h))
	}
	if b := res.Body(); len(b) > 0 {
		rep.Body = append([]byte(nil), b...)
	}
	return rep
}

// withCause copies a StatusError template and attaches the cause (logged by the proxy, never sent).
func withCause(se *proxy.StatusError, err error) *proxy.StatusError {
	c := *se
	c.Err = err
	return &c
}
