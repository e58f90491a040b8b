package digest

import (
	"crypto/hmac"
	"crypto/md5"
	"encoding/base64"
	"fmt"
	"strings"
)

// Sizes of the AKA parameters carried in Digest (TS 33.102 §6.3).
const (
	RANDSize = 16
	AUTNSize = 16
	AUTSSize = 14
)

// akav2PasswordLabel is the PRF input of RFC 4169 §3.
const akav2PasswordLabel = "http-digest-akav2-password"

// AKANonce builds the nonce of an AKA challenge: base64(RAND ‖ AUTN ‖ server data)
// (RFC 3310 §3.2, Figure 1). serverData may be empty.
func AKANonce(rand, autn, serverData []byte) string {
	buf := make([]byte, 0, len(rand)+len(autn)+len(serverData))
	buf = append(buf, rand...)
	buf = append(buf, autn...)
	buf = append(buf, serverData...)
	return base64.StdEncoding.EncodeToString(buf)
}

// ParseAKANonce splits an AKA nonce into RAND, AUTN and whatever server data follows
// (RFC 3310 §3.2). Padding may be present or not. The results do not share memory.
func ParseAKANonce(nonce string) (rand, autn, serverData []byte, err error) {
	raw, err := decodeBase64(nonce)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("nonce: %w: %w", ErrInvalidNonce, err)
	}
	if len(raw) < RANDSize+AUTNSize {
		return nil, nil, nil, fmt.Errorf("nonce: %d bytes, RAND and AUTN need %d: %w", len(raw), RANDSize+AUTNSize, ErrInvalidNonce)
	}
	rand = append([]byte(nil), raw[:RANDSize]...)
	autn = append([]byte(nil), raw[RANDSize:RANDSize+AUTNSize]...)
	serverData = append([]byte(nil), raw[RANDSize+AUTNSize:]...)
	return rand, autn, serverData, nil
}

// ParseAUTS decodes the auts directive: base64 of the 14-byte AUTS (RFC 3310 §3.4,
// TS 33.102 §6.3.3), which the HSS needs with RAND to resynchronise SQN.
func ParseAUTS(auts string) ([]byte, error) {
	raw, err := decodeBase64(auts)
	if err != nil {
		return nil, fmt.Errorf("auts: %w: %w", ErrInvalidAUTS, err)
	}
	if len(raw) != AUTSSize {
		return nil, fmt.Errorf("auts: %d bytes, want %d: %w", len(raw), AUTSSize, ErrInvalidAUTS)
	}
	return raw, nil
}

// EncodeAUTS is the UE side of ParseAUTS.
func EncodeAUTS(auts []byte) string { return base64.StdEncoding.EncodeToString(auts) }

// decodeBase64 accepts standard base64 with or without padding (RFC 4648 §4), surrounding
// whitespace trimmed.
func decodeBase64(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, fmt.Errorf("empty")
	}
	if strings.HasSuffix(s, "=") {
		return base64.StdEncoding.DecodeString(s)
	}
	return base64.RawStdEncoding.DecodeString(s)
}

// AKAv1Password is the Digest password of AKAv1-MD5: RES itself, as raw octets (RFC 3310 §3.3;
// the server uses XRES). It returns a copy.
func AKAv1Password(res []byte) []byte { return append([]byte(nil), res...) }

// AKAv2Password is the Digest password of AKAv2-MD5 (RFC 4169 §3):
//
//	base64( PRF( RES ‖ IK ‖ CK, "http-digest-akav2-password" ) )
//
// where PRF is HMAC-MD5 (RFC 2104) keyed with RES ‖ IK ‖ CK over the label. The password is the
// base64 text, used as the octets of that text. The server uses XRES in place of RES.
func AKAv2Password(res, ik, ck []byte) []byte {
	key := make([]byte, 0, len(res)+len(ik)+len(ck))
	key = append(key, res...)
	key = append(key, ik...)
	key = append(key, ck...)
	mac := hmac.New(md5.New, key)
	mac.Write([]byte(akav2PasswordLabel))
	return []byte(base64.StdEncoding.EncodeToString(mac.Sum(nil)))
}
