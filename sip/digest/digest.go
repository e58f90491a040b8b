// Package digest is HTTP Digest authentication as IMS uses it: MD5 (RFC 2617, RFC 3261 §22.4),
// AKAv1-MD5 (RFC 3310) and AKAv2-MD5 (RFC 4169), with the IMS additions of TS 24.229: the ck and
// ik challenge parameters the S-CSCF passes to the P-CSCF (§5.4.1.2.1, removed by the P-CSCF
// before the 401 reaches the UE, §5.2.2), and the integrity-protected parameter the P-CSCF adds
// to the REGISTER's Authorization (§5.2.2, §7.2A.2).
//
// It replaces what sipgo's dependency github.com/icholy/digest cannot do: AKA algorithms, the
// auts parameter (RFC 3310 §3.4), the 3GPP parameters, and verification on the server side.
//
// Passwords are bytes because an AKA password is not text: AKAv1's is RES as raw octets
// (RFC 3310 §3.3), AKAv2's the base64 text of an HMAC (RFC 4169 §3).
package digest

import (
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/imscore/imscore/sip/header"
)

// Algorithm values (RFC 2617 §3.2.1, RFC 3310 §3.1, RFC 4169 §3).
const (
	AlgMD5      = "MD5"
	AlgMD5Sess  = "MD5-sess"
	AlgAKAv1MD5 = "AKAv1-MD5"
	AlgAKAv2MD5 = "AKAv2-MD5"
)

// Quality of protection values (RFC 2617 §3.2.1).
const (
	QOPAuth    = "auth"
	QOPAuthInt = "auth-int"
)

// Values of integrity-protected (TS 24.229 §7.2A.2): what the P-CSCF tells the S-CSCF about the
// protection of the REGISTER it forwards.
const (
	IntegrityYes            = "yes"              // received over an IMS-AKA security association
	IntegrityNo             = "no"               // not protected (the initial REGISTER)
	IntegrityTLSPending     = "tls-pending"      // SIP digest over TLS, before authentication
	IntegrityTLSYes         = "tls-yes"          // SIP digest over an authenticated TLS session
	IntegrityIPAssocPending = "ip-assoc-pending" // SIP digest without TLS, before authentication
	IntegrityIPAssocYes     = "ip-assoc-yes"     // SIP digest without TLS, IP association made
)

// Header names used in parse errors.
const (
	challengeHeader   = header.WWWAuthenticate
	credentialsHeader = header.Authorization
)

// Challenge is a Digest challenge, the value of WWW-Authenticate or Proxy-Authenticate
// (RFC 2617 §3.2.1, RFC 3261 §25.1 digest-cln).
type Challenge struct {
	Realm  string
	Nonce  string
	Opaque string
	// Algorithm as received; "" means MD5 (RFC 2617 §3.2.1).
	Algorithm string
	// QOP is the qop-options list as sent, e.g. "auth" or "auth,auth-int"; see QOPs.
	QOP    string
	Stale  bool
	Domain string
	// IK and CK are hex keys the S-CSCF adds to the 401 it sends the P-CSCF
	// (TS 24.229 §5.4.1.2.1; Kamailio's ims_auth and the Cx convention). The P-CSCF takes them
	// out (Keys) and must not forward them (TS 24.229 §5.2.2): see WithoutKeys.
	IK, CK string
	// Params holds every other auth-param, in order.
	Params header.Params
}

// QOPs returns the qop-options offered, e.g. ["auth", "auth-int"].
func (c Challenge) QOPs() []string {
	var out []string
	for _, q := range strings.Split(c.QOP, ",") {
		if q = strings.TrimSpace(q); q != "" {
			out = append(out, q)
		}
	}
	return out
}

// WithoutKeys returns the challenge with ik and ck removed: what the P-CSCF forwards to the UE
// after taking the keys for its security associations (TS 24.229 §5.2.2).
func (c Challenge) WithoutKeys() Challenge {
	c.IK, c.CK = "", ""
	return c
}

// Keys decodes IK and CK. Both must be present and 16 bytes (32 hex digits, TS 33.102 §6.3.2).
func (c Challenge) Keys() (ik, ck []byte, err error) {
	ik, err = decodeKey("ik", c.IK)
	if err != nil {
		return nil, nil, err
	}
	ck, err = decodeKey("ck", c.CK)
	if err != nil {
		return nil, nil, err
	}
	return ik, ck, nil
}

func decodeKey(name, v string) ([]byte, error) {
	if v == "" {
		return nil, fmt.Errorf("challenge parameter %s: %w", name, ErrMissingKey)
	}
	k, err := hex.DecodeString(v)
	if err != nil || len(k) != 16 {
		return nil, fmt.Errorf("challenge parameter %s: not 32 hex digits: %w", name, ErrInvalidKey)
	}
	return k, nil
}

// String writes the challenge in the form handsets and SIPp accept, directives in this order:
//
//	Digest realm="…",nonce="…",algorithm=AKAv1-MD5,qop="auth",ck="…",ik="…"
//
// then opaque, domain, stale=TRUE and any other parameter. realm, nonce, opaque, domain, qop, ck
// and ik are quoted-strings; algorithm and stale are tokens (RFC 2617 §3.2.1; RFC 3310 §3.1
// example). Empty directives are left out, except realm and nonce, which a challenge must carry.
func (c Challenge) String() string {
	w := newWriter()
	w.quoted("realm", c.Realm, true)
	w.quoted("nonce", c.Nonce, true)
	w.token("algorithm", c.Algorithm)
	w.quoted("qop", c.QOP, false)
	w.quoted("ck", c.CK, false)
	w.quoted("ik", c.IK, false)
	w.quoted("opaque", c.Opaque, false)
	w.quoted("domain", c.Domain, false)
	if c.Stale {
		w.token("stale", "TRUE")
	}
	w.params(c.Params)
	return w.String()
}

// ParseChallenge parses a WWW-Authenticate or Proxy-Authenticate value with the Digest scheme.
// Each known directive may appear once. Errors are *header.ParseError values naming
// WWW-Authenticate, the directive and the offset.
func ParseChallenge(value string) (Challenge, error) {
	var c Challenge
	ps, err := parseAuth(challengeHeader, value)
	if err != nil {
		return c, err
	}
	seen := map[string]bool{}
	for _, p := range ps {
		name := strings.ToLower(p.Name)
		var dst *string
		switch name {
		case "realm":
			dst = &c.Realm
		case "nonce":
			dst = &c.Nonce
		case "opaque":
			dst = &c.Opaque
		case "algorithm":
			dst = &c.Algorithm
		case "qop":
			dst = &c.QOP
		case "domain":
			dst = &c.Domain
		case "ik":
			dst = &c.IK
		case "ck":
			dst = &c.CK
		case "stale":
		default:
			c.Params = append(c.Params, p.Param)
			continue
		}
		if seen[name] {
			return Challenge{}, p.fail(challengeHeader, header.ErrDuplicate, "appears more than once")
		}
		seen[name] = true
		if name == "stale" {
			switch {
			case strings.EqualFold(p.Value, "true"):
				c.Stale = true
			case strings.EqualFold(p.Value, "false"):
			default:
				return Challenge{}, p.fail(challengeHeader, nil, fmt.Sprintf("%q is neither true nor false", p.Value))
			}
			continue
		}
		*dst = p.Value
	}
	return c, nil
}

// Credentials are Digest credentials, the value of Authorization or Proxy-Authorization
// (RFC 2617 §3.2.2, RFC 3261 §25.1 dig-resp), with auts (RFC 3310 §3.4) and
// integrity-protected (TS 24.229 §7.2A.2).
type Credentials struct {
	Username string
	Realm    string
	Nonce    string
	URI      string
	Response string
	// Algorithm as received; "" means MD5.
	Algorithm string
	CNonce    string
	// NC is the nonce-count, 8 hex digits as sent (it is hashed as text).
	NC  string
	QOP string
	// Opaque is echoed from the challenge.
	Opaque string
	// AUTS is the base64 AUTS of an AKA resynchronisation (RFC 3310 §3.4); see ParseAUTS.
	AUTS string
	// IntegrityProtected is one of the Integrity… values, set by the P-CSCF.
	IntegrityProtected string
	// Params holds every other auth-param, in order.
	Params header.Params
}

// String writes the credentials:
//
//	Digest username="…",realm="…",nonce="…",uri="…",response="…",algorithm=…,cnonce="…",qop=auth,nc=00000001,opaque="…",auts="…",integrity-protected="…"
//
// username, realm, nonce, uri and response are always written, empty or not: the UE's first
// REGISTER carries nonce="" and response="" (TS 24.229 §5.1.1.2). The rest only when set.
// qop, nc and algorithm are tokens (RFC 2617 §3.2.2), the others quoted-strings.
func (c Credentials) String() string {
	w := newWriter()
	w.quoted("username", c.Username, true)
	w.quoted("realm", c.Realm, true)
	w.quoted("nonce", c.Nonce, true)
	w.quoted("uri", c.URI, true)
	w.quoted("response", c.Response, true)
	w.token("algorithm", c.Algorithm)
	w.quoted("cnonce", c.CNonce, false)
	w.token("qop", c.QOP)
	w.token("nc", c.NC)
	w.quoted("opaque", c.Opaque, false)
	w.quoted("auts", c.AUTS, false)
	w.quoted("integrity-protected", c.IntegrityProtected, false)
	w.params(c.Params)
	return w.String()
}

// ParseCredentials parses an Authorization or Proxy-Authorization value with the Digest scheme.
// Each known directive may appear once. Errors are *header.ParseError values naming
// Authorization, the directive and the offset.
func ParseCredentials(value string) (Credentials, error) {
	var c Credentials
	ps, err := parseAuth(credentialsHeader, value)
	if err != nil {
		return c, err
	}
	seen := map[string]bool{}
	for _, p := range ps {
		name := strings.ToLower(p.Name)
		var dst *string
		switch name {
		case "username":
			dst = &c.Username
		case "realm":
			dst = &c.Realm
		case "nonce":
			dst = &c.Nonce
		case "uri":
			dst = &c.URI
		case "response":
			dst = &c.Response
		case "algorithm":
			dst = &c.Algorithm
		case "cnonce":
			dst = &c.CNonce
		case "nc":
			dst = &c.NC
		case "qop":
			dst = &c.QOP
		case "opaque":
			dst = &c.Opaque
		case "auts":
			dst = &c.AUTS
		case "integrity-protected":
			dst = &c.IntegrityProtected
		default:
			c.Params = append(c.Params, p.Param)
			continue
		}
		if seen[name] {
			return Credentials{}, p.fail(credentialsHeader, header.ErrDuplicate, "appears more than once")
		}
		seen[name] = true
		*dst = p.Value
	}
	return c, nil
}
