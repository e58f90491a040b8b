package proxy

// SIP over TLS (RFC 3261 §26.2, RFC 5630): TLS listeners and TLS connections to next hops, served by sipgo's TLS
// transport like TCP and bounded by the same Limits (limits.go): every accepted connection is admitted, counted per
// source and in total, and framed by the connection wrapper before sipgo reads it; the handshake runs beside the
// accept loop, bounded in time (HandshakeTimeout) and in number (MaxHandshakes), so that a handshake flood or a
// slow handshake cannot stop the node nor hold its accept loop.
//
// Certificates are checked as RFC 5922 §7 says (tlsname.go): the chain against the configured trust anchors
// (CAFile), then the server's SIP domain identities against the domain the next hop was resolved from. Mutual TLS
// (VerifyMutual, the default) asks every client for a certificate of those anchors too.
//
// The certificate, key and CA files are read again when one of them changes (polled every ReloadInterval): a
// renewed certificate is served from the next handshake on, without a restart; connections already up keep theirs.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo/sip"
	"go.uber.org/zap"

	"github.com/imscore/imscore/internal/dscp"
)

// transportTLS is TLS over TCP as it appears in Via (RFC 3261 §20.42).
const transportTLS = "TLS"

// VerifyMode says whose certificate a TLS connection checks.
type VerifyMode string

// Verify modes.
const (
	// VerifyMutual checks both ends: a server's certificate when dialling, and a client certificate of the trust
	// anchors on every accepted connection (mutual TLS between networks, RFC 5922 §7.3, TS 33.210 NDS/IP).
	VerifyMutual VerifyMode = "mutual"
	// VerifyServer checks a server's certificate when dialling; accepted connections need no client certificate
	// (one that is given must still verify). For listeners facing UEs, which carry no certificate.
	VerifyServer VerifyMode = "server"
)

// Documented TLS defaults (see TLSConfig).
const (
	DefaultTLSHandshakeTimeout = 5 * time.Second
	DefaultTLSMaxHandshakes    = 256
	DefaultTLSReloadInterval   = 10 * time.Second
	// DefaultTLSPort is the port of a sips URI or a TLS transport without one (RFC 3261 §19.1.2, §26.2).
	DefaultTLSPort = 5061
)

// Limit reasons of the TLS transport.
const (
	// LimitHandshake: an accepted TLS connection failed its handshake (bad or unknown certificate, wrong name,
	// not TLS, HandshakeTimeout) and was closed.
	LimitHandshake LimitReason = "tls_handshake"
	// LimitHandshakes: an accepted connection was closed at once, MaxHandshakes were under way.
	LimitHandshakes LimitReason = "tls_handshakes"
)

// TLSConfig is the TLS side of the proxy (yaml "tls" under a node's sip section). Everything empty: no TLS, and a
// sips URI or transport=tls next hop is answered 503 (ErrUnsupportedTransport).
type TLSConfig struct {
	// Listen lists the addresses served over TLS (RFC 3261 §26.2 names port 5061). Empty: TLS only to dial next
	// hops (a client certificate is still presented).
	Listen []Listen `yaml:"listen"`
	// CertFile and KeyFile are this node's certificate chain and private key (PEM), presented as server. Its
	// subjectAltName should carry the node's SIP domain as a URI "sip:<domain>" and/or a DNS name (RFC 5922 §7.1).
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
	// CAFile holds the trust anchors (PEM): the CAs of the networks this node talks to over TLS.
	CAFile string `yaml:"ca_file"`
	// ClientCertFile and ClientKeyFile are the certificate presented when dialling. Default: CertFile and KeyFile.
	ClientCertFile string `yaml:"client_cert_file"`
	ClientKeyFile  string `yaml:"client_key_file"`
	// Verify is "mutual" (default: accepted connections must present a certificate of CAFile) or "server" (only
	// servers are checked; for UE-facing listeners).
	Verify VerifyMode `yaml:"verify"`
	// HandshakeTimeout bounds one handshake, accepted or dialled. Default 5 s.
	HandshakeTimeout time.Duration `yaml:"handshake_timeout"`
	// MaxHandshakes bounds the accepted handshakes under way at once; a connection beyond it is closed at once.
	// Default 256.
	MaxHandshakes int `yaml:"max_handshakes"`
	// ReloadInterval is how often the files are checked for a change (modification time, size); a changed set is
	// loaded and used from the next handshake on. A set that does not load is logged and the old one kept.
	// Default 10 s.
	ReloadInterval time.Duration `yaml:"reload_interval"`

	// keyLog, set by this package's tests only, receives the session secrets (NSS key log format) so that tshark
	// can decrypt a capture. Never configurable: it would defeat TLS.
	keyLog io.Writer
}

// Enabled reports whether TLS is configured at all.
func (c TLSConfig) Enabled() bool {
	return len(c.Listen) > 0 || c.CertFile != "" || c.KeyFile != "" || c.CAFile != "" || c.ClientCertFile != ""
}

// WithDefaults fills zero values.
func (c TLSConfig) WithDefaults() TLSConfig {
	if c.Verify == "" {
		c.Verify = VerifyMutual
	}
	if c.HandshakeTimeout == 0 {
		c.HandshakeTimeout = DefaultTLSHandshakeTimeout
	}
	if c.MaxHandshakes == 0 {
		c.MaxHandshakes = DefaultTLSMaxHandshakes
	}
	if c.ReloadInterval == 0 {
		c.ReloadInterval = DefaultTLSReloadInterval
	}
	return c
}

// WithAdvertise gives every listener that has no Advertise host (a node whose other listeners share one).
func (c TLSConfig) WithAdvertise(host string) TLSConfig {
	if host == "" {
		return c
	}
	c.Listen = append([]Listen(nil), c.Listen...)
	for i := range c.Listen {
		if c.Listen[i].Advertise == "" {
			c.Listen[i].Advertise = host
		}
	}
	return c
}

// Validate reports every invalid field of an enabled configuration, one error each.
func (c TLSConfig) Validate() error {
	if !c.Enabled() {
		return nil
	}
	var errs []error
	if c.CertFile == "" || c.KeyFile == "" {
		errs = append(errs, errors.New("tls.cert_file and tls.key_file: required with TLS"))
	}
	if c.CAFile == "" {
		errs = append(errs, errors.New("tls.ca_file: required with TLS (the trust anchors peers are checked against)"))
	}
	if (c.ClientCertFile == "") != (c.ClientKeyFile == "") {
		errs = append(errs, errors.New("tls.client_cert_file and tls.client_key_file: both or neither"))
	}
	switch c.Verify {
	case "", VerifyMutual, VerifyServer:
	default:
		errs = append(errs, fmt.Errorf("tls.verify %q: want mutual or server", c.Verify))
	}
	if c.HandshakeTimeout < 0 || c.MaxHandshakes < 0 || c.ReloadInterval < 0 {
		errs = append(errs, errors.New("tls.handshake_timeout, max_handshakes, reload_interval: must not be negative"))
	}
	for i, l := range c.Listen {
		ap, err := netip.ParseAddrPort(l.Addr)
		if err != nil {
			errs = append(errs, fmt.Errorf("tls.listen[%d].addr %q: want ip:port: %w", i, l.Addr, err))
			continue
		}
		if ap.Addr().IsUnspecified() && l.Advertise == "" {
			errs = append(errs, fmt.Errorf("tls.listen[%d].advertise: required when addr %q is a wildcard", i, l.Addr))
		}
	}
	return errors.Join(errs...)
}

// tlsFiles is one loaded set of TLS files.
type tlsFiles struct {
	cert   tls.Certificate
	client tls.Certificate
	roots  *x509.CertPool
	stamp  []byte // what the files looked like when read (fileStamp)
}

// tlsTransport is the proxy's TLS state: listeners, the dialled-connection injector, the current files.
type tlsTransport struct {
	p         *Proxy
	cfg       TLSConfig
	listeners []*listener
	injector  *tcpInjector
	files     atomic.Pointer[tlsFiles]
	sem       chan struct{} // one slot per accepted handshake under way
}

func newTLSTransport(p *Proxy, cfg TLSConfig) (*tlsTransport, error) {
	t := &tlsTransport{p: p, cfg: cfg.WithDefaults(), injector: newTCPInjector()}
	t.sem = make(chan struct{}, t.cfg.MaxHandshakes)
	f, err := t.load()
	if err != nil {
		return nil, err
	}
	t.files.Store(f)
	return t, nil
}

// fileStamp identifies the state of the configured files: name, size and modification time of each (a renewal
// writes a new file, or replaces it by rename; either changes them).
func (t *tlsTransport) fileStamp() []byte {
	var b bytes.Buffer
	for _, name := range []string{t.cfg.CertFile, t.cfg.KeyFile, t.cfg.CAFile, t.cfg.ClientCertFile, t.cfg.ClientKeyFile} {
		if name == "" {
			continue
		}
		fi, err := os.Stat(name)
		if err != nil {
			fmt.Fprintf(&b, "%s:missing;", name)
			continue
		}
		fmt.Fprintf(&b, "%s:%d:%d;", name, fi.Size(), fi.ModTime().UnixNano())
	}
	sum := sha256.Sum256(b.Bytes())
	return sum[:]
}

// load reads the files.
func (t *tlsTransport) load() (*tlsFiles, error) {
	stamp := t.fileStamp()
	cert, err := tls.LoadX509KeyPair(t.cfg.CertFile, t.cfg.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("tls: certificate %s / key %s: %w", t.cfg.CertFile, t.cfg.KeyFile, err)
	}
	client := cert
	if t.cfg.ClientCertFile != "" {
		if client, err = tls.LoadX509KeyPair(t.cfg.ClientCertFile, t.cfg.ClientKeyFile); err != nil {
			return nil, fmt.Errorf("tls: client certificate %s / key %s: %w", t.cfg.ClientCertFile, t.cfg.ClientKeyFile, err)
		}
	}
	pem, err := os.ReadFile(t.cfg.CAFile)
	if err != nil {
		return nil, fmt.Errorf("tls: ca_file: %w", err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("tls: ca_file %s holds no PEM certificate", t.cfg.CAFile)
	}
	return &tlsFiles{cert: cert, client: client, roots: roots, stamp: stamp}, nil
}

// reload reads the files again if they changed since the last load; true when a new set is in use.
func (t *tlsTransport) reload() (bool, error) {
	cur := t.files.Load()
	if bytes.Equal(t.fileStamp(), cur.stamp) {
		return false, nil
	}
	f, err := t.load()
	if err != nil {
		// Keep serving with the old set, but do not try the broken one again until it changes once more.
		bad := *cur
		bad.stamp = t.fileStamp()
		t.files.Store(&bad)
		return false, err
	}
	t.files.Store(f)
	return true, nil
}

// watch polls the files until done is closed.
func (t *tlsTransport) watch(done <-chan struct{}) {
	tick := time.NewTicker(t.cfg.ReloadInterval)
	defer tick.Stop()
	for {
		select {
		case <-done:
			return
		case <-tick.C:
		}
		switch ok, err := t.reload(); {
		case err != nil:
			t.p.log.Warn("tls files changed but do not load; the previous certificate stays in use", zap.Error(err))
		case ok:
			t.p.log.Info("tls certificate reloaded", certFields(t.files.Load().cert)...)
		}
	}
}

// ReloadTLS reads the TLS files again now if they changed (the proxy also polls them every ReloadInterval): for a
// node that reloads on a signal, and for tests. It returns whether a new set is in use; an error leaves the old one.
func (p *Proxy) ReloadTLS() (bool, error) {
	if p.tls == nil {
		return false, fmt.Errorf("reload: %w", ErrUnsupportedTransport)
	}
	ok, err := p.tls.reload()
	if ok {
		p.log.Info("tls certificate reloaded", certFields(p.tls.files.Load().cert)...)
	}
	return ok, err
}

func certFields(c tls.Certificate) []zap.Field {
	if c.Leaf == nil {
		return nil
	}
	return []zap.Field{zap.String("subject", c.Leaf.Subject.String()), zap.Strings("identities", SIPDomainIdentities(c.Leaf)),
		zap.Time("not_after", c.Leaf.NotAfter)}
}

// verifyChain checks a peer's chain against the current trust anchors. Either key usage is accepted: operators
// often issue one certificate per node for both directions.
func (t *tlsTransport) verifyChain(certs []*x509.Certificate) error {
	if len(certs) == 0 {
		return errors.New("tls: peer presented no certificate")
	}
	opts := x509.VerifyOptions{Roots: t.files.Load().roots, Intermediates: x509.NewCertPool(),
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}}
	for _, c := range certs[1:] {
		opts.Intermediates.AddCert(c)
	}
	if _, err := certs[0].Verify(opts); err != nil {
		return fmt.Errorf("tls: peer certificate %q: %w", certs[0].Subject.String(), err)
	}
	return nil
}

// serverConfig is the configuration of accepted connections.
func (t *tlsTransport) serverConfig() *tls.Config {
	c := &tls.Config{
		MinVersion:   tls.VersionTLS12,
		KeyLogWriter: t.cfg.keyLog,
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			f := t.files.Load()
			return &f.cert, nil
		},
		ClientAuth: tls.RequestClientCert,
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 && t.cfg.Verify == VerifyServer {
				return nil
			}
			return t.verifyChain(cs.PeerCertificates)
		},
	}
	if t.cfg.Verify == VerifyMutual {
		c.ClientAuth = tls.RequireAnyClientCert // verified by VerifyConnection, against the reloadable anchors
	}
	return c
}

// clientConfig is the configuration of a connection dialled to a next hop that must prove it is name (RFC 5922
// §7.3: the domain the URI named, not a name DNS gave; the address for a numeric URI).
func (t *tlsTransport) clientConfig(name string) *tls.Config {
	c := &tls.Config{
		MinVersion:   tls.VersionTLS12,
		KeyLogWriter: t.cfg.keyLog,
		// The name check is RFC 5922's, not Go's (VerifyHostname): VerifyConnection does chain and name.
		InsecureSkipVerify: true, //nolint:gosec // verified in VerifyConnection
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			f := t.files.Load()
			return &f.client, nil
		},
		VerifyConnection: func(cs tls.ConnectionState) error {
			if err := t.verifyChain(cs.PeerCertificates); err != nil {
				return err
			}
			return matchPeer(cs.PeerCertificates[0], name)
		},
	}
	if _, err := netip.ParseAddr(strings.Trim(name, "[]")); err != nil {
		c.ServerName = name // SNI for a name only (RFC 6066 §3)
	}
	return c
}

// bind binds the TLS listeners (TCP sockets; TLS runs on what they accept).
func (t *tlsTransport) bind(code uint8) error {
	for _, l := range t.cfg.Listen {
		want, err := netip.ParseAddrPort(l.Addr)
		if err != nil {
			return fmt.Errorf("tls listen %q: %w", l.Addr, err)
		}
		lc := net.ListenConfig{Control: dscp.Control(reuseAddrControl, code)}
		ln, err := lc.Listen(context.Background(), "tcp", want.String())
		if err != nil {
			return fmt.Errorf("tls listen %s: %w", want, err)
		}
		tl := ln.(*net.TCPListener)
		bound := unmapAP(tl.Addr().(*net.TCPAddr).AddrPort())
		host := l.Advertise
		if host == "" {
			host = bound.Addr().String()
		}
		t.listeners = append(t.listeners, &listener{transport: transportTLS, bound: bound, host: host, tcp: tl})
	}
	return nil
}

func (t *tlsTransport) closeSockets() {
	for _, l := range t.listeners {
		_ = l.tcp.Close()
	}
	_ = t.injector.Close()
}

// run serves the TLS listeners and dialled connections through sipgo's TLS transport, and watches the files; every
// goroutine is the proxy's (p.wg). Called by Run with p.mu held.
func (t *tlsTransport) run(errc chan<- error) {
	p := t.p
	for _, l := range t.listeners {
		hl := &handshakeListener{t: t, inner: &limitListener{TCPListener: l.tcp, cl: p.conns, wrap: t.wrapAccepted},
			ready: make(chan net.Conn), done: make(chan struct{})}
		p.wg.Add(2)
		go func() {
			defer p.wg.Done()
			hl.acceptLoop()
		}()
		go func() {
			defer p.wg.Done()
			if err := p.tpl.ServeTLS(hl); err != nil && !p.closing.Load() && !isClosedErr(err) {
				errc <- fmt.Errorf("serve tls %s: %w", l.bound, err)
			}
		}()
	}
	p.wg.Add(2)
	go func() {
		defer p.wg.Done()
		if err := p.tpl.ServeTLS(t.injector); err != nil && !p.closing.Load() && !isClosedErr(err) {
			errc <- fmt.Errorf("serve dialled tls: %w", err)
		}
	}()
	go func() {
		defer p.wg.Done()
		t.watch(p.done)
	}()
}

// wrapAccepted puts the server side of TLS on an accepted socket before it is admitted: the limits then count,
// frame and time the TLS connection, and its first read (the handshake) falls under their deadlines too.
func (t *tlsTransport) wrapAccepted(c net.Conn) net.Conn { return tls.Server(c, t.serverConfig()) }

// handshakeListener is the net.Listener sipgo's TLS transport serves: it hands over only connections whose
// handshake is done. acceptLoop admits connections (limitListener) and starts each handshake on its own goroutine,
// at most MaxHandshakes at once.
type handshakeListener struct {
	t     *tlsTransport
	inner *limitListener
	ready chan net.Conn
	done  chan struct{} // closed when acceptLoop returns
}

func (h *handshakeListener) acceptLoop() {
	defer close(h.done)
	p := h.t.p
	for {
		conn, err := h.inner.Accept()
		if err != nil {
			return // the listener closed (limitListener retries everything else)
		}
		lc := conn.(*limitedConn)
		select {
		case h.t.sem <- struct{}{}:
		default:
			lc.kill(LimitHandshakes, "refused tls connection: too many handshakes under way",
				zap.Int("max_handshakes", h.t.cfg.MaxHandshakes))
			continue
		}
		if !p.spawn(func() { h.handshake(lc) }) {
			<-h.t.sem
			_ = lc.Close()
			return
		}
	}
}

// handshake runs the server handshake of lc within HandshakeTimeout and hands it to sipgo; a failure closes it
// and says why (rate-limited: a scan must not flood the log).
func (h *handshakeListener) handshake(lc *limitedConn) {
	p := h.t.p
	ctx, cancel := context.WithTimeout(p.base, h.t.cfg.HandshakeTimeout)
	err := lc.Conn.(*tls.Conn).HandshakeContext(ctx)
	cancel()
	<-h.t.sem
	if err != nil {
		if !lc.killed.Load() && !p.closing.Load() {
			p.limited(LimitHandshake, "refused tls connection: handshake failed", zap.Stringer("from", lc.src),
				zap.String("reason", handshakeReason(err)), zap.Error(err))
		}
		_ = lc.Close()
		return
	}
	if ce := p.log.Check(zap.DebugLevel, "tls connection accepted"); ce != nil {
		ce.Write(zap.Stringer("from", lc.src), zap.Strings("peer", peerIdentities(lc.Conn.(*tls.Conn))))
	}
	select {
	case h.ready <- lc:
	case <-p.done:
		_ = lc.Close()
	}
}

func (h *handshakeListener) Accept() (net.Conn, error) {
	select {
	case c := <-h.ready:
		return c, nil
	case <-h.done:
		return nil, net.ErrClosed
	}
}

func (h *handshakeListener) Close() error   { return h.inner.Close() }
func (h *handshakeListener) Addr() net.Addr { return h.inner.Addr() }

// handshakeReason names why a handshake failed, for the log.
func handshakeReason(err error) string {
	var ne *NameError
	var ua x509.UnknownAuthorityError
	var ci x509.CertificateInvalidError
	var rh tls.RecordHeaderError
	switch {
	case errors.As(err, &ne):
		return "certificate does not name the peer (RFC 5922 §7)"
	case errors.As(err, &ua):
		return "certificate of an unknown CA"
	case errors.As(err, &ci):
		return "certificate invalid"
	case errors.As(err, &rh):
		return "not TLS"
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded):
		return "handshake timeout"
	case strings.Contains(err.Error(), "remote error"):
		return "refused by the peer"
	case strings.Contains(err.Error(), "no certificate"), strings.Contains(err.Error(), "didn't provide a certificate"):
		return "no client certificate"
	}
	return "handshake failed"
}

// peerIdentities are the SIP domain identities of a connection's peer, nil without a certificate.
func peerIdentities(c *tls.Conn) []string {
	cs := c.ConnectionState()
	if len(cs.PeerCertificates) == 0 {
		return nil
	}
	return SIPDomainIdentities(cs.PeerCertificates[0])
}

// tlsConnTo returns a pooled TLS connection to dst that authenticated name, dialling one if there is none
// (RFC 5923-style reuse needs the same check: a connection is reused only towards the identity it proved).
// NextHop.Local is not used: it pins IPsec ports towards UEs, never a TLS peer, and any local port will do.
func (p *Proxy) tlsConnTo(ctx context.Context, dst netip.AddrPort, name string) (sip.Connection, error) {
	if name == "" {
		name = dst.Addr().String()
	}
	usable := func(c sip.Connection) error {
		tc := tlsConnOf(c)
		if tc == nil {
			return fmt.Errorf("tls %s: pooled connection is not tls: %w", dst, ErrTransport)
		}
		cs := tc.ConnectionState()
		if len(cs.PeerCertificates) == 0 {
			return fmt.Errorf("tls %s: peer authenticated with no certificate, next hop wants %q: %w", dst, name, ErrTransport)
		}
		if err := matchPeer(cs.PeerCertificates[0], name); err != nil {
			return fmt.Errorf("tls %s: %w: %w", dst, ErrTransport, err)
		}
		return nil
	}
	return p.streamConnTo(ctx, "tls", transportTLS, dst, netip.AddrPort{}, usable, func() error {
		return p.dialTLS(ctx, dst, name)
	})
}

// dialTLS connects to dst, runs the client handshake within HandshakeTimeout and hands the connection to sipgo.
func (p *Proxy) dialTLS(ctx context.Context, dst netip.AddrPort, name string) error {
	nc, err := p.dialTCP(ctx, dst, netip.AddrPort{})
	if err != nil {
		return err
	}
	tc := tls.Client(nc, p.tls.clientConfig(name))
	hctx, cancel := context.WithTimeout(ctx, p.tls.cfg.HandshakeTimeout)
	err = tc.HandshakeContext(hctx)
	cancel()
	if err != nil {
		_ = nc.Close()
		p.log.Warn("tls handshake with next hop failed", zap.Stringer("to", dst), zap.String("want", name),
			zap.String("reason", handshakeReason(err)), zap.Error(err))
		return fmt.Errorf("tls %s (%s): %w: %w", dst, name, ErrTransport, err)
	}
	return p.injectDialled(ctx, p.tls.injector, tc, dst)
}

// tlsConnOf digs the *tls.Conn out of a sipgo connection from the TLS pool.
func tlsConnOf(c sip.Connection) *tls.Conn {
	if w, ok := c.(*tcpConn); ok {
		c = w.Connection
	}
	tc, ok := c.(*sip.TCPConnection)
	if !ok {
		return nil
	}
	lc, ok := tc.Conn.(*limitedConn)
	if !ok {
		return nil
	}
	t, _ := lc.Conn.(*tls.Conn)
	return t
}

var (
	_ net.Listener = (*handshakeListener)(nil)
	_ error        = (*NameError)(nil)
)

// setupTLS loads the files and binds the TLS listeners (New).
func (p *Proxy) setupTLS() error {
	t, err := newTLSTransport(p, p.cfg.TLS)
	if err != nil {
		return err
	}
	p.tls = t
	if err := t.bind(p.cfg.DSCP); err != nil {
		return err
	}
	for _, l := range t.listeners {
		p.addAlias(l.host, l.port())
		if l.port() == DefaultTLSPort {
			p.aliases[strings.ToLower(strings.Trim(l.host, "[]"))] = true
		}
	}
	p.log.Info("sip tls", append(certFields(t.files.Load().cert), zap.String("verify", string(t.cfg.Verify)),
		zap.Duration("handshake_timeout", t.cfg.HandshakeTimeout), zap.Int("max_handshakes", t.cfg.MaxHandshakes),
		zap.Duration("reload_interval", t.cfg.ReloadInterval))...)
	return nil
}

// tlsListeners returns the TLS listeners, none without TLS.
func (p *Proxy) tlsListeners() []*listener {
	if p.tls == nil {
		return nil
	}
	return p.tls.listeners
}

// streamOf maps a stream message's transport to sipgo's pool name and the listeners it may have arrived on.
func streamOf(p *Proxy, transport string) (network string, ls []*listener) {
	if strings.EqualFold(transport, transportTLS) {
		return "tls", p.tlsListeners()
	}
	return "tcp", p.tcp
}

// isSIPS reports a request for a sips URI: its Request-URI, or the top Route that decides its next hop.
func isSIPS(req *sip.Request) bool {
	if strings.EqualFold(req.Recipient.Scheme, "sips") {
		return true
	}
	r := req.Route()
	return r != nil && strings.EqualFold(r.Address.Scheme, "sips")
}
