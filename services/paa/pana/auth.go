package pana

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"hash"
)

// PRF is a PRF-Algorithm value, an IKEv2 Transform Type 2 ID (RFC 5191 §8.6, RFC 7296 §3.3.2).
type PRF uint32

const (
	PRFHMACSHA1    PRF = 2 // PRF_HMAC_SHA1, mandatory (RFC 5191 §5.3)
	PRFHMACSHA2256 PRF = 5 // PRF_HMAC_SHA2_256 (RFC 4868)
)

// Integrity is an Integrity-Algorithm value, an IKEv2 Transform Type 3 ID (RFC 5191 §8.3, RFC 7296 §3.3.2).
type Integrity uint32

const (
	AuthHMACSHA1160    Integrity = 7  // AUTH_HMAC_SHA1_160, mandatory (RFC 5191 §5.3, RFC 4595)
	AuthHMACSHA2256128 Integrity = 12 // AUTH_HMAC_SHA2_256_128 (RFC 4868)
)

func (p PRF) hash() (func() hash.Hash, error) {
	switch p {
	case PRFHMACSHA1:
		return sha1.New, nil
	case PRFHMACSHA2256:
		return sha256.New, nil
	}
	return nil, fmt.Errorf("pana: PRF %d: %w", p, ErrAlgorithm)
}

// keyLen is the key length of the integrity algorithm, macLen its output (the AUTH AVP's value) length.
func (i Integrity) params() (h func() hash.Hash, keyLen, macLen int, err error) {
	switch i {
	case AuthHMACSHA1160:
		return sha1.New, 20, 20, nil
	case AuthHMACSHA2256128:
		return sha256.New, 32, 16, nil
	}
	return nil, 0, 0, fmt.Errorf("pana: integrity algorithm %d: %w", i, ErrAlgorithm)
}

// Supported reports whether the codec implements the PRF.
func (p PRF) Supported() bool { _, err := p.hash(); return err == nil }

// Supported reports whether the codec implements the integrity algorithm.
func (i Integrity) Supported() bool { _, _, _, err := i.params(); return err == nil }

// prfPlus is prf+ of RFC 7296 §2.13: T1 = prf(K, S | 0x01), Tn = prf(K, Tn-1 | S | n).
func prfPlus(h func() hash.Hash, key, seed []byte, n int) []byte {
	out := make([]byte, 0, n+64)
	var t []byte
	for i := byte(1); len(out) < n; i++ {
		m := hmac.New(h, key)
		m.Write(t)
		m.Write(seed)
		m.Write([]byte{i})
		t = m.Sum(nil)
		out = append(out, t...)
	}
	return out[:n]
}

// KeyInput is what PANA_AUTH_KEY is derived from (RFC 5191 §5.3).
type KeyInput struct {
	MSK                []byte
	IPAR, IPAN         []byte // the initial PAR and PAN (the ones with the S flag) as sent
	PaCNonce, PAANonce []byte // the Nonce AVP values
	KeyID              uint32
}

// AuthKey derives PANA_AUTH_KEY = prf+(MSK, "IETF PANA" | I_PAR | I_PAN | PaC_nonce | PAA_nonce | Key_ID),
// as long as the integrity algorithm's key (RFC 5191 §5.3).
func AuthKey(p PRF, i Integrity, in KeyInput) ([]byte, error) {
	h, err := p.hash()
	if err != nil {
		return nil, err
	}
	_, keyLen, _, err := i.params()
	if err != nil {
		return nil, err
	}
	seed := []byte("IETF PANA")
	seed = append(seed, in.IPAR...)
	seed = append(seed, in.IPAN...)
	seed = append(seed, in.PaCNonce...)
	seed = append(seed, in.PAANonce...)
	seed = binary.BigEndian.AppendUint32(seed, in.KeyID)
	return prfPlus(h, in.MSK, seed, keyLen), nil
}

// Sign adds an AUTH AVP to m and returns the encoded message: the AVP's value is
// PANA_AUTH_HASH(PANA_AUTH_KEY, PANA_PDU) computed with the value zeroed (RFC 5191 §5.3, §8.1).
func Sign(m *Message, i Integrity, key []byte) ([]byte, error) {
	h, _, macLen, err := i.params()
	if err != nil {
		return nil, err
	}
	m.AVPs = append(m.AVPs, AVP{Code: CodeAUTH, Value: make([]byte, macLen)})
	b, err := m.Marshal()
	if err != nil {
		return nil, err
	}
	mac := hmac.New(h, key)
	mac.Write(b)
	sum := mac.Sum(nil)[:macLen]
	copy(b[len(b)-macLen:], sum) // the AUTH AVP is last and its value is a multiple of 4: no padding
	copy(m.AVPs[len(m.AVPs)-1].Value, sum)
	return b, nil
}

// Verify checks the AUTH AVP of raw, the received bytes of m (RFC 5191 §5.3).
func Verify(raw []byte, m *Message, i Integrity, key []byte) error {
	h, _, macLen, err := i.params()
	if err != nil {
		return err
	}
	a := m.Find(CodeAUTH)
	if a == nil || len(a.Value) != macLen {
		return fmt.Errorf("pana: %s: %w", m.Name(), ErrAuth)
	}
	off := a.off
	if len(raw) < HeaderLen {
		return fmt.Errorf("pana: %s: %w", m.Name(), ErrAuth)
	}
	n := int(binary.BigEndian.Uint16(raw[2:]))
	if n > len(raw) || off+macLen > n {
		return fmt.Errorf("pana: %s: AUTH outside the message: %w", m.Name(), ErrAuth)
	}
	b := append([]byte(nil), raw[:n]...) // the PDU as received, with the AUTH value zeroed
	want := append([]byte(nil), a.Value...)
	clear(b[off : off+macLen])
	mac := hmac.New(h, key)
	mac.Write(b)
	if !hmac.Equal(mac.Sum(nil)[:macLen], want) {
		return fmt.Errorf("pana: %s: %w", m.Name(), ErrAuth)
	}
	return nil
}
