package paa

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/imscore/imscore/internal/adminhttp"
	"github.com/imscore/imscore/internal/logging"
	"github.com/imscore/imscore/services/paa/eaptls"
	"github.com/imscore/imscore/services/paa/pana"
)

// Documented defaults (docs/fastreg.md).
const (
	// DefaultListen is PANA's UDP port (RFC 5191 §10.2) on every address, IPv4 and IPv6.
	DefaultListen          = ":716"
	DefaultSessionLifetime = time.Hour
	DefaultMaxSessions     = 10000
	DefaultPushTimeout     = 5 * time.Second
	DefaultAuthTimeout     = time.Minute
	DefaultHTTPListen      = "127.0.0.1:9110"
	// EAPServerLocal runs EAP-TLS in the PAA; EAPServerHSS relays EAP to the HSS (RFC 4072).
	EAPServerLocal = "local"
	EAPServerHSS   = "hss"
)

// Config is everything Run needs. Zero values take the defaults of DefaultConfig.
type Config struct {
	// Listen are the UDP addresses PANA is served on (":716" is IPv4 and IPv6 on Linux).
	Listen []string `yaml:"listen"`
	// SessionLifetime is the Session-Lifetime the PAA grants (RFC 5191 §8.8) and the token's validity. The
	// HSS as EAP server may grant less (its DEA's Session-Timeout).
	SessionLifetime time.Duration `yaml:"session_lifetime"`
	// Retransmit are the PAA's request timers (RFC 5191 §9: irt 1s, mrt 30s, mrc 10).
	Retransmit pana.Retransmit `yaml:"retransmit"`
	// MaxSessions bounds the sessions (authenticating or open); a PCI beyond it is ignored.
	MaxSessions int `yaml:"max_sessions"`
	// PushTimeout bounds one push or drop of a token to the core.
	PushTimeout time.Duration `yaml:"push_timeout"`
	// AuthTimeout bounds the authentication phase of a session, from the PCI to the PAN with C.
	AuthTimeout time.Duration `yaml:"auth_timeout"`
	// EAP is where the EAP-TLS server runs and its credentials.
	EAP EAPConfig `yaml:"eap"`
	// Tokens is where the local EAP server's tokens go: "memory" (default: kept in the PAA, for labs) or
	// "hss" (Token-Push/Token-Drop to the HSS at diameter.hss, docs/fastreg.md). With eap.server hss the HSS
	// keeps them itself.
	Tokens string `yaml:"tokens"`
	// Diameter is the PAA's Diameter client towards the HSS (eap.server: hss, or tokens: hss).
	Diameter DiameterConfig `yaml:"diameter"`
	// HTTPListen serves /metrics, /healthz and /readyz. Empty disables it.
	HTTPListen string `yaml:"http_listen"`
	// Admin is the admin listener's security (internal/adminhttp.Config, the same keys on every node).
	Admin adminhttp.Config `yaml:"admin"`
	// Log selects level and format (used by cmd/imspaa).
	Log logging.Config `yaml:"log"`

	// Pusher takes tokens to the core; nil keeps them in memory (MemoryPusher), for labs and tests.
	Pusher TokenPusher `yaml:"-"`
	// Algorithms are the PRF and integrity algorithms offered (default pana.DefaultAlgorithms).
	Algorithms pana.Algorithms `yaml:"-"`
}

// EAPConfig selects the EAP server.
type EAPConfig struct {
	// Server is "local" (EAP-TLS in the PAA, default) or "hss" (Diameter EAP to the HSS).
	Server string `yaml:"server"`
	// CertFile and KeyFile are the EAP-TLS server's certificate and key (PEM), local only.
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
	// CAFile is the operator CA that signs the UEs' certificates (PEM), local only.
	CAFile string `yaml:"ca_file"`
	// MinTLSVersion is "1.3" (default, RFC 9190) or "1.2" (RFC 5216 with the extended master secret).
	MinTLSVersion string `yaml:"min_tls_version"`
	// Fragment is the TLS data per EAP-TLS packet (default 1024).
	Fragment int `yaml:"fragment"`
}

// DiameterConfig is the PAA's Diameter EAP client.
type DiameterConfig struct {
	OriginHost       string        `yaml:"origin_host"`
	OriginRealm      string        `yaml:"origin_realm"`
	DestinationRealm string        `yaml:"destination_realm"`
	HSS              []string      `yaml:"hss"`
	RequestTimeout   time.Duration `yaml:"request_timeout"`
}

// DefaultConfig returns the documented defaults.
func DefaultConfig() Config {
	return Config{Listen: []string{DefaultListen}, SessionLifetime: DefaultSessionLifetime,
		Retransmit: pana.DefaultRequestRetransmit, MaxSessions: DefaultMaxSessions, PushTimeout: DefaultPushTimeout,
		AuthTimeout: DefaultAuthTimeout, Tokens: TokensMemory,
		EAP: EAPConfig{Server: EAPServerLocal, MinTLSVersion: "1.3", Fragment: eaptls.DefaultFragment},
		Diameter: DiameterConfig{OriginHost: "paa.ims.mnc001.mcc001.3gppnetwork.org", OriginRealm: "ims.mnc001.mcc001.3gppnetwork.org",
			DestinationRealm: "ims.mnc001.mcc001.3gppnetwork.org", HSS: []string{"127.0.0.1:3868"}, RequestTimeout: 3 * time.Second},
		HTTPListen: DefaultHTTPListen, Log: logging.Default()}
}

func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if len(c.Listen) == 0 {
		c.Listen = d.Listen
	}
	if c.SessionLifetime <= 0 {
		c.SessionLifetime = d.SessionLifetime
	}
	c.Retransmit = c.Retransmit.WithDefaults(d.Retransmit)
	if c.MaxSessions <= 0 {
		c.MaxSessions = d.MaxSessions
	}
	if c.PushTimeout <= 0 {
		c.PushTimeout = d.PushTimeout
	}
	if c.AuthTimeout <= 0 {
		c.AuthTimeout = d.AuthTimeout
	}
	if c.EAP.Server == "" {
		c.EAP.Server = d.EAP.Server
	}
	if c.Tokens == "" {
		c.Tokens = d.Tokens
	}
	if c.EAP.MinTLSVersion == "" {
		c.EAP.MinTLSVersion = d.EAP.MinTLSVersion
	}
	if c.Diameter.RequestTimeout <= 0 {
		c.Diameter.RequestTimeout = d.Diameter.RequestTimeout
	}
	if len(c.Algorithms.PRFs) == 0 || len(c.Algorithms.Integrity) == 0 {
		c.Algorithms = pana.DefaultAlgorithms
	}
	return c
}

// Validate reports the first invalid setting.
func (c Config) Validate() error {
	c = c.withDefaults()
	if c.SessionLifetime < time.Second || c.SessionLifetime/time.Second > 1<<32-1 {
		return fmt.Errorf("session_lifetime %s: between 1s and 2^32-1 seconds (RFC 5191 §8.8)", c.SessionLifetime)
	}
	if _, err := tlsVersion(c.EAP.MinTLSVersion); err != nil {
		return err
	}
	switch c.EAP.Server {
	case EAPServerLocal:
		if c.EAP.CertFile == "" || c.EAP.KeyFile == "" || c.EAP.CAFile == "" {
			return errors.New("eap.server local needs eap.cert_file, eap.key_file and eap.ca_file")
		}
	case EAPServerHSS:
		if len(c.Diameter.HSS) == 0 || c.Diameter.OriginHost == "" || c.Diameter.OriginRealm == "" || c.Diameter.DestinationRealm == "" {
			return errors.New("eap.server hss needs diameter.hss, origin_host, origin_realm and destination_realm")
		}
	default:
		return fmt.Errorf("eap.server %q: local or hss", c.EAP.Server)
	}
	switch c.Tokens {
	case TokensMemory:
	case TokensHSS:
		if len(c.Diameter.HSS) == 0 || c.Diameter.OriginHost == "" || c.Diameter.OriginRealm == "" || c.Diameter.DestinationRealm == "" {
			return errors.New("tokens hss needs diameter.hss, origin_host, origin_realm and destination_realm")
		}
	default:
		return fmt.Errorf("tokens %q: memory or hss", c.Tokens)
	}
	if c.EAP.Fragment < 0 || c.EAP.Fragment > 60000 {
		return fmt.Errorf("eap.fragment %d: 0 (default) to 60000", c.EAP.Fragment)
	}
	return c.Admin.Validate()
}

func tlsVersion(s string) (uint16, error) {
	switch s {
	case "1.3", "":
		return tls.VersionTLS13, nil
	case "1.2":
		return tls.VersionTLS12, nil
	}
	return 0, fmt.Errorf("eap.min_tls_version %q: 1.2 or 1.3", s)
}

// ServerTLS loads the EAP-TLS server's tls.Config from the files: its certificate and the operator CA
// that the UEs' certificates must chain to.
func (e EAPConfig) ServerTLS() (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(e.CertFile, e.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("eap certificate: %w", err)
	}
	pool, err := LoadCA(e.CAFile)
	if err != nil {
		return nil, err
	}
	v, err := tlsVersion(e.MinTLSVersion)
	if err != nil {
		return nil, err
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, ClientCAs: pool, MinVersion: v}, nil
}

// LoadCA reads a PEM file of CA certificates.
func LoadCA(path string) (*x509.CertPool, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("ca file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("ca file %s: no certificate", path)
	}
	return pool, nil
}
