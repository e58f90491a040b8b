package cx

import (
	"github.com/fiorix/go-diameter/v4/diam"
	"github.com/fiorix/go-diameter/v4/diam/dict"
	"github.com/imscore/imscore/diameter"
)

// MAA is the Multimedia-Auth-Answer, TS 29.229 §6.1.8 (Command-Code 303, 'R' clear, 'P' set):
// the HSS's authentication vectors (TS 29.228 §6.3.1, Table 6.3.2).
type MAA struct {
	SessionID                   string                       // < Session-Id >
	DRMP                        *DRMP                        // [ DRMP ]
	VendorSpecificApplicationID *VendorSpecificApplicationID // { }: nil sends CxApplicationID()
	ResultCode                  diameter.ResultCode          // [ Result-Code ]: 0 when absent
	ExperimentalResult          *ExperimentalResult          // [ Experimental-Result ]
	AuthSessionState            *AuthSessionState            // { }: nil sends NO_STATE_MAINTAINED
	OriginHost                  string                       // { Origin-Host }
	OriginRealm                 string                       // { Origin-Realm }
	UserName                    string                       // [ User-Name ]: the IMPI
	OCSupportedFeatures         *OCSupportedFeatures         // [ OC-Supported-Features ]
	OCOLR                       *OCOLR                       // [ OC-OLR ]
	Load                        []Load                       // *[ Load ]
	SupportedFeatures           []SupportedFeatures          // *[ Supported-Features ]
	PublicIdentity              string                       // [ Public-Identity ]
	SIPNumberAuthItems          *uint32                      // [ SIP-Number-Auth-Items ]: vectors returned
	SIPAuthDataItems            []SIPAuthDataItem            // *[ SIP-Auth-Data-Item ]: the vectors
	Unknown                     []*diam.AVP                  // *[ AVP ]
	FailedAVP                   []*diam.AVP                  // [ Failed-AVP ]: its contents
	ProxyInfo                   []ProxyInfo                  // *[ Proxy-Info ]
	RouteRecord                 []string                     // *[ Route-Record ]
}

// NewMAA starts the answer to req: Session-Id, Vendor-Specific-Application-Id and
// Auth-Session-State as in the request, Proxy-Info copied in order (RFC 6733 §6.2).
func NewMAA(req *MAR) *MAA {
	// User-Name and Public-Identity name the identities the request named, so that an error answer too tells
	// the S-CSCF (and its logs) whom it is about; a successful procedure may replace them (TS 29.229 §6.1.8).
	return &MAA{SessionID: req.SessionID, VendorSpecificApplicationID: cloneVSAI(req.VendorSpecificApplicationID),
		AuthSessionState: cloneState(req.AuthSessionState), ProxyInfo: cloneProxyInfo(req.ProxyInfo),
		UserName: req.UserName, PublicIdentity: req.PublicIdentity}
}

// Command returns CmdMultimediaAuth.
func (a *MAA) Command() Command { return CmdMultimediaAuth }

// IsRequest returns false.
func (a *MAA) IsRequest() bool { return false }

func (a *MAA) outcome() outcome { return outcome{&a.ResultCode, &a.ExperimentalResult, &a.FailedAVP} }

// Result returns the outcome; see Answer.
func (a *MAA) Result() (diameter.ResultCode, uint32) { return a.outcome().result() }

// SetResultCode sets a base Result-Code; see Answer.
func (a *MAA) SetResultCode(code diameter.ResultCode) { a.outcome().setResultCode(code) }

// SetExperimentalResult sets an Experimental-Result; see Answer.
func (a *MAA) SetExperimentalResult(vendorID uint32, code diameter.ResultCode) {
	a.outcome().setExperimentalResult(vendorID, code)
}

// SetError sets the outcome from err; see Answer.
func (a *MAA) SetError(err error) { a.outcome().setError(err) }

// AppendBinary appends the MAA in wire form to b (RFC 6733 §3, §4), Hop-by-Hop and End-to-End
// identifiers 0 for the peer layer to set; see Message.
func (a *MAA) AppendBinary(b []byte) (out []byte, err error) {
	defer recoverEncode("marshal MAA", &out, &err)
	e, start := newEncoder(b)
	e.answerHead(a.SessionID, a.DRMP, a.VendorSpecificApplicationID, a.ResultCode, a.ExperimentalResult,
		a.AuthSessionState, a.OriginHost, a.OriginRealm)
	e.optStr(base(AVPUserName), "User-Name", a.UserName)
	e.ocSupportedFeatures(a.OCSupportedFeatures)
	e.answerLoad(a.OCOLR, a.Load)
	e.supportedFeatures(a.SupportedFeatures)
	e.optStr(tgpp(AVPPublicIdentity), "Public-Identity", a.PublicIdentity)
	e.optU32(tgpp(AVPSIPNumberAuthItems), a.SIPNumberAuthItems)
	for i := range a.SIPAuthDataItems {
		a.SIPAuthDataItems[i].put(e)
	}
	e.tail(a.Unknown, a.FailedAVP, a.ProxyInfo, a.RouteRecord)
	out, err = e.answer(start, CmdMultimediaAuth, a.ResultCode)
	return marshalled("marshal MAA", out, err)
}

// Marshal builds the MAA as a go-diameter message with dictionary d; see Message.
func (a *MAA) Marshal(d *dict.Parser) (*diam.Message, error) { return marshalDiam(a, d) }

// UnmarshalBinary fills a from one MAA in wire form; see Message. a keeps no reference to b.
func (a *MAA) UnmarshalBinary(b []byte) error { return unmarshalBinary(a, b) }

// Unmarshal fills a from a go-diameter message; see Message.
func (a *MAA) Unmarshal(msg *diam.Message) error { return unmarshalDiam(a, msg) }

// decodeBody fills a from the AVPs of body, which it owns: decoded byte slices point into it.
func (a *MAA) decodeBody(h msgHeader, body []byte) (err error) {
	defer recoverDecode("MAA", &err)
	if err := checkHeader(h, CmdMultimediaAuth, false); err != nil {
		return err
	}
	*a = MAA{}
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
		case tgpp(AVPPublicIdentity):
			d.setStr(v, &a.PublicIdentity)
		case tgpp(AVPSIPNumberAuthItems):
			d.setOptU32(v, &a.SIPNumberAuthItems)
		case tgpp(AVPSIPAuthDataItem):
			if d.many(v) {
				a.SIPAuthDataItems = append(a.SIPAuthDataItems, decodeSIPAuthDataItem(d, v))
			}
		default:
			d.unknown(v, &a.Unknown)
		}
	})
	c.check(d, h)
	return d.result("MAA")
}

// ParseMAA decodes msg as an MAA. On error the returned MAA holds what could be decoded.
func ParseMAA(msg *diam.Message) (*MAA, error) {
	a := new(MAA)
	return a, a.Unmarshal(msg)
}

var _ Answer = (*MAA)(nil)
