package header

import (
	"strings"
)

// Parameter names of the P- headers (RFC 7315).
const (
	ParamICIDValue        = "icid-value"        // RFC 7315 §4.6
	ParamICIDGeneratedAt  = "icid-generated-at" // RFC 7315 §4.6
	ParamOrigIOI          = "orig-ioi"          // RFC 7315 §4.6
	ParamTermIOI          = "term-ioi"          // RFC 7315 §4.6
	ParamCCF              = "ccf"               // RFC 7315 §4.5
	ParamECF              = "ecf"               // RFC 7315 §4.5
	ParamUTRANCellID3GPP  = "utran-cell-id-3gpp"
	ParamCGI3GPP          = "cgi-3gpp"
	ParamNetworkProvided  = "network-provided" // RFC 7315 §4.4, TS 24.229 §7.2A.4
	ParamLocalTimeZone    = "local-time-zone"
	ParamDaylightSaving   = "daylight-saving-time"
	ParamIWLANNodeID      = "i-wlan-node-id"
	ParamDSLLocation      = "dsl-location"
	ParamCI3GPP2          = "ci-3gpp2"
	ParamEthLocation      = "eth-location"
	ParamGSTNLocation     = "gstn-location"
	ParamFiberLocation    = "fiber-location"
	ParamDVBRCS2NodeID    = "dvb-rcs2-node-id"
	ParamCI3GPP2Femto     = "ci-3gpp2-femto"
	ParamOperatorSpecific = "operator-specific-GI"
)

// Access types of P-Access-Network-Info most seen from handsets (RFC 7315 §5.4, TS 24.229 §7.2A.4).
const (
	AccessType3GPPEUTRANFDD = "3GPP-E-UTRAN-FDD"
	AccessType3GPPEUTRANTDD = "3GPP-E-UTRAN-TDD"
	AccessType3GPPNRFDD     = "3GPP-NR-FDD"
	AccessType3GPPNRTDD     = "3GPP-NR-TDD"
	AccessType3GPPUTRANFDD  = "3GPP-UTRAN-FDD"
	AccessTypeIEEE80211     = "IEEE-802.11"
)

// VisitedNetwork is one vnetwork-spec of P-Visited-Network-ID (RFC 7315 §4.3):
//
//	vnetwork-spec = (token / quoted-string) *(SEMI vnetwork-param)
type VisitedNetwork struct {
	// ID is the network identifier, unquoted.
	ID string
	// Quoted is true when ID came (or should go) as a quoted-string. IDs that are not tokens are
	// quoted regardless ("Visited network number 1").
	Quoted bool
	Params Params
}

// String writes the element.
func (v VisitedNetwork) String() string {
	return Element{Value: v.ID, Quoted: v.Quoted, Params: v.Params}.String()
}

// ParseVisitedNetworks parses a P-Visited-Network-ID value. An empty value is an error: the
// grammar requires one vnetwork-spec.
func ParseVisitedNetworks(value string) ([]VisitedNetwork, error) {
	els, err := ParseElements(PVisitedNetworkID, value)
	if err != nil {
		return nil, err
	}
	if len(els) == 0 {
		return nil, &ParseError{Header: PVisitedNetworkID, Msg: "empty value", Err: ErrMissing}
	}
	out := make([]VisitedNetwork, len(els))
	for i, e := range els {
		out[i] = VisitedNetwork{ID: e.Value, Quoted: e.Quoted, Params: e.Params}
	}
	return out, nil
}

// FormatVisitedNetworks writes a P-Visited-Network-ID value.
func FormatVisitedNetworks(list []VisitedNetwork) string {
	els := make([]Element, len(list))
	for i, v := range list {
		els[i] = Element{Value: v.ID, Quoted: v.Quoted, Params: v.Params}
	}
	return FormatElements(els)
}

// AccessNetworkInfo is one access-net-spec of P-Access-Network-Info (RFC 7315 §4.4 and §5.4,
// TS 24.229 §7.2A.4):
//
//	access-net-spec = (access-type / access-class) *(SEMI access-info)
//
// e.g. "3GPP-E-UTRAN-FDD; utran-cell-id-3gpp=001010001000019B".
type AccessNetworkInfo struct {
	// AccessType is the access-type or access-class token.
	AccessType string
	// Params are the access-info parameters, in order.
	Params Params
}

// String writes the element.
func (a AccessNetworkInfo) String() string {
	return Element{Value: a.AccessType, Params: a.Params}.String()
}

// CellID returns the cell identity: utran-cell-id-3gpp (UTRAN, E-UTRAN and NR all use it,
// TS 24.229 §7.2A.4.3) or else cgi-3gpp (GERAN); "" when neither is present.
func (a AccessNetworkInfo) CellID() string {
	if v, ok := a.Params.Get(ParamUTRANCellID3GPP); ok {
		return v
	}
	v, _ := a.Params.Get(ParamCGI3GPP)
	return v
}

// NetworkProvided reports whether the network-provided flag is present: the value was added by
// the network (the P-CSCF or the PCRF), not by the UE (TS 24.229 §7.2A.4).
func (a AccessNetworkInfo) NetworkProvided() bool {
	for _, p := range a.Params {
		if strings.EqualFold(p.Name, ParamNetworkProvided) {
			return true
		}
	}
	return false
}

// ParseAccessNetworkInfo parses a P-Access-Network-Info value (a list, RFC 7315 §5.4). The
// access-type must be a token.
func ParseAccessNetworkInfo(value string) ([]AccessNetworkInfo, error) {
	els, at, err := ParseElementsAt(PAccessNetworkInfo, value)
	if err != nil {
		return nil, err
	}
	if len(els) == 0 {
		return nil, &ParseError{Header: PAccessNetworkInfo, Msg: "empty value", Err: ErrMissing}
	}
	out := make([]AccessNetworkInfo, len(els))
	for i, e := range els {
		if e.Quoted {
			return nil, &ParseError{Header: PAccessNetworkInfo, Pos: at[i], Msg: "access-type must be a token, not a quoted-string"}
		}
		out[i] = AccessNetworkInfo{AccessType: e.Value, Params: e.Params}
	}
	return out, nil
}

// FormatAccessNetworkInfo writes a P-Access-Network-Info value.
func FormatAccessNetworkInfo(list []AccessNetworkInfo) string {
	els := make([]Element, len(list))
	for i, a := range list {
		els[i] = Element{Value: a.AccessType, Params: a.Params}
	}
	return FormatElements(els)
}

// ChargingVector is the P-Charging-Vector value (RFC 7315 §4.6):
//
//	P-Charging-Vector = "P-Charging-Vector" HCOLON icid-value *(SEMI charge-params)
//	charge-params = icid-gen-addr / orig-ioi / term-ioi / transit-ioi / related-icid /
//	                related-icid-gen-addr / generic-param
//
// transit-ioi, related-icid, related-icid-generated-at and any other parameter stay in Params,
// in order. The grammar puts icid-value first; a value with it elsewhere is accepted, and the
// writer puts it first.
type ChargingVector struct {
	ICIDValue       string // icid-value, required
	ICIDGeneratedAt string // icid-generated-at, a host
	OrigIOI         string // orig-ioi
	TermIOI         string // term-ioi
	Params          Params
}

// String writes "icid-value=…;icid-generated-at=…;orig-ioi=…;term-ioi=…[;params]", omitting
// the empty ones and quoting values that are not a token or host.
func (v ChargingVector) String() string {
	var b strings.Builder
	first := true
	put := func(name, val string) {
		if val == "" && name != ParamICIDValue {
			return
		}
		if !first {
			b.WriteByte(';')
		}
		first = false
		b.WriteString(name)
		b.WriteByte('=')
		writeValue(&b, val, false)
	}
	put(ParamICIDValue, v.ICIDValue)
	put(ParamICIDGeneratedAt, v.ICIDGeneratedAt)
	put(ParamOrigIOI, v.OrigIOI)
	put(ParamTermIOI, v.TermIOI)
	v.Params.write(&b)
	return b.String()
}

// ParseChargingVector parses a P-Charging-Vector value. icid-value is required; icid-value,
// icid-generated-at, orig-ioi and term-ioi may each appear once and must have a value.
func ParseChargingVector(value string) (ChargingVector, error) {
	var v ChargingVector
	ps, at, err := parseParamSeq(PChargingVector, value)
	if err != nil {
		return v, err
	}
	seen := map[string]bool{}
	for i, p := range ps {
		var dst *string
		switch name := strings.ToLower(p.Name); name {
		case ParamICIDValue:
			dst = &v.ICIDValue
		case ParamICIDGeneratedAt:
			dst = &v.ICIDGeneratedAt
		case ParamOrigIOI:
			dst = &v.OrigIOI
		case ParamTermIOI:
			dst = &v.TermIOI
		default:
			v.Params = append(v.Params, p)
			continue
		}
		name := strings.ToLower(p.Name)
		if seen[name] {
			return ChargingVector{}, &ParseError{Header: PChargingVector, Param: name, Pos: at[i], Msg: "appears more than once", Err: ErrDuplicate}
		}
		seen[name] = true
		if p.Value == "" {
			return ChargingVector{}, &ParseError{Header: PChargingVector, Param: name, Pos: at[i], Msg: "needs a value"}
		}
		*dst = p.Value
	}
	if v.ICIDValue == "" {
		return ChargingVector{}, &ParseError{Header: PChargingVector, Param: ParamICIDValue, Msg: "missing", Err: ErrMissing}
	}
	return v, nil
}

// ChargingFunctionAddresses is the P-Charging-Function-Addresses value (RFC 7315 §4.5):
//
//	P-Charging-Addr = "P-Charging-Function-Addresses" HCOLON charge-addr-params
//	                  *(SEMI charge-addr-params)
//	charge-addr-params = ccf / ecf / generic-param
//
// CCF and ECF keep their order: the first is the primary, the next the secondary.
type ChargingFunctionAddresses struct {
	CCF    []string
	ECF    []string
	Params Params
}

// String writes "ccf=…;ccf=…;ecf=…[;params]", quoting values that are not a token or host
// (a Diameter URI such as "aaa://cdf.example" is quoted).
func (c ChargingFunctionAddresses) String() string {
	var b strings.Builder
	first := true
	put := func(name, val string) {
		if !first {
			b.WriteByte(';')
		}
		first = false
		b.WriteString(name)
		b.WriteByte('=')
		writeValue(&b, val, false)
	}
	for _, a := range c.CCF {
		put(ParamCCF, a)
	}
	for _, a := range c.ECF {
		put(ParamECF, a)
	}
	for _, p := range c.Params {
		if !first {
			b.WriteByte(';')
		}
		first = false
		p.write(&b)
	}
	return b.String()
}

// ParseChargingFunctionAddresses parses a P-Charging-Function-Addresses value. ccf and ecf must
// have a value.
func ParseChargingFunctionAddresses(value string) (ChargingFunctionAddresses, error) {
	var c ChargingFunctionAddresses
	ps, at, err := parseParamSeq(PChargingFunctionAddresses, value)
	if err != nil {
		return c, err
	}
	for i, p := range ps {
		switch name := strings.ToLower(p.Name); name {
		case ParamCCF, ParamECF:
			if p.Value == "" {
				return ChargingFunctionAddresses{}, &ParseError{Header: PChargingFunctionAddresses, Param: name, Pos: at[i], Msg: "needs a value"}
			}
			if name == ParamCCF {
				c.CCF = append(c.CCF, p.Value)
			} else {
				c.ECF = append(c.ECF, p.Value)
			}
		default:
			c.Params = append(c.Params, p)
		}
	}
	return c, nil
}
