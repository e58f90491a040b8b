package presence

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/imscore/imscore/internal/logging"
	"github.com/imscore/imscore/services/bsf/gba"
	"github.com/imscore/imscore/sip/proxy"
	"github.com/imscore/imscore/sip/trust"
)

// Defaults; docs/presence.md lists every one.
const (
	DefaultSIPListen  = "127.0.0.1:5065"
	DefaultHTTPListen = "127.0.0.1:8090"
	DefaultXCAPRoot   = "/xcap-root"
	DefaultDB         = "sqlite://var/presence.db"

	DefaultPublishExpires      = 3600 * time.Second // RFC 3903 §4.1: the event package's default; RFC 3856 §6.4 (presence)
	DefaultPublishMinExpires   = 60 * time.Second
	DefaultPublishMaxExpires   = 24 * time.Hour
	DefaultSubscribeExpires    = 3600 * time.Second // RFC 3856 §6.4
	DefaultSubscribeMinExpires = 60 * time.Second
	DefaultSubscribeMaxExpires = 24 * time.Hour
	DefaultExpiryInterval      = time.Second
	DefaultNotifyTimeout       = 10 * time.Second
	DefaultSubHandling         = HandlingConfirm // OMA Presence SIMPLE: an unknown watcher waits for the user's decision
	DefaultXCAPAuth            = XCAPAuthProxy
)

// XCAPAuth values.
const (
	XCAPAuthProxy = "proxy"
	XCAPAuthGBA   = "gba"
)

// Config is the presence server's configuration (one binary serves SIP and XCAP, cmd/presence).
type Config struct {
	SIP struct {
		// Listen is the SIP address, UDP and TCP.
		Listen string `yaml:"listen"`
		// Advertise is the host put in Contact (default: the bound address).
		Advertise string `yaml:"advertise"`
		// TLS adds SIP over TLS (proxy.TLSConfig, docs/interconnect.md); a listener without advertise takes
		// Advertise. Default off.
		TLS proxy.TLSConfig `yaml:"tls"`
	} `yaml:"sip"`
	// HTTPListen serves XCAP under XCAPRoot, and /healthz; "" disables the XDMS.
	HTTPListen string `yaml:"http_listen"`
	// XCAPRoot is the path of the XCAP root (RFC 4825 §6.1).
	XCAPRoot string `yaml:"xcap_root"`
	// DB is sqlite://PATH, postgres://… or memory.
	DB string `yaml:"db"`
	// TrustedNetworks are the S-CSCFs allowed to hand requests over ISC (TS 24.229 §4.4): a request
	// from anywhere else is refused with 403, its P-Asserted-Identity never read.
	TrustedNetworks []string `yaml:"trusted_networks"`
	// XCAPTrustedProxies are the authentication (aggregation) proxies whose X-3GPP-Asserted-Identity
	// the XDMS believes (TS 33.222 §5.3, TS 24.109 §5.3.2). Empty: the XDMS trusts no one and answers 403.
	XCAPTrustedProxies []string `yaml:"xcap_trusted_proxies"`
	// XCAPAuth is how the XDMS knows its users: "proxy" (the default: the X-3GPP-Asserted-Identity of a proxy in
	// XCAPTrustedProxies) or "gba" (the XDMS is a NAF: HTTP Digest with the GBA key it asks the BSF for over
	// Zn, TS 33.222 §5.3; the GBA block). docs/presence.md compares the two.
	XCAPAuth string `yaml:"xcap_auth"`
	// GBA is the XDMS's NAF side when XCAPAuth is "gba": its FQDN (the realm 3GPP-bootstrapping@FQDN) and the
	// BSF's Zn address.
	GBA gba.NAFConfig `yaml:"gba"`

	PublishExpires      time.Duration `yaml:"publish_expires"`
	PublishMinExpires   time.Duration `yaml:"publish_min_expires"`
	PublishMaxExpires   time.Duration `yaml:"publish_max_expires"`
	SubscribeExpires    time.Duration `yaml:"subscribe_expires"`
	SubscribeMinExpires time.Duration `yaml:"subscribe_min_expires"`
	SubscribeMaxExpires time.Duration `yaml:"subscribe_max_expires"`
	// ExpiryInterval is how often expired publications and subscriptions are removed (and notified).
	ExpiryInterval time.Duration `yaml:"expiry_interval"`
	// NotifyTimeout bounds one NOTIFY transaction.
	NotifyTimeout time.Duration `yaml:"notify_timeout"`
	// DefaultSubHandling applies to a watcher no pres-rules rule matches (RFC 5025 §3.2.1 values).
	DefaultSubHandling Handling `yaml:"default_sub_handling"`

	Log logging.Config `yaml:"log"`
}

// DefaultConfig returns the configuration with every default.
func DefaultConfig() Config {
	var c Config
	c.Log = logging.Default()
	return c.WithDefaults()
}

// WithDefaults fills the zero fields.
func (c Config) WithDefaults() Config {
	set := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	setD := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	set(&c.SIP.Listen, DefaultSIPListen)
	set(&c.XCAPRoot, DefaultXCAPRoot)
	set(&c.DB, DefaultDB)
	if c.TrustedNetworks == nil {
		c.TrustedNetworks = trust.DefaultNetworks()
	}
	if c.XCAPTrustedProxies == nil {
		c.XCAPTrustedProxies = trust.DefaultNetworks()
	}
	setD(&c.PublishExpires, DefaultPublishExpires)
	setD(&c.PublishMinExpires, DefaultPublishMinExpires)
	setD(&c.PublishMaxExpires, DefaultPublishMaxExpires)
	setD(&c.SubscribeExpires, DefaultSubscribeExpires)
	setD(&c.SubscribeMinExpires, DefaultSubscribeMinExpires)
	setD(&c.SubscribeMaxExpires, DefaultSubscribeMaxExpires)
	setD(&c.ExpiryInterval, DefaultExpiryInterval)
	setD(&c.NotifyTimeout, DefaultNotifyTimeout)
	if c.DefaultSubHandling == "" {
		c.DefaultSubHandling = DefaultSubHandling
	}
	set(&c.XCAPAuth, DefaultXCAPAuth)
	if c.XCAPAuth == XCAPAuthGBA {
		c.GBA = c.GBA.WithDefaults()
	}
	return c
}

// Validate reports every bad field.
func (c Config) Validate() error {
	var errs []error
	if _, err := netip.ParseAddrPort(c.SIP.Listen); err != nil {
		errs = append(errs, fmt.Errorf("sip.listen %q: %w", c.SIP.Listen, err))
	}
	if c.HTTPListen != "" {
		if _, err := netip.ParseAddrPort(c.HTTPListen); err != nil {
			errs = append(errs, fmt.Errorf("http_listen %q: %w", c.HTTPListen, err))
		}
	}
	if !strings.HasPrefix(c.XCAPRoot, "/") || strings.HasSuffix(c.XCAPRoot, "/") && c.XCAPRoot != "/" {
		errs = append(errs, fmt.Errorf("xcap_root %q: want an absolute path without a trailing /", c.XCAPRoot))
	}
	if _, err := trust.ParseDomain(c.TrustedNetworks); err != nil {
		errs = append(errs, err)
	}
	if _, err := trust.ParseDomain(c.XCAPTrustedProxies); err != nil {
		errs = append(errs, fmt.Errorf("xcap_trusted_proxies: %w", err))
	}
	for name, pair := range map[string][3]time.Duration{
		"publish":   {c.PublishMinExpires, c.PublishExpires, c.PublishMaxExpires},
		"subscribe": {c.SubscribeMinExpires, c.SubscribeExpires, c.SubscribeMaxExpires},
	} {
		if pair[0] <= 0 || pair[0] > pair[1] || pair[1] > pair[2] {
			errs = append(errs, fmt.Errorf("%s expires: want 0 < min (%v) <= default (%v) <= max (%v)", name, pair[0], pair[1], pair[2]))
		}
	}
	if c.ExpiryInterval <= 0 || c.NotifyTimeout <= 0 {
		errs = append(errs, errors.New("expiry_interval and notify_timeout must be positive"))
	}
	switch c.XCAPAuth {
	case XCAPAuthProxy:
	case XCAPAuthGBA:
		if err := c.GBA.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("gba: %w", err))
		}
	default:
		errs = append(errs, fmt.Errorf("xcap_auth %q: want proxy or gba", c.XCAPAuth))
	}
	if _, ok := handlingRank[c.DefaultSubHandling]; !ok {
		errs = append(errs, fmt.Errorf("default_sub_handling %q: want block, confirm, polite-block or allow", c.DefaultSubHandling))
	}
	return errors.Join(errs...)
}
