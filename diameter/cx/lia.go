package cx

import (
	"github.com/fiorix/go-diameter/v4/diam"
	"github.com/fiorix/go-diameter/v4/diam/dict"
	"github.com/imscore/imscore/diameter"
)

// LIA is the Location-Info-Answer, TS 29.229 §6.1.6 (Command-Code 302, 'R' clear, 'P' set): the
// serving S-CSCF, or capabilities to choose one (TS 29.228 §6.2.1, Table 6.2.1.2).
type LIA struct {
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
	ServerName                  string                       // [ Server-Name ]
	ServerCapabilities          *ServerCapabilities          // [ Server-Capabilities ]
	WildcardedPublicIdentity    string                       // [ Wildcarded-Public-Identity ]
	LIAFlags                    *LIAFlags                    // [ LIA-Flags ]
	Unknown                     []*diam.AVP                  // *[ AVP ]
	FailedAVP                   []*diam.AVP                  // [ Failed-AVP ]: its contents
	ProxyInfo                   []ProxyInfo                  // *[ Proxy-Info ]
	RouteRecord                 []string                     // *[ Route-Record ]
}

// NewLIA starts the answer to req: Session-Id, Vendor-Specific-Application-Id and
// Auth-Session-State as in the request, Proxy-Info copied in order (RFC 6733 §6.2).
func NewLIA(req *LIR) *LIA {
	return &LIA{SessionID: req.SessionID, VendorSpecificApplicationID: cloneVSAI(req.VendorSpecificApplicationID),
		AuthSessionState: cloneState(req.AuthSessionState), ProxyInfo: cloneProxyInfo(req.ProxyInfo)}
}

// Command returns CmdLocationInfo.
func (a *LIA) Command() Command { return CmdLocationInfo }

// IsRequest returns false.
func (a *LIA) IsRequest() bool { return false }

func (a *LIA) outcome() outcome { return outcome{&a.ResultCode, &a.ExperimentalResult, &a.FailedAVP} }

// Result returns the outcome; see Answer.
func (a *LIA) Result() (diameter.ResultCode, uint32) { return a.outcome().result() }

// SetResultCode sets a base Result-Code; see Answer.
func (a *LIA) SetResultCode(code diameter.ResultCode) { a.outcome().setResultCode(code) }

// SetExperimentalResult sets an Experimental-Result; see Answer.
func (a *LIA) SetExperimentalResult(vendorID uint32, code diameter.ResultCode) {
	a.outcome().setExperimentalResult(vendorID, code)
}

// SetError sets the outcome from err; see Answer.
func (a *LIA) SetError(err error) { a.outcome().setError(err) }

// AppendBinary appends the LIA in wire form to b (RFC 6733 §3, §4), Hop-by-Hop and End-to-End
// identifiers 0 for the peer layer to set; see Message.
func (a *LIA) AppendBinary(b []byte) (out []byte, err error) {
	defer recoverEncode("marshal LIA", &out, &err)
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
	e.optStr(tgpp(AVPWildcardedPublicIdentity), "Wildcarded-Public-Identity", a.WildcardedPublicIdentity)
	encodeFlags(e, tgpp(AVPLIAFlags), a.LIAFlags)
	e.tail(a.Unknown, a.FailedAVP, a.ProxyInfo, a.RouteRecord)
	out, err = e.answer(start, CmdLocationInfo, a.ResultCode)
	return marshalled("marshal LIA", out, err)
}

// Marshal builds the LIA as a go-diameter message with dictionary d; see Message.
func (a *LIA) Marshal(d *dict.Parser) (*diam.Message, error) { return marshalDiam(a, d) }

// UnmarshalBinary fills a from one LIA in wire form; see Message. a keeps no reference to b.
func (a *LIA) UnmarshalBinary(b []byte) error { return unmarshalBinary(a, b) }

// Unmarshal fills a from a go-diameter message; see Message.
func (a *LIA) Unmarshal(msg *diam.Message) error { return unmarshalDiam(a, msg) }

// decodeBody fills a from the AVPs of body, which it owns: decoded byte slices point into it.
func (a *LIA) decodeBody(h msgHeader, body []byte) (err error) {
	defer recoverDecode("LIA", &err)
	if err := checkHeader(h, CmdLocationInfo, false); err != nil {
		return err
	}
	*a = LIA{}
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
		case tgpp(AVPWildcardedPublicIdentity):
			d.setStr(v, &a.WildcardedPublicIdentity)
		case tgpp(AVPLIAFlags):
			setFlags(d, v, &a.LIAFlags)
		default:
			d.unknown(v, &a.Unknown)
		}
	})
	c.check(d, h)
	return d.result("LIA")
}

// ParseLIA decodes msg as an LIA. On error the returned LIA holds what could be decoded.
func ParseLIA(msg *diam.Message) (*LIA, error) {
	a := new(LIA)
	return a, a.Unmarshal(msg)
}

var _ Answer = (*LIA)(nil)
