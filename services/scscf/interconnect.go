package scscf

// Callees outside the home network, TS 24.229 §5.4.3.2 step 10 (docs/interconnect.md): once the originating
// services ran, a request whose callee this network does not serve leaves it.
//
//   - A telephone number (a tel URI, or a SIP URI with user=phone and a global number) is translated by ENUM
//     (RFC 6116, RFC 3764, Config.Interconnect.ENUMSuffix); the URI found replaces the Request-URI and is
//     routed as below. A number ENUM does not know goes to the BGCF function (TS 24.229 §5.6, services/bgcf),
//     which picks the PSTN gateway or SIP trunk by the number's longest prefix; without one the caller gets
//     404 or 604.
//   - A SIP URI of another domain goes to the configured transit function or IBCF (Interconnect.Transit), else
//     to that domain's I-CSCF, found by DNS from the Request-URI (RFC 3263, sip/resolve) and tried in order
//     with failover (RFC 3263 §4.3, proxy Target.Failover).
//   - A SIP URI of the home network (Domain, Interconnect.Domains) goes on as before: terminating here, or the
//     I-CSCF (ICSCF).

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/emiago/sipgo/sip"
	"go.uber.org/zap"

	"github.com/imscore/imscore/services/bgcf"
	"github.com/imscore/imscore/sip/identity"
	"github.com/imscore/imscore/sip/proxy"
	"github.com/imscore/imscore/sip/resolve"
)

// InterconnectConfig routes callees of other networks and telephone numbers (TS 24.229 §5.4.3.2 step 10).
type InterconnectConfig struct {
	// Enabled turns the interconnect routing on. Off (the default): every callee not served here goes to ICSCF,
	// as in a single network.
	Enabled bool `yaml:"enabled"`
	// DNS is the resolver for other domains' I-CSCFs and ENUM (sip/resolve.Config: servers, timeout, attempts,
	// transports, caches, blacklist_for; its static entries answer for a domain without DNS). Default: the
	// servers of /etc/resolv.conf, UDP then TCP.
	DNS resolve.Config `yaml:"dns"`
	// Domains are further domains of the home network besides Domain: their callees are routed as Domain's.
	Domains []string `yaml:"domains"`
	// Transit, when set, is the SIP URI of an IBCF or transit function (TS 24.229 §5.10, §5.11) that every
	// request for another network goes through, as a loose Route on top; the Request-URI names the callee.
	// Empty (the default): straight to the other domain's I-CSCF by DNS.
	Transit string `yaml:"transit"`
	// ENUMSuffix is the ENUM tree telephone numbers are looked up in (RFC 6116 §2.4). Default e164.arpa;
	// "none" skips ENUM: every number breaks out through the BGCF.
	ENUMSuffix string `yaml:"enum_suffix"`
	// BGCF is the break-out table (services/bgcf.Config: routes of prefix and gateway, no_route_code 404 or 604).
	BGCF bgcf.Config `yaml:"bgcf"`
}

// enumNone as ENUMSuffix skips ENUM.
const enumNone = "none"

// validate reports the section's bad fields.
func (c InterconnectConfig) validate() []error {
	var errs []error
	if err := c.DNS.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("interconnect.dns: %w", err))
	}
	if c.Transit != "" {
		var u sip.Uri
		if err := sip.ParseUri(c.Transit, &u); err != nil || u.Scheme != "sip" || u.Host == "" {
			errs = append(errs, fmt.Errorf("interconnect.transit: %q is no sip: URI", c.Transit))
		}
	}
	if err := c.BGCF.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("interconnect.%w", err))
	}
	return errs
}

// interconnect is the S-CSCF's routing out of the home network.
type interconnect struct {
	cfg      InterconnectConfig
	resolver *resolve.Resolver
	bgcf     *bgcf.Table
	transit  *sip.Uri
	domains  map[string]bool // home domains, lower case
	log      *zap.Logger
}

func newInterconnect(cfg InterconnectConfig, home string, log *zap.Logger) (*interconnect, error) {
	r, err := resolve.New(cfg.DNS, log.Named("dns"))
	if err != nil {
		return nil, fmt.Errorf("interconnect.dns: %w", err)
	}
	tab, err := bgcf.New(cfg.BGCF)
	if err != nil {
		return nil, fmt.Errorf("interconnect: %w", err)
	}
	ic := &interconnect{cfg: cfg, resolver: r, bgcf: tab, domains: map[string]bool{strings.ToLower(home): true}, log: log}
	for _, d := range cfg.Domains {
		ic.domains[strings.ToLower(d)] = true
	}
	if cfg.Transit != "" {
		var u sip.Uri
		if err := sip.ParseUri(cfg.Transit, &u); err != nil {
			return nil, fmt.Errorf("interconnect.transit: %w", err)
		}
		if u.UriParams == nil {
			u.UriParams = sip.NewParams()
		}
		if !u.UriParams.Has("lr") {
			u.UriParams.Add("lr", "") // RFC 3261 §16.6 step 3: a pre-loaded Route is a loose route
		}
		ic.transit = &u
	}
	return ic, nil
}

// Answers of the interconnect routing.
var (
	// The callee's domain has no SIP server (RFC 3263 failed): RFC 3261 §16.6 step 7 leaves the code open;
	// 404, as the callee cannot be found.
	statusNoDomain = &proxy.StatusError{Code: sip.StatusNotFound, Reason: "Not Found"}
	// DNS did not answer (RFC 3261 §21.5.5).
	statusDNSTimeout = &proxy.StatusError{Code: sip.StatusGatewayTimeout, Reason: "Server Time-out"}
)

// globalNumber is the E.164 number a Request-URI carries ("+" and digits), "" for none: a tel URI with a global
// number, or a SIP URI with user=phone (RFC 3261 §19.1.6) whose user part is one (identity.URIKey normalises
// both to "tel:+digits").
func globalNumber(u *sip.Uri) string {
	if !strings.EqualFold(u.Scheme, "tel") && !(strings.EqualFold(u.Scheme, "sip") || strings.EqualFold(u.Scheme, "sips")) {
		return ""
	}
	if n, ok := strings.CutPrefix(identity.URIKey(u), "tel:+"); ok && !strings.Contains(n, ";") {
		return "+" + n
	}
	return ""
}

// isHome reports a SIP URI of the home network.
func (ic *interconnect) isHome(u *sip.Uri) bool { return ic.domains[strings.ToLower(u.Host)] }

// routeOut decides for a callee this node does not serve (after the originating services). handled is false when
// the callee is the home network's: the caller goes on with the single-network routing, with uri as the
// Request-URI when ENUM gave a new one.
func (s *Server) routeOut(ctx context.Context, req *sip.Request, log *zap.Logger) (d proxy.Decision, handled bool, err error) {
	ic := s.interconnect
	uri := req.Recipient
	if number := globalNumber(&uri); number != "" {
		log = log.With(zap.String("number", number))
		translated, err := ic.enum(ctx, number)
		switch {
		case errors.Is(err, resolve.ErrNotFound):
			// TS 24.229 §5.4.3.2 step 10: no ENUM entry: the BGCF breaks out to the PSTN (§5.6.2).
			d, err := s.breakout(ctx, number, log)
			return d, true, err
		case err != nil:
			log.Warn("ENUM lookup failed", zap.Error(err))
			return proxy.Decision{}, true, withCause(statusDNSTimeout, err)
		}
		log.Debug("ENUM translated the callee", zap.String("uri", translated.String()))
		if ic.isHome(&translated) {
			// A number of the home network: its I-CSCF finds the serving S-CSCF (TS 24.229 §5.4.3.2).
			d, err := s.towardsICSCF(ctx, req)
			for i := range d.Targets {
				d.Targets[i].URI = &translated
			}
			return d, true, err
		}
		d, err := s.toDomain(ctx, &translated, true, log)
		return d, true, err
	}
	if strings.EqualFold(uri.Scheme, "tel") || ic.isHome(&uri) {
		return proxy.Decision{}, false, nil
	}
	d, err = s.toDomain(ctx, &uri, false, log)
	return d, true, err
}

// enum translates a number by ENUM (RFC 6116), ErrNotFound when skipped or unknown.
func (ic *interconnect) enum(ctx context.Context, number string) (sip.Uri, error) {
	if strings.EqualFold(ic.cfg.ENUMSuffix, enumNone) {
		return sip.Uri{}, fmt.Errorf("enum off: %w", resolve.ErrNotFound)
	}
	s, err := ic.resolver.ENUM(ctx, number, ic.cfg.ENUMSuffix)
	if err != nil {
		return sip.Uri{}, err
	}
	var u sip.Uri
	if err := sip.ParseUri(s, &u); err != nil {
		return sip.Uri{}, fmt.Errorf("enum %s gave %q: %w: %w", number, s, err, resolve.ErrNotFound)
	}
	return u, nil
}

// toDomain forwards towards another network (TS 24.229 §5.4.3.2 step 10): through the transit function or
// IBCF when one is configured, else to the I-CSCF the callee's domain publishes in DNS. rewrite sets the
// Request-URI to uri (an ENUM result).
func (s *Server) toDomain(ctx context.Context, uri *sip.Uri, rewrite bool, log *zap.Logger) (proxy.Decision, error) {
	ic := s.interconnect
	var t proxy.Target
	if rewrite {
		t.URI = uri
	}
	next := uri
	if ic.transit != nil {
		t.Route = []sip.Uri{*ic.transit}
		next = ic.transit
	}
	q, err := resolve.QueryFromURI(*next)
	if err != nil {
		return proxy.Decision{}, withCause(statusNoDomain, err)
	}
	targets, err := ic.resolver.Resolve(ctx, q)
	switch {
	case errors.Is(err, resolve.ErrTimeout):
		log.Warn("DNS did not answer for the next network", zap.String("host", q.Host), zap.Error(err))
		return proxy.Decision{}, withCause(statusDNSTimeout, err)
	case err != nil:
		log.Info("no SIP server for the callee's domain", zap.String("host", q.Host), zap.Error(err))
		return proxy.Decision{}, withCause(statusNoDomain, err)
	}
	if !ic.resolver.Into(&t, targets) {
		return proxy.Decision{}, withCause(statusNoDomain, fmt.Errorf("%s: only TLS servers (no TLS here)", q.Host))
	}
	log.Debug("to another network", zap.String("via", next.String()), zap.Stringer("first", t.NextHop.Addr),
		zap.Int("failover", len(t.Failover)))
	d := proxy.Forward(t)
	d.RecordRoute = true
	return d, nil
}

// breakout hands a number to the BGCF function (TS 24.229 §5.6.2): the gateway of the longest matching prefix
// as a loose Route, the Request-URI unchanged (the gateway, an MGCF or a trunk, reads the number from it).
func (s *Server) breakout(ctx context.Context, number string, log *zap.Logger) (proxy.Decision, error) {
	ic := s.interconnect
	b, err := ic.bgcf.Select(number)
	if err != nil {
		log.Info("no break-out for the number", zap.Error(err))
		code := ic.bgcf.NoRouteCode()
		reason := "Not Found"
		if code == 604 {
			reason = "Does Not Exist Anywhere"
		}
		return proxy.Decision{}, &proxy.StatusError{Code: code, Reason: reason, Err: err}
	}
	log.Info("breaking out to the PSTN", zap.String("bgcf_route", b.Name), zap.String("gateway", b.Gateway.String()))
	t := proxy.Target{Route: []sip.Uri{b.Gateway}}
	q, err := resolve.QueryFromURI(b.Gateway)
	if err == nil {
		var targets []resolve.Target
		if targets, err = ic.resolver.Resolve(ctx, q); err == nil {
			ic.resolver.Into(&t, targets)
		}
	}
	if err != nil {
		log.Warn("PSTN gateway unresolvable", zap.String("gateway", b.Gateway.String()), zap.Error(err))
		return proxy.Decision{}, &proxy.StatusError{Code: sip.StatusServiceUnavailable, Reason: "Service Unavailable", Err: err}
	}
	d := proxy.Forward(t)
	d.RecordRoute = true
	return d, nil
}

// withCause is se with err as its cause (a copy: the sentinels are shared).
func withCause(se *proxy.StatusError, err error) *proxy.StatusError {
	c := *se
	c.Err = err
	return &c
}
