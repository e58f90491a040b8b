package secagree

import (
	"math"
	"strings"

	"github.com/imscore/imscore/sip/header"
)

// Equal reports whether two mechanism lists are the same, as the P-CSCF must check twice on the
// protected REGISTER (TS 24.229 §5.2.2, TS 33.203 §7.2): its Security-Verify against the
// Security-Server the P-CSCF sent, and its Security-Client against the one of the first
// REGISTER (so that a bidding-down of the unprotected offer is caught).
//
// RFC 3329 §2.3.1 compares by SIP header comparison rules: the same mechanisms in the same order,
// each with the same parameter values. So the order of mechanisms counts, the order of parameters
// inside a mechanism does not, names and token values compare case-insensitively, quoted values
// exactly, and numbers by value (q=0.1 equals q=0.100, spi-c=0100 equals spi-c=100). For
// ipsec-3gpp an absent ealg, prot or mod equals its default (null, esp, trans): the SAs they
// describe are the same.
func Equal(a, b []Mechanism) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !a[i].Equal(b[i]) {
			return false
		}
	}
	return true
}

// Equal compares one mechanism with another under the rules of the package function Equal.
func (m Mechanism) Equal(o Mechanism) bool {
	if !strings.EqualFold(m.Name, o.Name) || m.HasQ != o.HasQ {
		return false
	}
	if m.HasQ && math.Round(m.Q*1000) != math.Round(o.Q*1000) {
		return false
	}
	if m.SPIC != o.SPIC || m.SPIS != o.SPIS || m.PortC != o.PortC || m.PortS != o.PortS {
		return false
	}
	if !strings.EqualFold(m.Alg, o.Alg) {
		return false
	}
	if m.IsIPsec3GPP() {
		if !strings.EqualFold(m.Encryption(), o.Encryption()) || !strings.EqualFold(m.Protocol(), o.Protocol()) ||
			!strings.EqualFold(m.Mode(), o.Mode()) {
			return false
		}
	} else if !strings.EqualFold(m.EAlg, o.EAlg) || !strings.EqualFold(m.Prot, o.Prot) || !strings.EqualFold(m.Mod, o.Mod) {
		return false
	}
	return sameParamSet(m.Params, o.Params)
}

// sameParamSet compares two parameter lists as multisets.
func sameParamSet(a, b header.Params) bool {
	if len(a) != len(b) {
		return false
	}
	used := make([]bool, len(b))
	for _, p := range a {
		found := false
		for j, q := range b {
			if !used[j] && sameParam(p, q) {
				used[j], found = true, true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

func sameParam(p, q header.Param) bool {
	if !strings.EqualFold(p.Name, q.Name) || p.IsFlag() != q.IsFlag() {
		return false
	}
	if p.Quoted || q.Quoted {
		return p.Value == q.Value
	}
	return strings.EqualFold(p.Value, q.Value)
}
