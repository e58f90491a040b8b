package rx

import (
	"github.com/fiorix/go-diameter/v4/diam"
	"github.com/fiorix/go-diameter/v4/diam/datatype"
)

// MediaComponentDescription is Media-Component-Description, TS 29.214 §5.3.16: one media
// component of the session, built from one SDP m= line (TS 29.213 §6.2, Table 6.2.1).
//
//	Media-Component-Description ::= < AVP Header: 517 >
//	    { Media-Component-Number } *[ Media-Sub-Component ] [ AF-Application-Identifier ]
//	    [ Media-Type ] [ Max-Requested-Bandwidth-UL ] [ Max-Requested-Bandwidth-DL ]
//	    [ Min-Requested-Bandwidth-UL ] [ Min-Requested-Bandwidth-DL ] [ Flow-Status ]
//	    [ RS-Bandwidth ] [ RR-Bandwidth ] 0*2[ Codec-Data ] *[ AVP ]
type MediaComponentDescription struct {
	Number                  uint32              // { Media-Component-Number }: the m= line's ordinal, from 1
	SubComponents           []MediaSubComponent // *[ Media-Sub-Component ]
	AFApplicationIdentifier []byte              // [ AF-Application-Identifier ]
	MediaType               *MediaType          // [ Media-Type ]
	MaxRequestedBandwidthUL *uint32             // [ ]: bit/s (TS 29.213 §6.2 from b=AS or b=TIAS)
	MaxRequestedBandwidthDL *uint32             // [ ]
	MinRequestedBandwidthUL *uint32             // [ ]
	MinRequestedBandwidthDL *uint32             // [ ]
	FlowStatus              *FlowStatus         // [ Flow-Status ]: from the SDP direction (TS 29.213 §6.2)
	RSBandwidth             *uint32             // [ RS-Bandwidth ]: b=RS, bit/s (RFC 3556)
	RRBandwidth             *uint32             // [ RR-Bandwidth ]: b=RR, bit/s
	CodecData               [][]byte            // 0*2[ Codec-Data ]: TS 29.214 §5.3.7, uplink/downlink offer/answer
	Unknown                 []*diam.AVP         // *[ AVP ]
}

func (m *MediaComponentDescription) put(w *writer) {
	if len(m.CodecData) > 2 {
		w.invalid("Media-Component-Description %d: %d Codec-Data, at most 2", m.Number, len(m.CodecData))
		return
	}
	w.group(tgpp(AVPMediaComponentDescription), func() {
		w.u32(tgpp(AVPMediaComponentNumber), m.Number)
		for i := range m.SubComponents {
			m.SubComponents[i].put(w)
		}
		if m.AFApplicationIdentifier != nil {
			w.raw(tgpp(AVPAFApplicationIdentifier), m.AFApplicationIdentifier)
		}
		putOptEnum(w, tgpp(AVPMediaType), m.MediaType)
		w.optU32(tgpp(AVPMaxRequestedBandwidthUL), m.MaxRequestedBandwidthUL)
		w.optU32(tgpp(AVPMaxRequestedBandwidthDL), m.MaxRequestedBandwidthDL)
		w.optU32(tgpp(AVPMinRequestedBandwidthUL), m.MinRequestedBandwidthUL)
		w.optU32(tgpp(AVPMinRequestedBandwidthDL), m.MinRequestedBandwidthDL)
		putOptEnum(w, tgpp(AVPFlowStatus), m.FlowStatus)
		w.optU32(tgpp(AVPRSBandwidth), m.RSBandwidth)
		w.optU32(tgpp(AVPRRBandwidth), m.RRBandwidth)
		for _, c := range m.CodecData {
			w.raw(tgpp(AVPCodecData), c)
		}
		w.extra(m.Unknown)
	})
}

func decodeMCD(r *reader, f field) MediaComponentDescription {
	var m MediaComponentDescription
	r.group(f, &m.Unknown, func(c field) bool {
		switch c.key() {
		case tgpp(AVPMediaComponentNumber):
			r.setU32(c, &m.Number)
		case tgpp(AVPMediaSubComponent):
			r.repeated(c)
			m.SubComponents = append(m.SubComponents, decodeMSC(r, c))
		case tgpp(AVPAFApplicationIdentifier):
			r.setOctets(c, &m.AFApplicationIdentifier)
		case tgpp(AVPMediaType):
			setOptEnum(r, c, &m.MediaType)
		case tgpp(AVPMaxRequestedBandwidthUL):
			r.setOptU32(c, &m.MaxRequestedBandwidthUL)
		case tgpp(AVPMaxRequestedBandwidthDL):
			r.setOptU32(c, &m.MaxRequestedBandwidthDL)
		case tgpp(AVPMinRequestedBandwidthUL):
			r.setOptU32(c, &m.MinRequestedBandwidthUL)
		case tgpp(AVPMinRequestedBandwidthDL):
			r.setOptU32(c, &m.MinRequestedBandwidthDL)
		case tgpp(AVPFlowStatus):
			setOptEnum(r, c, &m.FlowStatus)
		case tgpp(AVPRSBandwidth):
			r.setOptU32(c, &m.RSBandwidth)
		case tgpp(AVPRRBandwidth):
			r.setOptU32(c, &m.RRBandwidth)
		case tgpp(AVPCodecData):
			if len(m.CodecData) == 2 { // 0*2[ Codec-Data ]
				r.fail(diameterOccurs, c.diam(), "a third Codec-Data")
				return true
			}
			r.addOctets(c, &m.CodecData)
		default:
			return false
		}
		return true
	}, func() { r.need(tgpp(AVPMediaComponentNumber), "Media-Component-Number", datatype.Unsigned32(0)) })
	return m
}

// MediaSubComponent is Media-Sub-Component, TS 29.214 §5.3.18: the flows of one component (RTP and
// RTCP, or the signalling flows), each described by up to two IPFilterRules (one per direction).
//
//	Media-Sub-Component ::= < AVP Header: 519 >
//	    { Flow-Number } 0*2[ Flow-Description ] [ Flow-Status ] [ Flow-Usage ]
//	    [ Max-Requested-Bandwidth-UL ] [ Max-Requested-Bandwidth-DL ] [ AF-Signalling-Protocol ] *[ AVP ]
type MediaSubComponent struct {
	FlowNumber              uint32                // { Flow-Number }
	FlowDescriptions        []string              // 0*2[ Flow-Description ]: §5.3.8, "permit out" for both directions, the uplink one "from" the UE
	FlowStatus              *FlowStatus           // [ Flow-Status ]
	FlowUsage               *FlowUsage            // [ Flow-Usage ]: RTCP for the RTCP flow, AF_SIGNALLING for SIP
	MaxRequestedBandwidthUL *uint32               // [ ]
	MaxRequestedBandwidthDL *uint32               // [ ]
	AFSignallingProtocol    *AFSignallingProtocol // [ AF-Signalling-Protocol ]: SIP for the signalling flows (§5.3.26)
	Unknown                 []*diam.AVP           // *[ AVP ]
}

func (s *MediaSubComponent) put(w *writer) {
	if len(s.FlowDescriptions) > 2 {
		w.invalid("Media-Sub-Component %d: %d Flow-Description, at most 2", s.FlowNumber, len(s.FlowDescriptions))
		return
	}
	w.group(tgpp(AVPMediaSubComponent), func() {
		w.u32(tgpp(AVPFlowNumber), s.FlowNumber)
		for _, d := range s.FlowDescriptions {
			w.text(tgpp(AVPFlowDescription), "Flow-Description", d, true)
		}
		putOptEnum(w, tgpp(AVPFlowStatus), s.FlowStatus)
		putOptEnum(w, tgpp(AVPFlowUsage), s.FlowUsage)
		w.optU32(tgpp(AVPMaxRequestedBandwidthUL), s.MaxRequestedBandwidthUL)
		w.optU32(tgpp(AVPMaxRequestedBandwidthDL), s.MaxRequestedBandwidthDL)
		putOptEnum(w, tgpp(AVPAFSignallingProtocol), s.AFSignallingProtocol)
		w.extra(s.Unknown)
	})
}

func decodeMSC(r *reader, f field) MediaSubComponent {
	var s MediaSubComponent
	r.group(f, &s.Unknown, func(c field) bool {
		switch c.key() {
		case tgpp(AVPFlowNumber):
			r.setU32(c, &s.FlowNumber)
		case tgpp(AVPFlowDescription):
			if len(s.FlowDescriptions) == 2 { // 0*2[ Flow-Description ]
				r.fail(diameterOccurs, c.diam(), "a third Flow-Description")
				return true
			}
			r.addText(c, &s.FlowDescriptions)
		case tgpp(AVPFlowStatus):
			setOptEnum(r, c, &s.FlowStatus)
		case tgpp(AVPFlowUsage):
			setOptEnum(r, c, &s.FlowUsage)
		case tgpp(AVPMaxRequestedBandwidthUL):
			r.setOptU32(c, &s.MaxRequestedBandwidthUL)
		case tgpp(AVPMaxRequestedBandwidthDL):
			r.setOptU32(c, &s.MaxRequestedBandwidthDL)
		case tgpp(AVPAFSignallingProtocol):
			setOptEnum(r, c, &s.AFSignallingProtocol)
		default:
			return false
		}
		return true
	}, func() { r.need(tgpp(AVPFlowNumber), "Flow-Number", datatype.Unsigned32(0)) })
	return s
}

// SubscriptionID is Subscription-Id, RFC 8506 §8.46: the user the AF session is for
// (TS 29.214 §4.4.1: the IMPU as END_USER_SIP_URI, or an E.164 number).
//
//	Subscription-Id ::= < AVP Header: 443 > { Subscription-Id-Type } { Subscription-Id-Data }
type SubscriptionID struct {
	Type    SubscriptionIDType
	Data    string
	Unknown []*diam.AVP
}

func (s *SubscriptionID) put(w *writer) {
	w.group(base(AVPSubscriptionID), func() {
		putEnum(w, base(AVPSubscriptionIDType), s.Type)
		w.text(base(AVPSubscriptionIDData), "Subscription-Id-Data", s.Data, true)
		w.extra(s.Unknown)
	})
}

func decodeSubscriptionID(r *reader, f field) SubscriptionID {
	var s SubscriptionID
	r.group(f, &s.Unknown, func(c field) bool {
		switch c.key() {
		case base(AVPSubscriptionIDType):
			setEnum(r, c, &s.Type)
		case base(AVPSubscriptionIDData):
			r.setText(c, &s.Data)
		default:
			return false
		}
		return true
	}, func() {
		r.need(base(AVPSubscriptionIDType), "Subscription-Id-Type", datatype.Enumerated(0))
		r.need(base(AVPSubscriptionIDData), "Subscription-Id-Data", datatype.UTF8String(""))
	})
	return s
}

// Flows is Flows, TS 29.214 §5.3.10: the flows of one media component an RAR reports on.
//
//	Flows ::= < AVP Header: 510 > { Media-Component-Number } *[ Flow-Number ] … *[ AVP ]
type Flows struct {
	MediaComponentNumber uint32
	FlowNumbers          []uint32
	Unknown              []*diam.AVP
}

func (x *Flows) put(w *writer) {
	w.group(tgpp(AVPFlows), func() {
		w.u32(tgpp(AVPMediaComponentNumber), x.MediaComponentNumber)
		for _, n := range x.FlowNumbers {
			w.u32(tgpp(AVPFlowNumber), n)
		}
		w.extra(x.Unknown)
	})
}

func decodeFlows(r *reader, f field) Flows {
	var x Flows
	r.group(f, &x.Unknown, func(c field) bool {
		switch c.key() {
		case tgpp(AVPMediaComponentNumber):
			r.setU32(c, &x.MediaComponentNumber)
		case tgpp(AVPFlowNumber):
			r.repeated(c)
			if v, ok := r.u32(c); ok {
				x.FlowNumbers = append(x.FlowNumbers, v)
			}
		default:
			return false
		}
		return true
	}, func() { r.need(tgpp(AVPMediaComponentNumber), "Media-Component-Number", datatype.Unsigned32(0)) })
	return x
}

// ExperimentalResult is Experimental-Result, RFC 6733 §7.6: { Vendor-Id } { Experimental-Result-Code }.
type ExperimentalResult struct {
	VendorID uint32
	Code     uint32
}

func (x *ExperimentalResult) put(w *writer) {
	w.group(base(AVPExperimentalResult), func() {
		w.u32(base(AVPVendorID), x.VendorID)
		w.u32(base(AVPExperimentalResultCode), x.Code)
	})
}

func decodeExperimentalResult(r *reader, f field) *ExperimentalResult {
	x := new(ExperimentalResult)
	var ignored []*diam.AVP
	r.group(f, &ignored, func(c field) bool {
		switch c.key() {
		case base(AVPVendorID):
			r.setU32(c, &x.VendorID)
		case base(AVPExperimentalResultCode):
			r.setU32(c, &x.Code)
		default:
			return false
		}
		return true
	}, func() {
		r.need(base(AVPVendorID), "Vendor-Id", datatype.Unsigned32(0))
		r.need(base(AVPExperimentalResultCode), "Experimental-Result-Code", datatype.Unsigned32(0))
	})
	return x
}

// ProxyInfo is Proxy-Info, RFC 6733 §6.7.2: { Proxy-Host } { Proxy-State } *[ AVP ], echoed in answers.
type ProxyInfo struct {
	Host    string
	State   []byte
	Unknown []*diam.AVP
}

func (p *ProxyInfo) put(w *writer) {
	w.group(base(AVPProxyInfo), func() {
		w.text(base(AVPProxyHost), "Proxy-Host", p.Host, true)
		if p.State == nil {
			w.invalid("Proxy-State is missing")
			return
		}
		w.raw(base(AVPProxyState), p.State)
		w.extra(p.Unknown)
	})
}

func decodeProxyInfo(r *reader, f field) ProxyInfo {
	var p ProxyInfo
	r.group(f, &p.Unknown, func(c field) bool {
		switch c.key() {
		case base(AVPProxyHost):
			r.setText(c, &p.Host)
		case base(AVPProxyState):
			r.setOctets(c, &p.State)
		default:
			return false
		}
		return true
	}, func() {
		r.need(base(AVPProxyHost), "Proxy-Host", datatype.DiameterIdentity(""))
		r.need(base(AVPProxyState), "Proxy-State", datatype.OctetString(""))
	})
	return p
}

// putFailedAVP writes Failed-AVP (RFC 6733 §7.5) holding avps, if any.
func putFailedAVP(w *writer, avps []*diam.AVP) {
	if len(avps) > 0 {
		w.group(base(AVPFailedAVP), func() { w.extra(avps) })
	}
}

// decodeFailedAVP returns the AVPs inside a received Failed-AVP, opaque.
func decodeFailedAVP(r *reader, f field) []*diam.AVP {
	var out []*diam.AVP
	r.group(f, &out, func(field) bool { return false }, nil)
	return out
}
