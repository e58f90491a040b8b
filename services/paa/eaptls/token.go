package eaptls

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"fmt"

	"github.com/imscore/imscore/services/paa/eap"
)

// The IMS access token (issue 18; NetLab D2.2 Appendix A): both ends of the EAP-TLS session export it with
// the TLS keying material exporter (RFC 5705; RFC 8446 §7.5), label and context as the prototype had them.
// docs/fastreg.md says how the UE carries it.
const (
	TokenLabel   = "EXPERIMENTAL_IMS_RESUMPTION"
	TokenContext = "CONTEXT-ASSOCIATION"
	// TokenLen is 32 octets: 256 bits, as long as the exporter's output for SHA-256 suites, beyond guessing.
	TokenLen = 32
)

// EncodeToken is the token as the UE writes it into the REGISTER: 64 lowercase hex digits.
func EncodeToken(token []byte) string { return hex.EncodeToString(token) }

// Result is what a successful EAP-TLS authentication yields on either end.
type Result struct {
	IMPI       string // the peer's rfc822Name subjectAltName (RFC 5216 §5.2 Peer-Id)
	MSK, EMSK  []byte // 64 octets each
	Token      []byte // TokenLen octets
	TLSVersion uint16
}

type keys = Result

// Key material labels: RFC 9190 §2.3 (TLS 1.3) and RFC 5216 §2.3 (TLS 1.2; crypto/tls exports with the
// TLS 1.2 PRF only when the extended master secret was negotiated, RFC 7627).
const (
	labelKeyMaterial13 = "EXPORTER_EAP_TLS_Key_Material"
	labelKeyMaterial12 = "client EAP encryption"
)

// deriveKeys exports the MSK, EMSK and token from the finished TLS session.
func deriveKeys(cs tls.ConnectionState) (*Result, error) {
	var km []byte
	var err error
	if cs.Version >= tls.VersionTLS13 {
		km, err = cs.ExportKeyingMaterial(labelKeyMaterial13, []byte{byte(eap.TypeTLS)}, 128) // Type-Code 0x0D
	} else {
		km, err = cs.ExportKeyingMaterial(labelKeyMaterial12, nil, 128)
	}
	if err != nil {
		return nil, fmt.Errorf("eap-tls: key material: %w", err)
	}
	token, err := cs.ExportKeyingMaterial(TokenLabel, []byte(TokenContext), TokenLen)
	if err != nil {
		return nil, fmt.Errorf("eap-tls: token: %w", err)
	}
	return &Result{MSK: km[:64], EMSK: km[64:], Token: token, TLSVersion: cs.Version}, nil
}

// IMPI is the private identity a client certificate names: its one rfc822Name subjectAltName, the NAI form
// user@realm (RFC 5216 §5.2: the Peer-Id comes from the subjectAltName).
func IMPI(cert *x509.Certificate) (string, error) {
	if cert == nil || len(cert.EmailAddresses) != 1 {
		return "", fmt.Errorf("eap-tls: the client certificate must name exactly one IMPI as rfc822Name: %w", ErrIdentity)
	}
	return cert.EmailAddresses[0], nil
}
