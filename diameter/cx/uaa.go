package cx

import (
	"github.com/fiorix/go-diameter/v4/diam"
	"github.com/fiorix/go-diameter/v4/diam/dict"
	"github.com/imscore/imscore/diameter"
)

// UAA is the User-Authorization-Answer, TS 29.229 §6.1.2 (Command-Code 300, 'R' clear, 'P' set):
// the assigned S-CSCF, or the capabilities the I-CSCF needs to choose one (TS 29.228 §6.1.1,
// Table 6.1.1.2).
type UAA struct {
	SessionID                   string                       // < Session-Id >
	DRMP                        *DRMP                        // [ DRMP ]
	VendorSpecificApplicationID *VendorSpecificApplicationID // { }: nil sends CxApplicationID()
	ResultCode                  diameter.ResultCode          // [ Result-Code ]: 0 when absent
	ExperimentalResult          *ExperimentalResult          // [ Experimental-Result ]
	AuthSessionState            *AuthSessionState            // { }: nil sends NO_STATE_MAINTAINED
	OriginHost                  string                       // { Origin-Host }
	OriginRealm                 string                       // { Origin-Realm }
	OCSupportedFeatures         *OCSupportedFeatures         // [ OC-Supported-Features ]
	OCOLR                       *OCOLR                       // [ OC-OLR ]
	Load                        []Load                       // *[ Load ]
	SupportedFeatures           []SupportedFeatures          // *[ Supported-Features ]
	ServerName                  string                       // [ Server-Name ]: the assigned S-CSCF
	ServerCapabilities          *ServerCapabilities          // [ Server-Capabilities ]
	Unknown                     []*diam.AVP                  // *[ AVP ]
	FailedAVP                   []*diam.AVP                  // [ Failed-AVP ]: its contents
	ProxyInfo                   []ProxyInfo                  // *[ Proxy-Info ]
	RouteRecord                 []string                     // *[ Route-Record ]
}

// NewUAA starts the answer to req: Session-Id, Vendor-Specific-Application-Id and
// Auth-Session-State as in the request, Proxy-Info copied in order (RFC 6733 §6.2).
func NewUAA(req *UAR) *UAA {
	return &UAA{SessionID: req.SessionID, VendorSpecificApplicationID: cloneVSAI(req.VendorSpecificApplicationID),
		AuthSessionState: cloneState(req.AuthSessionState), ProxyInfo: cloneProxyInfo(req.ProxyInfo)}
}

// Command returns CmdUserAuthorization.
func (a *UAA) Command() Command { return CmdUserAuthorization }

// IsRequest returns false.
func (a *UAA) IsRequest() bool { return false }

func (a *UAA) outcome() outcome { return outcome{&a.ResultCode, &a.ExperimentalResult, &a.FailedAVP} }

// Result returns the outcome; see Answer.
func (a *UAA) Result() (diameter.ResultCode, uint32) { return a.outcome().result() }

// SetResultCode sets a base Result-Code; see Answer.
func (a *UAA) SetResultCode(code diameter.ResultCode) { a.outcome().setResultCode(code) }

// SetExperimentalResult sets an Experimental-Result; see Answer.
func (a *UAA) SetExperimentalResult(vendorID uint32, code diameter.ResultCode) {
	a.outcome().setExperimentalResult(vendorID, code)
}

// SetError sets the outcome from err; see Answer.
func (a *UAA) SetError(err error) { a.outcome().setError(err) }

// AppendBinary appends the UAA in wire form to b (RFC 6733 §3, §4), Hop-by-Hop and End-to-End
// identifiers 0 for the peer layer to set; see Message.
func (a *UAA) AppendBinary(b []byte) (out []byte, err error) {
	defer recoverEncode("marshal UAA", &out, &err)
	e, start := newEncoder(b)
	e.answerHead(a.SessionID, a.DRMP, a.VendorSpecificApplicationID, a.ResultCode, a.ExperimentalResult,
		a.AuthSessionState, a.OriginHost, a.OriginRealm)
	e.ocSupportedFeatures(a.OCSupportedFeatures)
	e.answerLoad(a.OCOLR, a.Load)
	e.supportedFeatures(a.SupportedFeatures)
	e.optStr(tgpp(AVPServerName), "Server-Name", a.ServerName)
	if a.ServerCapabilities != nil {
		a.ServerCapabilities.put(e)
	}
	e.tail(a.Unknown, a.FailedAVP, a.ProxyInfo, a.RouteRecord)
	out, err = e.answer(start, CmdUserAuthorization, a.ResultCode)
	return marshalled("marshal UAA", out, err)
}

// Marshal builds the UAA as a go-diameter message with dictionary d; see Message.
func (a *UAA) Marshal(d *dict.Parser) (*diam.Message, error) { return marshalDiam(a, d) }

// UnmarshalBinary fills a from one UAA in wire form; see Message. a keeps no reference to b.
func (a *UAA) UnmarshalBinary(b []byte) error { return unmarshalBinary(a, b) }

// Unmarshal fills a from a go-diameter message; see Message.
func (a *UAA) Unmarshal(msg *diam.Message) error { return unmarshalDiam(a, msg) }

// decodeBody fills a from the AVPs of body, which it owns: decoded byte slices point into it.
func (a *UAA) decodeBody(h msgHeader, body []byte) (err error) {
	defer recoverDecode("UAA", &err)
	if err := checkHeader(h, CmdUserAuthorization, false); err != nil {
		return err
	}
	*a = UAA{}
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
		case tgpp(AVPServerName):
			d.setStr(v, &a.ServerName)
		case tgpp(AVPServerCapabilities):
			if d.once(v) {
				a.ServerCapabilities = decodeServerCapabilities(d, v)
			}
		default:
			d.unknown(v, &a.Unknown)
		}
	})
	c.check(d, h)
	return d.result("UAA")
}

// ParseUAA decodes msg as a UAA. On error the returned UAA holds what could be decoded.
func ParseUAA(msg *diam.Message) (*UAA, error) {
	a := new(UAA)
	return a, a.Unmarshal(msg)
}

var _ Answer = (*UAA)(nil)
