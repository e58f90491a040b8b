package icscf

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/imscore/imscore/internal/logging"
	"github.com/imscore/imscore/sip/proxy"
)

// Documented defaults (docs/icscf.md, DESIGN.md §2).
const (
	DefaultDomain          = "ims.mnc001.mcc001.3gppnetwork.org"
	DefaultSIPListen       = "127.0.0.1:4060"
	DefaultHSSAddress      = "127.0.0.1:3868"
	DefaultOriginHost      = "icscf.ims.mnc001.mcc001.3gppnetwork.org"
	DefaultHTTPListen      = "127.0.0.1:9102"
	DefaultDiameterListen  = "127.0.0.1:3869"
	DefaultSCSCFName       = "sip:scscf.ims.mnc001.mcc001.3gppnetwork.org:6060"
	DefaultSCSCFAddress    = "127.0.0.1:6060"
	DefaultAttemptTimeout  = 4 * time.Second
	DefaultMaxAttempts     = 3
	DefaultDiameterTimeout = 3 * time.Second
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

	// Log selects level and format (used by cmd/icscf).
	Log logging.Config `yaml:"log"`
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
	// Listen, when set, also accepts Diameter connections (DESIGN.md §2: 127.0.0.1:3869, the default). The
	// I-CSCF serves no Cx request; the listener lets a DRA or HSS open the connection. Empty disables it.
	Listen string `yaml:"listen"`
	// RequestTimeout bounds one UAR or LIR; past it the HSS is treated as unreachable.
	RequestTimeout time.Duration `yaml:"request_timeout"`
	// WatchdogInterval is Tw (RFC 3539 §3.4.1). Default 30 s.
	WatchdogInterval time.Duration `yaml:"watchdog_interval"`
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

// DefaultConfig returns the documented defaults: loopback ports of DESIGN.md §2, one S-CSCF.
func DefaultConfig() Config {
	sipCfg := proxy.DefaultConfig()
	sipCfg.Listen = []proxy.Listen{{Addr: DefaultSIPListen}}
	sipCfg.Aliases = []string{"icscf." + DefaultDomain}
	sipCfg.RouteTimeout = routeTimeout(DefaultMaxAttempts, DefaultAttemptTimeout, DefaultDiameterTimeout)
	return Config{
		Domain: DefaultDomain,
		SIP:    sipCfg,
		Diameter: DiameterConfig{
			OriginHost:     DefaultOriginHost,
			OriginRealm:    DefaultDomain,
			HSS:            []string{DefaultHSSAddress},
			Listen:         DefaultDiameterListen,
			RequestTimeout: DefaultDiameterTimeout,
		},
		SCSCFs:         []SCSCF{{Name: DefaultSCSCFName, Address: DefaultSCSCFAddress}},
		AttemptTimeout: DefaultAttemptTimeout,
		MaxAttempts:    DefaultMaxAttempts,
		HTTPListen:     DefaultHTTPListen,
		Log:            logging.Default(),
	}
}

// withDefaults fills zero fields.
func (c Config) withDefaults() Config {
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
	if c.AttemptTimeout == 0 {
		c.AttemptTimeout = DefaultAttemptTimeout
	}
	if c.MaxAttempts == 0 {
		c.MaxAttempts = DefaultMaxAttempts
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
	if c.Diameter.RequestTimeout < 0 {
		errs = append(errs, errors.New("diameter.request_timeout: must not be negative"))
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
