package cx

import (
	"github.com/fiorix/go-diameter/v4/diam"
	"github.com/fiorix/go-diameter/v4/diam/dict"
	"github.com/imscore/imscore/diameter"
)

// SAA is the Server-Assignment-Answer, TS 29.229 §6.1.4 (Command-Code 301, 'R' clear, 'P' set):
// the user profile (User-Data, TS 29.228 Annex E) and charging addresses (TS 29.228 §6.1.2,
// Table 6.1.2.2).
type SAA struct {
	SessionID                      string                          // < Session-Id >
	DRMP                           *DRMP                           // [ DRMP ]
	VendorSpecificApplicationID    *VendorSpecificApplicationID    // { }: nil sends CxApplicationID()
	ResultCode                     diameter.ResultCode             // [ Result-Code ]: 0 when absent
	ExperimentalResult             *ExperimentalResult             // [ Experimental-Result ]
	AuthSessionState               *AuthSessionState               // { }: nil sends NO_STATE_MAINTAINED
	OriginHost                     string                          // { Origin-Host }
	OriginRealm                    string                          // { Origin-Realm }
	UserName                       string                          // [ User-Name ]
	OCSupportedFeatures            *OCSupportedFeatures            // [ OC-Supported-Features ]
	OCOLR                          *OCOLR                          // [ OC-OLR ]
	Load                           []Load                          // *[ Load ]
	SupportedFeatures              []SupportedFeatures             // *[ Supported-Features ]
	UserData                       []byte                          // [ User-Data ]: IMSSubscription XML
	ChargingInformation            *ChargingInformation            // [ Charging-Information ]
	AssociatedIdentities           *AssociatedIdentities           // [ Associated-Identities ]
	LooseRouteIndication           *LooseRouteIndication           // [ Loose-Route-Indication ]
	SCSCFRestorationInfo           []SCSCFRestorationInfo          // *[ SCSCF-Restoration-Info ]
	AssociatedRegisteredIdentities *AssociatedRegisteredIdentities // [ Associated-Registered-Identities ]
	ServerName                     string                          // [ Server-Name ]
	WildcardedPublicIdentity       string                          // [ Wildcarded-Public-Identity ]
	PriviledgedSenderIndication    *PriviledgedSenderIndication    // [ Priviledged-Sender-Indication ]
	AllowedWAFWWSFIdentities       *AllowedWAFWWSFIdentities       // [ Allowed-WAF-WWSF-Identities ]
	Unknown                        []*diam.AVP                     // *[ AVP ]
	FailedAVP                      []*diam.AVP                     // [ Failed-AVP ]: its contents
	ProxyInfo                      []ProxyInfo                     // *[ Proxy-Info ]
	RouteRecord                    []string                        // *[ Route-Record ]
}

// NewSAA starts the answer to req: Session-Id, Vendor-Specific-Application-Id and
// Auth-Session-State as in the request, Proxy-Info copied in order (RFC 6733 §6.2).
func NewSAA(req *SAR) *SAA {
	// User-Name names the private identity the request named, so that an error answer too tells the S-CSCF
	// (and its logs) whom it is about; a successful procedure may replace it (TS 29.229 §6.1.4).
	return &SAA{SessionID: req.SessionID, VendorSpecificApplicationID: cloneVSAI(req.VendorSpecificApplicationID),
		AuthSessionState: cloneState(req.AuthSessionState), ProxyInfo: cloneProxyInfo(req.ProxyInfo),
		UserName: req.UserName}
}

// Command returns CmdServerAssignment.
func (a *SAA) Command() Command { return CmdServerAssignment }

// IsRequest returns false.
func (a *SAA) IsRequest() bool { return false }

func (a *SAA) outcome() outcome { return outcome{&a.ResultCode, &a.ExperimentalResult, &a.FailedAVP} }

// Result returns the outcome; see Answer.
func (a *SAA) Result() (diameter.ResultCode, uint32) { return a.outcome().result() }

// SetResultCode sets a base Result-Code; see Answer.
func (a *SAA) SetResultCode(code diameter.ResultCode) { a.outcome().setResultCode(code) }

// SetExperimentalResult sets an Experimental-Result; see Answer.
func (a *SAA) SetExperimentalResult(vendorID uint32, code diameter.ResultCode) {
	a.outcome().setExperimentalResult(vendorID, code)
}

// SetError sets the outcome from err; see Answer.
func (a *SAA) SetError(err error) { a.outcome().setError(err) }

// AppendBinary appends the SAA in wire form to b (RFC 6733 §3, §4), Hop-by-Hop and End-to-End
// identifiers 0 for the peer layer to set; see Message.
func (a *SAA) AppendBinary(b []byte) (out []byte, err error) {
	defer recoverEncode("marshal SAA", &out, &err)
	e, start := newEncoder(b)
	e.answerHead(a.SessionID, a.DRMP, a.VendorSpecificApplicationID, a.ResultCode, a.ExperimentalResult,
		a.AuthSessionState, a.OriginHost, a.OriginRealm)
	e.optStr(base(AVPUserName), "User-Name", a.UserName)
	e.ocSupportedFeatures(a.OCSupportedFeatures)
	e.answerLoad(a.OCOLR, a.Load)
	e.supportedFeatures(a.SupportedFeatures)
	e.optOctets(tgpp(AVPUserData), a.UserData)
	if a.ChargingInformation != nil {
		a.ChargingInformation.put(e)
	}
	if a.AssociatedIdentities != nil {
		a.AssociatedIdentities.put(e)
	}
	encodeOptEnum(e, tgpp(AVPLooseRouteIndication), a.LooseRouteIndication)
	for i := range a.SCSCFRestorationInfo {
		a.SCSCFRestorationInfo[i].put(e)
	}
	if a.AssociatedRegisteredIdentities != nil {
		a.AssociatedRegisteredIdentities.put(e)
	}
	e.optStr(tgpp(AVPServerName), "Server-Name", a.ServerName)
	e.optStr(tgpp(AVPWildcardedPublicIdentity), "Wildcarded-Public-Identity", a.WildcardedPublicIdentity)
	encodeOptEnum(e, tgpp(AVPPriviledgedSenderIndication), a.PriviledgedSenderIndication)
	if a.AllowedWAFWWSFIdentities != nil {
		a.AllowedWAFWWSFIdentities.put(e)
	}
	e.tail(a.Unknown, a.FailedAVP, a.ProxyInfo, a.RouteRecord)
	out, err = e.answer(start, CmdServerAssignment, a.ResultCode)
	return marshalled("marshal SAA", out, err)
}

// Marshal builds the SAA as a go-diameter message with dictionary d; see Message.
func (a *SAA) Marshal(d *dict.Parser) (*diam.Message, error) { return marshalDiam(a, d) }

// UnmarshalBinary fills a from one SAA in wire form; see Message. a keeps no reference to b.
func (a *SAA) UnmarshalBinary(b []byte) error { return unmarshalBinary(a, b) }

// Unmarshal fills a from a go-diameter message; see Message.
func (a *SAA) Unmarshal(msg *diam.Message) error { return unmarshalDiam(a, msg) }

// decodeBody fills a from the AVPs of body, which it owns: decoded byte slices point into it.
func (a *SAA) decodeBody(h msgHeader, body []byte) (err error) {
	defer recoverDecode("SAA", &err)
	if err := checkHeader(h, CmdServerAssignment, false); err != nil {
		return err
	}
	*a = SAA{}
	c := &common{sessionID: &a.SessionID, drmp: &a.DRMP, vsai: &a.VendorSpecificApplicationID,
		authSessionState: &a.AuthSessionState, originHost: &a.OriginHost, originRealm: &a.OriginRealm,
		ocSupported: &a.OCSupportedFeatures, supportedFeatures: &a.SupportedFeatures,
		proxyInfo: &a.ProxyInfo, routeRecord: &a.RouteRecord, resultCode: &a.ResultCode,
		experimental: &a.ExperimentalResult, ocOLR: &a.OCOLR, load: &a.Load, failedAVP: &a.FailedAVP}
	d := newDecoder(false)
	d.each(body, func(v wireAVP) {
		if c.visit(d, v) {
			return
		}
		switch keyOf(v) {
		case base(AVPUserName):
			d.setStr(v, &a.UserName)
		case tgpp(AVPUserData):
			d.setOctets(v, &a.UserData)
		case tgpp(AVPChargingInformation):
			if d.once(v) {
				a.ChargingInformation = decodeChargingInformation(d, v)
			}
		case tgpp(AVPAssociatedIdentities):
			if d.once(v) {
				a.AssociatedIdentities = decodeAssociatedIdentities(d, v)
			}
		case tgpp(AVPLooseRouteIndication):
			setOptEnum(d, v, &a.LooseRouteIndication)
		case tgpp(AVPSCSCFRestorationInfo):
			if d.many(v) {
				a.SCSCFRestorationInfo = append(a.SCSCFRestorationInfo, decodeSCSCFRestorationInfo(d, v))
			}
		case tgpp(AVPAssociatedRegisteredIdentities):
			if d.once(v) {
				a.AssociatedRegisteredIdentities = decodeAssociatedRegisteredIdentities(d, v)
			}
		case tgpp(AVPServerName):
			d.setStr(v, &a.ServerName)
		case tgpp(AVPWildcardedPublicIdentity):
			d.setStr(v, &a.WildcardedPublicIdentity)
		case tgpp(AVPPriviledgedSenderIndication):
			setOptEnum(d, v, &a.PriviledgedSenderIndication)
		case tgpp(AVPAllowedWAFWWSFIdentities):
			if d.once(v) {
				a.AllowedWAFWWSFIdentities = decodeAllowedWAFWWSFIdentities(d, v)
			}
		default:
			d.unknown(v, &a.Unknown)
		}
	})
	c.check(d, h)
	return d.result("SAA")
}

// ParseSAA decodes msg as an SAA. On error the returned SAA holds what could be decoded.
func ParseSAA(msg *diam.Message) (*SAA, error) {
	a := new(SAA)
	return a, a.Unmarshal(msg)
}

var _ Answer = (*SAA)(nil)
