package cx

import (
	"github.com/fiorix/go-diameter/v4/diam"
	"github.com/fiorix/go-diameter/v4/diam/datatype"
	"github.com/fiorix/go-diameter/v4/diam/dict"
)

// PPR is the Push-Profile-Request, TS 29.229 §6.1.11 (Command-Code 305, 'R' and 'P' set): the
// HSS pushes a changed profile or charging information to the S-CSCF (TS 29.228 §6.1.4).
type PPR struct {
	SessionID                   string                       // < Session-Id >
	DRMP                        *DRMP                        // [ DRMP ]
	VendorSpecificApplicationID *VendorSpecificApplicationID // { }: nil sends CxApplicationID()
	AuthSessionState            *AuthSessionState            // { }: nil sends NO_STATE_MAINTAINED
	OriginHost                  string                       // { Origin-Host }
	OriginRealm                 string                       // { Origin-Realm }
	DestinationHost             string                       // { Destination-Host }: the S-CSCF
	DestinationRealm            string                       // { Destination-Realm }
	UserName                    string                       // { User-Name }: the IMPI
	SupportedFeatures           []SupportedFeatures          // *[ Supported-Features ]
	UserData                    []byte                       // [ User-Data ]
	ChargingInformation         *ChargingInformation         // [ Charging-Information ]
	SIPAuthDataItem             *SIPAuthDataItem             // [ SIP-Auth-Data-Item ]
	AllowedWAFWWSFIdentities    *AllowedWAFWWSFIdentities    // [ Allowed-WAF-WWSF-Identities ]
	Unknown                     []*diam.AVP                  // *[ AVP ]
	ProxyInfo                   []ProxyInfo                  // *[ Proxy-Info ]
	RouteRecord                 []string                     // *[ Route-Record ]
}

// Command returns CmdPushProfile.
func (m *PPR) Command() Command { return CmdPushProfile }

// IsRequest returns true.
func (m *PPR) IsRequest() bool { return true }

// AppendBinary appends the PPR in wire form to b (RFC 6733 §3, §4), Hop-by-Hop and End-to-End
// identifiers 0 for the peer layer to set; see Message.
func (m *PPR) AppendBinary(b []byte) (out []byte, err error) {
	defer recoverEncode("marshal PPR", &out, &err)
	e, start := newEncoder(b)
	e.requestHead(m.SessionID, m.DRMP, m.VendorSpecificApplicationID, m.AuthSessionState, m.OriginHost, m.OriginRealm)
	e.ident(base(AVPDestinationHost), "Destination-Host", m.DestinationHost)
	e.ident(base(AVPDestinationRealm), "Destination-Realm", m.DestinationRealm)
	e.str(base(AVPUserName), "User-Name", m.UserName)
	e.supportedFeatures(m.SupportedFeatures)
	e.optOctets(tgpp(AVPUserData), m.UserData)
	if m.ChargingInformation != nil {
		m.ChargingInformation.put(e)
	}
	if m.SIPAuthDataItem != nil {
		m.SIPAuthDataItem.put(e)
	}
	if m.AllowedWAFWWSFIdentities != nil {
		m.AllowedWAFWWSFIdentities.put(e)
	}
	e.tail(m.Unknown, nil, m.ProxyInfo, m.RouteRecord)
	out, err = e.request(start, CmdPushProfile)
	return marshalled("marshal PPR", out, err)
}

// Marshal builds the PPR as a go-diameter message with dictionary d; see Message.
func (m *PPR) Marshal(d *dict.Parser) (*diam.Message, error) { return marshalDiam(m, d) }

// UnmarshalBinary fills m from one PPR in wire form; see Message. m keeps no reference to b.
func (m *PPR) UnmarshalBinary(b []byte) error { return unmarshalBinary(m, b) }

// Unmarshal fills m from a go-diameter message; see Message.
func (m *PPR) Unmarshal(msg *diam.Message) error { return unmarshalDiam(m, msg) }

// decodeBody fills m from the AVPs of body, which it owns: decoded byte slices point into it.
func (m *PPR) decodeBody(h msgHeader, body []byte) (err error) {
	defer recoverDecode("PPR", &err)
	if err := checkHeader(h, CmdPushProfile, true); err != nil {
		return err
	}
	*m = PPR{}
	c := &common{sessionID: &m.SessionID, drmp: &m.DRMP, vsai: &m.VendorSpecificApplicationID,
		authSessionState: &m.AuthSessionState, originHost: &m.OriginHost, originRealm: &m.OriginRealm,
		destinationHost: &m.DestinationHost, destinationRealm: &m.DestinationRealm,
		supportedFeatures: &m.SupportedFeatures, proxyInfo: &m.ProxyInfo, routeRecord: &m.RouteRecord}
	d := newDecoder(true)
	d.each(body, func(a wireAVP) {
		if c.visit(d, a) {
			return
		}
		switch keyOf(a) {
		case base(AVPUserName):
			d.setStr(a, &m.UserName)
		case tgpp(AVPUserData):
			d.setOctets(a, &m.UserData)
		case tgpp(AVPChargingInformation):
			if d.once(a) {
				m.ChargingInformation = decodeChargingInformation(d, a)
			}
		case tgpp(AVPSIPAuthDataItem):
			if d.once(a) {
				x := decodeSIPAuthDataItem(d, a)
				m.SIPAuthDataItem = &x
			}
		case tgpp(AVPAllowedWAFWWSFIdentities):
			if d.once(a) {
				m.AllowedWAFWWSFIdentities = decodeAllowedWAFWWSFIdentities(d, a)
			}
		default:
			d.unknown(a, &m.Unknown)
		}
	})
	c.check(d, h)
	d.need(base(AVPDestinationHost), "Destination-Host", datatype.DiameterIdentity(""))
	d.need(base(AVPUserName), "User-Name", datatype.UTF8String(""))
	return d.result("PPR")
}

// ParsePPR decodes msg as a PPR. On error the returned PPR holds what could be decoded.
func ParsePPR(msg *diam.Message) (*PPR, error) {
	m := new(PPR)
	return m, m.Unmarshal(msg)
}

var _ Message = (*PPR)(nil)
