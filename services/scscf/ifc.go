package scscf

// Initial filter criteria evaluation, TS 29.228 Annex B.2.2 and Annex F; TS 23.218 §6.4 (the S-CSCF
// checks the iFCs of the served user's service profile in priority order, each trigger point in
// conjunctive or disjunctive normal form over its service point triggers).

import (
	"regexp"
	"sort"
	"strings"

	"github.com/emiago/sipgo/sip"

	"github.com/imscore/imscore/diameter/userdata"
	"github.com/imscore/imscore/hss"
	"github.com/imscore/imscore/sip/header"
	"github.com/imscore/imscore/sip/identity"
)

// RegistrationType is the REGISTER kind an SPT extension can select (TS 29.228 Annex B.2.2,
// tSePoTriExtension).
type RegistrationType int

// Registration types, with the schema's values.
const (
	RegistrationInitial        RegistrationType = 0
	RegistrationRe             RegistrationType = 1
	RegistrationDeregistration RegistrationType = 2
)

// IFCRequest is what an iFC is evaluated against.
type IFCRequest struct {
	Request     *sip.Request
	SessionCase userdata.SessionCase
	// Registered says whether the served user is registered (ProfilePartIndicator, Annex B.2.2).
	Registered bool
	// RegistrationType is used for REGISTER only.
	RegistrationType RegistrationType
}

// ProfileFor returns the service profile of sub that holds impu, or nil.
func ProfileFor(sub *userdata.IMSSubscription, impu string) *userdata.ServiceProfile {
	if sub == nil {
		return nil
	}
	for i := range sub.ServiceProfiles {
		for _, pi := range sub.ServiceProfiles[i].PublicIdentities {
			if identity.Key(pi.Identity) == impu {
				return &sub.ServiceProfiles[i]
			}
		}
	}
	// TS 29.228 §6.1.2, TS 23.003 §13.5: a request to a wildcarded PSI is served by the profile of the
	// pattern (Extension WildcardedPSI, or the '!'-delimited identity itself) that matches it.
	for i := range sub.ServiceProfiles {
		for _, pi := range sub.ServiceProfiles[i].PublicIdentities {
			pattern := pi.Identity
			if pi.Extension != nil && pi.Extension.WildcardedPSI != "" {
				pattern = pi.Extension.WildcardedPSI
			}
			if !strings.Contains(pattern, "!") {
				continue
			}
			if ok, err := hss.MatchWildcard(pattern, impu); err == nil && ok {
				return &sub.ServiceProfiles[i]
			}
		}
	}
	return nil
}

// MatchingIFCs returns the iFCs of sp that match r, lowest Priority first (Annex B.2.2: "the lower the
// number the higher the priority").
func MatchingIFCs(sp *userdata.ServiceProfile, r IFCRequest) []userdata.InitialFilterCriteria {
	if sp == nil {
		return nil
	}
	ifcs := append([]userdata.InitialFilterCriteria(nil), sp.InitialFilterCriteria...)
	sort.SliceStable(ifcs, func(i, j int) bool { return ifcs[i].Priority < ifcs[j].Priority })
	var out []userdata.InitialFilterCriteria
	for _, ifc := range ifcs {
		if MatchIFC(ifc, r) {
			out = append(out, ifc)
		}
	}
	return out
}

// MatchIFC evaluates one iFC: its ProfilePartIndicator, then its trigger point. No trigger point means
// the AS is always contacted.
func MatchIFC(ifc userdata.InitialFilterCriteria, r IFCRequest) bool {
	if ifc.ProfilePartIndicator != nil {
		// 0 REGISTERED, 1 UNREGISTERED (Annex B.2.2).
		if (*ifc.ProfilePartIndicator == 0) != r.Registered {
			return false
		}
	}
	if ifc.TriggerPoint == nil {
		return true
	}
	return MatchTrigger(ifc.TriggerPoint, r)
}

// MatchTrigger evaluates a trigger point. CNF: the SPTs of one group are ORed, the groups ANDed; DNF:
// the SPTs of one group are ANDed, the groups ORed (Annex B.2.2, Annex F). An SPT may sit in several
// groups.
func MatchTrigger(tp *userdata.TriggerPoint, r IFCRequest) bool {
	groups := map[int][]bool{}
	var order []int
	for _, spt := range tp.SPTs {
		m := MatchSPT(spt, r)
		for _, g := range spt.Groups {
			if _, ok := groups[g]; !ok {
				order = append(order, g)
			}
			groups[g] = append(groups[g], m)
		}
	}
	if len(order) == 0 {
		return false
	}
	cnf := bool(tp.ConditionTypeCNF)
	for _, g := range order {
		var v bool
		if cnf {
			v = anyTrue(groups[g])
		} else {
			v = allTrue(groups[g])
		}
		if cnf && !v {
			return false
		}
		if !cnf && v {
			return true
		}
	}
	return cnf
}

func anyTrue(bs []bool) bool {
	for _, b := range bs {
		if b {
			return true
		}
	}
	return false
}

func allTrue(bs []bool) bool {
	for _, b := range bs {
		if !b {
			return false
		}
	}
	return true
}

// MatchSPT evaluates one service point trigger, negation included.
func MatchSPT(spt userdata.SPT, r IFCRequest) bool {
	m := matchSPTCondition(spt, r)
	if spt.Negated() {
		return !m
	}
	return m
}

func matchSPTCondition(spt userdata.SPT, r IFCRequest) bool {
	req := r.Request
	switch {
	case spt.Method != nil:
		if !strings.EqualFold(strings.TrimSpace(*spt.Method), string(req.Method)) {
			return false
		}
		if req.Method == sip.REGISTER && spt.Extension != nil && len(spt.Extension.RegistrationTypes) > 0 {
			for _, t := range spt.Extension.RegistrationTypes {
				if RegistrationType(t) == r.RegistrationType {
					return true
				}
			}
			return false
		}
		return true
	case spt.RequestURI != nil:
		return matchPattern(*spt.RequestURI, req.Recipient.String())
	case spt.SIPHeader != nil:
		values := header.Values(req, spt.SIPHeader.Header)
		if spt.SIPHeader.Content == nil {
			return len(values) > 0 || header.Has(req, spt.SIPHeader.Header)
		}
		for _, v := range values {
			if matchPattern(*spt.SIPHeader.Content, v) {
				return true
			}
		}
		return false
	case spt.SessionCase != nil:
		return *spt.SessionCase == r.SessionCase
	case spt.SessionDescription != nil:
		return matchSDP(*spt.SessionDescription, req.Body())
	}
	return false
}

// matchPattern applies an SPT content pattern: a regular expression (Annex B.2.2 "regular expression"),
// or plain substring when it does not compile.
func matchPattern(pattern, value string) bool {
	re, err := regexp.Compile(pattern)
	if err != nil {
		return strings.Contains(value, pattern)
	}
	return re.MatchString(value)
}

// matchSDP matches an SDP line of the given type (the letter before '='), and its content when set.
func matchSDP(sd userdata.SessionDescription, body []byte) bool {
	for _, line := range strings.Split(string(body), "\n") {
		line = strings.TrimRight(line, "\r")
		typ, value, ok := strings.Cut(line, "=")
		if !ok || !strings.EqualFold(strings.TrimSpace(typ), strings.TrimSpace(sd.Line)) {
			continue
		}
		if sd.Content == nil || matchPattern(*sd.Content, value) {
			return true
		}
	}
	return false
}
