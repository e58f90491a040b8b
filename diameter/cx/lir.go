package cx

import (
	"github.com/fiorix/go-diameter/v4/diam"
	"github.com/fiorix/go-diameter/v4/diam/datatype"
	"github.com/fiorix/go-diameter/v4/diam/dict"
)

// LIR is the Location-Info-Request, TS 29.229 §6.1.5 (Command-Code 302, 'R' and 'P' set): the
// I-CSCF asks which S-CSCF serves a public identity, to route a terminating request
// (TS 29.228 §6.2.1).
type LIR struct {
	SessionID                   string                       // < Session-Id >
	DRMP                        *DRMP                        // [ DRMP ]
	VendorSpecificApplicationID *VendorSpecificApplicationID // { }: nil sends CxApplicationID()
	AuthSessionState            *AuthSessionState            // { }: nil sends NO_STATE_MAINTAINED
	OriginHost                  string                       // { Origin-Host }
	OriginRealm                 string                       // { Origin-Realm }
	DestinationHost             string                       // [ Destination-Host ]
	DestinationRealm            string                       // { Destination-Realm }
	OriginatingRequest          *OriginatingRequest          // [ Originating-Request ]
	OCSupportedFeatures         *OCSupportedFeatures         // [ OC-Supported-Features ]
	SupportedFeatures           []SupportedFeatures          // *[ Supported-Features ]
	PublicIdentity              string                       // { Public-Identity }
	UserAuthorizationType       *UserAuthorizationType       // [ User-Authorization-Type ]
	SessionPriority             *SessionPriority             // [ Session-Priority ]
	Unknown                     []*diam.AVP                  // *[ AVP ]
	ProxyInfo                   []ProxyInfo                  // *[ Proxy-Info ]
	RouteRecord                 []string                     // *[ Route-Record ]
}

// Command returns CmdLocationInfo.
func (m *LIR) Command() Command { return CmdLocationInfo }

// IsRequest returns true.
func (m *LIR) IsRequest() bool { return true }

// AppendBinary appends the LIR in wire form to b (RFC 6733 §3, §4), Hop-by-Hop and End-to-End
// identifiers 0 for the peer layer to set; see Message.
func (m *LIR) AppendBinary(b []byte) (out []byte, err error) {
	defer recoverEncode("marshal LIR", &out, &err)
	e, start := newEncoder(b)
	e.requestHead(m.SessionID, m.DRMP, m.VendorSpecificApplicationID, m.AuthSessionState, m.OriginHost, m.OriginRealm)
	e.optIdent(base(AVPDestinationHost), "Destination-Host", m.DestinationHost)
	e.ident(base(AVPDestinationRealm), "Destination-Realm", m.DestinationRealm)
	encodeOptEnum(e, tgpp(AVPOriginatingRequest), m.OriginatingRequest)
	e.ocSupportedFeatures(m.OCSupportedFeatures)
	e.supportedFeatures(m.SupportedFeatures)
	e.str(tgpp(AVPPublicIdentity), "Public-Identity", m.PublicIdentity)
	encodeOptEnum(e, tgpp(AVPUserAuthorizationType), m.UserAuthorizationType)
	encodeOptEnum(e, tgpp(AVPSessionPriority), m.SessionPriority)
	e.tail(m.Unknown, nil, m.ProxyInfo, m.RouteRecord)
	out, err = e.request(start, CmdLocationInfo)
	return marshalled("marshal LIR", out, err)
}

// Marshal builds the LIR as a go-diameter message with dictionary d; see Message.
func (m *LIR) Marshal(d *dict.Parser) (*diam.Message, error) { return marshalDiam(m, d) }

// UnmarshalBinary fills m from one LIR in wire form; see Message. m keeps no reference to b.
func (m *LIR) UnmarshalBinary(b []byte) error { return unmarshalBinary(m, b) }

// Unmarshal fills m from a go-diameter message; see Message.
func (m *LIR) Unmarshal(msg *diam.Message) error { return unmarshalDiam(m, msg) }

// decodeBody fills m from the AVPs of body, which it owns: decoded byte slices point into it.
func (m *LIR) decodeBody(h msgHeader, body []byte) (err error) {
	defer recoverDecode("LIR", &err)
	if err := checkHeader(h, CmdLocationInfo, true); err != nil {
		return err
	}
	*m = LIR{}
	c := &common{sessionID: &m.SessionID, drmp: &m.DRMP, vsai: &m.VendorSpecificApplicationID,
		authSessionState: &m.AuthSessionState, originHost: &m.OriginHost, originRealm: &m.OriginRealm,
		destinationHost: &m.DestinationHost, destinationRealm: &m.DestinationRealm,
		ocSupported: &m.OCSupportedFeatures, supportedFeatures: &m.SupportedFeatures,
		proxyInfo: &m.ProxyInfo, routeRecord: &m.RouteRecord}
	d := newDecoder(true)
	d.each(body, func(a wireAVP) {
		if c.visit(d, a) {
			return
		}
		switch keyOf(a) {
		case tgpp(AVPOriginatingRequest):
			setOptEnum(d, a, &m.OriginatingRequest)
		case tgpp(AVPPublicIdentity):
			d.setStr(a, &m.PublicIdentity)
		case tgpp(AVPUserAuthorizationType):
			setOptEnum(d, a, &m.UserAuthorizationType)
		case tgpp(AVPSessionPriority):
			setOptEnum(d, a, &m.SessionPriority)
		default:
			d.unknown(a, &m.Unknown)
		}
	})
	c.check(d, h)
	d.need(tgpp(AVPPublicIdentity), "Public-Identity", datatype.UTF8String(""))
	return d.result("LIR")
}

// ParseLIR decodes msg as an LIR. On error the returned LIR holds what could be decoded.
func ParseLIR(msg *diam.Message) (*LIR, error) {
	m := new(LIR)
	return m, m.Unmarshal(msg)
}

var _ Message = (*LIR)(nil)
