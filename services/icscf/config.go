package icscf

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/imscore/imscore/diameter/cx"
	"github.com/imscore/imscore/diameter/peer"
	"github.com/imscore/imscore/internal/adminhttp"
	"github.com/imscore/imscore/internal/logging"
	"github.com/imscore/imscore/sip/proxy"
	"github.com/imscore/imscore/sip/trust"
)

// Documented defaults (docs/icscf.md, docs/design.md §2).
const (
	DefaultDomain          = "ims.mnc001.mcc001.3gppnetwork.org"
	DefaultSIPListen       = "127.0.0.1:4060"
	DefaultHSSAddress      = "127.0.0.1:3868"
	DefaultOriginHost      = "icscf.ims.mnc001.mcc001.3gppnetwork.org"
	DefaultHTTPListen      = "127.0.0.1:9102"
	DefaultSCSCFName       = "sip:scscf.ims.mnc001.mcc001.3gppnetwork.org:6060"
	DefaultSCSCFAddress    = "127.0.0.1:6060"
	DefaultAttemptTimeout  = 4 * time.Second
	DefaultMaxAttempts     = 3
	DefaultDiameterTimeout = 3 * time.Second
	// DefaultHSSRetryAfter is the Retry-After of the 480 answered while the HSS is unavailable.
	DefaultHSSRetryAfter = 5 * time.Second
)

// Config is everything Run needs. Zero values take the defaults of DefaultConfig where one is documented.
type Config struct {
	// Domain is the home network domain: the Diameter Destination-Realm towards the HSS, the realm an IMPI is
	// derived in, and the default Visited-Network-Identifier for a REGISTER without P-Visited-Network-ID.
	Domain string `yaml:"domain"`

	// SIP is the proxy's configuration (listeners, aliases, timers). Router and Metrics are set by Run.
	SIP proxy.Config `yaml:"sip"`

	// Diameter is the Cx client towards the HSS.
	Diameter DiameterConfig `yaml:"diameter"`

	// SCSCFs are the S-CSCFs this I-CSCF may choose from, with the address each name is reached at. A name the
	// HSS returns that is not listed here is resolved from its URI (DNS, RFC 3263).
	SCSCFs []SCSCF `yaml:"scscfs"`

	// AttemptTimeout bounds one attempt to forward a REGISTER to an S-CSCF; when it passes without a final
	// response the next S-CSCF is tried (TS 24.229 §5.3.1.3). Keep it well under the UE's Timer F (32 s).
	AttemptTimeout time.Duration `yaml:"attempt_timeout"`
	// MaxAttempts bounds the S-CSCFs tried for one REGISTER.
	MaxAttempts int `yaml:"max_attempts"`

	// HTTPListen serves /metrics, /healthz and /readyz. Empty disables it.
	HTTPListen string `yaml:"http_listen"`
	// Admin is the admin listener's security (internal/adminhttp.Config, the same keys on every node):
	// tokens_file, pprof (default false: /debug/pprof/ is 404), metrics_auth (default false: /metrics open),
	// tls_cert and tls_key (default: plain HTTP). docs/operations.md.
	Admin adminhttp.Config `yaml:"admin"`

	// Log selects level and format (used by cmd/icscf).
	Log logging.Config `yaml:"log"`

	// TrustedNetworks are the networks of this node's trust domain (RFC 3325 §2.3, TS 24.229 §4.4): CIDR
	// prefixes or addresses of the P-CSCFs, S-CSCFs, I-CSCFs and ASs trusted to assert identities. A
	// REGISTER or an originating ("orig") request from outside is refused with 403 (TS 24.229 §5.3.1.2),
	// and every other message from outside loses its trust-domain header fields (P-Asserted-Identity, ...)
	// before it is read (sip/trust). Default: loopback (trust.DefaultNetworks). docs/icscf.md.
	TrustedNetworks []string `yaml:"trusted_networks"`

	// THIG hides the home network's topology from the other networks listed in it (TS 24.229 §5.10.4,
	// thig.go: keys, current_key, domain, networks). Off without keys.
	THIG THIGConfig `yaml:"thig"`

	// Interconnect makes this I-CSCF the exit point towards other networks (exit.go: enabled, dns, domains):
	// an initial request from inside the trust domain for another domain goes to that domain's I-CSCF by DNS.
	// Off by default.
	Interconnect InterconnectConfig `yaml:"interconnect"`
}

// DiameterConfig is the Cx side of the I-CSCF (TS 29.229).
type DiameterConfig struct {
	// OriginHost and OriginRealm identify this node (RFC 6733 §6.3, §6.4). OriginRealm defaults to Domain.
	OriginHost  string `yaml:"origin_host"`
	OriginRealm string `yaml:"origin_realm"`
	// HSS lists the HSS (or DRA) addresses dialled and kept connected; requests take turns among open ones.
	HSS []string `yaml:"hss"`
	// HSSHost, when set, is the Origin-Host the HSS must announce and the Destination-Host of requests.
	HSSHost string `yaml:"hss_host"`
	// Listen, when set, also accepts Diameter connections (docs/design.md §2 names 3869 for it), from Peers only.
	// The I-CSCF serves no Cx request (every request is answered DIAMETER_COMMAND_UNSUPPORTED); the listener
	// only lets a DRA or an HSS open the connection the UARs and LIRs then use. Default "": off.
	Listen string `yaml:"listen"`
	// Peers are the peers allowed to connect to Listen (Origin-Host, Origin-Realm, source addresses; roles
	// default to hss). A CER from anything else is answered DIAMETER_UNKNOWN_PEER (RFC 6733 §7.1.3). Required
	// with Listen; the HSS dialled through HSS needs no entry. Default: none.
	Peers []peer.AllowedPeer `yaml:"peers"`
	// TLS, when its files are set, runs Cx over TLS from the start of every connection (RFC 6733 §2.1), the
	// HSS's certificate required to name HSSHost (then required). Default: TCP.
	TLS peer.TLSFiles `yaml:"tls"`
	// RequestTimeout bounds one UAR or LIR; past it the HSS is treated as unreachable.
	RequestTimeout time.Duration `yaml:"request_timeout"`
	// WatchdogInterval is Tw (RFC 3539 §3.4.1). Default 30 s.
	WatchdogInterval time.Duration `yaml:"watchdog_interval"`
	// Resilience holds reconnect_min and reconnect_max (redial backoff towards the HSS, 1 s doubling to
	// 4 s), max_consecutive_timeouts (Cx requests in a row that may time out before an HSS connection is
	// routed around, 3) and unresponsive_probe (how long before one request probes it again, 2 s).
	peer.Resilience `yaml:",inline"`
	// RetryAfter is the Retry-After (RFC 3261 §20.33) of the 480 answered when a UAR or LIR cannot be
	// completed: at once while no HSS is reachable, or after the request's timeout. Whole seconds, rounded
	// up. Default 5 s.
	RetryAfter time.Duration `yaml:"retry_after"`
	// DOIC enables Diameter overload control as a reacting node (RFC 7683): OC-Supported-Features with the
	// loss algorithm in every UAR and LIR, and the share of requests an HSS's OC-OLR asks for answered 480
	// with Retry-After at once instead of being sent. Default true (DefaultConfig).
	DOIC bool `yaml:"doic"`
}

// SCSCF is one S-CSCF the I-CSCF may select.
type SCSCF struct {
	// Name is the S-CSCF's SIP URI as the HSS knows it (Server-Name, TS 29.229 §6.3.4).
	Name string `yaml:"name"`
	// Address is where its SIP listener is (host:port, UDP and TCP). Empty: resolved from Name.
	Address string `yaml:"address"`
	// Capabilities are the capability numbers it offers, matched against Server-Capabilities (TS 29.228 §6.7).
	Capabilities []uint32 `yaml:"capabilities"`
}

// DefaultConfig returns the documented defaults: loopback ports of docs/design.md §2, one S-CSCF.
func DefaultConfig() Config {
	sipCfg := proxy.DefaultConfig()
	sipCfg.Listen = []proxy.Listen{{Addr: DefaultSIPListen}}
	sipCfg.Aliases = []string{"icscf." + DefaultDomain}
	sipCfg.RouteTimeout = routeTimeout(DefaultMaxAttempts, DefaultAttemptTimeout, DefaultDiameterTimeout)
	return Config{
		Domain: DefaultDomain,
		SIP:    sipCfg,
		Diameter: DiameterConfig{
			OriginHost: DefaultOriginHost,
			// OriginRealm empty: withDefaults makes it the Domain, whichever the file or --domain gives.
			HSS:            []string{DefaultHSSAddress},
			RequestTimeout: DefaultDiameterTimeout,
			RetryAfter:     DefaultHSSRetryAfter,
			DOIC:           true,
		},
		SCSCFs:         []SCSCF{{Name: DefaultSCSCFName, Address: DefaultSCSCFAddress}},
		AttemptTimeout: DefaultAttemptTimeout,
		MaxAttempts:    DefaultMaxAttempts,
		HTTPListen:     DefaultHTTPListen,
		Log:            logging.Default(),

		TrustedNetworks: trust.DefaultNetworks(),
	}
}

// WithDefaults fills zero fields (diameter.origin_realm: the domain).
func (c Config) WithDefaults() Config {
	if c.Domain == "" {
		c.Domain = DefaultDomain
	}
	if c.Diameter.OriginHost == "" {
		c.Diameter.OriginHost = DefaultOriginHost
	}
	if c.Diameter.OriginRealm == "" {
		c.Diameter.OriginRealm = c.Domain
	}
	if c.Diameter.RequestTimeout == 0 {
		c.Diameter.RequestTimeout = DefaultDiameterTimeout
	}
	if c.Diameter.RetryAfter == 0 {
		c.Diameter.RetryAfter = DefaultHSSRetryAfter
	}
	if c.AttemptTimeout == 0 {
		c.AttemptTimeout = DefaultAttemptTimeout
	}
	if c.MaxAttempts == 0 {
		c.MaxAttempts = DefaultMaxAttempts
	}
	if c.TrustedNetworks == nil {
		c.TrustedNetworks = trust.DefaultNetworks()
	}
	if c.SIP.RouteTimeout == 0 {
		// The router blocks for the UAR(s) and every REGISTER attempt: leave room for all of them.
		c.SIP.RouteTimeout = routeTimeout(c.MaxAttempts, c.AttemptTimeout, c.Diameter.RequestTimeout)
	}
	return c
}

// routeTimeout bounds the router's work on one REGISTER: a UAR and an attempt per S-CSCF (the defaults give
// 24 s, under the UE's 32 s Timer F, RFC 3261 §17.1.2.2).
func routeTimeout(attempts int, attempt, diameter time.Duration) time.Duration {
	return time.Duration(attempts)*(attempt+diameter) + diameter
}

// Validate reports every invalid field, one error each.
func (c Config) Validate() error {
	var errs []error
	if c.Domain == "" {
		errs = append(errs, errors.New("domain: required"))
	}
	if len(c.SIP.Listen) == 0 {
		errs = append(errs, errors.New("sip.listen: at least one address required"))
	}
	if err := c.SIP.Limits.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("sip: %w", err))
	}
	if c.Diameter.OriginHost == "" {
		errs = append(errs, errors.New("diameter.origin_host: required"))
	}
	if len(c.Diameter.HSS) == 0 {
		errs = append(errs, errors.New("diameter.hss: at least one HSS address required"))
	}
	for i, a := range c.Diameter.HSS {
		if _, _, err := net.SplitHostPort(a); err != nil {
			errs = append(errs, fmt.Errorf("diameter.hss[%d] %q: %w", i, a, err))
		}
	}
	if c.Diameter.Listen != "" {
		if _, _, err := net.SplitHostPort(c.Diameter.Listen); err != nil {
			errs = append(errs, fmt.Errorf("diameter.listen %q: %w", c.Diameter.Listen, err))
		}
	}
	errs = append(errs, peer.CheckPeers(c.Diameter.Listen, c.Diameter.Peers, c.Diameter.TLS, c.Diameter.HSSHost, "hss_host",
		cx.RoleHSS)...)
	if c.Diameter.RequestTimeout < 0 {
		errs = append(errs, errors.New("diameter.request_timeout: must not be negative"))
	}
	if err := c.Diameter.Resilience.Validate("diameter"); err != nil {
		errs = append(errs, err)
	}
	if c.Diameter.RetryAfter < 0 {
		errs = append(errs, errors.New("diameter.retry_after: must not be negative"))
	}
	seen := make(map[string]bool)
	for i, s := range c.SCSCFs {
		u, err := parseSIPURI(s.Name)
		if err != nil {
			errs = append(errs, fmt.Errorf("scscfs[%d].name %q: %w", i, s.Name, err))
			continue
		}
		key := canonicalServerName(u)
		if seen[key] {
			errs = append(errs, fmt.Errorf("scscfs[%d].name %q: listed twice", i, s.Name))
		}
		seen[key] = true
		if s.Address != "" {
			if _, err := netip.ParseAddrPort(s.Address); err != nil {
				errs = append(errs, fmt.Errorf("scscfs[%d].address %q: want ip:port: %w", i, s.Address, err))
			}
		}
	}
	if c.AttemptTimeout < 0 {
		errs = append(errs, errors.New("attempt_timeout: must not be negative"))
	}
	if c.MaxAttempts < 0 {
		errs = append(errs, errors.New("max_attempts: must not be negative"))
	}
	if need := routeTimeout(c.MaxAttempts, c.AttemptTimeout, c.Diameter.RequestTimeout); c.SIP.RouteTimeout > 0 &&
		c.SIP.RouteTimeout < need {
		errs = append(errs, fmt.Errorf("sip.route_timeout %v: below max_attempts × (attempt_timeout + "+
			"diameter.request_timeout) + diameter.request_timeout = %v, failover would be cut short", c.SIP.RouteTimeout, need))
	}
	if c.HTTPListen != "" {
		if _, _, err := net.SplitHostPort(c.HTTPListen); err != nil {
			errs = append(errs, fmt.Errorf("http_listen %q: %w", c.HTTPListen, err))
		}
	}
	if _, err := trust.ParseDomain(c.TrustedNetworks); err != nil {
		errs = append(errs, err)
	}
	if err := c.Admin.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("admin: %w", err))
	}
	errs = append(errs, c.THIG.validate()...)
	errs = append(errs, c.Interconnect.validate()...)
	return errors.Join(errs...)
}

// ParseSCSCFFlag parses the --scscf flag value "name=address" (address optional: "name").
func ParseSCSCFFlag(v string) (SCSCF, error) {
	name, addr, _ := strings.Cut(v, "=")
	name = strings.TrimSpace(name)
	if !strings.HasPrefix(name, "sip:") && !strings.HasPrefix(name, "sips:") {
		name = "sip:" + name
	}
	if _, err := parseSIPURI(name); err != nil {
		return SCSCF{}, fmt.Errorf("scscf %q: %w", v, err)
	}
	return SCSCF{Name: name, Address: strings.TrimSpace(addr)}, nil
}

// parseSIPURI parses a sip: or sips: URI with a host.
func parseSIPURI(s string) (sip.Uri, error) {
	var u sip.Uri
	if err := sip.ParseUri(s, &u); err != nil {
		return u, fmt.Errorf("%w: %w", ErrBadServerName, err)
	}
	if (u.Scheme != "sip" && u.Scheme != "sips") || u.Host == "" {
		return u, fmt.Errorf("%w: not a SIP URI with a host", ErrBadServerName)
	}
	return u, nil
}

// canonicalServerName is the comparison key of an S-CSCF name: scheme, host (case-insensitive) and port, so
// that "sip:SCSCF.example:6060" and "sip:scscf.example:6060;transport=udp" are the same S-CSCF.
func canonicalServerName(u sip.Uri) string {
	port := u.Port
	if port == 0 {
		port = 5060
	}
	return fmt.Sprintf("%s:%s:%d", u.Scheme, strings.ToLower(u.Host), port)
}
