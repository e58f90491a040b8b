package pana

import "fmt"

// SA is a PANA security association once EAP yielded an MSK (RFC 5191 §5.3): the algorithms the PaC
// chose, the key and its Key-Id. The zero SA has no key: messages go unsigned.
type SA struct {
	PRF       PRF
	Integrity Integrity
	Key       []byte // PANA_AUTH_KEY
	KeyID     uint32
}

// Seal encodes m, with an AUTH AVP once the SA has a key (RFC 5191 §5.3: "once a PANA SA is established,
// every PANA message MUST carry an AUTH AVP").
func (sa *SA) Seal(m *Message) ([]byte, error) {
	if sa == nil || sa.Key == nil {
		return m.Marshal()
	}
	return Sign(m, sa.Integrity, sa.Key)
}

// Check verifies the AUTH AVP of a received message once the SA has a key.
func (sa *SA) Check(raw []byte, m *Message) error {
	if sa == nil || sa.Key == nil {
		return nil
	}
	return Verify(raw, m, sa.Integrity, sa.Key)
}

// Establish derives the key from the MSK (RFC 5191 §5.3).
func (sa *SA) Establish(in KeyInput) error {
	in.KeyID = sa.KeyID
	key, err := AuthKey(sa.PRF, sa.Integrity, in)
	if err != nil {
		return fmt.Errorf("pana: PANA_AUTH_KEY: %w", err)
	}
	sa.Key = key
	return nil
}

// Algorithms lists the PRF and integrity algorithms an entity offers or accepts, in order of preference.
type Algorithms struct {
	PRFs      []PRF
	Integrity []Integrity
}

// DefaultAlgorithms prefers SHA-256 and keeps the mandatory SHA-1 algorithms (RFC 5191 §5.3).
var DefaultAlgorithms = Algorithms{PRFs: []PRF{PRFHMACSHA2256, PRFHMACSHA1},
	Integrity: []Integrity{AuthHMACSHA2256128, AuthHMACSHA1160}}

// Offer adds one PRF-Algorithm and one Integrity-Algorithm AVP per algorithm (RFC 5191 §4.1: the initial PAR).
func (a Algorithms) Offer(m *Message) {
	for _, p := range a.PRFs {
		m.AddUint32(CodePRFAlgorithm, uint32(p))
	}
	for _, i := range a.Integrity {
		m.AddUint32(CodeIntegrityAlgorithm, uint32(i))
	}
}

// Choose picks, from the algorithms offered in m, the first of ours that the offer has.
func (a Algorithms) Choose(m *Message) (PRF, Integrity, error) {
	offered := func(c Code, v uint32) bool {
		for _, avp := range m.AVPs {
			if avp.Code == c && avp.Flags&AVPFlagVendor == 0 && len(avp.Value) == 4 &&
				uint32(avp.Value[0])<<24|uint32(avp.Value[1])<<16|uint32(avp.Value[2])<<8|uint32(avp.Value[3]) == v {
				return true
			}
		}
		return false
	}
	var p PRF
	var in Integrity
	for _, c := range a.PRFs {
		if offered(CodePRFAlgorithm, uint32(c)) {
			p = c
			break
		}
	}
	for _, c := range a.Integrity {
		if offered(CodeIntegrityAlgorithm, uint32(c)) {
			in = c
			break
		}
	}
	if p == 0 || in == 0 {
		return 0, 0, fmt.Errorf("pana: no common PRF or integrity algorithm: %w", ErrAlgorithm)
	}
	return p, in, nil
}
