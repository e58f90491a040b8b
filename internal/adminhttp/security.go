package adminhttp

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/zap"

	"github.com/imscore/imscore/internal/httpauth"
)

// Config is the security of an admin listener, the same keys on every node (the P-, I- and S-CSCF's `admin:`
// block, the HSS's `api:` block, where the same tokens also guard the provisioning API). The zero value is
// the default: no tokens, no runtime profiles, /metrics open, plain HTTP.
type Config struct {
	// TokensFile is the bearer tokens file (internal/httpauth: name, SHA-256 and scopes of each token), read
	// at start (an unreadable file stops the node) and again within a second of each change, so tokens are
	// added and revoked without a restart. "" means no token is accepted: pprof cannot be enabled, /metrics cannot be protected, and the HSS's
	// provisioning API refuses every request with 401.
	TokensFile string `yaml:"tokens_file"`
	// Pprof serves the runtime profiles under /debug/pprof/ to tokens with the admin scope. false (the
	// default): /debug/pprof/ is 404.
	Pprof bool `yaml:"pprof"`
	// MetricsAuth requires a token with the metrics (or admin) scope on /metrics, for a listener other
	// hosts can reach; Prometheus sends it with `authorization: {credentials_file: …}`. false (the default):
	// /metrics is open — read-only counters, no identities — which suits the default loopback address.
	MetricsAuth bool `yaml:"metrics_auth"`
	// TLSCert and TLSKey are PEM files (certificate chain, private key); both set serves HTTPS (TLS 1.2 or
	// later) instead of HTTP. Default "": plain HTTP.
	TLSCert string `yaml:"tls_cert"`
	TLSKey  string `yaml:"tls_key"`
}

// Validate reports the first inconsistent field, named as in the configuration file.
func (c Config) Validate() error {
	switch {
	case (c.TLSCert == "") != (c.TLSKey == ""):
		return errors.New("tls_cert and tls_key: set both (HTTPS) or neither (HTTP)")
	case c.Pprof && c.TokensFile == "":
		return errors.New("pprof: true needs tokens_file (a token with the admin scope reads the profiles)")
	case c.MetricsAuth && c.TokensFile == "":
		return errors.New("metrics_auth: true needs tokens_file (a token with the metrics scope scrapes)")
	}
	return nil
}

// Admin is an admin listener's security, made from Config once at start.
type Admin struct {
	cfg    Config
	tokens tokenSet
	guard  *httpauth.Guard
	tls    *tls.Config
	log    *zap.Logger
}

// New reads the tokens file and the TLS certificate of cfg. It fails when either cannot be read, so that a
// node never starts less protected than its configuration says.
func New(cfg Config, log *zap.Logger) (*Admin, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = zap.NewNop()
	}
	a := &Admin{cfg: cfg, tokens: &httpauth.Tokens{}, log: log}
	if cfg.TokensFile != "" {
		t, err := httpauth.WatchTokens(cfg.TokensFile, httpauth.ReloadInterval, log.Named("tokens"))
		if err != nil {
			return nil, fmt.Errorf("tokens_file: %w", err)
		}
		a.tokens = t
	}
	if cfg.TLSCert != "" {
		cert, err := tls.LoadX509KeyPair(cfg.TLSCert, cfg.TLSKey)
		if err != nil {
			return nil, fmt.Errorf("tls_cert %s, tls_key %s: %w", cfg.TLSCert, cfg.TLSKey, err)
		}
		a.tls = &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}
	}
	a.guard = httpauth.NewGuard(a.tokens, log.Named("auth"))
	return a, nil
}

// tokenSet is the tokens of a listener: none, or a file read again when it changes.
type tokenSet interface {
	httpauth.Authenticator
	Len() int
}

// Guard is the guard of this listener's tokens, for routes of the node's own (the HSS's API).
func (a *Admin) Guard() *httpauth.Guard { return a.guard }

// Tokens is the number of tokens loaded.
func (a *Admin) Tokens() int { return a.tokens.Len() }

// Mount serves reg on /metrics (open, or metrics scope with MetricsAuth) and, with Pprof, the runtime
// profiles under /debug/pprof/ (admin scope) on mux. /healthz and /readyz stay the node's own and open.
func (a *Admin) Mount(mux *http.ServeMux, reg *prometheus.Registry) {
	var metrics http.Handler = promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg})
	if a.cfg.MetricsAuth {
		metrics = a.guard.Require(httpauth.ScopeMetrics, metrics)
	}
	mux.Handle("/metrics", metrics)
	if a.cfg.Pprof {
		profiles := http.NewServeMux()
		HandlePprof(profiles)
		mux.Handle("/debug/pprof/", a.guard.Require(httpauth.ScopeAdmin, profiles))
	}
}

// Listen binds addr (TCP) and, with TLS configured, returns a listener that serves TLS on it. It logs the
// listener's protection once, and warns when an address other hosts may reach serves plain HTTP or open
// metrics.
func (a *Admin) Listen(addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	a.note(ln.Addr())
	if a.tls != nil {
		return tls.NewListener(ln, a.tls), nil
	}
	return ln, nil
}

// note logs how the listener at addr is protected.
func (a *Admin) note(addr net.Addr) {
	fields := []zap.Field{zap.Stringer("listen", addr), zap.Bool("tls", a.tls != nil), zap.Int("tokens", a.tokens.Len()),
		zap.Bool("pprof", a.cfg.Pprof), zap.Bool("metrics_auth", a.cfg.MetricsAuth)}
	a.log.Info("admin http", fields...)
	tcp, ok := addr.(*net.TCPAddr)
	if !ok || tcp.IP.IsLoopback() {
		return
	}
	if a.tls == nil {
		a.log.Warn("admin http listens beyond loopback without TLS: tokens cross the network in clear (set tls_cert and tls_key)", fields...)
	}
	if !a.cfg.MetricsAuth {
		a.log.Warn("admin http listens beyond loopback with /metrics open (set metrics_auth: true)", fields...)
	}
}

// TLS reports whether the listener serves HTTPS.
func (a *Admin) TLS() bool { return a.tls != nil }

// Limits of NewServer's connections.
const (
	// ReadHeaderTimeout bounds the request line and headers: a client that sends them slower is cut off.
	ReadHeaderTimeout = 10 * time.Second
	// IdleTimeout closes a keep-alive connection that sends no request for this long.
	IdleTimeout = 2 * time.Minute
	// MaxHeaderBytes bounds the request headers (a bearer token is under 100 bytes).
	MaxHeaderBytes = 64 << 10
)

// NewServer returns the http.Server of an admin (or API) listener serving h: headers read within
// ReadHeaderTimeout, idle connections closed after IdleTimeout, headers at most MaxHeaderBytes, the server's own
// errors (TLS handshakes, malformed requests) on log at Debug. Bodies have no overall read timeout: an import
// streams for as long as it takes, and a CPU profile writes for its whole duration.
func NewServer(h http.Handler, log *zap.Logger) *http.Server {
	if log == nil {
		log = zap.NewNop()
	}
	errLog, err := zap.NewStdLogAt(log.Named("http"), zap.DebugLevel)
	if err != nil { // only for an invalid level, which DebugLevel is not
		errLog = zap.NewStdLog(log.Named("http"))
	}
	return &http.Server{Handler: h, ReadHeaderTimeout: ReadHeaderTimeout, IdleTimeout: IdleTimeout,
		MaxHeaderBytes: MaxHeaderBytes, ErrorLog: errLog}
}
