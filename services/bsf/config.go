// Package bsf is the Bootstrapping Server Function of GBA (3GPP TS 33.220 §4.2.1): Ub towards UEs over HTTP
// with HTTP Digest AKA (TS 24.109 §4, RFC 3310), Zh towards the HSS (TS 29.109, diameter/gaa) for the AKA
// vectors and the user's security settings, and Zn towards NAFs (TS 29.109) that ask for the key of a
// B-TID. Run(ctx, cfg, log) is the node; docs/bsf.md lists every setting and default.
//
//	ub.go       Ub: 401 with the AKA challenge, resync with AUTS, 200 with the B-TID (TS 24.109 §4.5)
//	zh.go       Zh client: MAR → MAA (one vector and the GUSS)
//	zn.go       Zn server: BIR → BIA with Ks_NAF (TS 33.220 §4.5.3, Annex B)
//	sessions.go bootstrapping sessions in memory until their key lifetime ends
package bsf

import (
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/imscore/imscore/diameter/peer"
	"github.com/imscore/imscore/internal/adminhttp"
	"github.com/imscore/imscore/internal/logging"
)

// Defaults; docs/bsf.md lists every one.
const (
	DefaultDomain      = "ims.mnc001.mcc001.3gppnetwork.org"
	DefaultName        = "bsf." + DefaultDomain
	DefaultUbListen    = "127.0.0.1:8095"
	DefaultHTTPListen  = "127.0.0.1:9095"
	DefaultHSS         = "127.0.0.1:3868"
	DefaultHSSHost     = "hss." + DefaultDomain
	DefaultKeyLifetime = time.Hour // TS 33.220 §4.5.2: the operator sets the key lifetime
	// DefaultChallengeTimeout is how long a 401's AKA challenge may be answered.
	DefaultChallengeTimeout = 30 * time.Second
	// DefaultMaxSessions bounds the bootstrapping sessions and pending challenges kept in memory.
	DefaultMaxSessions = 100000
	// RoleNAF is what a Zn peer must be: it may send BIR.
	RoleNAF = "naf"
)

// Config is the BSF's configuration (cmd/bsf: flags and a YAML file).
type Config struct {
	// Name is the BSF's FQDN: the domain part of every B-TID (TS 33.220 §4.5.2) and its Diameter Origin-Host.
	Name string `yaml:"name"`
	// Realm is the Digest realm of the Ub challenge and the Diameter Origin-Realm (default: Name minus its
	// first label).
	Realm string `yaml:"realm"`
	// UbListen serves Ub (HTTP). TS 24.109 §4.4.1 names HTTP over TCP port 80 or 8080; loopback by default.
	UbListen string `yaml:"ub_listen"`
	// HTTPListen serves /metrics and /healthz (DefaultConfig: 127.0.0.1:9095; "" disables).
	HTTPListen string `yaml:"http_listen"`
	// Admin secures HTTPListen (the same keys as every node's admin block).
	Admin adminhttp.Config `yaml:"admin"`
	// KeyLifetime is how long Ks (and every Ks_NAF from it) may be used (TS 33.220 §4.5.2 step 6).
	KeyLifetime time.Duration `yaml:"key_lifetime"`
	// ChallengeTimeout is how long the AKA challenge of a 401 may be answered.
	ChallengeTimeout time.Duration `yaml:"challenge_timeout"`
	// MaxSessions bounds the sessions and the challenges pending (each); beyond it the oldest session goes
	// first and a new challenge is refused with 503.
	MaxSessions int `yaml:"max_sessions"`
	// DiameterTLS runs Zh and Zn over TLS from the start of every connection (RFC 6733 §2.1): one Diameter
	// node serves both, with one certificate naming Name. Default: TCP.
	DiameterTLS peer.TLSFiles  `yaml:"diameter_tls"`
	Zh          ZhConfig       `yaml:"zh"`
	Zn          ZnConfig       `yaml:"zn"`
	Log         logging.Config `yaml:"log"`
}

// ZhConfig is the Diameter client towards the HSS.
type ZhConfig struct {
	// HSS is the HSS's host:port, dialled and kept up; HSSHost its Origin-Host, HSSRealm our Destination-Realm
	// (default Realm).
	HSS      string `yaml:"hss"`
	HSSHost  string `yaml:"hss_host"`
	HSSRealm string `yaml:"hss_realm"`
	// RequestTimeout bounds one MAR (default 5 s).
	RequestTimeout time.Duration `yaml:"request_timeout"`
}

// ZnConfig is the Diameter server towards NAFs.
type ZnConfig struct {
	// Listen accepts NAFs (TS 29.109 Zn). "" disables Zn.
	Listen string `yaml:"listen"`
	// Peers are the NAFs allowed to connect (Origin-Host, Origin-Realm, sources; role naf). A CER from anything
	// else is answered DIAMETER_UNKNOWN_PEER.
	Peers []peer.AllowedPeer `yaml:"peers"`
	// NAFNames maps a NAF's Origin-Host to the NAF FQDNs it may ask keys for (TS 33.220 §4.5.3: the BSF checks
	// the NAF is authorised). A NAF not listed may ask for its own Origin-Host only.
	NAFNames map[string][]string `yaml:"naf_names"`
}

// DefaultConfig returns the configuration with every default.
func DefaultConfig() Config {
	c := Config{Log: logging.Default(), HTTPListen: DefaultHTTPListen}
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
	set(&c.Name, DefaultName)
	if c.Realm == "" {
		c.Realm = c.Name
		if _, rest, ok := cut(c.Name); ok {
			c.Realm = rest
		}
	}
	set(&c.UbListen, DefaultUbListen)
	set(&c.Zh.HSS, DefaultHSS)
	set(&c.Zh.HSSHost, DefaultHSSHost)
	set(&c.Zh.HSSRealm, c.Realm)
	setD(&c.Zh.RequestTimeout, 5*time.Second)
	setD(&c.KeyLifetime, DefaultKeyLifetime)
	setD(&c.ChallengeTimeout, DefaultChallengeTimeout)
	if c.MaxSessions == 0 {
		c.MaxSessions = DefaultMaxSessions
	}
	return c
}

func cut(name string) (string, string, bool) {
	for i := 0; i < len(name); i++ {
		if name[i] == '.' {
			return name[:i], name[i+1:], i+1 < len(name)
		}
	}
	return name, "", false
}

// Validate reports every bad field.
func (c Config) Validate() error {
	var errs []error
	addr := func(name, v string, optional bool) {
		if v == "" && optional {
			return
		}
		if _, err := netip.ParseAddrPort(v); err != nil {
			errs = append(errs, fmt.Errorf("%s %q: %w", name, v, err))
		}
	}
	if c.Name == "" || c.Realm == "" {
		errs = append(errs, errors.New("name and realm must be set"))
	}
	addr("ub_listen", c.UbListen, false)
	addr("http_listen", c.HTTPListen, true)
	addr("zn.listen", c.Zn.Listen, true)
	if c.Zh.HSS == "" {
		errs = append(errs, errors.New("zh.hss must be set"))
	}
	if c.KeyLifetime <= 0 || c.ChallengeTimeout <= 0 || c.Zh.RequestTimeout <= 0 {
		errs = append(errs, errors.New("key_lifetime, challenge_timeout and zh.request_timeout must be positive"))
	}
	if c.MaxSessions < 1 {
		errs = append(errs, fmt.Errorf("max_sessions %d: want at least 1", c.MaxSessions))
	}
	if c.Zn.Listen != "" && len(c.Zn.Peers) == 0 {
		errs = append(errs, errors.New("zn.peers: empty with zn.listen set: no NAF could connect"))
	}
	for i, p := range c.Zn.Peers {
		if err := p.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("zn.peers[%d]: %w", i, err))
		}
	}
	if err := c.Admin.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("admin: %w", err))
	}
	return errors.Join(errs...)
}
