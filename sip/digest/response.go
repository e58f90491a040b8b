package digest

import (
	"crypto/md5"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"strings"
)

// algorithm is a parsed algorithm directive: aka-version "-" algorithm-value (RFC 3310 §3.1).
type algorithm struct {
	akaVersion int // 0 for plain Digest
	sess       bool
}

func parseAlgorithm(a string) (algorithm, error) {
	var al algorithm
	rest := a
	if len(rest) > 4 && strings.EqualFold(rest[:4], "AKAv") {
		dash := strings.IndexByte(rest, '-')
		switch {
		case dash < 0:
			return al, fmt.Errorf("algorithm %q: %w", a, ErrUnsupportedAlgorithm)
		case rest[4:dash] == "1":
			al.akaVersion = 1
		case rest[4:dash] == "2":
			al.akaVersion = 2
		default:
			return al, fmt.Errorf("algorithm %q: AKA version not supported: %w", a, ErrUnsupportedAlgorithm)
		}
		rest = rest[dash+1:]
	}
	switch {
	case rest == "" && al.akaVersion == 0: // absent: MD5 (RFC 2617 §3.2.1)
	case strings.EqualFold(rest, AlgMD5):
	case strings.EqualFold(rest, AlgMD5Sess):
		al.sess = true
	default:
		return al, fmt.Errorf("algorithm %q: %w", a, ErrUnsupportedAlgorithm)
	}
	return al, nil
}

func md5hex(parts ...string) string {
	h := md5.New()
	for i, p := range parts {
		if i > 0 {
			h.Write([]byte{':'})
		}
		h.Write([]byte(p))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// HA1 is H(A1) = MD5(username ":" realm ":" password) in lower-case hex (RFC 2617 §3.2.2.2), what
// an HSS stores for SIP Digest (TS 33.203 Annex N) and ResponseHA1 and VerifyHA1 take.
func HA1(username, realm string, password []byte) string {
	h := md5.New()
	h.Write([]byte(username))
	h.Write([]byte{':'})
	h.Write([]byte(realm))
	h.Write([]byte{':'})
	h.Write(password)
	return hex.EncodeToString(h.Sum(nil))
}

// Response computes the request-digest for cred (RFC 2617 §3.2.2.1, RFC 3261 §22.4): with qop
// auth or auth-int
//
//	KD(H(A1), nonce ":" nc ":" cnonce ":" qop ":" H(A2))
//
// and without qop the RFC 2069 form KD(H(A1), nonce ":" H(A2)). A2 is method ":" uri, with
// ":" H(body) added for auth-int; -sess algorithms hash nonce and cnonce into H(A1).
//
// password is the plain password for MD5, AKAv1Password(RES) for AKAv1-MD5 and
// AKAv2Password(RES, IK, CK) for AKAv2-MD5 (the server passes XRES). When cred carries auts,
// an AKA response is computed with the empty password whatever password says: the client had
// no RES to use (RFC 3310 §3.2 and §3.4).
func Response(cred Credentials, method string, password, body []byte) (string, error) {
	al, err := parseAlgorithm(cred.Algorithm)
	if err != nil {
		return "", err
	}
	if al.akaVersion > 0 && cred.AUTS != "" {
		password = nil
	}
	return response(cred, al, method, HA1(cred.Username, cred.Realm, password), body)
}

// ResponseHA1 is Response from a stored H(A1) (see HA1) instead of a password.
func ResponseHA1(cred Credentials, method, ha1 string, body []byte) (string, error) {
	al, err := parseAlgorithm(cred.Algorithm)
	if err != nil {
		return "", err
	}
	return response(cred, al, method, strings.ToLower(ha1), body)
}

// RspAuth computes the rspauth of the Authentication-Info a server sends after a successful
// authentication (RFC 2617 §3.2.3): as Response but with A2 = ":" uri (":" H(body) for
// auth-int). For AKA the server's password is built from XRES (RFC 3310 §3.5).
func RspAuth(cred Credentials, password, body []byte) (string, error) {
	al, err := parseAlgorithm(cred.Algorithm)
	if err != nil {
		return "", err
	}
	return response(cred, al, "", HA1(cred.Username, cred.Realm, password), body)
}

// response computes the digest; an empty method gives the A2 of rspauth, ":" uri.
func response(cred Credentials, al algorithm, method, ha1 string, body []byte) (string, error) {
	qop := strings.ToLower(cred.QOP)
	if qop != "" {
		if cred.CNonce == "" {
			return "", fmt.Errorf("qop=%s without cnonce: %w", cred.QOP, ErrMissingDirective)
		}
		if len(cred.NC) != 8 || strings.Trim(cred.NC, "0123456789abcdefABCDEF") != "" {
			return "", fmt.Errorf("nc %q is not 8 hex digits (RFC 2617 §3.2.2): %w", cred.NC, ErrMissingDirective)
		}
	}
	if al.sess {
		if cred.CNonce == "" {
			return "", fmt.Errorf("-sess algorithm without cnonce: %w", ErrMissingDirective)
		}
		ha1 = md5hex(ha1, cred.Nonce, cred.CNonce)
	}
	var ha2 string
	switch qop {
	case "", QOPAuth:
		ha2 = md5hex(method, cred.URI)
	case QOPAuthInt:
		h := md5.Sum(body)
		ha2 = md5hex(method, cred.URI, hex.EncodeToString(h[:]))
	default:
		return "", fmt.Errorf("qop %q: %w", cred.QOP, ErrUnsupportedQOP)
	}
	if qop == "" {
		return md5hex(ha1, cred.Nonce, ha2), nil
	}
	return md5hex(ha1, cred.Nonce, cred.NC, cred.CNonce, cred.QOP, ha2), nil
}

// Verify reports whether cred.Response is the response Response computes with password, in
// constant time. Any error computing it (an unsupported algorithm or qop, a missing cnonce) is a
// failed verification.
func Verify(cred Credentials, method string, password, body []byte) bool {
	want, err := Response(cred, method, password, body)
	return err == nil && equalHex(cred.Response, want)
}

// VerifyHA1 is Verify from a stored H(A1).
func VerifyHA1(cred Credentials, method, ha1 string, body []byte) bool {
	want, err := ResponseHA1(cred, method, ha1, body)
	return err == nil && equalHex(cred.Response, want)
}

// equalHex compares a received hex digest with the expected lower-case one in constant time.
func equalHex(got, want string) bool {
	if len(got) != len(want) {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(strings.ToLower(got)), []byte(want)) == 1
}
