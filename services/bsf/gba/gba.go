// Package gba holds what the UE, the BSF and a NAF share in the Generic Bootstrapping Architecture (3GPP TS
// 33.220, TS 24.109): the key derivation of Annex B, the B-TID, the Ub response body, the Ua HTTP Digest
// realm and password, and the UE side (client.go): bootstrapping over Ub with HTTP Digest AKA (RFC 3310)
// and HTTP requests to a NAF authenticated with the derived key.
package gba

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/xml"
	"errors"
	"fmt"
	"strings"
	"time"
)

// UaHTTPDigest is the Ua security protocol identifier of HTTP Digest authentication according to TS 24.109
// (TS 33.220 Annex H.3: 0x01,0x00,0x00,0x00,0x02), the one a NAF serving XCAP over HTTP Digest uses.
var UaHTTPDigest = [5]byte{0x01, 0x00, 0x00, 0x00, 0x02}

// RealmPrefix starts the realm of a NAF's HTTP Digest challenge: "3GPP-bootstrapping@<NAF FQDN>" tells the
// UE to answer with the B-TID and Ks_NAF (TS 24.109 §5.2.2, TS 33.222 §5.3).
const RealmPrefix = "3GPP-bootstrapping@"

// BSFContentType is the media type of the Ub 200 OK body (TS 24.109 §4.5.3, Annex C).
const BSFContentType = "application/vnd.3gpp.bsf+xml"

// UserAgentToken is put in the UE's User-Agent on Ub and Ua (TS 24.109 §4.5.2, §5.2.1: "3gpp-gba").
const UserAgentToken = "3gpp-gba"

// ErrInvalid reports an input of the wrong size or form.
var ErrInvalid = errors.New("gba: invalid")

// NAFID is NAF_Id = FQDN of the NAF ‖ Ua security protocol identifier (TS 33.220 §4.5.2, Annex H).
func NAFID(fqdn string, ua [5]byte) []byte {
	return append([]byte(strings.ToLower(fqdn)), ua[:]...)
}

// KsNAF derives the NAF-specific key of GBA_ME (TS 33.220 §4.5.2, Annex B.3):
//
//	Ks_NAF = KDF(Ks, "gba-me", RAND, IMPI, NAF_Id)
//
// with the KDF of Annex B.2 (HMAC-SHA-256 keyed with Ks over S = FC ‖ P0 ‖ L0 ‖ P1 ‖ L1 ‖ …, FC = 0x01, each
// Li the two-octet length of Pi). Ks = CK ‖ IK is 32 octets, RAND 16.
func KsNAF(ks []byte, rand []byte, impi string, nafID []byte) ([]byte, error) {
	if len(ks) != 32 || len(rand) != 16 || impi == "" || len(nafID) <= 5 {
		return nil, fmt.Errorf("%w: Ks %d octets, RAND %d octets, IMPI %q, NAF_Id %d octets", ErrInvalid, len(ks), len(rand), impi, len(nafID))
	}
	s := []byte{0x01} // FC, Annex B.3
	for _, p := range [][]byte{[]byte("gba-me"), rand, []byte(impi), nafID} {
		if len(p) > 0xffff {
			return nil, fmt.Errorf("%w: KDF parameter of %d octets", ErrInvalid, len(p))
		}
		s = append(s, p...)
		s = binary.BigEndian.AppendUint16(s, uint16(len(p)))
	}
	m := hmac.New(sha256.New, ks)
	m.Write(s)
	return m.Sum(nil), nil
}

// Ks is CK ‖ IK (TS 33.220 §4.5.2 step 6).
func Ks(ck, ik []byte) []byte { return append(append(make([]byte, 0, 32), ck...), ik...) }

// BTID is the bootstrapping transaction identifier: base64(RAND)@BSF_servers_domain_name (TS 33.220 §4.5.2
// step 6, RFC 3548 base64).
func BTID(rand []byte, bsfName string) string {
	return base64.StdEncoding.EncodeToString(rand) + "@" + bsfName
}

// Password is the Ua HTTP Digest password: base64 of Ks_NAF (TS 33.222 §5.3, TS 24.109 §5.2.2).
func Password(ksNAF []byte) []byte {
	return []byte(base64.StdEncoding.EncodeToString(ksNAF))
}

// Realm is the NAF's Ua realm for fqdn.
func Realm(fqdn string) string { return RealmPrefix + fqdn }

// BootstrappingInfo is the Ub 200 OK body (TS 24.109 Annex C, namespace uri:3gpp-gba): the B-TID and the
// key lifetime.
type BootstrappingInfo struct {
	XMLName  xml.Name  `xml:"uri:3gpp-gba BootstrappingInfo"`
	BTID     string    `xml:"btid"`
	Lifetime time.Time `xml:"lifetime"`
}

// Marshal writes the body.
func (b BootstrappingInfo) Marshal() ([]byte, error) {
	b.Lifetime = b.Lifetime.UTC().Truncate(time.Second)
	out, err := xml.Marshal(b)
	if err != nil {
		return nil, fmt.Errorf("bootstrapping info: %w", err)
	}
	return append([]byte(xml.Header), out...), nil
}

// ParseBootstrappingInfo reads the body; both elements are required.
func ParseBootstrappingInfo(body []byte) (BootstrappingInfo, error) {
	var b BootstrappingInfo
	if err := xml.Unmarshal(body, &b); err != nil {
		return b, fmt.Errorf("%w: bootstrapping info: %v", ErrInvalid, err)
	}
	if b.BTID == "" || b.Lifetime.IsZero() || !strings.Contains(b.BTID, "@") {
		return b, fmt.Errorf("%w: bootstrapping info without btid or lifetime", ErrInvalid)
	}
	return b, nil
}

// GUSS is what a NAF reads from the GBA User Security Settings (TS 29.109 Annex A): the user identities of
// its USSs.
type GUSS struct {
	ID   string   `xml:"id,attr"`
	UIDs []string `xml:"ussList>uss>uids>uid"`
}

// ParseGUSS reads a GUSS document.
func ParseGUSS(doc []byte) (GUSS, error) {
	var g GUSS
	if err := xml.Unmarshal(doc, &g); err != nil {
		return g, fmt.Errorf("%w: guss: %v", ErrInvalid, err)
	}
	return g, nil
}
