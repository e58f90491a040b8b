package cx

import (
	"github.com/fiorix/go-diameter/v4/diam"
	"github.com/fiorix/go-diameter/v4/diam/datatype"
	"github.com/fiorix/go-diameter/v4/diam/dict"
)

// RTR is the Registration-Termination-Request, TS 29.229 §6.1.9 (Command-Code 304, 'R' and 'P'
// set): the HSS de-registers identities at the S-CSCF (network-initiated de-registration,
// TS 29.228 §6.1.3).
type RTR struct {
	SessionID                   string                       // < Session-Id >
	DRMP                        *DRMP                        // [ DRMP ]
	VendorSpecificApplicationID *VendorSpecificApplicationID // { }: nil sends CxApplicationID()
	AuthSessionState            *AuthSessionState            // { }: nil sends NO_STATE_MAINTAINED
	OriginHost                  string                       // { Origin-Host }
	OriginRealm                 string                       // { Origin-Realm }
	DestinationHost             string                       // { Destination-Host }: the S-CSCF
	DestinationRealm            string                       // { Destination-Realm }
	UserName                    string                       // { User-Name }: the IMPI
	AssociatedIdentities        *AssociatedIdentities        // [ Associated-Identities ]
	SupportedFeatures           []SupportedFeatures          // *[ Supported-Features ]
	PublicIdentity              []string                     // *[ Public-Identity ]
	DeregistrationReason        DeregistrationReason         // { Deregistration-Reason }
	RTRFlags                    *RTRFlags                    // [ RTR-Flags ]
	Unknown                     []*diam.AVP                  // *[ AVP ]
	ProxyInfo                   []ProxyInfo                  // *[ Proxy-Info ]
	RouteRecord                 []string                     // *[ Route-Record ]
}

// Command returns CmdRegistrationTermination.
func (m *RTR) Command() Command { return CmdRegistrationTermination }

// IsRequest returns true.
func (m *RTR) IsRequest() bool { return true }

// AppendBinary appends the RTR in wire form to b (RFC 6733 §3, §4), Hop-by-Hop and End-to-End
// identifiers 0 for the peer layer to set; see Message.
func (m *RTR) AppendBinary(b []byte) (out []byte, err error) {
	defer recoverEncode("marshal RTR", &out, &err)
	e, start := newEncoder(b)
	e.requestHead(m.SessionID, m.DRMP, m.VendorSpecificApplicationID, m.AuthSessionState, m.OriginHost, m.OriginRealm)
	e.ident(base(AVPDestinationHost), "Destination-Host", m.DestinationHost)
	e.ident(base(AVPDestinationRealm), "Destination-Realm", m.DestinationRealm)
	e.str(base(AVPUserName), "User-Name", m.UserName)
	if m.AssociatedIdentities != nil {
		m.AssociatedIdentities.put(e)
	}
	e.supportedFeatures(m.SupportedFeatures)
	for _, p := range m.PublicIdentity {
		e.str(tgpp(AVPPublicIdentity), "Public-Identity", p)
	}
	m.DeregistrationReason.put(e)
	encodeFlags(e, tgpp(AVPRTRFlags), m.RTRFlags)
	e.tail(m.Unknown, nil, m.ProxyInfo, m.RouteRecord)
	out, err = e.request(start, CmdRegistrationTermination)
	return marshalled("marshal RTR", out, err)
}

// Marshal builds the RTR as a go-diameter message with dictionary d; see Message.
func (m *RTR) Marshal(d *dict.Parser) (*diam.Message, error) { return marshalDiam(m, d) }

// UnmarshalBinary fills m from one RTR in wire form; see Message. m keeps no reference to b.
func (m *RTR) UnmarshalBinary(b []byte) error { return unmarshalBinary(m, b) }

// Unmarshal fills m from a go-diameter message; see Message.
func (m *RTR) Unmarshal(msg *diam.Message) error { return unmarshalDiam(m, msg) }

// decodeBody fills m from the AVPs of body, which it owns: decoded byte slices point into it.
func (m *RTR) decodeBody(h msgHeader, body []byte) (err error) {
	defer recoverDecode("RTR", &err)
	if err := checkHeader(h, CmdRegistrationTermination, true); err != nil {
		return err
	}
	*m = RTR{}
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
		case tgpp(AVPAssociatedIdentities):
			if d.once(a) {
				m.AssociatedIdentities = decodeAssociatedIdentities(d, a)
			}
		case tgpp(AVPPublicIdentity):
			d.addStr(a, &m.PublicIdentity)
		case tgpp(AVPDeregistrationReason):
			if d.once(a) {
				m.DeregistrationReason = decodeDeregistrationReason(d, a)
			}
		case tgpp(AVPRTRFlags):
			setFlags(d, a, &m.RTRFlags)
		default:
			d.unknown(a, &m.Unknown)
		}
	})
	c.check(d, h)
	d.need(base(AVPDestinationHost), "Destination-Host", datatype.DiameterIdentity(""))
	d.need(base(AVPUserName), "User-Name", datatype.UTF8String(""))
	d.need(tgpp(AVPDeregistrationReason), "Deregistration-Reason", &diam.GroupedAVP{})
	return d.result("RTR")
}

// ParseRTR decodes msg as an RTR. On error the returned RTR holds what could be decoded.
func ParseRTR(msg *diam.Message) (*RTR, error) {
	m := new(RTR)
	return m, m.Unmarshal(msg)
}

var _ Message = (*RTR)(nil)
