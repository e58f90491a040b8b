package hss

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/imscore/imscore/diameter/cx"
	"github.com/imscore/imscore/diameter/peer"
	"github.com/imscore/imscore/diameter/userdata"
	"github.com/imscore/imscore/hss/aka"
	"github.com/imscore/imscore/internal/adminhttp"
	"github.com/imscore/imscore/internal/logging"
)

// Defaults of DefaultConfig. docs/design.md §2 fixes the conventions (test PLMN 001/01, HSS Diameter on 3868 over
// TCP); docs/hss.md has the same table.
const (
	// DefaultDiameterListen is where the HSS accepts Cx peers (TCP; SCTP is not in our kernels).
	DefaultDiameterListen = "127.0.0.1:3868"
	// DefaultOriginHost is the HSS's DiameterIdentity (RFC 6733 §6.3), the Destination-Host CSCFs use.
	DefaultOriginHost = "hss." + DefaultDomain
	// DefaultRealm is the HSS's Origin-Realm, the home network domain (TS 23.003 §13.2).
	DefaultRealm = DefaultDomain
	// DefaultAPIListen serves the provisioning API, /metrics, /healthz and /readyz over HTTP.
	DefaultAPIListen = "127.0.0.1:8080"
	// DefaultDSN is the embedded SQLite database, created under ./var on first start.
	DefaultDSN = "./var/hss.db"
	// DefaultSCSCFName is the S-CSCF seeded at start: the Server-Name the I-CSCF and S-CSCF of this
	// project use by default (docs/design.md §2: S-CSCF SIP on 6060).
	DefaultSCSCFName = "sip:scscf." + DefaultDomain + ":6060"
	// DefaultMaxAuthItems caps SIP-Number-Auth-Items: a MAR asking for more vectors gets this many
	// (TS 29.228 §6.3.1 lets the HSS return fewer than requested).
	DefaultMaxAuthItems = 5
	// DefaultWatchdogInterval is Tw, RFC 3539 §3.4.1.
	DefaultWatchdogInterval = 30 * time.Second
	// DefaultRequestTimeout bounds an RTR or PPR round trip.
	DefaultRequestTimeout = 5 * time.Second
	// DefaultMaxConcurrentRequests bounds the Cx requests served at once; beyond it the peer layer
	// answers DIAMETER_TOO_BUSY rather than queue.
	DefaultMaxConcurrentRequests = 256
	// DefaultICSCFHost and DefaultSCSCFHost are the Origin-Hosts of the project's I-CSCF and S-CSCF by default:
	// the peers DefaultConfig allows, from loopback only.
	DefaultICSCFHost = "icscf." + DefaultDomain
	DefaultSCSCFHost = "scscf." + DefaultDomain
	// DefaultShutdownTimeout bounds the graceful part of shutdown (DPR exchanges, HTTP drain).
	DefaultShutdownTimeout = 5 * time.Second
)

// Roles of the Diameter peers of an HSS (diameter.peers[].roles): what each may send, TS 29.228 §6.
const (
	// RoleICSCF may send UAR (§6.1.1) and LIR (§6.1.4).
	RoleICSCF = cx.RoleICSCF
	// RoleSCSCF may send MAR (§6.3), SAR (§6.1.2) and LIR (§6.1.4: the S-CSCF also queries the location of
	// a user, TS 29.229 §6.1.5 "sent by a Diameter Multimedia client"). RTR and PPR are the HSS's own requests.
	RoleSCSCF = cx.RoleSCSCF
)

// Config is the configuration of an HSS node: the Cx server, the provisioning API and the store. The yaml
// tags are the configuration file format (cmd/hss --config); DefaultConfig documents every default.
type Config struct {
	Diameter DiameterConfig `yaml:"diameter"`
	API      APIConfig      `yaml:"api"`
	Store    StoreConfig    `yaml:"store"`
	Cx       CxConfig       `yaml:"cx"`
	// SCSCFs are upserted into the store at start (Store.PutSCSCF); S-CSCFs the store knows already and
	// that are not listed here are left alone.
	SCSCFs []SCSCFConfig  `yaml:"scscfs"`
	Log    logging.Config `yaml:"log"`
	// EAP is the EAP-TLS server for PAAs on the Diameter EAP application (eap.go, docs/fastreg.md); off
	// without eap.cert_file.
	EAP EAPConfig `yaml:"eap"`
	// FastReg is the access-bound fast registration (docs/fastreg.md); off by default.
	FastReg FastRegConfig `yaml:"fastreg"`
}

// DiameterConfig is the Cx transport and identity.
type DiameterConfig struct {
	// Listen is the TCP address Cx peers connect to; port 0 picks a free one (tests).
	Listen string `yaml:"listen"`
	// OriginHost and Realm are this HSS's Origin-Host and Origin-Realm (RFC 6733 §6.3, §6.4).
	OriginHost string `yaml:"origin_host"`
	Realm      string `yaml:"realm"`
	// WatchdogInterval is Tw of RFC 3539 §3.4.1.
	WatchdogInterval time.Duration `yaml:"watchdog_interval"`
	// RequestTimeout bounds each RTR and PPR (and the capabilities exchange).
	RequestTimeout time.Duration `yaml:"request_timeout"`
	// MaxConcurrentRequests bounds the Cx requests served at once.
	MaxConcurrentRequests int `yaml:"max_concurrent_requests"`
	// Peers are the CSCFs allowed to connect: Origin-Host, Origin-Realm, source addresses and roles
	// (RoleICSCF, RoleSCSCF). A CER from anything else is answered DIAMETER_UNKNOWN_PEER (RFC 6733 §7.1.3);
	// a request the peer's roles may not send, DIAMETER_AUTHORIZATION_REJECTED (§7.1.5). Default: the
	// project's I-CSCF and S-CSCF (DefaultICSCFHost, DefaultSCSCFHost) in the realm, from 127.0.0.1 and ::1.
	Peers []peer.AllowedPeer `yaml:"peers"`
	// TLS, when its files are set, runs Cx over TLS from the start of every connection (RFC 6733 §2.1),
	// peers' certificates verified against ca_file and required to name their Origin-Host. Default: TCP.
	TLS peer.TLSFiles `yaml:"tls"`
}

// DefaultPeers are the peers DefaultConfig allows: the default I-CSCF and S-CSCF, on this host.
func DefaultPeers() []peer.AllowedPeer {
	loopback := []string{"127.0.0.1", "::1"}
	return []peer.AllowedPeer{
		{Host: DefaultICSCFHost, Realm: DefaultRealm, Sources: loopback, Roles: []string{RoleICSCF}},
		{Host: DefaultSCSCFHost, Realm: DefaultRealm, Sources: loopback, Roles: []string{RoleSCSCF}},
	}
}

// APIConfig is the HTTP side: provisioning, metrics and health.
type APIConfig struct {
	// Listen is the TCP address of the HTTP server; port 0 picks a free one (tests).
	Listen string `yaml:"listen"`
	// ShutdownTimeout bounds the graceful shutdown (DPR to peers, HTTP drain) when the node stops.
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout"`
	// Security is tokens_file, pprof, metrics_auth, tls_cert and tls_key (internal/adminhttp.Config): the
	// bearer tokens of the provisioning API (required on every /api/v1/ route) and of the runtime profiles and
	// /metrics, and HTTPS. No tokens file (the default) refuses every API request.
	Security adminhttp.Config `yaml:",inline"`
}

// StoreConfig selects the subscriber store.
type StoreConfig struct {
	// DSN is a PostgreSQL URL (postgres://user:pass@host/db) or an SQLite file path (sqlite://PATH or a
	// plain path); see storage.ParseDSN.
	DSN string `yaml:"dsn"`
	// AutoMigrate applies the schema migrations at start. When false, a store whose schema is not current
	// is refused.
	AutoMigrate bool `yaml:"auto_migrate"`
	// CacheTTL bounds how long provisioned data shared by subscribers (service profiles, shared iFC sets, the
	// S-CSCF list, the default charging addresses) is served from memory after another process changed it
	// (docs/hss.md, "Read cache"); changes made through this node are seen at once. 0 reads it every time.
	CacheTTL time.Duration `yaml:"cache_ttl"`
}

// DefaultCacheTTL is store.cache_ttl (the value of storage/internal/hsssql.DefaultCacheTTL).
const DefaultCacheTTL = time.Second

// CxConfig holds the policies the Cx procedures leave to the HSS.
type CxConfig struct {
	// HomeNetworks are the Visited-Network-Identifier values that mean "not roaming": a UAR from one of
	// them passes the roaming check whatever the subscriber's allowed networks are (TS 29.228 §6.1.1.1).
	// Empty means the realm. Compared case-insensitively, surrounding quotes ignored.
	HomeNetworks []string `yaml:"home_networks"`
	// MaxAuthItems caps the vectors returned for one MAR (SIP-Number-Auth-Items, TS 29.229 §6.3.8).
	MaxAuthItems uint32 `yaml:"max_auth_items"`
	// SQN is the TS 33.102 Annex C sequence number scheme; IndBits must match the USIMs.
	SQN SQNConfig `yaml:"sqn"`
	// DigestRealm is the Digest-Realm of SIP Digest vectors and the realm HA1 is computed with from a
	// clear password (RFC 2617 §3.2.2.2). Empty means the realm.
	DigestRealm string `yaml:"digest_realm"`
	// KeepServerName: on a *_STORE_SERVER_NAME de-registration the HSS keeps the S-CSCF name (the
	// identity becomes "unregistered") when true, or answers DIAMETER_SUCCESS_SERVER_NAME_NOT_STORED
	// when false (TS 29.228 §6.1.2.1 leaves the choice to the HSS).
	KeepServerName bool `yaml:"keep_server_name"`
	// Restoration enables IMS restoration (TS 23.380 §5.2, TS 29.228 §6.1.2.1): the HSS stores the
	// SCSCF-Restoration-Info S-CSCFs send, hands it to an S-CSCF that takes a registered user over and
	// accepts SAR RESTORATION. False: restoration information is ignored, RESTORATION is
	// DIAMETER_ERROR_IN_ASSIGNMENT_TYPE and another S-CSCF gets DIAMETER_ERROR_IDENTITY_ALREADY_REGISTERED.
	Restoration bool `yaml:"restoration"`
	// MaxUserDataBytes bounds the User-Data document of an SAA or PPR; larger profiles are refused with
	// DIAMETER_ERROR_TOO_MUCH_DATA (TS 29.229 §6.2.2.8).
	MaxUserDataBytes int `yaml:"max_user_data_bytes"`
	// SharedIFCSets lets the HSS send shared iFC set identifiers instead of their iFCs to S-CSCFs that
	// announce the SiFC feature (TS 29.229 §7.1.1, TS 29.228 Annex E); false always expands them.
	SharedIFCSets bool `yaml:"shared_ifc_sets"`
	// Operations bounds the network-initiated procedures (RTR, PPR) the HSS runs in the background and
	// keeps the outcome of: max kept, retention of a finished one, concurrency.
	Operations OperationsConfig `yaml:"operations"`
}

// SQNConfig is aka.SQNConfig as configured: the length of IND and Δ (TS 33.102 Annex C.3).
type SQNConfig struct {
	// IndBits is the length of IND; the USIMs must use the same.
	IndBits uint8 `yaml:"ind_bits"`
	// Delta is Δ, the freshness window a resync compares against (TS 33.102 §6.3.5, Annex C.2.1).
	Delta uint64 `yaml:"delta"`
	// Block is the number of SQNs reserved per store write (hss/sqnblock.go): a MAR issues from the
	// reserved block without writing; a restart skips the rest of each block. 1 reserves only what a MAR
	// issues. 1..min(Delta, 65536).
	Block uint64 `yaml:"block"`
	// BlockCache is the number of private identities whose unused block is kept in memory; beyond it an
	// arbitrary one is dropped (its SQNs are skipped). ≥ 1.
	BlockCache int `yaml:"block_cache"`
}

// validateBlock checks Block and BlockCache: a block larger than Δ could make the USIM refuse the first
// SQN after a restart (TS 33.102 Annex C.2.1: SEQ − SEQ_MS ≤ Δ).
func (c SQNConfig) validateBlock() error {
	if c.Block < 1 || c.Block > min(c.Delta, MaxSQNBlock) {
		return fmt.Errorf("block %d: want 1..%d (≤ delta and ≤ %d)", c.Block, min(c.Delta, MaxSQNBlock), MaxSQNBlock)
	}
	if c.BlockCache < 1 {
		return fmt.Errorf("block_cache %d: want ≥ 1", c.BlockCache)
	}
	return nil
}

// AKA returns the configuration as the aka package takes it.
func (c SQNConfig) AKA() aka.SQNConfig {
	return aka.SQNConfig{IndBits: c.IndBits, Delta: c.Delta}
}

// SCSCFConfig is one S-CSCF seeded into the store with the capabilities it offers (TS 29.228 §6.7).
type SCSCFConfig struct {
	// Name is its Server-Name, a SIP URI.
	Name      string   `yaml:"name"`
	Mandatory []uint32 `yaml:"mandatory_capabilities"`
	Optional  []uint32 `yaml:"optional_capabilities"`
}

// DefaultConfig returns the configuration `bin/hss` runs with when given no flags and no file: Cx on
// 127.0.0.1:3868 as hss.ims.mnc001.mcc001.3gppnetwork.org, the API on 127.0.0.1:8080, the embedded store in
// ./var/hss.db migrated at start, and the project's default S-CSCF seeded.
func DefaultConfig() Config {
	sqn := aka.DefaultSQNConfig()
	return Config{
		Diameter: DiameterConfig{
			Listen:                DefaultDiameterListen,
			OriginHost:            DefaultOriginHost,
			Realm:                 DefaultRealm,
			WatchdogInterval:      DefaultWatchdogInterval,
			RequestTimeout:        DefaultRequestTimeout,
			MaxConcurrentRequests: DefaultMaxConcurrentRequests,
			Peers:                 DefaultPeers(),
		},
		API:   APIConfig{Listen: DefaultAPIListen, ShutdownTimeout: DefaultShutdownTimeout},
		Store: StoreConfig{DSN: DefaultDSN, AutoMigrate: true, CacheTTL: DefaultCacheTTL},
		Cx: CxConfig{
			MaxAuthItems:     DefaultMaxAuthItems,
			SQN:              SQNConfig{IndBits: sqn.IndBits, Delta: sqn.Delta, Block: DefaultSQNBlock, BlockCache: DefaultSQNBlockCache},
			KeepServerName:   true,
			Restoration:      true,
			MaxUserDataBytes: userdata.MaxSize,
			SharedIFCSets:    true,
			Operations:       DefaultOperationsConfig(),
		},
		// Capability numbers are operator-defined (TS 29.228 §6.7): 1 and 2 are examples, offered by the
		// default S-CSCF so that subscribers requiring either still find it.
		SCSCFs:  []SCSCFConfig{{Name: DefaultSCSCFName, Mandatory: []uint32{1}, Optional: []uint32{2}}},
		Log:     logging.Default(),
		FastReg: DefaultFastRegConfig(),
	}
}

// Validate reports the first invalid field, named as in the configuration file; errors wrap ErrInvalidConfig.
func (c *Config) Validate() error {
	bad := func(field, format string, args ...any) error {
		return fmt.Errorf("%w: %s: %s", ErrInvalidConfig, field, fmt.Sprintf(format, args...))
	}
	if err := validListen(c.Diameter.Listen); err != nil {
		return bad("diameter.listen", "%v", err)
	}
	if err := validDiameterIdentity(c.Diameter.OriginHost); err != nil {
		return bad("diameter.origin_host", "%v", err)
	}
	if err := validDiameterIdentity(c.Diameter.Realm); err != nil {
		return bad("diameter.realm", "%v", err)
	}
	if c.Diameter.WatchdogInterval < time.Second {
		return bad("diameter.watchdog_interval", "%v: want at least 1s (RFC 3539 §3.4.1)", c.Diameter.WatchdogInterval)
	}
	if c.Diameter.RequestTimeout < 10*time.Millisecond {
		return bad("diameter.request_timeout", "%v: want at least 10ms", c.Diameter.RequestTimeout)
	}
	if c.Diameter.MaxConcurrentRequests < 1 {
		return bad("diameter.max_concurrent_requests", "%d: want at least 1", c.Diameter.MaxConcurrentRequests)
	}
	if len(c.Diameter.Peers) == 0 {
		return bad("diameter.peers", "empty: no I-CSCF or S-CSCF could connect")
	}
	for i, p := range c.Diameter.Peers {
		field := fmt.Sprintf("diameter.peers[%d]", i)
		if err := p.Validate(); err != nil {
			return bad(field, "%v", err)
		}
		if len(p.Roles) == 0 {
			return bad(field+".roles", "empty: want %s and/or %s", RoleICSCF, RoleSCSCF)
		}
		for _, r := range p.Roles {
			if r != RoleICSCF && r != RoleSCSCF && r != RoleBSF && r != RolePAA { // RoleBSF: zh.go, RolePAA: fastreg.go
				return bad(field+".roles", "%q: want %s, %s, %s or %s", r, RoleICSCF, RoleSCSCF, RoleBSF, RolePAA)
			}
		}
	}
	if err := c.Diameter.TLS.Validate(); err != nil {
		return bad("diameter.tls", "%v", err)
	}
	if err := validListen(c.API.Listen); err != nil {
		return bad("api.listen", "%v", err)
	}
	if err := c.API.Security.Validate(); err != nil {
		return bad("api", "%v", err)
	}
	if c.API.ShutdownTimeout <= 0 {
		return bad("api.shutdown_timeout", "%v: want a positive duration", c.API.ShutdownTimeout)
	}
	if strings.TrimSpace(c.Store.DSN) == "" {
		return bad("store.dsn", "empty: want a postgres:// URL or an SQLite file path")
	}
	for i, n := range c.Cx.HomeNetworks {
		if strings.TrimSpace(n) == "" {
			return bad(fmt.Sprintf("cx.home_networks[%d]", i), "empty")
		}
	}
	if c.Cx.MaxAuthItems < 1 || c.Cx.MaxAuthItems > aka.MaxSQNBatch {
		return bad("cx.max_auth_items", "%d: want 1..%d", c.Cx.MaxAuthItems, aka.MaxSQNBatch)
	}
	if err := c.Cx.SQN.AKA().Validate(); err != nil {
		return bad("cx.sqn", "%v", err)
	}
	if err := c.Cx.SQN.validateBlock(); err != nil {
		return bad("cx.sqn", "%v", err)
	}
	if c.Cx.MaxUserDataBytes < 512 || c.Cx.MaxUserDataBytes > userdata.MaxSize {
		return bad("cx.max_user_data_bytes", "%d: want 512..%d", c.Cx.MaxUserDataBytes, userdata.MaxSize)
	}
	if err := c.Cx.Operations.Validate(); err != nil {
		return fmt.Errorf("%w: cx.operations.%v", ErrInvalidConfig, err)
	}
	seen := make(map[string]bool, len(c.SCSCFs))
	for i, s := range c.SCSCFs {
		field := fmt.Sprintf("scscfs[%d].name", i)
		lower := strings.ToLower(s.Name)
		if !strings.HasPrefix(lower, "sip:") && !strings.HasPrefix(lower, "sips:") {
			return bad(field, "%q: want a SIP URI (TS 29.229 §6.3.3 Server-Name)", s.Name)
		}
		if strings.ContainsAny(s.Name, " \t\r\n") {
			return bad(field, "%q contains white space", s.Name)
		}
		if seen[s.Name] {
			return bad(field, "%q listed twice", s.Name)
		}
		seen[s.Name] = true
	}
	if _, err := logging.New(c.Log, "validate"); err != nil {
		return bad("log", "%v", err)
	}
	if c.FastReg.Enabled {
		return c.FastReg.validate() // fastreg.go
	}
	return nil
}

// homeNetworks returns the Visited-Network-Identifier values of the home network.
func (c *Config) homeNetworks() []string {
	if len(c.Cx.HomeNetworks) > 0 {
		return c.Cx.HomeNetworks
	}
	return []string{c.Diameter.Realm}
}

// digestRealm returns the realm of SIP Digest vectors.
func (c *Config) digestRealm() string {
	if c.Cx.DigestRealm != "" {
		return c.Cx.DigestRealm
	}
	return c.Diameter.Realm
}

func validListen(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%q: %w", addr, err)
	}
	if port == "" {
		return fmt.Errorf("%q: no port", addr)
	}
	_ = host // empty host listens on every address; allowed, though loopback is the default
	return nil
}

// validDiameterIdentity checks an FQDN-shaped DiameterIdentity (RFC 6733 §4.3.1).
func validDiameterIdentity(s string) error {
	switch {
	case s == "":
		return errors.New("empty")
	case len(s) > 255:
		return fmt.Errorf("%q is longer than 255 octets", s)
	case strings.HasPrefix(s, ".") || strings.HasSuffix(s, ".") || strings.Contains(s, ".."):
		return fmt.Errorf("%q has an empty label", s)
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '.' || r == '_') {
			return fmt.Errorf("%q: character %q is not allowed in a DiameterIdentity", s, r)
		}
	}
	return nil
}
