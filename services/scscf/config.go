package scscf

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

// Defaults (docs/design.md §2: the Kamailio / docker_open5gs conventions). docs/scscf.md lists every one.
const (
	DefaultDomain     = "ims.mnc001.mcc001.3gppnetwork.org"
	DefaultServerName = "sip:scscf.ims.mnc001.mcc001.3gppnetwork.org:6060"
	DefaultSIPListen  = "127.0.0.1:6060"
	DefaultOriginHost = "scscf.ims.mnc001.mcc001.3gppnetwork.org"
	DefaultHSSAddress = "127.0.0.1:3868"
	DefaultHSSHost    = "hss.ims.mnc001.mcc001.3gppnetwork.org"
	DefaultHTTPListen = "127.0.0.1:9103"
	DefaultICSCF      = "sip:127.0.0.1:4060;lr"
	DefaultDB         = "sqlite://var/scscf.db"
	// ICSCFNone disables routing to an I-CSCF (Config.ICSCF).
	ICSCFNone = "none"
	// ICSCFRouteNextHop and ICSCFRouteRoute are the values of Config.ICSCFRoute.
	ICSCFRouteNextHop = "next_hop"
	ICSCFRouteRoute   = "route"
	// DefaultICSCFRoute sends to the I-CSCF as the next hop, without a Route naming it: every I-CSCF handles
	// that (stock Kamailio I-CSCF scripts do not remove a Route naming themselves and answer 604).
	DefaultICSCFRoute = ICSCFRouteNextHop

	DefaultMinExpires      = 60 * time.Second
	DefaultMaxExpires      = 3600 * time.Second
	DefaultExpires         = 3600 * time.Second
	DefaultAuthTimeout     = 60 * time.Second
	DefaultSubscribeMax    = 3600 * time.Second
	DefaultSubscribeMin    = 60 * time.Second
	DefaultExpiryInterval  = time.Second
	DefaultShutdownTimeout = 5 * time.Second
	// DefaultStoreFlushInterval is the loss window of the registrar on a crash: changes are written behind
	// to the store this often.
	DefaultStoreFlushInterval = 200 * time.Millisecond
	DefaultISCTokenTTL        = 5 * time.Minute
	DefaultASTimeout          = 5 * time.Second
	// DefaultHSSRetryAfter is the Retry-After of the 503 answered while the HSS is unavailable.
	DefaultHSSRetryAfter = 5 * time.Second
)

// Config is the S-CSCF's configuration. Zero values take the defaults of DefaultConfig when Run calls
// WithDefaults; Validate reports each bad field.
type Config struct {
	// Domain is the home network domain (realm of the Digest challenges, TS 24.229 §5.4.1.2.1).
	Domain string `yaml:"domain"`
	// ServerName is this S-CSCF's SIP URI, the Server-Name of MAR and SAR (TS 29.228 §6.1.2, §6.3.1).
	ServerName string `yaml:"server_name"`

	SIP      SIPConfig      `yaml:"sip"`
	Diameter DiameterConfig `yaml:"diameter"`
	// HTTPListen serves /metrics, /healthz and /readyz; "" disables.
	HTTPListen string `yaml:"http_listen"`
	// Admin is the admin listener's security (internal/adminhttp.Config, the same keys on every node):
	// tokens_file, pprof (default false: /debug/pprof/ is 404), metrics_auth (default false: /metrics open),
	// tls_cert and tls_key (default: plain HTTP). docs/operations.md.
	Admin adminhttp.Config `yaml:"admin"`
	// DB is the registrar's storage DSN: sqlite://PATH (embedded, default) or postgres://…; "memory"
	// keeps registrations in process memory only.
	DB string `yaml:"db"`

	// ICSCF is the Route used for requests to users of other networks or not served here
	// (TS 24.229 §5.4.3.2 step 10: towards an I-CSCF / the destination network).
	// "none": no I-CSCF; callees of the home domain not registered here get the terminating procedures
	// of this node (a single-S-CSCF network).
	ICSCF string `yaml:"icscf"`
	// ICSCFRoute is how a request reaches the I-CSCF. "next_hop" (default): the request is sent to the
	// address of the ICSCF URI (its host resolved by A/AAAA, its port, 5060 if none; its transport
	// parameter) with the Request-URI unchanged and no Route added, as an RFC 3261 §16.6 step 7 next hop.
	// "route": the ICSCF URI is pushed as a pre-loaded Route (with ;lr forced, §16.6 step 3), for an
	// I-CSCF that removes a Route naming itself (RFC 3261 §16.4).
	ICSCFRoute string `yaml:"icscf_route"`

	// Interconnect routes callees of other networks and telephone numbers out of the home network: DNS
	// (RFC 3263) to their I-CSCF or a transit/IBCF, ENUM, the BGCF's break-out table (interconnect.go,
	// docs/interconnect.md). Off by default.
	Interconnect InterconnectConfig `yaml:"interconnect"`
	// FastReg is the access-bound fast registration (fastreg.go, docs/fastreg.md); off by default.
	FastReg FastRegConfig `yaml:"fastreg"`

	Registration RegistrationConfig `yaml:"registration"`
	// SubscribeMinExpires and SubscribeMaxExpires bound a reg event subscription (RFC 6665 §4.2.1.1).
	SubscribeMinExpires time.Duration `yaml:"subscribe_min_expires"`
	SubscribeMaxExpires time.Duration `yaml:"subscribe_max_expires"`
	// ExpiryInterval is how often expired registrations, subscriptions and authentications are swept.
	ExpiryInterval time.Duration `yaml:"expiry_interval"`
	// ShutdownTimeout bounds the drain at shutdown (DPR, SIP transactions).
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout"`
	// StoreFlushInterval is how often the in-memory registrar writes its changes behind to the store (db):
	// the most a crash (kill -9) loses. A clean stop flushes everything.
	StoreFlushInterval time.Duration `yaml:"store_flush_interval"`
	// StoreShared says that other S-CSCFs use the same store (a pool): a registration not in memory is looked
	// up in the store, challenges are written through, and writes are compare-and-set. Always on with
	// PostgreSQL; set it for several processes on one SQLite file.
	StoreShared bool `yaml:"store_shared"`
	// Restoration enables S-CSCF restoration (TS 23.380 §5.2, TS 29.228 §6.1.2.1): every SAR REGISTRATION
	// and RE_REGISTRATION carries the registration's SCSCF-Restoration-Info (per contact Path, Contact,
	// Call-ID, CSeq; the expiry), SAR RESTORATION sends it again when a contact ends without a REGISTER, and a
	// request for (or from) a user registered at an S-CSCF that is gone is served from what the HSS answers
	// to SAR UNREGISTERED_USER. Default true (DefaultConfig; a Config built from scratch has it off).
	Restoration bool `yaml:"restoration"`
	// ISCTokenTTL is how long an original-dialog token handed to an AS stays valid (TS 24.229 §5.4.3.3).
	ISCTokenTTL time.Duration `yaml:"isc_token_ttl"`
	// ASTimeout is how long an application server may stay silent before the S-CSCF applies the iFC's
	// default handling (TS 24.229 §5.4.3.2, §5.4.1.7): for an INVITE until its first response, for other
	// requests and third-party REGISTER until the final one. Far shorter than Timer F (32 s), so that a dead
	// AS does not hold every call of its users. Default 5 s.
	ASTimeout time.Duration `yaml:"as_timeout"`
	// Log selects level and format of the binary's logger (cmd/scscf; Run takes a logger made by the caller).
	Log logging.Config `yaml:"log"`
	// Resolver resolves next-hop names (ASs, I-CSCF by FQDN). Nil: the system resolver. Tests pass one that
	// refuses, so that nothing but loopback is ever contacted.
	Resolver *net.Resolver `yaml:"-"`
	// SIPTimerF and SIPTimerC override the proxy's transaction timers (tests use short ones); 0: RFC 3261.
	SIPTimerF time.Duration `yaml:"sip_timer_f"`
	SIPTimerC time.Duration `yaml:"sip_timer_c"`

	// TrustedNetworks are the networks of this node's trust domain (RFC 3325 §2.3, TS 24.229 §4.4): CIDR
	// prefixes or addresses of the P-CSCFs, I-CSCFs, S-CSCFs and ASs trusted to assert identities. A
	// REGISTER or an originating request (our Service-Route's "orig") from outside is refused with 403,
	// and every other message from outside loses its trust-domain header fields (P-Asserted-Identity, ...)
	// before it is read (sip/trust). Default: loopback (trust.DefaultNetworks). docs/scscf.md.
	TrustedNetworks []string `yaml:"trusted_networks"`
}

// SIPConfig is the SIP side.
type SIPConfig struct {
	// Listen is host:port served over UDP and TCP.
	Listen string `yaml:"listen"`
	// Advertise is the host put in Via, Record-Route and Service-Route. Default: the bound IP (so nothing
	// needs DNS on loopback).
	Advertise string `yaml:"advertise"`
	// Limits bound connections, message sizes and times, and transactions in flight (proxy.Limits; every key and
	// default in docs/scscf.md). Zero values take the defaults.
	Limits proxy.Limits `yaml:"limits"`
	// TLS adds SIP over TLS listeners and TLS towards sips / transport=tls next hops (proxy.TLSConfig; keys and
	// defaults in docs/interconnect.md). A listener without advertise takes Advertise. Default off.
	TLS proxy.TLSConfig `yaml:"tls"`
}

// DiameterConfig is the Cx side.
type DiameterConfig struct {
	OriginHost  string `yaml:"origin_host"`
	OriginRealm string `yaml:"origin_realm"`
	// HSS is the HSS's host:port, dialled and kept up; HSSHost its expected Origin-Host ("" accepts any),
	// HSSRealm the Destination-Realm of our requests (default OriginRealm).
	HSS      string `yaml:"hss"`
	HSSHost  string `yaml:"hss_host"`
	HSSRealm string `yaml:"hss_realm"`
	// Listen accepts Diameter connections (docs/design.md §2 names 3870 for it) from Peers only. RTR and PPR
	// arrive over the connection the S-CSCF opens to the HSS: the listener is needed only by an HSS or DRA that
	// dials S-CSCFs itself (imscore's HSS does not). Default "": off.
	Listen string `yaml:"listen"`
	// Peers are the peers allowed to connect to Listen (Origin-Host, Origin-Realm, source addresses; roles
	// default to hss). A CER from anything else is answered DIAMETER_UNKNOWN_PEER (RFC 6733 §7.1.3); RTR and
	// PPR are accepted only from a peer with the role hss (over this listener, or the dialled HSS connection),
	// DIAMETER_AUTHORIZATION_REJECTED otherwise. Required with Listen. Default: none.
	Peers []peer.AllowedPeer `yaml:"peers"`
	// TLS, when its files are set, runs Cx over TLS from the start of every connection (RFC 6733 §2.1), the
	// HSS's certificate required to name HSSHost. Default: TCP.
	TLS peer.TLSFiles `yaml:"tls"`
	// RequestTimeout bounds one Cx request. 0: the peer layer's default.
	RequestTimeout time.Duration `yaml:"request_timeout"`
	// WatchdogInterval is Tw (RFC 3539 §3.4.1). 0: the peer layer's default, 30 s.
	WatchdogInterval time.Duration `yaml:"watchdog_interval"`
	// Resilience holds reconnect_min and reconnect_max (redial backoff towards the HSS, 1 s doubling to
	// 4 s), max_consecutive_timeouts (Cx requests in a row that may time out before the HSS connection is
	// routed around, 3) and unresponsive_probe (how long before one request probes it again, 2 s).
	peer.Resilience `yaml:",inline"`
	// RetryAfter is the Retry-After (RFC 3261 §20.33) of the 503 answered, at once, to a request that needs
	// the HSS while none is reachable (no open connection, or all unresponsive) or when the HSS reports
	// itself too busy. Whole seconds, rounded up. Default 5 s.
	RetryAfter time.Duration `yaml:"retry_after"`
	// DOIC enables Diameter overload control as a reacting node (RFC 7683): OC-Supported-Features with the
	// loss algorithm in every MAR and SAR, and the share of requests an HSS's OC-OLR asks for answered 503
	// with Retry-After at once instead of being sent. Default true (DefaultConfig).
	DOIC bool `yaml:"doic"`
}

// RegistrationConfig is the registrar's policy.
type RegistrationConfig struct {
	// MinExpires: shorter requested expiries get 423 Interval Too Brief (RFC 3261 §10.3 step 7).
	MinExpires time.Duration `yaml:"min_expires"`
	// MaxExpires caps the granted expiry; DefaultExpires applies when the REGISTER asks none (clamped into
	// [MinExpires, MaxExpires]).
	MaxExpires     time.Duration `yaml:"max_expires"`
	DefaultExpires time.Duration `yaml:"default_expires"`
	// AuthTimeout is how long a challenge's vector waits for the response before SAR
	// AUTHENTICATION_TIMEOUT (TS 24.229 §5.4.1.2.1, TS 29.228 §6.1.2).
	AuthTimeout time.Duration `yaml:"auth_timeout"`
	// Scheme is the SIP-Authentication-Scheme asked in MAR when the REGISTER names no algorithm.
	Scheme string `yaml:"scheme"`
	// ReauthProtected, when false (the default), lets a re-registration that arrives integrity-protected
	// ("yes", "tls-yes", "ip-assoc-yes") from a registered UE skip authentication (TS 24.229 §5.4.1.2.1:
	// "the S-CSCF may decide not to authenticate"). True authenticates every REGISTER.
	ReauthProtected bool `yaml:"reauth_protected"`
}

// DefaultConfig returns the documented defaults.
func DefaultConfig() Config {
	return Config{
		Domain:     DefaultDomain,
		ServerName: DefaultServerName,
		SIP:        SIPConfig{Listen: DefaultSIPListen, Limits: proxy.DefaultLimits()},
		Diameter: DiameterConfig{
			OriginHost:  DefaultOriginHost,
			OriginRealm: DefaultDomain,
			HSS:         DefaultHSSAddress,
			HSSHost:     DefaultHSSHost,
			HSSRealm:    DefaultDomain,
			RetryAfter:  DefaultHSSRetryAfter,
			DOIC:        true,
		},
		HTTPListen: DefaultHTTPListen,
		DB:         DefaultDB,
		ICSCF:      DefaultICSCF,
		ICSCFRoute: DefaultICSCFRoute,
		Registration: RegistrationConfig{
			MinExpires:     DefaultMinExpires,
			MaxExpires:     DefaultMaxExpires,
			DefaultExpires: DefaultExpires,
			AuthTimeout:    DefaultAuthTimeout,
			Scheme:         cx.SchemeAKAv1MD5,
		},
		SubscribeMinExpires: DefaultSubscribeMin,
		SubscribeMaxExpires: DefaultSubscribeMax,
		ExpiryInterval:      DefaultExpiryInterval,
		ShutdownTimeout:     DefaultShutdownTimeout,
		StoreFlushInterval:  DefaultStoreFlushInterval,
		ISCTokenTTL:         DefaultISCTokenTTL,
		Restoration:         true,
		ASTimeout:           DefaultASTimeout,
		Log:                 logging.Default(),

		TrustedNetworks: trust.DefaultNetworks(),
	}
}

// WithDefaults fills zero fields from DefaultConfig. Listeners left empty stay disabled only where the
// field says "" disables (HTTPListen, Diameter.Listen): those keep what they hold.
func (c Config) WithDefaults() Config {
	d := DefaultConfig()
	set := func(v *string, def string) {
		if *v == "" {
			*v = def
		}
	}
	setD := func(v *time.Duration, def time.Duration) {
		if *v == 0 {
			*v = def
		}
	}
	set(&c.Domain, d.Domain)
	set(&c.ServerName, d.ServerName)
	set(&c.SIP.Listen, d.SIP.Listen)
	c.SIP.Limits = c.SIP.Limits.WithDefaults()
	set(&c.Diameter.OriginHost, d.Diameter.OriginHost)
	set(&c.Diameter.OriginRealm, c.Domain)
	set(&c.Diameter.HSS, d.Diameter.HSS)
	set(&c.Diameter.HSSRealm, c.Diameter.OriginRealm)
	set(&c.DB, d.DB)
	set(&c.ICSCF, d.ICSCF)
	set(&c.ICSCFRoute, d.ICSCFRoute)
	set(&c.Registration.Scheme, d.Registration.Scheme)
	setD(&c.Registration.MinExpires, d.Registration.MinExpires)
	setD(&c.Registration.MaxExpires, d.Registration.MaxExpires)
	setD(&c.Registration.DefaultExpires, d.Registration.DefaultExpires)
	// The default grant stays inside the configured range: setting max_expires alone is enough.
	if c.Registration.MaxExpires >= c.Registration.MinExpires {
		c.Registration.DefaultExpires = max(min(c.Registration.DefaultExpires, c.Registration.MaxExpires),
			c.Registration.MinExpires)
	}
	setD(&c.Registration.AuthTimeout, d.Registration.AuthTimeout)
	setD(&c.SubscribeMinExpires, d.SubscribeMinExpires)
	setD(&c.SubscribeMaxExpires, d.SubscribeMaxExpires)
	setD(&c.ExpiryInterval, d.ExpiryInterval)
	setD(&c.ShutdownTimeout, d.ShutdownTimeout)
	setD(&c.StoreFlushInterval, d.StoreFlushInterval)
	setD(&c.ISCTokenTTL, d.ISCTokenTTL)
	setD(&c.ASTimeout, d.ASTimeout)
	setD(&c.Diameter.RetryAfter, DefaultHSSRetryAfter)
	if c.TrustedNetworks == nil {
		c.TrustedNetworks = d.TrustedNetworks
	}
	return c
}

// Validate reports every invalid field, one error each.
func (c Config) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", field, fmt.Sprintf(format, args...)))
	}
	if c.Domain == "" {
		bad("domain", "empty")
	}
	var u sip.Uri
	if err := sip.ParseUri(c.ServerName, &u); err != nil || !strings.HasPrefix(c.ServerName, "sip:") {
		bad("server_name", "%q is not a sip: URI", c.ServerName)
	}
	if _, err := netip.ParseAddrPort(c.SIP.Listen); err != nil {
		bad("sip.listen", "%q: want IP:port", c.SIP.Listen)
	}
	if c.Diameter.OriginHost == "" || c.Diameter.OriginRealm == "" {
		bad("diameter", "origin_host and origin_realm are required")
	}
	if c.Diameter.HSS == "" {
		bad("diameter.hss", "empty")
	}
	if c.Diameter.WatchdogInterval < 0 {
		bad("diameter.watchdog_interval", "must not be negative")
	}
	if err := c.Diameter.Resilience.Validate("diameter"); err != nil {
		errs = append(errs, err)
	}
	if c.Diameter.RetryAfter < 0 {
		bad("diameter.retry_after", "must not be negative")
	}
	errs = append(errs, peer.CheckPeers(c.Diameter.Listen, c.Diameter.Peers, c.Diameter.TLS, c.Diameter.HSSHost, "hss_host",
		cx.RoleHSS, cx.RoleICSCF, cx.RoleSCSCF)...)
	if c.ICSCF != "" && c.ICSCF != ICSCFNone {
		if err := sip.ParseUri(c.ICSCF, &u); err != nil {
			bad("icscf", "%q is not a SIP URI", c.ICSCF)
		} else if t, ok := u.UriParams.Get("transport"); ok && !strings.EqualFold(t, "udp") && !strings.EqualFold(t, "tcp") {
			bad("icscf", "%q: transport %q, want udp or tcp", c.ICSCF, t)
		}
	}
	switch c.ICSCFRoute {
	case ICSCFRouteNextHop, ICSCFRouteRoute:
	default:
		bad("icscf_route", "%q: want %s or %s", c.ICSCFRoute, ICSCFRouteNextHop, ICSCFRouteRoute)
	}
	if c.Interconnect.Enabled {
		errs = append(errs, c.Interconnect.validate()...)
	}
	r := c.Registration
	if r.MinExpires <= 0 || r.MaxExpires < r.MinExpires {
		bad("registration", "want 0 < min_expires (%v) <= max_expires (%v)", r.MinExpires, r.MaxExpires)
	}
	if r.DefaultExpires < r.MinExpires || r.DefaultExpires > r.MaxExpires {
		bad("registration.default_expires", "%v outside [min_expires, max_expires]", r.DefaultExpires)
	}
	if r.AuthTimeout <= 0 {
		bad("registration.auth_timeout", "must be positive")
	}
	switch r.Scheme {
	case cx.SchemeAKAv1MD5, SchemeAKAv2MD5, cx.SchemeSIPDigest, cx.SchemeUnknown:
	default:
		bad("registration.scheme", "%q: want %s, %s, %s or %s", r.Scheme, cx.SchemeAKAv1MD5, SchemeAKAv2MD5,
			cx.SchemeSIPDigest, cx.SchemeUnknown)
	}
	if c.SubscribeMinExpires <= 0 || c.SubscribeMaxExpires < c.SubscribeMinExpires {
		bad("subscribe", "want 0 < subscribe_min_expires <= subscribe_max_expires")
	}
	if c.ExpiryInterval <= 0 {
		bad("expiry_interval", "must be positive")
	}
	if c.StoreFlushInterval <= 0 {
		bad("store_flush_interval", "must be positive")
	}
	if c.ASTimeout <= 0 {
		bad("as_timeout", "must be positive")
	}
	if _, err := trust.ParseDomain(c.TrustedNetworks); err != nil {
		errs = append(errs, err)
	}
	if err := c.Admin.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("admin: %w", err))
	}
	if err := c.SIP.Limits.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("sip: %w", err))
	}
	return errors.Join(errs...)
}
