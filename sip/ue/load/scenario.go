package load

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Scenario names one kind of operation, or the mix of them.
type Scenario string

// Scenarios. One operation of each (latency is measured from its first request to the final
// answer that completes it):
const (
	// ScenarioRegister: a full IMS-AKA registration, REGISTER → 401 → REGISTER → 200 (TS 24.229
	// §5.1.1.2), of a UE that is not registered. A UE that is (from its previous operation) is
	// first de-registered, outside the measured time.
	ScenarioRegister Scenario = "register"
	// ScenarioReregister: REGISTER of a registered UE (TS 24.229 §5.1.1.4). With sec-agree it
	// goes over the SAs and the S-CSCF does not challenge it by default; without, the UE sends
	// no credentials and the S-CSCF challenges, so it is REGISTER → 401 → REGISTER → 200 again.
	ScenarioReregister Scenario = "reregister"
	// ScenarioDeregister: REGISTER with Expires: 0 (TS 24.229 §5.1.1.6) of a registered UE; one
	// that is not (from its previous operation) is registered first, outside the measured time.
	ScenarioDeregister Scenario = "deregister"
	// ScenarioMessage: a page-mode MESSAGE (RFC 3428) to another registered UE of the pool,
	// answered 200 by that UE.
	ScenarioMessage Scenario = "message"
	// ScenarioCall: INVITE → 180 → 200 → ACK, hold, BYE → 200 to another registered UE. The
	// latency is the call's signalling time: INVITE to its 200 plus BYE to its 200 (the hold
	// is not counted).
	ScenarioCall Scenario = "call"
	// ScenarioPresence: a PUBLISH of the UE's presence (RFC 3903, TS 24.141 §5.2): the first one
	// initial, then modifications with the entity-tag of the previous one (an entity-tag the server
	// no longer knows, 412, is followed by an initial PUBLISH, both measured). Needs the presence
	// server behind the S-CSCF (`imsctl presence setup`, docs/presence.md).
	ScenarioPresence Scenario = "presence"
	// ScenarioMix: each operation drawn from Config.Mix by weight.
	ScenarioMix Scenario = "mix"
)

// Scenarios lists the scenarios in the order the CLI documents them.
func Scenarios() []Scenario {
	return []Scenario{ScenarioRegister, ScenarioReregister, ScenarioDeregister, ScenarioMessage, ScenarioCall, ScenarioPresence, ScenarioMix}
}

// ParseScenario accepts one of Scenarios.
func ParseScenario(s string) (Scenario, error) {
	sc := Scenario(strings.ToLower(strings.TrimSpace(s)))
	if !slices.Contains(Scenarios(), sc) {
		return "", fmt.Errorf("%w: scenario %q: want one of %v", ErrConfig, s, Scenarios())
	}
	return sc, nil
}

// needsRegistered: the operation starts from a registered UE.
func (s Scenario) needsRegistered() bool { return s != ScenarioRegister }

// Mix weighs the operations of ScenarioMix; weights are relative (0 leaves one out).
type Mix map[Scenario]int

// DefaultMix is a registered population's day: mostly re-registrations and MESSAGEs, some calls,
// a few UEs coming and going — "reregister=30,message=40,call=10,register=10,deregister=10".
func DefaultMix() Mix {
	return Mix{ScenarioReregister: 30, ScenarioMessage: 40, ScenarioCall: 10, ScenarioRegister: 10, ScenarioDeregister: 10}
}

// ParseMix reads "name=weight,…", e.g. "message=3,call=1".
func ParseMix(s string) (Mix, error) {
	m := Mix{}
	for item := range strings.SplitSeq(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		name, w, ok := strings.Cut(item, "=")
		if !ok {
			return nil, fmt.Errorf("%w: mix item %q: want name=weight", ErrConfig, item)
		}
		sc, err := ParseScenario(name)
		if err != nil || sc == ScenarioMix {
			return nil, fmt.Errorf("%w: mix item %q: unknown operation", ErrConfig, item)
		}
		n, err := strconv.Atoi(strings.TrimSpace(w))
		if err != nil || n < 0 {
			return nil, fmt.Errorf("%w: mix item %q: weight must be a whole number ≥ 0", ErrConfig, item)
		}
		m[sc] += n
	}
	if m.total() == 0 {
		return nil, fmt.Errorf("%w: mix %q: no operation has a weight", ErrConfig, s)
	}
	return m, nil
}

// String is the mix in ParseMix's form, in Scenarios order.
func (m Mix) String() string {
	var parts []string
	for _, sc := range Scenarios() {
		if w := m[sc]; w > 0 {
			parts = append(parts, fmt.Sprintf("%s=%d", sc, w))
		}
	}
	return strings.Join(parts, ",")
}

func (m Mix) total() int {
	n := 0
	for _, w := range m {
		n += max(w, 0)
	}
	return n
}

// pick maps r in [0, total) to an operation, in Scenarios order so that it is deterministic.
func (m Mix) pick(r int) Scenario {
	for _, sc := range Scenarios() {
		w := max(m[sc], 0)
		if r < w {
			return sc
		}
		r -= w
	}
	return ScenarioMessage
}
