package icscf

// The I-CSCF as the exit point of the home network (TS 24.229 §5.3.2.1 and §5.10.2, the IBCF role at the border,
// TS 23.228 §4.14, docs/interconnect.md): with Config.Interconnect enabled, an initial request from inside the
// trust domain whose Request-URI names another network's domain is routed to that network's I-CSCF, found by
// DNS (RFC 3263 through sip/resolve, tried in order with failover, RFC 3263 §4.3), instead of being asked
// about at the HSS. The S-CSCF sends such requests here (its interconnect.transit), so that requests leave
// the home network from its border only, with the topology hidden (thig.go) like every message crossing it.

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"
	"go.uber.org/zap"

	"github.com/imscore/imscore/sip/proxy"
	"github.com/imscore/imscore/sip/resolve"
)

// InterconnectConfig makes the I-CSCF the exit point towards other networks.
type InterconnectConfig struct {
	// Enabled turns the exit routing on. Off (the default): every initial request is the home network's
	// (a LIR at the HSS), as before.
	Enabled bool `yaml:"enabled"`
	// DNS is the resolver of the other networks' I-CSCFs (sip/resolve.Config: servers, timeout, attempts,
	// transports, caches, blacklist_for, static). Default: the servers of /etc/resolv.conf, UDP then TCP.
	DNS resolve.Config `yaml:"dns"`
	// Domains are further domains of the home network besides Domain (and THIG's domain): requests for them
	// are this network's.
	Domains []string `yaml:"domains"`
	// AttemptTimeout gives up on one address of the other network when no response came within it (a final
	// one; for an INVITE, any) and tries the next (RFC 3263 §4.3 "a timeout"), instead of waiting for Timer F
	// (32 s) or Timer B. Default 0: the transaction timers alone.
	AttemptTimeout time.Duration `yaml:"attempt_timeout"`
}

// validate reports the section's bad fields.
func (c InterconnectConfig) validate() []error {
	if !c.Enabled {
		return nil
	}
	var errs []error
	if err := c.DNS.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("interconnect.dns: %w", err))
	}
	if c.AttemptTimeout < 0 {
		errs = append(errs, errors.New("interconnect.attempt_timeout: must not be negative"))
	}
	return errs
}

// exit routes requests for other networks.
type exit struct {
	resolver *resolve.Resolver
	home     map[string]bool // home domains, lower case
	attempt  time.Duration
}

func newExit(cfg InterconnectConfig, home []string, log *zap.Logger) (*exit, error) {
	r, err := resolve.New(cfg.DNS, log.Named("dns"))
	if err != nil {
		return nil, fmt.Errorf("interconnect.dns: %w", err)
	}
	e := &exit{resolver: r, home: make(map[string]bool), attempt: cfg.AttemptTimeout}
	for _, d := range append(home, cfg.Domains...) {
		if d != "" {
			e.home[strings.ToLower(d)] = true
		}
	}
	return e, nil
}

// foreign reports a SIP URI whose host is not a home domain. A host that is an address is the home network's
// (a node's contact), and a tel URI is for the HSS (or the S-CSCF's ENUM) to place.
func (e *exit) foreign(u sip.Uri) bool {
	if !strings.EqualFold(u.Scheme, "sip") && !strings.EqualFold(u.Scheme, "sips") {
		return false
	}
	host := strings.ToLower(strings.Trim(u.Host, "[]"))
	if host == "" || e.home[host] || isAddress(host) {
		return false
	}
	return true
}

func isAddress(host string) bool {
	return strings.ContainsRune(host, ':') || strings.Trim(host, "0123456789.") == ""
}

// Answers of the exit routing, as the S-CSCF gives them (services/scscf interconnect.go).
var (
	statusNoDomain   = &proxy.StatusError{Code: sip.StatusNotFound, Reason: "Not Found"}
	statusDNSTimeout = &proxy.StatusError{Code: sip.StatusGatewayTimeout, Reason: "Server Time-out"}
)

// route forwards req to the I-CSCF of its Request-URI's domain (RFC 3263 §4), Record-Routing so that the
// dialog's later requests cross the border here too.
func (e *exit) route(ctx context.Context, req *sip.Request, log *zap.Logger) (proxy.Decision, error) {
	t, err := e.resolver.Branch(ctx, req.Recipient)
	switch {
	case errors.Is(err, resolve.ErrTimeout):
		log.Warn("DNS did not answer for the next network", zap.String("host", req.Recipient.Host), zap.Error(err))
		return proxy.Decision{}, withCause(statusDNSTimeout, err)
	case err != nil:
		log.Info("no SIP server for the callee's domain", zap.String("host", req.Recipient.Host), zap.Error(err))
		return proxy.Decision{}, withCause(statusNoDomain, err)
	}
	t.NoResponseTimeout = e.attempt
	log.Debug("to another network", zap.String("domain", req.Recipient.Host), zap.Stringer("first", t.NextHop.Addr),
		zap.Int("failover", len(t.Failover)))
	d := proxy.Forward(t)
	d.RecordRoute = true
	return d, nil
}
