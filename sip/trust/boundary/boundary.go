// Package boundary applies a node's trust domain (sip/trust) to its SIP proxy (sip/proxy): every
// request and response that arrives from outside the domain loses its trust-domain header fields
// before the node's Router reads it, and none leaves towards a peer outside it (RFC 3325 §5, TS 24.229
// §4.4). The I-CSCF and the S-CSCF wrap their Router with Wrap; the rule itself (which peers, which
// header fields) is sip/trust's.
//
// Inbound, a request is judged by the packet source or TCP peer (proxy.Source.Remote), a response by
// the address it was read from (its Source). Outbound, a response goes back to the source of its
// request (RFC 3261 §18.2.2), so it is judged by that source; a forwarded request is judged by its
// next hop when the node knows its address without DNS (an explicit NextHop, or an IP address in the
// top Route or the Request-URI). A next hop named by a host name is resolved by the proxy after the
// Router has decided, and is not judged here.
package boundary

import (
	"context"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/imscore/imscore/internal/logging"
	"github.com/imscore/imscore/sip/header"
	"github.com/imscore/imscore/sip/proxy"
	"github.com/imscore/imscore/sip/trust"
)

// LogBurst bounds the Info lines about strangers: at most this many a second for each kind of line
// (header fields removed, request refused); the rest are dropped and only counted in the metrics. A
// flood from outside the trust domain thus costs a few lines a second, never a full disk.
const LogBurst = 10

// Direction says which way a message crossed the boundary.
type Direction string

// Directions.
const (
	// In is a message that arrived from outside the trust domain.
	In Direction = "in"
	// Out is a message about to leave towards a peer outside it.
	Out Direction = "out"
)

// Boundary is one node's edge of its trust domain. It is safe for concurrent use.
type Boundary struct {
	domain  trust.Domain
	log     *zap.Logger // sampled: LogBurst lines a second per message
	metrics *Metrics
}

// New returns the Boundary of domain. log receives the Info lines (sampled, LogBurst a second per kind)
// and m the counts; either may be nil.
func New(domain trust.Domain, log *zap.Logger, m *Metrics) *Boundary {
	if log == nil {
		log = zap.NewNop()
	}
	log = log.WithOptions(zap.WrapCore(func(c zapcore.Core) zapcore.Core {
		return zapcore.NewSamplerWithOptions(c, time.Second, LogBurst, 0)
	}))
	return &Boundary{domain: domain, log: log, metrics: m}
}

// Domain is the trust domain this Boundary applies.
func (b *Boundary) Domain() trust.Domain { return b.domain }

// Trusts reports whether a peer at ap is inside the trust domain. An unknown address is outside.
func (b *Boundary) Trusts(ap netip.AddrPort) bool {
	return ap.IsValid() && b.domain.Contains(ap.Addr())
}

// Inbound applies the boundary to msg, which arrived from src: from outside the trust domain its
// trust-domain header fields are removed (trust.Strip), logged with the call and the names removed,
// and counted. It reports whether src is inside the trust domain.
func (b *Boundary) Inbound(msg sip.Message, src netip.AddrPort) bool {
	if b.Trusts(src) {
		return true
	}
	if removed := trust.Strip(msg); len(removed) > 0 {
		b.metrics.stripped(In)
		b.log.Info("trust-domain header fields removed from a message from outside the trust domain",
			logging.CallID(callID(msg)), zap.Stringer("source", src), zap.Strings("removed", removed))
	}
	return false
}

// Refuse answers a request that came from outside the trust domain but may only come from inside it:
// 403 (Forbidden), logged (sampled) and counted by reason. why is the rule, with its clause, for the log.
func (b *Boundary) Refuse(req *sip.Request, src netip.AddrPort, reason, why string) (proxy.Decision, error) {
	b.metrics.refused(reason)
	b.log.Info("request from outside the trust domain refused", logging.CallID(callID(req)),
		zap.String("method", string(req.Method)), zap.Stringer("source", src), zap.String("reason", reason),
		zap.String("rule", why))
	return proxy.Respond(sip.StatusForbidden, "Forbidden"), nil
}

// Wrap returns r behind the boundary: each request is passed through Inbound before r.Route sees it,
// and the Decision r returns is guarded on its way out (Guard). The wrapper declares r's option-tags
// when r is a proxy.OptionTagger.
//
// Inbound removes the header fields from the request the proxy passed to Route, before any part of
// the node reads it: the copies the proxy forwards are made from that request, so they go without
// them too.
func (b *Boundary) Wrap(r proxy.Router) proxy.Router {
	w := &router{b: b, r: r}
	if t, ok := r.(proxy.OptionTagger); ok {
		return &taggingRouter{router: w, t: t}
	}
	return w
}

type router struct {
	b *Boundary
	r proxy.Router
}

func (w *router) Route(ctx context.Context, req *sip.Request, src proxy.Source) (proxy.Decision, error) {
	w.b.Inbound(req, src.Remote)
	d, err := w.r.Route(ctx, req, src)
	if err != nil {
		return d, err
	}
	return w.b.Guard(d, req, src), nil
}

type taggingRouter struct {
	*router
	t proxy.OptionTagger
}

func (w *taggingRouter) OptionTags(req *sip.Request) ([]string, bool) { return w.t.OptionTags(req) }

// Guard makes d keep trust-domain header fields inside the trust domain (TS 24.229 §4.4, RFC 3325 §5):
//   - a response from a next hop outside loses them before d's own OnResponse or OnFailure reads it;
//   - when the request came from outside, every response sent back to it, and a Reply, go without them;
//   - when a target's next hop is an address outside, the forwarded copies go without them (the
//     proxy removes a Decision's header fields from all its copies: a fork with one branch outside
//     sends every branch without them);
//   - a further Decision from OnFailure is guarded the same way.
func (b *Boundary) Guard(d proxy.Decision, req *sip.Request, src proxy.Source) proxy.Decision {
	upstreamOut := !b.Trusts(src.Remote)
	if d.Reply != nil {
		if upstreamOut {
			r := *d.Reply
			r.Headers = withoutTrustHeaders(r.Headers)
			d.Reply = &r
		}
		return d
	}
	b.guardTargets(&d, req)
	inner := d.OnResponse
	d.OnResponse = func(res *sip.Response, generated bool) {
		if !generated {
			b.inboundResponse(res)
		}
		if inner != nil {
			inner(res, generated)
		}
		if upstreamOut && len(trust.Strip(res)) > 0 {
			b.metrics.stripped(Out)
		}
	}
	if f := d.OnFailure; f != nil {
		d.OnFailure = func(ctx context.Context, req *sip.Request, best *sip.Response, generated bool) (*proxy.Decision, error) {
			if !generated {
				b.inboundResponse(best)
			}
			next, err := f(ctx, req, best, generated)
			if next != nil {
				g := b.Guard(*next, req, src)
				next = &g
			}
			return next, err
		}
	}
	return d
}

// inboundResponse applies Inbound to a response read from the network, by the address it came from.
func (b *Boundary) inboundResponse(res *sip.Response) {
	src, err := netip.ParseAddrPort(res.Source())
	if err != nil {
		return // made by this node (no source): nothing from outside in it
	}
	b.Inbound(res, netip.AddrPortFrom(src.Addr().Unmap(), src.Port()))
}

// guardTargets removes the trust-domain header fields from d's copies when a next hop is outside.
func (b *Boundary) guardTargets(d *proxy.Decision, req *sip.Request) {
	targets := d.Targets
	if len(targets) == 0 {
		targets = []proxy.Target{{}} // the proxy forwards by Route and Request-URI
	}
	var outside netip.Addr
	for i := range targets {
		if a, ok := nextHopAddr(req, &targets[i]); ok && !b.domain.Contains(a) {
			outside = a
			break
		}
	}
	if !outside.IsValid() {
		return
	}
	if slices.ContainsFunc(trust.Headers(), func(h string) bool { return header.Has(req, h) }) {
		b.metrics.stripped(Out)
		b.log.Debug("trust-domain header fields not forwarded: next hop outside the trust domain",
			logging.CallID(callID(req)), zap.Stringer("next_hop", outside))
	}
	for _, h := range trust.Headers() {
		if !slices.ContainsFunc(d.RemoveHeaders, func(r string) bool { return header.SameName(r, h) }) {
			d.RemoveHeaders = append(d.RemoveHeaders, h)
		}
	}
	d.AddHeaders = withoutTrustHeaders(d.AddHeaders)
	if len(d.Targets) > 0 {
		ts := slices.Clone(d.Targets)
		for i := range ts {
			ts[i].AddHeaders = withoutTrustHeaders(ts[i].AddHeaders)
		}
		d.Targets = ts
	}
}

// Outside reports whether u names, by its IP address, a peer outside the trust domain: a node the
// trust-domain header fields must not reach, also inside a body (a message/sip copy). A URI naming a
// host is not judged (false).
func (b *Boundary) Outside(u *sip.Uri) bool {
	a, ok := uriAddr(u)
	return ok && !b.domain.Contains(a)
}

// nextHopAddr is the address a copy for t goes to when it is known without DNS (RFC 3261 §16.6 steps
// 6–7: an explicit next hop, else the top Route, else the Request-URI).
func nextHopAddr(req *sip.Request, t *proxy.Target) (netip.Addr, bool) {
	if t.NextHop != nil && t.NextHop.Addr.IsValid() {
		return t.NextHop.Addr.Addr().Unmap(), true
	}
	switch {
	case len(t.Route) > 0:
		return uriAddr(&t.Route[0])
	case header.TopRoute(req) != nil:
		return uriAddr(&req.Route().Address)
	case t.URI != nil:
		return uriAddr(t.URI)
	}
	return uriAddr(&req.Recipient)
}

// uriAddr is the IP address a SIP URI names as its host, if it names one.
func uriAddr(u *sip.Uri) (netip.Addr, bool) {
	if !strings.EqualFold(u.Scheme, "sip") && !strings.EqualFold(u.Scheme, "sips") {
		return netip.Addr{}, false
	}
	a, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(u.Host, "["), "]"))
	if err != nil {
		return netip.Addr{}, false
	}
	return a.Unmap(), true
}

// withoutTrustHeaders returns hs without trust-domain header fields (a new slice when one is dropped).
func withoutTrustHeaders(hs []sip.Header) []sip.Header {
	isTrust := func(h sip.Header) bool {
		return h != nil && slices.ContainsFunc(trust.Headers(), func(n string) bool { return header.SameName(n, h.Name()) })
	}
	if !slices.ContainsFunc(hs, isTrust) {
		return hs
	}
	return slices.DeleteFunc(slices.Clone(hs), isTrust)
}

func callID(msg sip.Message) string {
	if h := msg.CallID(); h != nil {
		return h.Value()
	}
	return ""
}

// Metrics are a node's boundary counters, named after the node ("icscf" gives
// icscf_trust_domain_stripped_total and icscf_trust_domain_refused_total). A nil *Metrics counts
// nothing.
type Metrics struct {
	strippedTotal *prometheus.CounterVec
	refusedTotal  *prometheus.CounterVec
}

// NewMetrics makes the counters of node; register them with Collectors.
func NewMetrics(node string) *Metrics {
	return &Metrics{
		strippedTotal: prometheus.NewCounterVec(prometheus.CounterOpts{Name: node + "_trust_domain_stripped_total",
			Help: "SIP messages whose trust-domain header fields (P-Asserted-Identity, ...) were removed at the " +
				"trust domain boundary: direction in (arrived from outside), out (about to leave)."},
			[]string{"direction"}),
		refusedTotal: prometheus.NewCounterVec(prometheus.CounterOpts{Name: node + "_trust_domain_refused_total",
			Help: "Requests refused (403) because they came from outside the trust domain, by reason."},
			[]string{"reason"}),
	}
}

// Collectors are the counters to register.
func (m *Metrics) Collectors() []prometheus.Collector {
	return []prometheus.Collector{m.strippedTotal, m.refusedTotal}
}

func (m *Metrics) stripped(d Direction) {
	if m != nil {
		m.strippedTotal.WithLabelValues(string(d)).Inc()
	}
}

func (m *Metrics) refused(reason string) {
	if m != nil {
		m.refusedTotal.WithLabelValues(reason).Inc()
	}
}

var (
	_ proxy.Router       = (*router)(nil)
	_ proxy.OptionTagger = (*taggingRouter)(nil)
)
