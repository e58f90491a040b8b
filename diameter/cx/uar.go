package cx

import (
	"github.com/fiorix/go-diameter/v4/diam"
	"github.com/fiorix/go-diameter/v4/diam/datatype"
	"github.com/fiorix/go-diameter/v4/diam/dict"
)

// UAR is the User-Authorization-Request, TS 29.229 §6.1.1 (Command-Code 300, 'R' and 'P' set):
// the I-CSCF asks the HSS whether the user may register and which S-CSCF serves it
// (TS 29.228 §6.1.1).
type UAR struct {
	SessionID                   string                       // < Session-Id >
	DRMP                        *DRMP                        // [ DRMP ]
	VendorSpecificApplicationID *VendorSpecificApplicationID // { }: nil sends CxApplicationID()
	AuthSessionState            *AuthSessionState            // { }: nil sends NO_STATE_MAINTAINED
	OriginHost                  string                       // { Origin-Host }
	OriginRealm                 string                       // { Origin-Realm }
	DestinationHost             string                       // [ Destination-Host ]
	DestinationRealm            string                       // { Destination-Realm }
	UserName                    string                       // { User-Name }: the IMPI
	OCSupportedFeatures         *OCSupportedFeatures         // [ OC-Supported-Features ]
	SupportedFeatures           []SupportedFeatures          // *[ Supported-Features ]
	PublicIdentity              string                       // { Public-Identity }: the IMPU
	VisitedNetworkIdentifier    []byte                       // { Visited-Network-Identifier }: P-Visited-Network-ID
	UserAuthorizationType       *UserAuthorizationType       // [ User-Authorization-Type ]: absent = REGISTRATION
	UARFlags                    *UARFlags                    // [ UAR-Flags ]
	Unknown                     []*diam.AVP                  // *[ AVP ]
	ProxyInfo                   []ProxyInfo                  // *[ Proxy-Info ]
	RouteRecord                 []string                     // *[ Route-Record ]
}

// Command returns CmdUserAuthorization.
func (m *UAR) Command() Command { return CmdUserAuthorization }

// IsRequest returns true.
func (m *UAR) IsRequest() bool { return true }

// AppendBinary appends the UAR in wire form to b (RFC 6733 §3, §4), Hop-by-Hop and End-to-End
// identifiers 0 for the peer layer to set; see Message.
func (m *UAR) AppendBinary(b []byte) (out []byte, err error) {
	defer recoverEncode("marshal UAR", &out, &err)
	e, start := newEncoder(b)
	e.requestHead(m.SessionID, m.DRMP, m.VendorSpecificApplicationID, m.AuthSessionState, m.OriginHost, m.OriginRealm)
	e.optIdent(base(AVPDestinationHost), "Destination-Host", m.DestinationHost)
	e.ident(base(AVPDestinationRealm), "Destination-Realm", m.DestinationRealm)
	e.str(base(AVPUserName), "User-Name", m.UserName)
	e.ocSupportedFeatures(m.OCSupportedFeatures)
	e.supportedFeatures(m.SupportedFeatures)
	e.str(tgpp(AVPPublicIdentity), "Public-Identity", m.PublicIdentity)
	e.octets(tgpp(AVPVisitedNetworkIdentifier), "Visited-Network-Identifier", m.VisitedNetworkIdentifier)
	encodeOptEnum(e, tgpp(AVPUserAuthorizationType), m.UserAuthorizationType)
	encodeFlags(e, tgpp(AVPUARFlags), m.UARFlags)
	e.tail(m.Unknown, nil, m.ProxyInfo, m.RouteRecord)
	out, err = e.request(start, CmdUserAuthorization)
	return marshalled("marshal UAR", out, err)
}

// Marshal builds the UAR as a go-diameter message with dictionary d; see Message.
func (m *UAR) Marshal(d *dict.Parser) (*diam.Message, error) { return marshalDiam(m, d) }

// UnmarshalBinary fills m from one UAR in wire form; see Message. m keeps no reference to b.
func (m *UAR) UnmarshalBinary(b []byte) error { return unmarshalBinary(m, b) }

// Unmarshal fills m from a go-diameter message; see Message.
func (m *UAR) Unmarshal(msg *diam.Message) error { return unmarshalDiam(m, msg) }

// decodeBody fills m from the AVPs of body, which it owns: decoded byte slices point into it.
func (m *UAR) decodeBody(h msgHeader, body []byte) (err error) {
	defer recoverDecode("UAR", &err)
	if err := checkHeader(h, CmdUserAuthorization, true); err != nil {
		return err
	}
	*m = UAR{}
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
		case base(AVPUserName):
			d.setStr(a, &m.UserName)
		case tgpp(AVPPublicIdentity):
			d.setStr(a, &m.PublicIdentity)
		case tgpp(AVPVisitedNetworkIdentifier):
			d.setOctets(a, &m.VisitedNetworkIdentifier)
		case tgpp(AVPUserAuthorizationType):
			setOptEnum(d, a, &m.UserAuthorizationType)
		case tgpp(AVPUARFlags):
			setFlags(d, a, &m.UARFlags)
		default:
			d.unknown(a, &m.Unknown)
		}
	})
	c.check(d, h)
	d.need(base(AVPUserName), "User-Name", datatype.UTF8String(""))
	d.need(tgpp(AVPPublicIdentity), "Public-Identity", datatype.UTF8String(""))
	d.need(tgpp(AVPVisitedNetworkIdentifier), "Visited-Network-Identifier", datatype.OctetString(""))
	return d.result("UAR")
}

// ParseUAR decodes msg as a UAR. On error the returned UAR holds what could be decoded.
func ParseUAR(msg *diam.Message) (*UAR, error) {
	m := new(UAR)
	return m, m.Unmarshal(msg)
}

var _ Message = (*UAR)(nil)
