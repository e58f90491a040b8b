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
	// Limits bound what peers can make this proxy hold: connections, slow or large messages, transactions.
	// They apply to TLS connections as to TCP ones.
	Limits Limits `yaml:"limits"`
	// TLS adds TLS listeners and TLS towards sips and transport=tls next hops (tls.go). Default off.
	TLS TLSConfig `yaml:"tls"`

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
	// DSCP is the Differentiated Services code point (RFC 2474 §3, 0 to 63) of every SIP packet this
	// proxy sends: set as IP_TOS / IPV6_TCLASS on its UDP and TCP sockets (accepted TCP connections
	// inherit it from their listener). 0 leaves the system default (best effort).
	DSCP uint8 `yaml:"-"`
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

// Limits bound the resources a peer can make the proxy hold, so that no peer can stop a node (docs/security.md).
// Zero values take the defaults below, sized for a P-CSCF facing 100,000 UEs that each keep one TCP connection.
type Limits struct {
	// MaxConnections bounds the TCP connections open at once, accepted and dialled together. At the bound, a
	// new accepted connection sheds the accepted connection idle the longest (one that never carried a whole
	// message first) or, when every one is busy, is closed at once. Connections the proxy dials itself count but
	// are never refused nor shed: they carry requests the core sends, in-dialog ones included. The effective
	// bound is never above the process's RLIMIT_NOFILE minus a reserve (a tenth of it, 64 to 4096 descriptors)
	// for UDP sockets, Diameter, HTTP and storage; New logs it. Default 150,000.
	MaxConnections int `yaml:"max_connections"`
	// MaxConnectionsPerSource bounds the accepted TCP connections from one source IP address (loopback
	// included: tests with many UEs on one address raise it). A connection beyond it is closed at once.
	// Default 32; raise it where UEs sit behind a NAT that shares one address.
	MaxConnectionsPerSource int `yaml:"max_connections_per_source"`
	// IdleTimeout closes a TCP connection that carried no byte either way for that long. A UE keeps its
	// connection between re-registrations (RFC 5626 §4.4; TS 24.229 §5.1.1.4.1 re-registers 600 s before the
	// expiry) and CRLF keep-alives (RFC 5626 §3.5.1) count as traffic. Default 3605 s: a registration of one
	// hour plus a margin, as Kamailio's IMS configurations use (tcp_connection_lifetime).
	IdleTimeout time.Duration `yaml:"idle_timeout"`
	// HeaderTimeout bounds the time from the first byte of a message on a TCP connection to the end of its
	// header section (slow senders: slowloris). Default 5 s.
	HeaderTimeout time.Duration `yaml:"header_timeout"`
	// MessageTimeout bounds the time from the first byte of a message on a TCP connection to its last body
	// byte, and the time an accepted connection may stay silent before its first message (a UE sends its
	// REGISTER as soon as it connects; a connection opened only to hold a descriptor is closed). Default 30 s.
	MessageTimeout time.Duration `yaml:"message_timeout"`
	// WriteTimeout bounds one write to a TCP connection whose peer does not read. Default 10 s.
	WriteTimeout time.Duration `yaml:"write_timeout"`
	// MaxMessageSize bounds one message, header section and body (RFC 3261 §18.3 framing). A larger message
	// closes its TCP connection (there is no boundary to resync on); a larger UDP datagram is dropped.
	// Default 65,536 bytes; 1,024 to 16 MiB.
	MaxMessageSize int `yaml:"max_message_size"`
	// MaxTransactions bounds the server transactions in flight (no final response sent yet). Beyond it a new
	// request outside a dialog is answered 503 Service Unavailable with Retry-After at once (RFC 3261 §21.5.4,
	// the shedding of RFC 7339 §5.2), before the router runs; retransmissions, ACK, CANCEL, in-dialog
	// requests and responses are still processed. Default 20,000.
	MaxTransactions int `yaml:"max_transactions"`
	// RetryAfter is the Retry-After of that 503 (RFC 3261 §20.33), in whole seconds. Default 5 s.
	RetryAfter time.Duration `yaml:"retry_after"`
}

// Documented limits (see Limits).
const (
	DefaultMaxConnections          = 150_000
	DefaultMaxConnectionsPerSource = 32
	DefaultIdleTimeout             = 3605 * time.Second
	DefaultHeaderTimeout           = 5 * time.Second
	DefaultMessageTimeout          = 30 * time.Second
	DefaultWriteTimeout            = 10 * time.Second
	DefaultMaxMessageSize          = 64 << 10
	DefaultMaxTransactions         = 20_000
	DefaultRetryAfter              = 5 * time.Second

	minMessageSize = 1 << 10
	maxMessageSize = 16 << 20
)

// DefaultLimits returns Limits with every default filled in.
func DefaultLimits() Limits {
	return Limits{
		MaxConnections:          DefaultMaxConnections,
		MaxConnectionsPerSource: DefaultMaxConnectionsPerSource,
		IdleTimeout:             DefaultIdleTimeout,
		HeaderTimeout:           DefaultHeaderTimeout,
		MessageTimeout:          DefaultMessageTimeout,
		WriteTimeout:            DefaultWriteTimeout,
		MaxMessageSize:          DefaultMaxMessageSize,
		MaxTransactions:         DefaultMaxTransactions,
		RetryAfter:              DefaultRetryAfter,
	}
}

// WithDefaults fills zero values with the defaults.
func (l Limits) WithDefaults() Limits {
	d := DefaultLimits()
	set := func(v *int, def int) {
		if *v == 0 {
			*v = def
		}
	}
	setD := func(v *time.Duration, def time.Duration) {
		if *v == 0 {
			*v = def
		}
	}
	set(&l.MaxConnections, d.MaxConnections)
	set(&l.MaxConnectionsPerSource, d.MaxConnectionsPerSource)
	set(&l.MaxMessageSize, d.MaxMessageSize)
	set(&l.MaxTransactions, d.MaxTransactions)
	setD(&l.IdleTimeout, d.IdleTimeout)
	setD(&l.HeaderTimeout, d.HeaderTimeout)
	setD(&l.MessageTimeout, d.MessageTimeout)
	setD(&l.WriteTimeout, d.WriteTimeout)
	setD(&l.RetryAfter, d.RetryAfter)
	return l
}

// Validate reports every invalid limit; names are the YAML keys under "limits".
func (l Limits) Validate() error {
	var errs []error
	for _, f := range []struct {
		name string
		v    int
	}{{"max_connections", l.MaxConnections}, {"max_connections_per_source", l.MaxConnectionsPerSource},
		{"max_transactions", l.MaxTransactions}} {
		if f.v < 0 {
			errs = append(errs, fmt.Errorf("limits.%s %d: must not be negative", f.name, f.v))
		}
	}
	if l.MaxMessageSize != 0 && (l.MaxMessageSize < minMessageSize || l.MaxMessageSize > maxMessageSize) {
		errs = append(errs, fmt.Errorf("limits.max_message_size %d: want %d..%d", l.MaxMessageSize, minMessageSize, maxMessageSize))
	}
	for _, f := range []struct {
		name string
		v    time.Duration
	}{{"idle_timeout", l.IdleTimeout}, {"header_timeout", l.HeaderTimeout}, {"message_timeout", l.MessageTimeout},
		{"write_timeout", l.WriteTimeout}} {
		if f.v < 0 {
			errs = append(errs, fmt.Errorf("limits.%s %v: must not be negative", f.name, f.v))
		}
	}
	if l.RetryAfter < 0 || (l.RetryAfter > 0 && l.RetryAfter < time.Second) {
		errs = append(errs, fmt.Errorf("limits.retry_after %v: want whole seconds, at least 1 s", l.RetryAfter))
	}
	return errors.Join(errs...)
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
		Limits:            DefaultLimits(),
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
	c.Limits = c.Limits.WithDefaults()
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
	if err := c.Limits.Validate(); err != nil {
		errs = append(errs, err)
	}
	if err := c.TLS.Validate(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
