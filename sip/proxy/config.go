package proxy

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"time"
)

// Config is what New needs. Zero durations and sizes take the documented defaults (see DefaultConfig).
type Config struct {
	// Listen lists the addresses served. Each one gets a UDP and a TCP socket on the same port (a peer that
	// switches a large request to TCP under RFC 3261 §18.1.1 keeps our host and port). At least one is required.
	Listen []Listen `yaml:"listen"`
	// Aliases are further host or host:port values that name this node in a Route header or Request-URI
	// (RFC 3261 §16.4), e.g. the FQDN a Service-Route or Path carries. The advertised listener addresses
	// always count.
	Aliases []string `yaml:"aliases"`

	// TimerC bounds an INVITE branch (RFC 3261 §16.6 step 11: "MUST be larger than 3 minutes"). Default 181 s.
	// Tests may set it lower; production should not.
	TimerC time.Duration `yaml:"timer_c"`
	// TimerF bounds a non-INVITE client transaction and the wait for a final response after a CANCEL
	// (64*T1, RFC 3261 §17.1.2.2 and §9.1). Default 32 s.
	TimerF time.Duration `yaml:"timer_f"`
	// RouteTimeout bounds one Router.Route call. When it expires the request is answered 504 Server Time-out
	// (RFC 3261 §21.5.5: a server the router consulted, HSS or DNS, did not answer in time). Default 10 s.
	RouteTimeout time.Duration `yaml:"route_timeout"`
	// TCPConnectTimeout bounds a TCP connect to a next hop. Default 5 s.
	TCPConnectTimeout time.Duration `yaml:"tcp_connect_timeout"`

	// MaxForwards is the value added to a forwarded request that has no Max-Forwards (RFC 3261 §16.6 step 3).
	// Default 70.
	MaxForwards int `yaml:"max_forwards"`
	// UDPMaxRequest is the request size above which a request meant for UDP goes over TCP instead
	// (RFC 3261 §18.1.1: larger than 1300 bytes with the path MTU unknown). Default 1300; negative disables.
	UDPMaxRequest int `yaml:"udp_max_request"`
	// URISchemes are the Request-URI schemes accepted (RFC 3261 §16.3 step 2, else 416). Default sip, tel, urn.
	URISchemes []string `yaml:"uri_schemes"`

	// Router decides what happens to each request. Required.
	Router Router `yaml:"-"`
	// Metrics receives counters. Optional.
	Metrics Metrics `yaml:"-"`
	// Resolver resolves next-hop host names (A/AAAA, and SRV when the URI has no port). Default net.DefaultResolver.
	Resolver *net.Resolver `yaml:"-"`
	// InNamespace, when set, runs each outgoing TCP connect inside it. A test that runs this proxy in
	// a network namespace of its own process (network namespaces belong to OS threads, so a later dial
	// from another thread would leave from the host's namespace) passes its namespace's Do here. nil:
	// connect directly, as a process that runs wholly in one namespace does.
	InNamespace func(func() error) error `yaml:"-"`
}

// Listen is one address served over UDP and TCP.
type Listen struct {
	// Addr is host:port to bind, IPv4 or IPv6 ("127.0.0.1:5060", "[::1]:5060"). Port 0 picks a free port, the same
	// for UDP and TCP; Proxy.Listeners reports it.
	Addr string `yaml:"addr"`
	// Advertise is the host put in Via sent-by and Record-Route. Default: the bound IP. Required when Addr is a
	// wildcard (0.0.0.0 or ::), since a wildcard cannot be reached.
	Advertise string `yaml:"advertise"`
}

// Documented defaults.
const (
	DefaultTimerC            = 3*time.Minute + time.Second
	DefaultTimerF            = 32 * time.Second
	DefaultRouteTimeout      = 10 * time.Second
	DefaultTCPConnectTimeout = 5 * time.Second
	DefaultMaxForwards       = 70
	DefaultUDPMaxRequest     = 1300
)

// DefaultConfig returns a Config with every default filled in and no listeners or router.
func DefaultConfig() Config {
	return Config{
		TimerC:            DefaultTimerC,
		TimerF:            DefaultTimerF,
		RouteTimeout:      DefaultRouteTimeout,
		TCPConnectTimeout: DefaultTCPConnectTimeout,
		MaxForwards:       DefaultMaxForwards,
		UDPMaxRequest:     DefaultUDPMaxRequest,
		URISchemes:        []string{"sip", "tel", "urn"},
	}
}

// withDefaults fills zero values with the defaults.
func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.TimerC == 0 {
		c.TimerC = d.TimerC
	}
	if c.TimerF == 0 {
		c.TimerF = d.TimerF
	}
	if c.RouteTimeout == 0 {
		c.RouteTimeout = d.RouteTimeout
	}
	if c.TCPConnectTimeout == 0 {
		c.TCPConnectTimeout = d.TCPConnectTimeout
	}
	if c.MaxForwards == 0 {
		c.MaxForwards = d.MaxForwards
	}
	if c.UDPMaxRequest == 0 {
		c.UDPMaxRequest = d.UDPMaxRequest
	}
	if len(c.URISchemes) == 0 {
		c.URISchemes = d.URISchemes
	}
	if c.Metrics == nil {
		c.Metrics = NopMetrics{}
	}
	if c.Resolver == nil {
		c.Resolver = net.DefaultResolver
	}
	return c
}

// Validate reports every invalid field, one precise error each.
func (c Config) Validate() error {
	var errs []error
	if len(c.Listen) == 0 {
		errs = append(errs, errors.New("listen: at least one address is required"))
	}
	for i, l := range c.Listen {
		ap, err := netip.ParseAddrPort(l.Addr)
		if err != nil {
			errs = append(errs, fmt.Errorf("listen[%d].addr %q: want ip:port: %w", i, l.Addr, err))
			continue
		}
		if ap.Addr().IsUnspecified() && l.Advertise == "" {
			errs = append(errs, fmt.Errorf("listen[%d].advertise: required when addr %q is a wildcard", i, l.Addr))
		}
		if strings.ContainsAny(l.Advertise, " ;,<>\"") {
			errs = append(errs, fmt.Errorf("listen[%d].advertise %q: not a host", i, l.Advertise))
		}
	}
	if c.Router == nil {
		errs = append(errs, errors.New("router: required"))
	}
	if c.TimerC < 0 || c.TimerF < 0 || c.RouteTimeout < 0 || c.TCPConnectTimeout < 0 {
		errs = append(errs, errors.New("timers: must not be negative"))
	}
	if c.MaxForwards < 0 || c.MaxForwards > 255 {
		errs = append(errs, fmt.Errorf("max_forwards %d: want 1..255", c.MaxForwards))
	}
	return errors.Join(errs...)
}
