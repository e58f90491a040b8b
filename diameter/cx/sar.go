package cx

import (
	"github.com/fiorix/go-diameter/v4/diam"
	"github.com/fiorix/go-diameter/v4/diam/datatype"
	"github.com/fiorix/go-diameter/v4/diam/dict"
)

// SAR is the Server-Assignment-Request, TS 29.229 §6.1.3 (Command-Code 301, 'R' and 'P' set):
// the S-CSCF tells the HSS it serves (or stops serving) the user and asks for the profile
// (TS 29.228 §6.1.2).
type SAR struct {
	SessionID                      string                          // < Session-Id >
	DRMP                           *DRMP                           // [ DRMP ]
	VendorSpecificApplicationID    *VendorSpecificApplicationID    // { }: nil sends CxApplicationID()
	AuthSessionState               *AuthSessionState               // { }: nil sends NO_STATE_MAINTAINED
	OriginHost                     string                          // { Origin-Host }
	OriginRealm                    string                          // { Origin-Realm }
	DestinationHost                string                          // [ Destination-Host ]
	DestinationRealm               string                          // { Destination-Realm }
	UserName                       string                          // [ User-Name ]: the IMPI
	OCSupportedFeatures            *OCSupportedFeatures            // [ OC-Supported-Features ]
	SupportedFeatures              []SupportedFeatures             // *[ Supported-Features ]
	PublicIdentity                 []string                        // *[ Public-Identity ]
	WildcardedPublicIdentity       string                          // [ Wildcarded-Public-Identity ]
	ServerName                     string                          // { Server-Name }
	ServerAssignmentType           ServerAssignmentType            // { Server-Assignment-Type }
	UserDataAlreadyAvailable       UserDataAlreadyAvailable        // { User-Data-Already-Available }
	SCSCFRestorationInfo           *SCSCFRestorationInfo           // [ SCSCF-Restoration-Info ]
	MultipleRegistrationIndication *MultipleRegistrationIndication // [ Multiple-Registration-Indication ]
	SessionPriority                *SessionPriority                // [ Session-Priority ]
	SARFlags                       *SARFlags                       // [ SAR-Flags ]
	FailedPCSCF                    *FailedPCSCF                    // [ Failed-PCSCF ] (Rel-17)
	Unknown                        []*diam.AVP                     // *[ AVP ]
	ProxyInfo                      []ProxyInfo                     // *[ Proxy-Info ]
	RouteRecord                    []string                        // *[ Route-Record ]
}

// Command returns CmdServerAssignment.
func (m *SAR) Command() Command { return CmdServerAssignment }

// IsRequest returns true.
func (m *SAR) IsRequest() bool { return true }

// AppendBinary appends the SAR in wire form to b (RFC 6733 §3, §4), Hop-by-Hop and End-to-End
// identifiers 0 for the peer layer to set; see Message.
func (m *SAR) AppendBinary(b []byte) (out []byte, err error) {
	defer recoverEncode("marshal SAR", &out, &err)
	e, start := newEncoder(b)
	e.requestHead(m.SessionID, m.DRMP, m.VendorSpecificApplicationID, m.AuthSessionState, m.OriginHost, m.OriginRealm)
	e.optIdent(base(AVPDestinationHost), "Destination-Host", m.DestinationHost)
	e.ident(base(AVPDestinationRealm), "Destination-Realm", m.DestinationRealm)
	e.optStr(base(AVPUserName), "User-Name", m.UserName)
	e.ocSupportedFeatures(m.OCSupportedFeatures)
	e.supportedFeatures(m.SupportedFeatures)
	for _, p := range m.PublicIdentity {
		e.str(tgpp(AVPPublicIdentity), "Public-Identity", p)
	}
	e.optStr(tgpp(AVPWildcardedPublicIdentity), "Wildcarded-Public-Identity", m.WildcardedPublicIdentity)
	e.str(tgpp(AVPServerName), "Server-Name", m.ServerName)
	encodeEnum(e, tgpp(AVPServerAssignmentType), m.ServerAssignmentType)
	encodeEnum(e, tgpp(AVPUserDataAlreadyAvailable), m.UserDataAlreadyAvailable)
	if m.SCSCFRestorationInfo != nil {
		m.SCSCFRestorationInfo.put(e)
	}
	encodeOptEnum(e, tgpp(AVPMultipleRegistrationIndication), m.MultipleRegistrationIndication)
	encodeOptEnum(e, tgpp(AVPSessionPriority), m.SessionPriority)
	encodeFlags(e, tgpp(AVPSARFlags), m.SARFlags)
	if m.FailedPCSCF != nil {
		m.FailedPCSCF.put(e)
	}
	e.tail(m.Unknown, nil, m.ProxyInfo, m.RouteRecord)
	out, err = e.request(start, CmdServerAssignment)
	return marshalled("marshal SAR", out, err)
}

// Marshal builds the SAR as a go-diameter message with dictionary d; see Message.
func (m *SAR) Marshal(d *dict.Parser) (*diam.Message, error) { return marshalDiam(m, d) }

// UnmarshalBinary fills m from one SAR in wire form; see Message. m keeps no reference to b.
func (m *SAR) UnmarshalBinary(b []byte) error { return unmarshalBinary(m, b) }

// Unmarshal fills m from a go-diameter message; see Message.
func (m *SAR) Unmarshal(msg *diam.Message) error { return unmarshalDiam(m, msg) }

// decodeBody fills m from the AVPs of body, which it owns: decoded byte slices point into it.
func (m *SAR) decodeBody(h msgHeader, body []byte) (err error) {
	defer recoverDecode("SAR", &err)
	if err := checkHeader(h, CmdServerAssignment, true); err != nil {
		return err
	}
	*m = SAR{}
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
			d.addStr(a, &m.PublicIdentity)
		case tgpp(AVPWildcardedPublicIdentity):
			d.setStr(a, &m.WildcardedPublicIdentity)
		case tgpp(AVPServerName):
			d.setStr(a, &m.ServerName)
		case tgpp(AVPServerAssignmentType):
			setEnum(d, a, &m.ServerAssignmentType)
		case tgpp(AVPUserDataAlreadyAvailable):
			setEnum(d, a, &m.UserDataAlreadyAvailable)
		case tgpp(AVPSCSCFRestorationInfo):
			if d.once(a) {
				x := decodeSCSCFRestorationInfo(d, a)
				m.SCSCFRestorationInfo = &x
			}
		case tgpp(AVPMultipleRegistrationIndication):
			setOptEnum(d, a, &m.MultipleRegistrationIndication)
		case tgpp(AVPSessionPriority):
			setOptEnum(d, a, &m.SessionPriority)
		case tgpp(AVPSARFlags):
			setFlags(d, a, &m.SARFlags)
		case tgpp(AVPFailedPCSCF):
			if d.once(a) {
				m.FailedPCSCF = decodeFailedPCSCF(d, a)
			}
		default:
			d.unknown(a, &m.Unknown)
		}
	})
	c.check(d, h)
	d.need(tgpp(AVPServerName), "Server-Name", datatype.UTF8String(""))
	d.need(tgpp(AVPServerAssignmentType), "Server-Assignment-Type", datatype.Enumerated(0))
	d.need(tgpp(AVPUserDataAlreadyAvailable), "User-Data-Already-Available", datatype.Enumerated(0))
	return d.result("SAR")
}

// ParseSAR decodes msg as a SAR. On error the returned SAR holds what could be decoded.
func ParseSAR(msg *diam.Message) (*SAR, error) {
	m := new(SAR)
	return m, m.Unmarshal(msg)
}

var _ Message = (*SAR)(nil)
