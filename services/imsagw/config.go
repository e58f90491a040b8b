package imsagw

import (
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/imscore/imscore/internal/adminhttp"
	"github.com/imscore/imscore/internal/logging"

	"github.com/imscore/imscore/internal/dscp"
)

// Documented defaults (docs/imsagw.md).
const (
	// DefaultIqListen is the H.248 port of H.248.1 Annex D.1 (2944, text encoding).
	DefaultIqListen   = "127.0.0.1:2944"
	DefaultIqPeer     = "127.0.0.1"
	DefaultHTTPListen = "127.0.0.1:9106"
	// DefaultAccessAddress and DefaultCoreAddress are where the terminations of each realm bind.
	DefaultAccessAddress = "127.0.0.1"
	DefaultCoreAddress   = "127.0.0.1"
	// DefaultAccessRealm and DefaultCoreRealm are the ipdc/realm values (H.248.41) that select them.
	DefaultAccessRealm = "access"
	DefaultCoreRealm   = "core"
	DefaultMaxContexts = 10000
	// DefaultSetupTimeout removes a context whose bearer is not up and which has had no Iq command for this
	// long: a call whose controller went away before the media flowed.
	DefaultSetupTimeout = 5 * time.Minute
	// DefaultIdleTimeout releases a relayed bearer that carried no byte either way for this long.
	DefaultIdleTimeout = time.Hour
	// DefaultConfigHold is how long a connection accepted before its termination's Remote descriptor arrived
	// waits for it (the UE may connect as soon as it sent its answer).
	DefaultConfigHold = 5 * time.Second
	// DefaultHandshakeTimeout bounds the TLS handshake with the UE and DefaultDialTimeout an outgoing TCP
	// connection.
	DefaultHandshakeTimeout = 10 * time.Second
	DefaultDialTimeout      = 5 * time.Second
	// DefaultRTPIdleTimeout releases an anchored RTP bearer that carried no packet either way for this long
	// (media inactivity; RTCP alone keeps it up, as it does every few seconds while a call is on hold).
	DefaultRTPIdleTimeout = 30 * time.Second
)

// Config is everything Run needs. Zero values take the defaults above.
type Config struct {
	// Iq is the H.248 control interface towards the IMS-ALG (TS 29.334).
	Iq IqConfig `yaml:"iq"`
	// AccessAddress and CoreAddress are the local addresses the terminations of the access realm (towards
	// the UEs, T1) and of the core realm (T2) bind to; ports are chosen by the kernel.
	AccessAddress string `yaml:"access_address"`
	CoreAddress   string `yaml:"core_address"`
	// AccessRealm and CoreRealm are the ipdc/realm names (H.248.41) of the two realms.
	AccessRealm string `yaml:"access_realm"`
	CoreRealm   string `yaml:"core_realm"`
	// TLS is the AGW's certificate towards the UEs (TS 33.328 e2ae: the UE checks it against the fingerprint
	// the P-CSCF put in the SDP). Both empty: a self-signed ECDSA P-256 certificate made at start.
	TLS TLSFiles `yaml:"tls"`
	// MaxContexts bounds the contexts at once; a new context beyond it gets error 412 (No ContextIDs available).
	MaxContexts int `yaml:"max_contexts"`
	// SetupTimeout, IdleTimeout, ConfigHold, HandshakeTimeout, DialTimeout: see the defaults.
	SetupTimeout     time.Duration `yaml:"setup_timeout"`
	IdleTimeout      time.Duration `yaml:"idle_timeout"`
	ConfigHold       time.Duration `yaml:"config_hold"`
	HandshakeTimeout time.Duration `yaml:"handshake_timeout"`
	DialTimeout      time.Duration `yaml:"dial_timeout"`
	RTPIdleTimeout   time.Duration `yaml:"rtp_idle_timeout"`
	// MediaDSCP is the DS code point of the RTP and RTCP the AGW sends on both sides (RFC 2474; default 46, EF,
	// for telephony media: RFC 3246, RFC 4594 §4.1; 0 leaves the packets unmarked). MSRP is not marked.
	MediaDSCP uint8 `yaml:"media_dscp"`

	// HTTPListen serves /metrics, /healthz, /readyz (and /debug/pprof/ with admin.pprof). Empty disables it.
	HTTPListen string           `yaml:"http_listen"`
	Admin      adminhttp.Config `yaml:"admin"`
	Log        logging.Config   `yaml:"log"`
}

// IqConfig is the H.248 endpoint (h248.EndpointConfig).
type IqConfig struct {
	// Listen is the UDP address of the Iq interface; MID the mId written in every message ("" makes
	// "[address]:port").
	Listen string `yaml:"listen"`
	MID    string `yaml:"mid"`
	// Peers are the IMS-ALG (P-CSCF) addresses whose requests are served: the trust boundary of Iq
	// (TS 29.334 §5.13). Default 127.0.0.1.
	Peers []string `yaml:"peers"`
}

// TLSFiles names the PEM certificate chain and private key.
type TLSFiles struct {
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
}

// DefaultConfig is the configuration with every documented default.
func DefaultConfig() Config {
	return Config{
		Iq:            IqConfig{Listen: DefaultIqListen, Peers: []string{DefaultIqPeer}},
		AccessAddress: DefaultAccessAddress, CoreAddress: DefaultCoreAddress,
		AccessRealm: DefaultAccessRealm, CoreRealm: DefaultCoreRealm,
		MaxContexts: DefaultMaxContexts, SetupTimeout: DefaultSetupTimeout, IdleTimeout: DefaultIdleTimeout,
		ConfigHold: DefaultConfigHold, HandshakeTimeout: DefaultHandshakeTimeout, DialTimeout: DefaultDialTimeout,
		RTPIdleTimeout: DefaultRTPIdleTimeout, MediaDSCP: dscp.EF,
		HTTPListen: DefaultHTTPListen, Log: logging.Default(),
	}
}

func (c Config) withDefaults() Config {
	d := DefaultConfig()
	set := func(v *string, def string) {
		if *v == "" {
			*v = def
		}
	}
	set(&c.Iq.Listen, d.Iq.Listen)
	set(&c.AccessAddress, d.AccessAddress)
	set(&c.CoreAddress, d.CoreAddress)
	set(&c.AccessRealm, d.AccessRealm)
	set(&c.CoreRealm, d.CoreRealm)
	if len(c.Iq.Peers) == 0 {
		c.Iq.Peers = d.Iq.Peers
	}
	dur := func(v *time.Duration, def time.Duration) {
		if *v <= 0 {
			*v = def
		}
	}
	dur(&c.SetupTimeout, d.SetupTimeout)
	dur(&c.IdleTimeout, d.IdleTimeout)
	dur(&c.ConfigHold, d.ConfigHold)
	dur(&c.HandshakeTimeout, d.HandshakeTimeout)
	dur(&c.DialTimeout, d.DialTimeout)
	dur(&c.RTPIdleTimeout, d.RTPIdleTimeout)
	if c.MaxContexts <= 0 {
		c.MaxContexts = d.MaxContexts
	}
	return c
}

// Validate reports the first field that cannot work, named as in the configuration file.
func (c Config) Validate() error {
	if c.MediaDSCP > 63 {
		return fmt.Errorf("media_dscp %d: a DS code point is 0..63 (RFC 2474 §3)", c.MediaDSCP)
	}
	if _, err := netip.ParseAddrPort(c.Iq.Listen); err != nil {
		return fmt.Errorf("iq.listen %q: %w", c.Iq.Listen, err)
	}
	for _, p := range c.Iq.Peers {
		if _, err := netip.ParseAddr(p); err != nil {
			return fmt.Errorf("iq.peers %q: %w", p, err)
		}
	}
	if _, err := netip.ParseAddr(c.AccessAddress); err != nil {
		return fmt.Errorf("access_address %q: %w", c.AccessAddress, err)
	}
	if _, err := netip.ParseAddr(c.CoreAddress); err != nil {
		return fmt.Errorf("core_address %q: %w", c.CoreAddress, err)
	}
	if c.AccessRealm == c.CoreRealm {
		return errors.New("access_realm and core_realm: must differ")
	}
	if (c.TLS.CertFile == "") != (c.TLS.KeyFile == "") {
		return errors.New("tls.cert_file and tls.key_file: set both or neither")
	}
	return c.Admin.Validate()
}
