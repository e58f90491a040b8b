package pcscf

// Choosing Rx or N5 per UE (docs/qos.md "Rx or N5 per UE"): a P-CSCF that serves both an EPC and a 5GC (or UEs
// moving between them) asks the PCRF for the UEs on LTE and the PCF for those on NR. qos.rules, first match,
// on the registered public identity, the private identity (an IMSI range) and the access type the UE last
// declared in P-Access-Network-Info (RFC 7315 §5.4, TS 24.229 §7.2A.4: 3GPP-E-UTRAN-FDD, 3GPP-NR-TDD, …);
// qos.mode for the rest. A registration's signalling session and each call leg stay with the AF that opened
// them; a re-registration from another access moves the signalling session.

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/emiago/sipgo/sip"

	"github.com/imscore/imscore/services/pcscf/qos"
	"github.com/imscore/imscore/sip/header"
)

// QoSRule picks the policy reference point of the UEs it matches: every condition set must hold.
type QoSRule struct {
	// IMPU is a regular expression (RE2) the registered public identity must match, e.g. `^tel:\+4930`.
	IMPU string `yaml:"impu"`
	// IMPI is a regular expression the private identity must match, e.g. `^00101[0-9]{10}@` for an IMSI range.
	IMPI string `yaml:"impi"`
	// Access lists access-type values of P-Access-Network-Info (case-insensitive), e.g. [3GPP-NR-FDD, 3GPP-NR-TDD].
	Access []string `yaml:"access"`
	// Mode is rx, n5 or off for the UEs matched.
	Mode qos.Mode `yaml:"mode"`
}

// qosRule is a QoSRule compiled.
type qosRule struct {
	impu, impi *regexp.Regexp
	access     []string
	mode       qos.Mode
}

func compileRules(rules []QoSRule) ([]qosRule, error) {
	out := make([]qosRule, 0, len(rules))
	for i, r := range rules {
		c := qosRule{mode: r.Mode}
		switch r.Mode {
		case qos.ModeRx, qos.ModeN5, qos.ModeOff:
		default:
			return nil, fmt.Errorf("qos.rules[%d].mode %q: want rx, n5 or off", i, r.Mode)
		}
		var err error
		if r.IMPU != "" {
			if c.impu, err = regexp.Compile(r.IMPU); err != nil {
				return nil, fmt.Errorf("qos.rules[%d].impu: %w", i, err)
			}
		}
		if r.IMPI != "" {
			if c.impi, err = regexp.Compile(r.IMPI); err != nil {
				return nil, fmt.Errorf("qos.rules[%d].impi: %w", i, err)
			}
		}
		for _, a := range r.Access {
			c.access = append(c.access, strings.ToLower(strings.TrimSpace(a)))
		}
		if c.impu == nil && c.impi == nil && len(c.access) == 0 {
			return nil, fmt.Errorf("qos.rules[%d]: no condition (impu, impi or access)", i)
		}
		out = append(out, c)
	}
	return out, nil
}

// usedModes are the modes qos.mode and the rules can choose, off excepted.
func usedModes(def qos.Mode, rules []QoSRule) []qos.Mode {
	var out []qos.Mode
	for _, m := range append([]qos.Mode{def}, modesOf(rules)...) {
		if m != qos.ModeOff && !slices.Contains(out, m) {
			out = append(out, m)
		}
	}
	return out
}

func modesOf(rules []QoSRule) []qos.Mode {
	out := make([]qos.Mode, 0, len(rules))
	for _, r := range rules {
		out = append(out, r.Mode)
	}
	return out
}

// modeFor is the mode of a UE: the first rule that matches, else def. access is "" when unknown.
func modeFor(rules []qosRule, def qos.Mode, impu, impi, access string) qos.Mode {
	access = strings.ToLower(access)
	for _, r := range rules {
		if r.impu != nil && !r.impu.MatchString(impu) || r.impi != nil && !r.impi.MatchString(impi) {
			continue
		}
		if len(r.access) > 0 && !slices.Contains(r.access, access) {
			continue
		}
		return r.mode
	}
	return def
}

// accessType is the access-type of a request's P-Access-Network-Info (RFC 7315 §5.4: the value before the
// first ';'), "" without one.
func accessType(req *sip.Request) string {
	vals := header.Values(req, header.PAccessNetworkInfo)
	if len(vals) == 0 {
		return ""
	}
	at, _, _ := strings.Cut(vals[0], ";")
	return strings.TrimSpace(at)
}

// afOf is the AF of a mode (nil: off, or a mode not configured).
func (h *qosHook) afOf(m qos.Mode) *qos.AF {
	switch m {
	case qos.ModeRx:
		return h.rx
	case qos.ModeN5:
		return h.n5af
	}
	return nil
}

// noteAccess records the access type a UE declared (empty: unchanged) and returns the one known.
func (h *qosHook) noteAccess(bk bindingKey, access string) string {
	h.mu.Lock()
	defer h.mu.Unlock()
	if access != "" {
		h.access[bk] = access
	}
	return h.access[bk]
}

// afFor is the AF of reg's UE now.
func (h *qosHook) afFor(bk bindingKey, reg Registration, access string) *qos.AF {
	return h.afOf(modeFor(h.rules, h.def, reg.IMPU, reg.IMPI, h.noteAccess(bk, access)))
}

// signalling records af as the one holding bk's signalling session and returns the previous one.
func (h *qosHook) signalling(bk bindingKey, af *qos.AF) (prev *qos.AF) {
	h.mu.Lock()
	defer h.mu.Unlock()
	prev = h.sig[bk]
	if af == nil {
		delete(h.sig, bk)
		delete(h.access, bk)
	} else {
		h.sig[bk] = af
	}
	return prev
}

// legAF is the AF holding call leg key; with af non-nil and none recorded, af becomes it.
func (h *qosHook) legAF(key string, af *qos.AF) *qos.AF {
	h.mu.Lock()
	defer h.mu.Unlock()
	if cur, ok := h.legs[key]; ok {
		return cur
	}
	if af != nil {
		h.legs[key] = af
	}
	return af
}
