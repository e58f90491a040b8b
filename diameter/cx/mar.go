package cx

import (
	"github.com/fiorix/go-diameter/v4/diam"
	"github.com/fiorix/go-diameter/v4/diam/datatype"
	"github.com/fiorix/go-diameter/v4/diam/dict"
)

// MAR is the Multimedia-Auth-Request, TS 29.229 §6.1.7 (Command-Code 303, 'R' and 'P' set): the
// S-CSCF asks the HSS for authentication vectors (TS 29.228 §6.3.1), or, with RAND‖AUTS in
// SIP-Authorization, for a resynchronisation (TS 33.203 §6.1.2).
type MAR struct {
	SessionID                   string                       // < Session-Id >
	DRMP                        *DRMP                        // [ DRMP ]
	VendorSpecificApplicationID *VendorSpecificApplicationID // { }: nil sends CxApplicationID()
	AuthSessionState            *AuthSessionState            // { }: nil sends NO_STATE_MAINTAINED
	OriginHost                  string                       // { Origin-Host }
	OriginRealm                 string                       // { Origin-Realm }
	DestinationRealm            string                       // { Destination-Realm }
	DestinationHost             string                       // [ Destination-Host ]
	UserName                    string                       // { User-Name }: the IMPI
	OCSupportedFeatures         *OCSupportedFeatures         // [ OC-Supported-Features ]
	SupportedFeatures           []SupportedFeatures          // *[ Supported-Features ]
	PublicIdentity              string                       // { Public-Identity }: the IMPU
	SIPAuthDataItem             SIPAuthDataItem              // { SIP-Auth-Data-Item }: scheme; RAND‖AUTS on resync
	SIPNumberAuthItems          uint32                       // { SIP-Number-Auth-Items }: vectors wanted
	ServerName                  string                       // { Server-Name }: this S-CSCF's SIP URI
	Unknown                     []*diam.AVP                  // *[ AVP ]
	ProxyInfo                   []ProxyInfo                  // *[ Proxy-Info ]
	RouteRecord                 []string                     // *[ Route-Record ]
}

// Command returns CmdMultimediaAuth.
func (m *MAR) Command() Command { return CmdMultimediaAuth }

// IsRequest returns true.
func (m *MAR) IsRequest() bool { return true }

// AppendBinary appends the MAR in wire form to b (RFC 6733 §3, §4), Hop-by-Hop and End-to-End
// identifiers 0 for the peer layer to set; see Message.
func (m *MAR) AppendBinary(b []byte) (out []byte, err error) {
	defer recoverEncode("marshal MAR", &out, &err)
	e, start := newEncoder(b)
	e.requestHead(m.SessionID, m.DRMP, m.VendorSpecificApplicationID, m.AuthSessionState, m.OriginHost, m.OriginRealm)
	// §6.1.7 puts Destination-Realm before Destination-Host in the MAR.
	e.ident(base(AVPDestinationRealm), "Destination-Realm", m.DestinationRealm)
	e.optIdent(base(AVPDestinationHost), "Destination-Host", m.DestinationHost)
	e.str(base(AVPUserName), "User-Name", m.UserName)
	e.ocSupportedFeatures(m.OCSupportedFeatures)
	e.supportedFeatures(m.SupportedFeatures)
	e.str(tgpp(AVPPublicIdentity), "Public-Identity", m.PublicIdentity)
	m.SIPAuthDataItem.put(e)
	e.u32(tgpp(AVPSIPNumberAuthItems), m.SIPNumberAuthItems)
	e.str(tgpp(AVPServerName), "Server-Name", m.ServerName)
	e.tail(m.Unknown, nil, m.ProxyInfo, m.RouteRecord)
	out, err = e.request(start, CmdMultimediaAuth)
	return marshalled("marshal MAR", out, err)
}

// Marshal builds the MAR as a go-diameter message with dictionary d; see Message.
func (m *MAR) Marshal(d *dict.Parser) (*diam.Message, error) { return marshalDiam(m, d) }

// UnmarshalBinary fills m from one MAR in wire form; see Message. m keeps no reference to b.
func (m *MAR) UnmarshalBinary(b []byte) error { return unmarshalBinary(m, b) }

// Unmarshal fills m from a go-diameter message; see Message.
func (m *MAR) Unmarshal(msg *diam.Message) error { return unmarshalDiam(m, msg) }

// decodeBody fills m from the AVPs of body, which it owns: decoded byte slices point into it.
func (m *MAR) decodeBody(h msgHeader, body []byte) (err error) {
	defer recoverDecode("MAR", &err)
	if err := checkHeader(h, CmdMultimediaAuth, true); err != nil {
		return err
	}
	*m = MAR{}
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
		case tgpp(AVPSIPAuthDataItem):
			if d.once(a) {
				m.SIPAuthDataItem = decodeSIPAuthDataItem(d, a)
			}
		case tgpp(AVPSIPNumberAuthItems):
			d.setU32(a, &m.SIPNumberAuthItems)
		case tgpp(AVPServerName):
			d.setStr(a, &m.ServerName)
		default:
			d.unknown(a, &m.Unknown)
		}
	})
	c.check(d, h)
	d.need(base(AVPUserName), "User-Name", datatype.UTF8String(""))
	d.need(tgpp(AVPPublicIdentity), "Public-Identity", datatype.UTF8String(""))
	d.need(tgpp(AVPSIPAuthDataItem), "SIP-Auth-Data-Item", &diam.GroupedAVP{})
	d.need(tgpp(AVPSIPNumberAuthItems), "SIP-Number-Auth-Items", datatype.Unsigned32(0))
	d.need(tgpp(AVPServerName), "Server-Name", datatype.UTF8String(""))
	return d.result("MAR")
}

// ParseMAR decodes msg as a MAR. On error the returned MAR holds what could be decoded.
func ParseMAR(msg *diam.Message) (*MAR, error) {
	m := new(MAR)
	return m, m.Unmarshal(msg)
}

var _ Message = (*MAR)(nil)
