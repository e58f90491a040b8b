package ipsec

import "fmt"

// IntegrityAlg is an integrity algorithm as named in the "alg" parameter of Security-Client /
// Security-Server (RFC 3329 §2.3, TS 33.203 Annex H).
type IntegrityAlg string

// EncryptionAlg is an encryption algorithm as named in the "ealg" parameter (TS 33.203 Annex H).
type EncryptionAlg string

// The algorithms of TS 33.203 §6.2 and §6.3. hmac-md5-96 and des-ede3-cbc are no longer required
// since Rel-12, but handsets in the field still offer them, so the P-CSCF must still accept them.
const (
	HMACSHA196 IntegrityAlg = "hmac-sha-1-96" // RFC 2404, 160-bit key
	HMACMD596  IntegrityAlg = "hmac-md5-96"   // RFC 2403, 128-bit key

	EncryptionNull   EncryptionAlg = "null"         // RFC 2410, no key
	EncryptionAESCBC EncryptionAlg = "aes-cbc"      // RFC 3602, 128-bit key
	EncryptionDES3   EncryptionAlg = "des-ede3-cbc" // RFC 2451, 192-bit key
)

// icvBits is the truncated ICV length of both integrity algorithms: the "-96" in their names
// (RFC 2403 §2, RFC 2404 §2).
const icvBits = 96

// Algorithms is the negotiated pair of algorithms of one SA set.
type Algorithms struct {
	Integrity  IntegrityAlg
	Encryption EncryptionAlg
}

// String is "alg/ealg", as an operator reads it in a log line.
func (a Algorithms) String() string { return string(a.Integrity) + "/" + string(a.Encryption) }

// AllAlgorithms lists every combination this package can install, strongest first.
func AllAlgorithms() []Algorithms {
	return []Algorithms{
		{HMACSHA196, EncryptionAESCBC},
		{HMACSHA196, EncryptionDES3},
		{HMACSHA196, EncryptionNull},
		{HMACMD596, EncryptionAESCBC},
		{HMACMD596, EncryptionDES3},
		{HMACMD596, EncryptionNull},
	}
}

// Validate reports whether both algorithms are known.
func (a Algorithms) Validate() error {
	if _, err := kernelAuthName(a.Integrity); err != nil {
		return err
	}
	if _, err := kernelCryptName(a.Encryption); err != nil {
		return err
	}
	return nil
}

// kernelAuthName maps an integrity algorithm to the Linux crypto API name used by XFRM.
func kernelAuthName(alg IntegrityAlg) (string, error) {
	switch alg {
	case HMACSHA196:
		return "hmac(sha1)", nil
	case HMACMD596:
		return "hmac(md5)", nil
	}
	return "", fmt.Errorf("%w: alg %q", ErrUnknownAlgorithm, string(alg))
}

// kernelCryptName maps an encryption algorithm to the Linux crypto API name used by XFRM.
// ESP-NULL is "ecb(cipher_null)": the kernel's crypto_null provides it directly.
func kernelCryptName(alg EncryptionAlg) (string, error) {
	switch alg {
	case EncryptionNull:
		return "ecb(cipher_null)", nil
	case EncryptionAESCBC:
		return "cbc(aes)", nil
	case EncryptionDES3:
		return "cbc(des3_ede)", nil
	}
	return "", fmt.Errorf("%w: ealg %q", ErrUnknownAlgorithm, string(alg))
}

// IntegrityKey derives the ESP integrity key IK_ESP from IK, TS 33.203 Annex I (key expansion
// functions for IPsec ESP):
//   - hmac-md5-96:   IK_ESP = IK (128 bits);
//   - hmac-sha-1-96: IK_ESP = IK || 0x00000000, i.e. IK padded with 32 zero bits to 160 bits.
func IntegrityKey(alg IntegrityAlg, ik [16]byte) ([]byte, error) {
	switch alg {
	case HMACMD596:
		key := make([]byte, 16)
		copy(key, ik[:])
		return key, nil
	case HMACSHA196:
		key := make([]byte, 20) // the last 4 bytes stay zero
		copy(key, ik[:])
		return key, nil
	}
	return nil, fmt.Errorf("%w: alg %q", ErrUnknownAlgorithm, string(alg))
}

// EncryptionKey derives the ESP encryption key CK_ESP from CK, TS 33.203 Annex I:
//   - null:         no key;
//   - aes-cbc:      CK_ESP = CK (128 bits);
//   - des-ede3-cbc: CK = CK1 || CK2 (64 bits each) and CK_ESP = CK1 || CK2 || CK1 (192 bits).
//     The DES parity bits are left as they are: the kernel ignores them.
func EncryptionKey(alg EncryptionAlg, ck [16]byte) ([]byte, error) {
	switch alg {
	case EncryptionNull:
		return []byte{}, nil
	case EncryptionAESCBC:
		key := make([]byte, 16)
		copy(key, ck[:])
		return key, nil
	case EncryptionDES3:
		key := make([]byte, 0, 24)
		key = append(key, ck[:]...)  // CK1 || CK2
		key = append(key, ck[:8]...) // || CK1
		return key, nil
	}
	return nil, fmt.Errorf("%w: ealg %q", ErrUnknownAlgorithm, string(alg))
}
