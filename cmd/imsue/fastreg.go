package main

import (
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"

	"github.com/imscore/imscore/sip/ue"
)

// The access-bound fast registration (docs/fastreg.md "Core side"): the token the access authentication
// derived and the certificate and key that sign the AIB, from files.
type fastregOptions struct {
	token, cert, key string
}

func fastregFlags(fs *flag.FlagSet) *fastregOptions {
	var o fastregOptions
	fs.StringVar(&o.token, "fastreg-token", "", "fast registration: the access token, hex (docs/fastreg.md); needs --fastreg-cert and --fastreg-key")
	fs.StringVar(&o.cert, "fastreg-cert", "", "fast registration: PEM certificate that signs the AIB (RFC 3893)")
	fs.StringVar(&o.key, "fastreg-key", "", "fast registration: PEM private key of --fastreg-cert")
	return &o
}

// apply sets cfg.FastReg when a token is given.
func (o *fastregOptions) apply(cfg *ue.Config) error {
	if o.token == "" {
		if o.cert != "" || o.key != "" {
			return errors.New("--fastreg-cert and --fastreg-key need --fastreg-token")
		}
		return nil
	}
	token, err := hex.DecodeString(o.token)
	if err != nil {
		return fmt.Errorf("--fastreg-token: %w", err)
	}
	if o.cert == "" || o.key == "" {
		return errors.New("--fastreg-token needs --fastreg-cert and --fastreg-key")
	}
	pair, err := tls.LoadX509KeyPair(o.cert, o.key)
	if err != nil {
		return fmt.Errorf("--fastreg-cert/--fastreg-key: %w", err)
	}
	cert, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		return fmt.Errorf("--fastreg-cert: %w", err)
	}
	key, ok := pair.PrivateKey.(crypto.Signer)
	if !ok {
		return fmt.Errorf("--fastreg-key: %T cannot sign", pair.PrivateKey)
	}
	cfg.FastReg = &ue.FastReg{Token: token, Cert: cert, Key: key}
	return nil
}
