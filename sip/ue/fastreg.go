package ue

import (
	"crypto"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/imscore/imscore/sip/aib"
	"github.com/imscore/imscore/sip/digest"
)

// FastReg is what the UE presents for an access-bound fast registration (docs/fastreg.md "Core side"): the
// token its access authentication derived (PANA/EAP-TLS, RFC 5705 exporter) and the certificate and key that
// sign the Authenticated Identity Body (RFC 3893).
type FastReg struct {
	Token []byte
	Cert  *x509.Certificate
	Key   crypto.Signer
}

// SetFastReg sets the credentials the next initial registration presents (nil: none, the standard
// registration). A PANA client calls it once its access authentication has derived the token.
func (u *UE) SetFastReg(f *FastReg) {
	u.mu.Lock()
	u.cfg.FastReg = f
	u.mu.Unlock()
}

// fastRegFor returns the credentials an initial REGISTER (not a re-registration, not a de-registration)
// presents, or nil.
func (u *UE) fastRegFor(expires time.Duration) *FastReg {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.cfg.FastReg == nil || u.reg != nil || expires <= 0 {
		return nil
	}
	return u.cfg.FastReg
}

// presentToken puts the token in the first REGISTER's Authorization: the nonce, base64 (RFC 4648 §4), as the
// 2010 prototype did. An S-CSCF without the scheme finds no challenge with that nonce and challenges.
func presentToken(cred *digest.Credentials, f *FastReg) {
	cred.Nonce = base64.StdEncoding.EncodeToString(f.Token)
}

// signAIB adds the AIB covering req's From, Call-ID, CSeq and Contact and the current Date as its body.
func (u *UE) signAIB(req *sip.Request, f *FastReg) error {
	value := func(h sip.Header) string {
		if h == nil {
			return ""
		}
		return h.Value()
	}
	r := aib.Request{From: value(req.From()), CallID: value(req.CallID()), CSeq: value(req.CSeq()), Contact: value(req.Contact())}
	ct, body, err := aib.Sign(r, time.Now(), f.Cert, f.Key)
	if err != nil {
		return fmt.Errorf("fast registration: %w", err)
	}
	req.AppendHeader(sip.NewHeader("Content-Type", ct))
	req.SetBody(body)
	return nil
}
