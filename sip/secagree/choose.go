package secagree

import (
	"fmt"
	"strings"
)

// Preference is the server's policy, each list most preferred first. An empty list means the
// default of DefaultPreference.
type Preference struct {
	// Mechanisms are the mechanism names acceptable at all.
	Mechanisms []string
	// Integrity are the acceptable ipsec-3gpp alg values.
	Integrity []string
	// Encryption are the acceptable ipsec-3gpp ealg values; "null" for no encryption (an absent
	// ealg counts as null).
	Encryption []string
}

// DefaultPreference: ipsec-3gpp only; hmac-sha-1-96 before hmac-md5-96; aes-cbc before
// des-ede3-cbc before null encryption. Null is accepted because TS 33.203 §5.1 leaves
// confidentiality on Gm to operator policy, and many handsets and operators run without it.
func DefaultPreference() Preference {
	return Preference{
		Mechanisms: []string{MechIPsec3GPP},
		Integrity:  []string{AlgHMACSHA196, AlgHMACMD596},
		Encryption: []string{EAlgAESCBC, EAlgDESEDE3, EAlgNull},
	}
}

func (p Preference) withDefaults() Preference {
	d := DefaultPreference()
	if len(p.Mechanisms) == 0 {
		p.Mechanisms = d.Mechanisms
	}
	if len(p.Integrity) == 0 {
		p.Integrity = d.Integrity
	}
	if len(p.Encryption) == 0 {
		p.Encryption = d.Encryption
	}
	return p
}

// rank is the index of v in list (case-insensitive), or -1.
func rank(list []string, v string) int {
	for i, x := range list {
		if strings.EqualFold(x, v) {
			return i
		}
	}
	return -1
}

// Choose picks, from the mechanisms a client offered in Security-Client, the one the server will
// use, and returns it as offered (with the client's SPIs and ports).
//
// Mechanisms are tried in the order of prefs.Mechanisms. Among ipsec-3gpp offers — one per
// alg/ealg pair — only those complete enough to set up SAs (CheckIPsec) and whose alg and ealg
// both appear in prefs count; the best is the one with the most preferred integrity algorithm,
// then the most preferred encryption algorithm (TS 33.203 §5.1 makes integrity protection of
// Gm mandatory and confidentiality a matter of policy, so integrity ranks first), then the
// client's own q, then the client's order. Any other mechanism is taken by the client's q, then
// order.
//
// When nothing is acceptable the error wraps ErrNoAcceptableMechanism: the server answers
// 494 Security Agreement Required (RFC 3329 §2.3.1).
func Choose(offered []Mechanism, prefs Preference) (Mechanism, error) {
	prefs = prefs.withDefaults()
	for _, name := range prefs.Mechanisms {
		best := -1
		var bestKey [3]float64
		for i, m := range offered {
			if !strings.EqualFold(m.Name, name) {
				continue
			}
			q := 1.0 // RFC 3329 does not give a default q; an absent one sorts with the highest
			if m.HasQ {
				q = m.Q
			}
			key := [3]float64{0, 0, -q}
			if m.IsIPsec3GPP() {
				if m.CheckIPsec() != nil {
					continue
				}
				ir, er := rank(prefs.Integrity, m.Alg), rank(prefs.Encryption, m.Encryption())
				if ir < 0 || er < 0 {
					continue
				}
				key = [3]float64{float64(ir), float64(er), -q}
			}
			if best < 0 || less(key, bestKey) {
				best, bestKey = i, key
			}
		}
		if best >= 0 {
			return offered[best], nil
		}
	}
	return Mechanism{}, fmt.Errorf("%w: offered %s; acceptable %s with alg %s and ealg %s",
		ErrNoAcceptableMechanism, describe(offered), strings.Join(prefs.Mechanisms, ","),
		strings.Join(prefs.Integrity, ","), strings.Join(prefs.Encryption, ","))
}

func less(a, b [3]float64) bool {
	for i := range a {
		if a[i] != b[i] {
			return a[i] < b[i]
		}
	}
	return false
}

// describe summarises an offer for an error message: names and algorithms, no SPIs.
func describe(ms []Mechanism) string {
	if len(ms) == 0 {
		return "nothing"
	}
	parts := make([]string, len(ms))
	for i, m := range ms {
		parts[i] = m.Name
		if m.IsIPsec3GPP() {
			parts[i] += "(" + m.Alg + "/" + m.Encryption() + ")"
		}
	}
	return strings.Join(parts, ",")
}

// ServerMechanism builds the Security-Server mechanism a P-CSCF answers with once Choose has
// picked the client's mechanism (TS 33.203 §7.2): ipsec-3gpp with the chosen alg and ealg (null
// written out when the client left it implicit), ESP in transport mode, and the P-CSCF's own SPIs
// and protected ports. q=0.1, prot and mod are written as Kamailio's P-CSCF writes them, the form
// handsets are known to accept.
func ServerMechanism(chosen Mechanism, spiC, spiS uint32, portC, portS uint16) Mechanism {
	return Mechanism{
		Name: MechIPsec3GPP, Q: 0.1, HasQ: true,
		Alg: chosen.Alg, EAlg: chosen.Encryption(), Prot: ProtESP, Mod: ModTrans,
		SPIC: spiC, SPIS: spiS, PortC: portC, PortS: portS,
	}
}
