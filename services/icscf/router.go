package icscf

import (
	"context"
	"time"

	"github.com/emiago/sipgo/sip"
	"go.uber.org/zap"

	"github.com/imscore/imscore/internal/logging"
	"github.com/imscore/imscore/sip/proxy"
	"github.com/imscore/imscore/sip/trust/boundary"
)

// Router is the I-CSCF's routing logic, plugged into sip/proxy.
type Router struct {
	hss            HSS
	dir            *directory
	domain         string
	attemptTimeout time.Duration
	maxAttempts    int
	retryAfter     time.Duration // Retry-After of the 480 when the HSS cannot be asked
	metrics        *metrics
	log            *zap.Logger
	// edge is the boundary of the trust domain: the Router is always wrapped by it (Run), and asks it
	// whether a request came from inside.
	edge *boundary.Boundary
	// exit routes requests for other networks' domains (nil: off, exit.go).
	exit *exit
}

// routerConfig is what newRouter needs.
type routerConfig struct {
	hss            HSS
	scscfs         []SCSCF
	domain         string
	attemptTimeout time.Duration
	maxAttempts    int
	retryAfter     time.Duration
	metrics        *metrics
	log            *zap.Logger
	edge           *boundary.Boundary
	exit           *exit
}

func newRouter(rc routerConfig) (*Router, error) {
	dir, err := newDirectory(rc.scscfs)
	if err != nil {
		return nil, err
	}
	if rc.log == nil {
		rc.log = zap.NewNop()
	}
	return &Router{hss: rc.hss, dir: dir, domain: rc.domain, attemptTimeout: rc.attemptTimeout,
		maxAttempts: max(rc.maxAttempts, 1), retryAfter: rc.retryAfter, metrics: rc.metrics, log: rc.log, edge: rc.edge,
		exit: rc.exit}, nil
}

// Route implements proxy.Router: REGISTER per TS 24.229 §5.3.1, initial requests per §5.3.2, anything in a
// dialog (the I-CSCF does not Record-Route, so such requests are not for it to decide) by its Route set and
// Request-URI. The boundary of the trust domain (r.edge, which wraps the Router) has already removed the
// trust-domain header fields of a request from outside it.
func (r *Router) Route(ctx context.Context, req *sip.Request, src proxy.Source) (proxy.Decision, error) {
	log := r.log.With(logging.CallID(callID(req)), zap.String("method", string(req.Method)))
	switch {
	case req.Method == sip.REGISTER && !r.edge.Trusts(src.Remote):
		// TS 24.229 §5.3.1.2: "If the request has not arrived from a trusted domain, the I-CSCF shall complete
		// the processing of the request by responding with 403 (Forbidden) response." Its Path,
		// P-Visited-Network-ID and Authorization (integrity-protected) are the P-CSCF's word.
		return r.edge.Refuse(req, src.Remote, "register", "TS 24.229 §5.3.1.2: REGISTER only from a trusted domain")
	case req.Method == sip.REGISTER:
		return r.register(ctx, req, log)
	case req.Method == sip.OPTIONS && req.Recipient.User == "" && len(req.GetHeaders("Route")) == 0:
		// An OPTIONS for a host, not a user, is for this node: the keep-alive probe a P-CSCF, an S-CSCF or a load
		// balancer sends. Answer it (RFC 3261 §11.2) instead of asking the HSS about a host name.
		return proxy.Respond(sip.StatusOK, "OK", sip.NewHeader("Allow", "INVITE, ACK, CANCEL, BYE, OPTIONS, REGISTER, "+
			"MESSAGE, SUBSCRIBE, NOTIFY, PRACK, UPDATE, INFO, REFER, PUBLISH")), nil
	case req.Method == sip.ACK || inDialog(req):
		return r.forwardByRoute(req), nil
	case src.ConsumedRoute != nil && src.ConsumedRoute.UriParams.Has("orig") && !r.edge.Trusts(src.Remote):
		// TS 24.229 §5.3.2.1: "orig" is an S-CSCF of this network asking for a served user's originating
		// procedures. From outside the trust domain it is no S-CSCF of ours, and no asserted identity came
		// with it (RFC 3325 §5): nobody to serve.
		return r.edge.Refuse(req, src.Remote, "originating", "TS 24.229 §5.3.2.1: orig only from an S-CSCF of the trust domain")
	case src.ConsumedRoute != nil && src.ConsumedRoute.UriParams.Has("orig"):
		// TS 24.229 §5.3.2.1: an S-CSCF sends an originating request for an unregistered user's services to
		// the I-CSCF with "orig" in the Route; the LIR says so (Originating-Request, TS 29.229 §6.3.34).
		return r.terminating(ctx, req, true, log)
	case len(req.GetHeaders("Route")) > 0:
		// A pre-loaded route past this node: it names the next hop already.
		return r.forwardByRoute(req), nil
	case r.exit != nil && r.exit.foreign(req.Recipient) && r.edge.Trusts(src.Remote):
		// TS 24.229 §5.10.2 (the exit point): a request of the home network for another network's domain
		// leaves through this border, to that network's I-CSCF (exit.go); the HSS knows nothing of it.
		return r.exit.route(ctx, req, log)
	}
	return r.terminating(ctx, req, false, log)
}

func callID(req *sip.Request) string {
	if h := req.CallID(); h != nil {
		return h.Value()
	}
	return ""
}

func inDialog(req *sip.Request) bool {
	to := req.To()
	return to != nil && to.Params.Has("tag")
}

// forwardByRoute forwards req by its Route set and Request-URI (RFC 3261 §16.6 step 7). When the top Route
// names a configured S-CSCF (a Service-Route or Record-Route entry of ours), its configured address is used, as
// for requests the I-CSCF routes itself: S-CSCF names need no DNS.
func (r *Router) forwardByRoute(req *sip.Request) proxy.Decision {
	routes := req.GetHeaders("Route")
	if len(routes) == 0 {
		return proxy.Forward()
	}
	rh, ok := routes[0].(*sip.RouteHeader)
	if !ok {
		return proxy.Forward()
	}
	c, found := r.dir.configured(rh.Address)
	if !found || !c.addr.IsValid() {
		return proxy.Forward()
	}
	return proxy.Forward(proxy.Target{NextHop: nextHop(c)})
}

// routeTo is the Route value that sends a request to the S-CSCF c (RFC 3261 §16.6 step 3, loose routing).
func routeTo(c candidate, orig bool) sip.Uri {
	u := *c.uri.Clone()
	u.UriParams = u.UriParams.Clone()
	u.Headers = nil
	u.UriParams.Add("lr", "")
	if orig {
		u.UriParams.Add("orig", "")
	}
	return u
}

// nextHop is where the S-CSCF's configured address says to send, nil to resolve its URI.
func nextHop(c candidate) *proxy.NextHop {
	if !c.addr.IsValid() {
		return nil
	}
	transport := ""
	if t, ok := c.uri.UriParams.Get("transport"); ok {
		transport = t
	}
	if transport != "" {
		switch transport {
		case "tcp", "TCP":
			transport = "TCP"
		default:
			transport = "UDP"
		}
	}
	return &proxy.NextHop{Transport: transport, Addr: c.addr}
}

var _ proxy.Router = (*Router)(nil)
