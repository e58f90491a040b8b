package proxy

import (
	"flag"
	"strings"
)

// TLSFlags registers the command-line flags of a node's SIP TLS (the sip.tls section of its file, which also
// holds what has no flag: client_cert_file, client_key_file, handshake_timeout, max_handshakes, reload_interval,
// and listen advertise). Every SIP node's command registers the same names.
func TLSFlags(fs *flag.FlagSet, c *TLSConfig) {
	fs.Func("sip-tls-listen", "SIP over TLS listen addresses, comma-separated ip:port (sip.tls.listen; default none)",
		func(s string) error {
			c.Listen = nil
			for _, a := range strings.Split(s, ",") {
				if a = strings.TrimSpace(a); a != "" {
					c.Listen = append(c.Listen, Listen{Addr: a})
				}
			}
			return nil
		})
	fs.StringVar(&c.CertFile, "sip-tls-cert", c.CertFile, "SIP over TLS: this node's certificate chain (PEM); reloaded when the file changes")
	fs.StringVar(&c.KeyFile, "sip-tls-key", c.KeyFile, "SIP over TLS: its private key (PEM)")
	fs.StringVar(&c.CAFile, "sip-tls-ca", c.CAFile, "SIP over TLS: the trust anchors peers are checked against (PEM)")
	fs.Func("sip-tls-verify", "SIP over TLS: mutual (clients need a certificate of sip-tls-ca) or server (default mutual)",
		func(s string) error {
			c.Verify = VerifyMode(strings.ToLower(strings.TrimSpace(s)))
			return nil
		})
}
