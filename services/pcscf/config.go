package pcscf

import (
	"errors"
	"fmt"
	"net/netip"
	"path/filepath"
	"strings"
	"time"

	"github.com/imscore/imscore/internal/adminhttp"
	"github.com/imscore/imscore/internal/logging"
	"github.com/imscore/imscore/services/pcscf/bindings"
	"github.com/imscore/imscore/sip/proxy"
	"github.com/imscore/imscore/sip/resolve"
	"github.com/imscore/imscore/sip/trust"
	"github.com/imscore/imscore/storage"
)

// IPsecMode says whether the P-CSCF offers IMS-AKA sec-agree with kernel IPsec (TS 33.203 §7).
type IPsecMode string

// The three modes of --ipsec.
const (
	// IPsecAuto probes the kernel at start-up: with ESP, sec-agree is offered and UEs that do not
	// ask for it are still served; without ESP, only UEs that do not ask for sec-agree are served
	// (one warning at start-up). The default.
	IPsecAuto IPsecMode = "auto"
	// IPsecRequired refuses to start without ESP and answers 421 to a REGISTER without sec-agree.
	IPsecRequired IPsecMode = "required"
	// IPsecOff never offers sec-agree: a UE that requires it gets 420 (RFC 3329 §2.3.1).
	IPsecOff IPsecMode = "off"
)

// PortRange is a range of protected ports [First, First+Count).
type PortRange struct {
	First uint16 `yaml:"first"`
	Count uint16 `yaml:"count"`
}

// Config of the P-CSCF. DefaultConfig gives every default; docs/pcscf.md lists them.
type Config struct {
	// Listen are the unprotected SIP addresses (UDP and TCP on each). The protected ports are
	// bound on the same IPs. Default 127.0.0.1:5060.
	Listen []string `yaml:"listen"`
	// ICSCF is the next hop of REGISTER requests (TS 24.229 §5.2.2.1): ip:port, a static address every
	// REGISTER goes to (labs, one home network), or "dns": the I-CSCF of the home network the REGISTER's
	// Request-URI names, found by DNS (RFC 3263: NAPTR, SRV, A/AAAA) with failover across the addresses, so that
	// one P-CSCF serves visitors of several home networks (homenet.go). Default 127.0.0.1:4060.
	ICSCF string `yaml:"icscf"`
	// ICSCFTransport is udp, tcp or tls (with sip.tls), for a static ICSCF. Default udp.
	ICSCFTransport string `yaml:"icscf_transport"`
	// DNS configures the resolver of ICSCF "dns" (sip/resolve.Config: servers, timeout, attempts, transports,
	// caches, blacklist_for). Its static entries are the per-domain overrides: "home.example": ["udp:10.0.0.1:5060"]
	// sends the REGISTERs of that home network there without asking DNS. Default: the servers of
	// /etc/resolv.conf, UDP then TCP (the P-CSCF has no TLS towards the core).
	DNS resolve.Config `yaml:"dns"`
	// ICSCFAttemptTimeout, with ICSCF "dns", gives up on one I-CSCF address when no final response to a REGISTER
	// came within it and tries the next one (RFC 3263 §4.3 "a timeout"): a home I-CSCF that is down is passed
	// after this instead of Timer F (32 s), which the UE's own Timer F would meet first. Keep it above the home
	// network's REGISTER round trip (UAR, S-CSCF, MAR). Default 0: the transaction timers alone.
	ICSCFAttemptTimeout time.Duration `yaml:"icscf_attempt_timeout"`
	// IPsec is auto, required or off.
	IPsec IPsecMode `yaml:"ipsec"`
	// ClientPorts and ServerPorts are the pools of protected ports (TS 33.203 §7.1 port_pc,
	// port_ps). Default 5100+8 and 6100+8.
	ClientPorts PortRange `yaml:"client_ports"`
	ServerPorts PortRange `yaml:"server_ports"`
	// SPIFirst and SPICount bound the SPIs this P-CSCF allocates for its inbound SAs.
	SPIFirst uint32 `yaml:"spi_first"`
	SPICount uint32 `yaml:"spi_count"`
	// Integrity and Encryption are the acceptable alg and ealg values, most preferred first
	// (RFC 3329 / TS 33.203 Annex H names). Empty: secagree.DefaultPreference.
	Integrity  []string `yaml:"integrity"`
	Encryption []string `yaml:"encryption"`
	// InitialSALifetime is the lifetime of the SAs installed on the 401, before the protected
	// REGISTER succeeds (TS 33.203 §7.1: "temporary" SAs). Default 4 min: the UE must answer
	// within the transaction anyway.
	InitialSALifetime time.Duration `yaml:"initial_sa_lifetime"`
	// SAGrace is added to the registration expiry for the SA lifetime (TS 33.203 §7.1: SA
	// lifetime slightly longer than the registration). Default 30 s.
	SAGrace time.Duration `yaml:"sa_grace"`
	// DeregDelay is how long SAs stay after the final response to a de-registration was sent
	// through them, so that it leaves before they go. Default 500 ms.
	DeregDelay time.Duration `yaml:"dereg_delay"`
	// VisitedNetworkID is the P-Visited-Network-ID value (RFC 7315 §4.3). Default the home domain.
	VisitedNetworkID string `yaml:"visited_network_id"`
	// ChargingHost is the icid-generated-at of P-Charging-Vector; default the first listen IP.
	ChargingHost string `yaml:"charging_host"`
	// DB is the bindings' store (the journal of the registry, docs/pcscf.md "State"): sqlite://PATH,
	// postgres://… (pools: several P-CSCFs on one database), or "memory" for none. Empty (the default): SQLite
	// file pcscf.db in the directory of StateFile, or memory when StateFile is empty too.
	DB string `yaml:"db"`
	// DBFlushInterval is the loss window: a changed binding is written to the store at most this long after
	// the change, a burst of changes in one transaction. A crash (kill -9, power) loses at most this much
	// (those UEs register again); a clean stop loses nothing. 0 writes each change as soon as the writer gets
	// to it (still never on a request's path). Default 1 s.
	DBFlushInterval time.Duration `yaml:"db_flush_interval"`
	// NodeID names this P-CSCF in the store: the owner of the rows it writes, the rows it loads at start. Two
	// P-CSCFs on one database need different ones, and a P-CSCF must keep its own across restarts. Empty (the
	// default): the first listen address.
	NodeID string `yaml:"node_id"`
	// StateFile is the JSON state file of an earlier P-CSCF version: when it exists at start, its registrations
	// are imported into the store once and it is renamed <file>.imported. It also places the default DB.
	// Default ./var/pcscf-state.json; empty: nothing imported, and DB empty means memory only.
	StateFile string `yaml:"state_file"`
	// IPAssociation marks a REGISTER without sec-agree that comes from the address of an existing
	// registration of the same IMPU as integrity-protected="ip-assoc-yes" (TS 24.229 §5.2.2.1, §7.2A.2), so
	// that the S-CSCF need not challenge it again. Sound only where the packet core binds the UE's address
	// to its subscription (GIBA-like deployments, TS 33.978): otherwise a host behind the same NAT as a
	// registered UE could take over its binding without a challenge. Default false: every such REGISTER is
	// challenged.
	IPAssociation bool `yaml:"ip_association"`
	// TrustedNetworks are the networks of the trust domain (RFC 3325 §2.3, TS 24.229 §4.4): CIDR prefixes or
	// addresses of the core nodes (the S-CSCF, the I-CSCF, application servers). A request is from the core side
	// only when its source is inside them and is not a registered UE's (its SAs or its registered address and
	// port); every other request is from the access side (TS 24.229 §5.2.6, §5.2.7): served only from a
	// registered UE, its trust-domain header fields removed. Only the core side may use the Path address and a
	// registered contact, and send reg event NOTIFYs. Default trust.DefaultNetworks(), the loopback networks: on
	// one host every local process is inside; a deployment with UEs on networks of their own names its core
	// networks here (docs/security.md).
	TrustedNetworks []string `yaml:"trusted_networks"`
	// SIP holds the limits of every SIP listener, protected ports included.
	SIP SIPConfig `yaml:"sip"`
	// QoS is policy control towards a PCRF (rx) or a PCF (n5): qos.go, docs/qos.md. Default off.
	QoS QoSConfig `yaml:"qos"`
	// ALG is the IMS-ALG towards an IMS-AGW (imsalg.go, docs/imsagw.md). Default off.
	ALG ALGConfig `yaml:"alg"`
	// HTTP serves /metrics, /healthz and /readyz. Empty disables it. Default 127.0.0.1:9101.
	HTTP string `yaml:"http"`
	// Admin is the admin listener's security (internal/adminhttp.Config, the same keys on every node):
	// tokens_file, pprof (default false: /debug/pprof/ is 404), metrics_auth (default false: /metrics open),
	// tls_cert and tls_key (default: plain HTTP). docs/operations.md.
	Admin adminhttp.Config `yaml:"admin"`
	// Log is the logging configuration (used by cmd/pcscf).
	Log logging.Config `yaml:"log"`

	// Store, when set, replaces DB (tests). Not configurable.
	Store bindings.Store `yaml:"-"`
	// SAs, when set, replaces the kernel (tests on a host without ESP). Not configurable.
	SAs SAManager `yaml:"-"`
	// InNamespace, when set, runs the P-CSCF's outgoing TCP connects inside it: for tests that run
	// the node in a network namespace of their own process (see proxy.Config.InNamespace).
	InNamespace func(func() error) error `yaml:"-"`
}

// SIPConfig is the SIP transport side of the P-CSCF.
type SIPConfig struct {
	// Limits bound connections, message sizes and times, and transactions in flight (proxy.Limits; every key and
	// default in docs/pcscf.md). Zero values take the defaults, sized for 100,000 UEs on one P-CSCF.
	Limits proxy.Limits `yaml:"limits"`
	// TLS adds SIP over TLS listeners and TLS towards sips / transport=tls next hops (proxy.TLSConfig; keys and
	// defaults in docs/interconnect.md). Default off.
	TLS proxy.TLSConfig `yaml:"tls"`
}

// Defaults (docs/design.md §2).
const (
	DefaultListen            = "127.0.0.1:5060"
	DefaultICSCF             = "127.0.0.1:4060"
	DefaultHTTP              = "127.0.0.1:9101"
	DefaultStateFile         = "./var/pcscf-state.json"
	DefaultDomain            = "ims.mnc001.mcc001.3gppnetwork.org"
	DefaultInitialSALifetime = 4 * time.Minute
	DefaultSAGrace           = 30 * time.Second
	DefaultDeregDelay        = 500 * time.Millisecond
	DefaultDBFlush           = time.Second
	DefaultSPIFirst          = 0x10000
	DefaultSPICount          = 0x10000
)

// DefaultConfig returns the documented defaults.
func DefaultConfig() Config {
	return Config{
		Listen:            []string{DefaultListen},
		ICSCF:             DefaultICSCF,
		ICSCFTransport:    "udp",
		IPsec:             IPsecAuto,
		ClientPorts:       PortRange{First: 5100, Count: 8},
		ServerPorts:       PortRange{First: 6100, Count: 8},
		SPIFirst:          DefaultSPIFirst,
		SPICount:          DefaultSPICount,
		InitialSALifetime: DefaultInitialSALifetime,
		SAGrace:           DefaultSAGrace,
		DeregDelay:        DefaultDeregDelay,
		VisitedNetworkID:  DefaultDomain,
		StateFile:         DefaultStateFile,
		DBFlushInterval:   DefaultDBFlush,
		TrustedNetworks:   trust.DefaultNetworks(),
		SIP:               SIPConfig{Limits: proxy.DefaultLimits()},
		HTTP:              DefaultHTTP,
		Log:               logging.Default(),
	}
}

// Validate reports every bad field.
func (c Config) Validate() error {
	var errs []error
	if err := c.QoS.validate(); err != nil {
		errs = append(errs, err)
	}
	if err := c.ALG.validate(); err != nil {
		errs = append(errs, err)
	}
	if len(c.Listen) == 0 {
		errs = append(errs, errors.New("listen: at least one address is required"))
	}
	for i, l := range c.Listen {
		ap, err := netip.ParseAddrPort(l)
		if err != nil {
			errs = append(errs, fmt.Errorf("listen[%d] %q: want ip:port: %w", i, l, err))
			continue
		}
		if ap.Addr().IsUnspecified() {
			errs = append(errs, fmt.Errorf("listen[%d] %q: a wildcard cannot be the protected address of an SA", i, l))
		}
	}
	if _, err := netip.ParseAddrPort(c.ICSCF); err != nil && !c.byDNS() {
		errs = append(errs, fmt.Errorf("icscf %q: want ip:port or %q: %w", c.ICSCF, ICSCFByDNS, err))
	}
	if c.byDNS() {
		if err := c.DNS.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("dns: %w", err))
		}
	}
	if c.ICSCFAttemptTimeout < 0 {
		errs = append(errs, errors.New("icscf_attempt_timeout: must not be negative"))
	}
	switch c.ICSCFTransport {
	case "udp", "tcp":
	case "tls":
		if !c.SIP.TLS.Enabled() {
			errs = append(errs, errors.New("icscf_transport tls: needs sip.tls"))
		}
	default:
		errs = append(errs, fmt.Errorf("icscf_transport %q: want udp, tcp or tls", c.ICSCFTransport))
	}
	switch c.IPsec {
	case IPsecAuto, IPsecRequired, IPsecOff:
	default:
		errs = append(errs, fmt.Errorf("ipsec %q: want auto, required or off", c.IPsec))
	}
	for _, r := range []struct {
		name string
		r    PortRange
	}{{"client_ports", c.ClientPorts}, {"server_ports", c.ServerPorts}} {
		if r.r.First == 0 || r.r.Count == 0 || int(r.r.First)+int(r.r.Count) > 65536 {
			errs = append(errs, fmt.Errorf("%s %d+%d: want a non-empty range of ports", r.name, r.r.First, r.r.Count))
		}
	}
	if overlap(c.ClientPorts, c.ServerPorts) {
		errs = append(errs, errors.New("client_ports and server_ports overlap"))
	}
	if c.SPIFirst < 256 || c.SPICount < 16 || uint64(c.SPIFirst)+uint64(c.SPICount) > 1<<32 {
		errs = append(errs, fmt.Errorf("spi_first %d spi_count %d: want SPIs >= 256, at least 16 of them", c.SPIFirst, c.SPICount))
	}
	if _, err := trust.ParseDomain(c.TrustedNetworks); err != nil {
		errs = append(errs, err)
	}
	if c.DBFlushInterval < 0 {
		errs = append(errs, fmt.Errorf("db_flush_interval: %v is negative", c.DBFlushInterval))
	}
	if c.DB != "" && !strings.EqualFold(c.DB, dbMemory) {
		if _, _, err := storage.ParseDSN(c.DB); err != nil {
			errs = append(errs, fmt.Errorf("db: %w", err))
		}
	}
	if c.InitialSALifetime <= 0 || c.SAGrace < 0 || c.DeregDelay < 0 {
		errs = append(errs, errors.New("initial_sa_lifetime must be positive, sa_grace and dereg_delay not negative"))
	}
	if err := c.Admin.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("admin: %w", err))
	}
	if err := c.SIP.Limits.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("sip: %w", err))
	}
	return errors.Join(errs...)
}

// dbMemory as DB keeps the bindings in memory only.
const dbMemory = "memory"

// dsn is the store's DSN, "" for memory only.
func (c Config) dsn() string {
	switch {
	case strings.EqualFold(c.DB, dbMemory):
		return ""
	case c.DB != "":
		return c.DB
	case c.StateFile != "":
		return "sqlite://" + filepath.Join(filepath.Dir(c.StateFile), "pcscf.db")
	}
	return ""
}

// nodeID is NodeID, else the first listen address.
func (c Config) nodeID() string {
	if c.NodeID != "" {
		return c.NodeID
	}
	if len(c.Listen) > 0 {
		return c.Listen[0]
	}
	return "pcscf"
}

func overlap(a, b PortRange) bool {
	aEnd, bEnd := int(a.First)+int(a.Count), int(b.First)+int(b.Count)
	return int(a.First) < bEnd && int(b.First) < aEnd
}
