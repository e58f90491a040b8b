package peer

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"

	"go.uber.org/zap"
)

// TLSFiles names the PEM files of Diameter over TLS, as every node configures them under
// diameter.tls. All three empty: TCP.
//
// TLS runs from the start of every connection, before CER/CEA — "TLS/TCP" of RFC 6733 §2.1 (port
// 5658 by convention), whose §5.6 says the handshake "SHOULD begin when both ends are in the closed
// state prior to any Diameter message exchanges". The older in-band negotiation (Inband-Security-Id
// TLS in CER/CEA, then the handshake, RFC 3588 §6.10) is not used: the capabilities would cross
// the network in clear text first.
type TLSFiles struct {
	// CertFile and KeyFile are this node's certificate (chain) and private key. The certificate
	// names the node's Origin-Host as a DNS subjectAltName: peers check it.
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
	// CAFile holds the CA certificates that sign the peers' certificates (both directions: mutual
	// authentication, RFC 6733 §13.1).
	CAFile string `yaml:"ca_file"`
}

// Enabled reports whether any file is named.
func (f TLSFiles) Enabled() bool { return f.CertFile != "" || f.KeyFile != "" || f.CAFile != "" }

// Validate reports a partial configuration: TLS needs all three files.
func (f TLSFiles) Validate() error {
	if f.Enabled() && (f.CertFile == "" || f.KeyFile == "" || f.CAFile == "") {
		return fmt.Errorf("%w: tls: cert_file, key_file and ca_file are all required", ErrInvalidConfig)
	}
	return nil
}

// Load reads the files into a *tls.Config for Config.TLS: this node's certificate, the CAs as the
// roots for servers and for clients, client certificates required, TLS 1.2 at least. nil, nil when
// TLS is not configured.
func (f TLSFiles) Load() (*tls.Config, error) {
	if !f.Enabled() {
		return nil, nil
	}
	if err := f.Validate(); err != nil {
		return nil, err
	}
	cert, err := tls.LoadX509KeyPair(f.CertFile, f.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("%w: tls: certificate %s / key %s: %w", ErrInvalidConfig, f.CertFile, f.KeyFile, err)
	}
	pem, err := os.ReadFile(f.CAFile)
	if err != nil {
		return nil, fmt.Errorf("%w: tls: ca_file: %w", ErrInvalidConfig, err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%w: tls: ca_file %s holds no PEM certificate", ErrInvalidConfig, f.CAFile)
	}
	return &tls.Config{
		Certificates: []tls.Certificate{cert},
		RootCAs:      pool,
		ClientCAs:    pool,
		ClientAuth:   tls.RequireAndVerifyClientCert,
		MinVersion:   tls.VersionTLS12,
	}, nil
}

// validateTLS checks a Config.TLS: a certificate to present and CAs to verify peers with.
func validateTLS(t *tls.Config) error {
	if t == nil {
		return nil
	}
	if len(t.Certificates) == 0 && t.GetCertificate == nil {
		return fmt.Errorf("%w: TLS has no certificate", ErrInvalidConfig)
	}
	if t.ClientCAs == nil || t.RootCAs == nil {
		return fmt.Errorf("%w: TLS needs RootCAs and ClientCAs to verify peers (mutual authentication, RFC 6733 §13.1)", ErrInvalidConfig)
	}
	return nil
}

// serverTLS is the configuration of accepted connections: the peer's certificate is required and
// verified whatever the caller set.
func (n *Node) serverTLS() *tls.Config {
	t := n.cfg.TLS.Clone()
	t.ClientAuth = tls.RequireAndVerifyClientCert
	return t
}

// clientTLS dials over TLS, verifying that the server's certificate names host.
func (n *Node) clientTLS(ctx context.Context, nc net.Conn, host string) (net.Conn, error) {
	t := n.cfg.TLS.Clone()
	t.ServerName = host
	tc := tls.Client(nc, t)
	if err := tc.HandshakeContext(ctx); err != nil {
		nc.Close()
		return nil, fmt.Errorf("tls handshake with %s (%s): %w", host, nc.RemoteAddr(), err)
	}
	return tc, nil
}

// handshakeAccepted runs the TLS handshake of an accepted connection (the reader's first step);
// a failure is counted as a refused peer.
func (c *conn) handshakeAccepted() error {
	tc, ok := c.nc.(*tls.Conn)
	if !ok || c.dialled {
		return nil
	}
	ctx, cancel := context.WithTimeout(c.ctx, c.n.cfg.RequestTimeout)
	defer cancel()
	if err := tc.HandshakeContext(ctx); err != nil {
		var reason string
		var cv *tls.CertificateVerificationError
		switch {
		case errors.As(err, &cv):
			reason = "certificate not trusted"
		default:
			reason = "handshake failed"
		}
		c.logger().Warn("diameter TLS peer refused", zap.String("reason", reason), zap.Error(err))
		c.n.obs.Observe(Event{Kind: EventPeerRefused, Err: fmt.Errorf("tls %s: %w", reason, err)})
		return fmt.Errorf("tls: %w", err)
	}
	return nil
}
