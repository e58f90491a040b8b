package peer

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/fiorix/go-diameter/v4/diam/dict"
	"go.uber.org/zap"
)

// Defaults applied by New to zero fields of Config.
const (
	// DefaultWatchdogInterval is Tw, RFC 3539 §3.4.1 (Twinit default 30 s).
	DefaultWatchdogInterval = 30 * time.Second
	// DefaultRequestTimeout bounds one request, a capabilities exchange and a write.
	DefaultRequestTimeout = 5 * time.Second
	// DefaultReconnectMin and DefaultReconnectMax bound the redial backoff of dialled peers. The cap is
	// short on purpose: a node that lost its HSS for a minute must not wait up to half a minute more once
	// the HSS is back. A redial is one TCP connect (and a CER when it succeeds), jittered over [d/2, d], so a
	// few seconds between attempts cost a recovering peer next to nothing.
	DefaultReconnectMin = 1 * time.Second
	DefaultReconnectMax = 4 * time.Second
	// DefaultMaxConsecutiveTimeouts is how many application requests in a row may time out on one
	// connection before it is taken out of routing (Config.MaxConsecutiveTimeouts).
	DefaultMaxConsecutiveTimeouts = 3
	// DefaultUnresponsiveProbe is how long an unresponsive connection stays out of routing before one
	// request is let through to probe it (Config.UnresponsiveProbe).
	DefaultUnresponsiveProbe = 2 * time.Second
	// DefaultDisconnectHoldoff is how long a dialled peer is left alone after it sent DPR with
	// Disconnect-Cause BUSY or DO_NOT_WANT_TO_TALK_TO_YOU ("SHOULD NOT attempt reconnection",
	// RFC 6733 §5.4.3).
	DefaultDisconnectHoldoff = 5 * time.Minute
	// DefaultMaxMessageSize is the largest message accepted; a longer Message Length loses framing.
	DefaultMaxMessageSize = 1 << 20
	// DefaultMaxConcurrentRequests bounds incoming requests served at once, node-wide.
	DefaultMaxConcurrentRequests = 256
	// DefaultMaxConnections bounds the connections of a node, accepted and dialled together.
	DefaultMaxConnections = 1024
	// DefaultMaxStrangerConnections bounds the accepted connections, waiting for their CER, from
	// addresses that are no configured peer's source.
	DefaultMaxStrangerConnections = 16

	// maxMessageLength is what the 24-bit Message Length field can carry (RFC 6733 §3).
	maxMessageLength = 1<<24 - 1
	// watchdogJitter: RFC 3539 §3.4.1 jitters Tw by ±2 s; shorter Tw (tests) get ±Tw/4.
	watchdogJitter = 2 * time.Second
)

// Application is a Diameter application this node supports, advertised in CER/CEA
// (RFC 6733 §5.3) and offered to peers that advertise it too.
type Application struct {
	// ID is the Application-Id, e.g. 16777216 for Cx/Dx (TS 29.229 §6.1).
	ID uint32
	// VendorID, when not zero, advertises the application in a Vendor-Specific-Application-Id
	// with this Vendor-Id (RFC 6733 §6.11) and lists it in Supported-Vendor-Id (§5.3.6), as 3GPP
	// applications are (Cx: vendor 10415). Zero advertises a plain Auth-Application-Id.
	VendorID uint32
}

// Config describes the local node. Zero durations and sizes take the documented defaults.
type Config struct {
	// OriginHost and OriginRealm are this node's DiameterIdentity and realm (RFC 6733 §6.3, §6.4).
	OriginHost  string
	OriginRealm string
	// HostIPAddresses are sent as Host-IP-Address in CER/CEA (RFC 6733 §5.3.5). Empty: the
	// local address of each connection is sent.
	HostIPAddresses []netip.Addr
	// VendorID, ProductName and FirmwareRevision identify the implementation in CER/CEA
	// (RFC 6733 §5.3.3, §5.3.7, §5.3.4). FirmwareRevision zero is not sent.
	VendorID         uint32
	ProductName      string
	FirmwareRevision uint32
	// Applications are the Auth applications this node serves and uses. At least one.
	Applications []Application
	// Dictionary decodes and encodes messages; it must hold the base protocol (application 0)
	// and every application in Applications. It is only read.
	Dictionary *dict.Parser

	// WatchdogInterval is Tw (RFC 3539 §3.4.1), jittered by ±2 s (±Tw/4 when Tw < 8 s).
	WatchdogInterval time.Duration
	// RequestTimeout bounds each Request (and each retransmission together with it), the
	// capabilities exchange and every write.
	RequestTimeout time.Duration
	// ReconnectMin and ReconnectMax bound the exponential redial backoff of dialled peers (default 1 s
	// doubling to 4 s, each wait jittered over [d/2, d]).
	ReconnectMin, ReconnectMax time.Duration
	// MaxConsecutiveTimeouts is how many application requests in a row may time out (their deadline
	// passes with no answer; a cancelled caller does not count) on one open connection before the
	// connection is marked unresponsive, long before the watchdog could tell (RFC 3539 §3.4.1 needs
	// two Tw, 60 s by default, and a peer whose base protocol still answers DWR never turns SUSPECT):
	// no new request is routed to it, the requests waiting on it fail over at once as on SUSPECT
	// (RFC 6733 §5.5.4), and a node with no other peer fails them fast with ErrNoPeer. An answer to
	// any application request on the connection ends the count. Default 3; negative disables.
	MaxConsecutiveTimeouts int
	// UnresponsiveProbe is how long an unresponsive connection stays out of routing; then a single
	// request at a time is let through as a probe: its answer makes the connection usable again, its
	// timeout starts another wait. Default 2 s.
	UnresponsiveProbe time.Duration
	// DisconnectHoldoff is how long a dialled peer is not redialled after it sent DPR with cause
	// BUSY or DO_NOT_WANT_TO_TALK_TO_YOU (after REBOOTING, ReconnectMin applies).
	DisconnectHoldoff time.Duration
	// MaxMessageSize is the largest Message Length accepted (default 1 MiB, at most 2^24-1).
	MaxMessageSize int
	// MaxConcurrentRequests bounds incoming requests being served at once (node-wide); beyond
	// it requests are answered DIAMETER_TOO_BUSY (3004) rather than queued, so that reading
	// (and watchdog answers) never stalls.
	MaxConcurrentRequests int
	// MaxConnections bounds the connections open at once (default 1024); an accepted connection beyond
	// it is closed before anything is read from it, so that a flood of connections cannot exhaust the
	// process's file descriptors. Serve never stops on an accept error (EMFILE included): it backs off.
	MaxConnections int
	// MaxStrangerConnections bounds the accepted connections from addresses that are the source of no
	// configured peer (Peers), while they wait for the CER that can only be refused (default 16). Beyond
	// it they are closed at once; connections from configured sources are never counted against it.
	MaxStrangerConnections int

	// Peers are the peers whose connections Serve accepts. A CER is accepted only when its
	// Origin-Host and Origin-Realm are those of an entry, the connection comes from one of the
	// entry's Sources and, over TLS, the peer's certificate names the Origin-Host; any other CER is
	// answered DIAMETER_UNKNOWN_PEER (3010, RFC 6733 §7.1.3) and the connection closed. Empty: no
	// incoming connection is accepted. Connections this node dials (Connect) are not matched here:
	// their PeerConfig says whom to expect.
	Peers []AllowedPeer
	// Permissions maps a role (AllowedPeer.Roles, PeerConfig.Roles) to the application requests a
	// peer with that role may send. A request listed for none of the peer's roles is answered by
	// the peer layer, never handed to the Handler: DIAMETER_AUTHORIZATION_REJECTED (5003) when
	// another role may send it, DIAMETER_COMMAND_UNSUPPORTED (3001) when no role may. Nil: every
	// request of a negotiated application reaches the Handler.
	Permissions map[string][]Command
	// TLS, when set, runs every connection, accepted and dialled, over TLS from its start (RFC 6733
	// §2.1 TLS/TCP), with mutual authentication: see TLSFiles.Load. Dialled peers need a
	// PeerConfig.Host, which the server's certificate must name. Nil: TCP.
	TLS *tls.Config

	// Log receives peer up/down at Info and every message at Debug. Nil: no logging.
	Log *zap.Logger
	// Observer, if set, receives an Event for every counted occurrence (for metrics).
	Observer Observer
}

// PeerConfig is a peer this node dials and keeps connected (Node.Connect).
type PeerConfig struct {
	// Address is the peer's "host:port" for TCP.
	Address string
	// Host, if set, is the Origin-Host the peer must announce in its CEA; it also lets an
	// election with a simultaneous incoming connection happen before the CEA (RFC 6733 §5.6.4).
	Host string
	// Realm, if set, is the Origin-Realm the peer must announce in its CEA.
	Realm string
	// Roles say what the peer is to this node (Config.Permissions): the requests it may send over
	// this connection.
	Roles []string
}

// withDefaults returns c with zero fields set to the defaults.
func (c Config) withDefaults() Config {
	if c.WatchdogInterval == 0 {
		c.WatchdogInterval = DefaultWatchdogInterval
	}
	if c.RequestTimeout == 0 {
		c.RequestTimeout = DefaultRequestTimeout
	}
	if c.ReconnectMin == 0 {
		c.ReconnectMin = DefaultReconnectMin
	}
	if c.ReconnectMax == 0 {
		c.ReconnectMax = max(DefaultReconnectMax, c.ReconnectMin)
	}
	if c.DisconnectHoldoff == 0 {
		c.DisconnectHoldoff = DefaultDisconnectHoldoff
	}
	if c.MaxConsecutiveTimeouts == 0 {
		c.MaxConsecutiveTimeouts = DefaultMaxConsecutiveTimeouts
	}
	if c.UnresponsiveProbe == 0 {
		c.UnresponsiveProbe = DefaultUnresponsiveProbe
	}
	if c.MaxMessageSize == 0 {
		c.MaxMessageSize = DefaultMaxMessageSize
	}
	if c.MaxConcurrentRequests == 0 {
		c.MaxConcurrentRequests = DefaultMaxConcurrentRequests
	}
	if c.MaxConnections == 0 {
		c.MaxConnections = DefaultMaxConnections
	}
	if c.MaxStrangerConnections == 0 {
		c.MaxStrangerConnections = DefaultMaxStrangerConnections
	}
	if c.ProductName == "" {
		c.ProductName = "imscore"
	}
	if c.Log == nil {
		c.Log = zap.NewNop()
	}
	if c.Observer == nil {
		c.Observer = ObserverFunc(func(Event) {})
	}
	return c
}

// validate reports the first invalid field of a defaulted Config.
func (c Config) validate() error {
	if err := validIdentity(c.OriginHost); err != nil {
		return fmt.Errorf("%w: OriginHost: %w", ErrInvalidConfig, err)
	}
	if err := validIdentity(c.OriginRealm); err != nil {
		return fmt.Errorf("%w: OriginRealm: %w", ErrInvalidConfig, err)
	}
	for i, a := range c.HostIPAddresses {
		if !a.IsValid() {
			return fmt.Errorf("%w: HostIPAddresses[%d] is the zero netip.Addr", ErrInvalidConfig, i)
		}
	}
	if len(c.Applications) == 0 {
		return fmt.Errorf("%w: Applications is empty: CER must advertise at least one application (RFC 6733 §5.3)", ErrInvalidConfig)
	}
	if c.Dictionary == nil {
		return fmt.Errorf("%w: Dictionary is nil", ErrInvalidConfig)
	}
	for _, code := range []uint32{cmdCapabilitiesExchange, cmdDeviceWatchdog, cmdDisconnectPeer} {
		if _, err := c.Dictionary.FindCommand(0, code); err != nil {
			return fmt.Errorf("%w: Dictionary lacks base command %d (RFC 6733 §3.1): %w", ErrInvalidConfig, code, err)
		}
	}
	seen := make(map[uint32]bool, len(c.Applications))
	for i, a := range c.Applications {
		if a.ID == 0 || a.ID == relayApplicationID {
			return fmt.Errorf("%w: Applications[%d]: id %d is not an Auth application", ErrInvalidConfig, i, a.ID)
		}
		if seen[a.ID] {
			return fmt.Errorf("%w: Applications[%d]: id %d listed twice", ErrInvalidConfig, i, a.ID)
		}
		seen[a.ID] = true
		if _, err := c.Dictionary.App(a.ID); err != nil {
			return fmt.Errorf("%w: Applications[%d]: id %d not in Dictionary: %w", ErrInvalidConfig, i, a.ID, err)
		}
	}
	switch {
	case c.WatchdogInterval < 0:
		return fmt.Errorf("%w: WatchdogInterval %v is negative", ErrInvalidConfig, c.WatchdogInterval)
	case c.RequestTimeout < 0:
		return fmt.Errorf("%w: RequestTimeout %v is negative", ErrInvalidConfig, c.RequestTimeout)
	case c.ReconnectMin < 0:
		return fmt.Errorf("%w: ReconnectMin %v is negative", ErrInvalidConfig, c.ReconnectMin)
	case c.ReconnectMax < c.ReconnectMin:
		return fmt.Errorf("%w: ReconnectMax %v is below ReconnectMin %v", ErrInvalidConfig, c.ReconnectMax, c.ReconnectMin)
	case c.UnresponsiveProbe < 0:
		return fmt.Errorf("%w: UnresponsiveProbe %v is negative", ErrInvalidConfig, c.UnresponsiveProbe)
	case c.DisconnectHoldoff < 0:
		return fmt.Errorf("%w: DisconnectHoldoff %v is negative", ErrInvalidConfig, c.DisconnectHoldoff)
	case c.MaxMessageSize < 4096 || c.MaxMessageSize > maxMessageLength:
		return fmt.Errorf("%w: MaxMessageSize %d outside [4096, %d]", ErrInvalidConfig, c.MaxMessageSize, maxMessageLength)
	case c.MaxConnections < 0 || c.MaxStrangerConnections < 0:
		return fmt.Errorf("%w: MaxConnections %d or MaxStrangerConnections %d is negative", ErrInvalidConfig, c.MaxConnections, c.MaxStrangerConnections)
	case c.MaxConcurrentRequests < 0:
		return fmt.Errorf("%w: MaxConcurrentRequests %d is negative", ErrInvalidConfig, c.MaxConcurrentRequests)
	}
	return validateTLS(c.TLS)
}

// validate reports what is wrong with a PeerConfig.
func (p PeerConfig) validate() error {
	if p.Address == "" {
		return fmt.Errorf("%w: PeerConfig.Address is empty", ErrInvalidConfig)
	}
	if _, _, err := net.SplitHostPort(p.Address); err != nil {
		return fmt.Errorf("%w: PeerConfig.Address %q: %w", ErrInvalidConfig, p.Address, err)
	}
	if p.Host != "" {
		if err := validIdentity(p.Host); err != nil {
			return fmt.Errorf("%w: PeerConfig.Host: %w", ErrInvalidConfig, err)
		}
	}
	if p.Realm != "" {
		if err := validIdentity(p.Realm); err != nil {
			return fmt.Errorf("%w: PeerConfig.Realm: %w", ErrInvalidConfig, err)
		}
	}
	return nil
}

// validIdentity checks a DiameterIdentity (RFC 6733 §4.3.1: an FQDN or realm): letters,
// digits, '-', '_' and dots between labels.
func validIdentity(s string) error {
	if s == "" {
		return errors.New("empty")
	}
	if len(s) > 255 {
		return fmt.Errorf("%q is longer than 255 octets", s)
	}
	if s[0] == '.' || s[len(s)-1] == '.' {
		return fmt.Errorf("%q starts or ends with a dot", s)
	}
	for i := 0; i < len(s); i++ {
		ch := s[i]
		ok := ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z' || ch >= '0' && ch <= '9' || ch == '-' || ch == '_' || ch == '.'
		if !ok {
			return fmt.Errorf("%q: character %q is not allowed in a DiameterIdentity", s, ch)
		}
		if ch == '.' && s[i-1] == '.' {
			return fmt.Errorf("%q has an empty label", s)
		}
	}
	return nil
}

// Resilience is the part of Config a node's configuration file exposes for the peers it dials
// (a CSCF's HSS): how soon a silent peer is routed around and how soon a lost one is redialled.
// The yaml keys are those of the nodes' diameter sections; zero fields take Config's defaults.
type Resilience struct {
	// ReconnectMin and ReconnectMax: Config.ReconnectMin, Config.ReconnectMax (1 s, 4 s).
	ReconnectMin time.Duration `yaml:"reconnect_min"`
	ReconnectMax time.Duration `yaml:"reconnect_max"`
	// MaxConsecutiveTimeouts: Config.MaxConsecutiveTimeouts (3; negative disables).
	MaxConsecutiveTimeouts int `yaml:"max_consecutive_timeouts"`
	// UnresponsiveProbe: Config.UnresponsiveProbe (2 s).
	UnresponsiveProbe time.Duration `yaml:"unresponsive_probe"`
}

// Apply copies r into c.
func (r Resilience) Apply(c *Config) {
	c.ReconnectMin, c.ReconnectMax = r.ReconnectMin, r.ReconnectMax
	c.MaxConsecutiveTimeouts, c.UnresponsiveProbe = r.MaxConsecutiveTimeouts, r.UnresponsiveProbe
}

// Validate reports every invalid field under its yaml key, prefixed with section (e.g. "diameter").
func (r Resilience) Validate(section string) error {
	var errs []error
	if r.ReconnectMin < 0 {
		errs = append(errs, fmt.Errorf("%s.reconnect_min: must not be negative", section))
	}
	if r.ReconnectMax < 0 {
		errs = append(errs, fmt.Errorf("%s.reconnect_max: must not be negative", section))
	} else if r.ReconnectMax > 0 && r.ReconnectMax < max(r.ReconnectMin, 0) {
		errs = append(errs, fmt.Errorf("%s.reconnect_max %v: below reconnect_min %v", section, r.ReconnectMax, r.ReconnectMin))
	}
	if r.UnresponsiveProbe < 0 {
		errs = append(errs, fmt.Errorf("%s.unresponsive_probe: must not be negative", section))
	}
	return errors.Join(errs...)
}
