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

// Marshal builds the PPR; see Message.
func (m *PPR) Marshal(d *dict.Parser) (msg *diam.Message, err error) {
	defer recoverEncode("marshal PPR", &msg, &err)
	e := newEncoder(d)
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
	msg, err = e.request(CmdPushProfile)
	return marshalled("marshal PPR", msg, err)
}

// Unmarshal fills m from msg; see Message.
func (m *PPR) Unmarshal(msg *diam.Message) (err error) {
	defer recoverDecode("PPR", &err)
	if err := checkHeader(msg, CmdPushProfile, true); err != nil {
		return err
	}
	*m = PPR{}
	c := &common{sessionID: &m.SessionID, drmp: &m.DRMP, vsai: &m.VendorSpecificApplicationID,
		authSessionState: &m.AuthSessionState, originHost: &m.OriginHost, originRealm: &m.OriginRealm,
		destinationHost: &m.DestinationHost, destinationRealm: &m.DestinationRealm,
		supportedFeatures: &m.SupportedFeatures, proxyInfo: &m.ProxyInfo, routeRecord: &m.RouteRecord}
	d := &decoder{request: true}
	d.each(msg.AVP, func(a *diam.AVP) {
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
	c.check(d, msg.Header)
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
