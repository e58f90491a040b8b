package cx

import (
	"github.com/fiorix/go-diameter/v4/diam"
	"github.com/fiorix/go-diameter/v4/diam/dict"
	"github.com/imscore/imscore/diameter"
)

// PPA is the Push-Profile-Answer, TS 29.229 §6.1.12 (Command-Code 305, 'R' clear, 'P' set), from
// the S-CSCF (TS 29.228 §6.1.4, Table 6.1.4.2).
type PPA struct {
	SessionID                   string                       // < Session-Id >
	DRMP                        *DRMP                        // [ DRMP ]
	VendorSpecificApplicationID *VendorSpecificApplicationID // { }: nil sends CxApplicationID()
	ResultCode                  diameter.ResultCode          // [ Result-Code ]: 0 when absent
	ExperimentalResult          *ExperimentalResult          // [ Experimental-Result ]
	AuthSessionState            *AuthSessionState            // { }: nil sends NO_STATE_MAINTAINED
	OriginHost                  string                       // { Origin-Host }
	OriginRealm                 string                       // { Origin-Realm }
	SupportedFeatures           []SupportedFeatures          // *[ Supported-Features ]
	Unknown                     []*diam.AVP                  // *[ AVP ]
	FailedAVP                   []*diam.AVP                  // [ Failed-AVP ]: its contents
	ProxyInfo                   []ProxyInfo                  // *[ Proxy-Info ]
	RouteRecord                 []string                     // *[ Route-Record ]
}

// NewPPA starts the answer to req: Session-Id, Vendor-Specific-Application-Id and
// Auth-Session-State as in the request, Proxy-Info copied in order (RFC 6733 §6.2).
func NewPPA(req *PPR) *PPA {
	return &PPA{SessionID: req.SessionID, VendorSpecificApplicationID: cloneVSAI(req.VendorSpecificApplicationID),
		AuthSessionState: cloneState(req.AuthSessionState), ProxyInfo: cloneProxyInfo(req.ProxyInfo)}
}

// Command returns CmdPushProfile.
func (a *PPA) Command() Command { return CmdPushProfile }

// IsRequest returns false.
func (a *PPA) IsRequest() bool { return false }

func (a *PPA) outcome() outcome { return outcome{&a.ResultCode, &a.ExperimentalResult, &a.FailedAVP} }

// Result returns the outcome; see Answer.
func (a *PPA) Result() (diameter.ResultCode, uint32) { return a.outcome().result() }

// SetResultCode sets a base Result-Code; see Answer.
func (a *PPA) SetResultCode(code diameter.ResultCode) { a.outcome().setResultCode(code) }

// SetExperimentalResult sets an Experimental-Result; see Answer.
func (a *PPA) SetExperimentalResult(vendorID uint32, code diameter.ResultCode) {
	a.outcome().setExperimentalResult(vendorID, code)
}

// SetError sets the outcome from err; see Answer.
func (a *PPA) SetError(err error) { a.outcome().setError(err) }

// AppendBinary appends the PPA in wire form to b (RFC 6733 §3, §4), Hop-by-Hop and End-to-End
// identifiers 0 for the peer layer to set; see Message.
func (a *PPA) AppendBinary(b []byte) (out []byte, err error) {
	defer recoverEncode("marshal PPA", &out, &err)
	e, start := newEncoder(b)
	e.answerHead(a.SessionID, a.DRMP, a.VendorSpecificApplicationID, a.ResultCode, a.ExperimentalResult,
		a.AuthSessionState, a.OriginHost, a.OriginRealm)
	e.supportedFeatures(a.SupportedFeatures)
	e.tail(a.Unknown, a.FailedAVP, a.ProxyInfo, a.RouteRecord)
	out, err = e.answer(start, CmdPushProfile, a.ResultCode)
	return marshalled("marshal PPA", out, err)
}

// Marshal builds the PPA as a go-diameter message with dictionary d; see Message.
func (a *PPA) Marshal(d *dict.Parser) (*diam.Message, error) { return marshalDiam(a, d) }

// UnmarshalBinary fills a from one PPA in wire form; see Message. a keeps no reference to b.
func (a *PPA) UnmarshalBinary(b []byte) error { return unmarshalBinary(a, b) }

// Unmarshal fills a from a go-diameter message; see Message.
func (a *PPA) Unmarshal(msg *diam.Message) error { return unmarshalDiam(a, msg) }

// decodeBody fills a from the AVPs of body, which it owns: decoded byte slices point into it.
func (a *PPA) decodeBody(h msgHeader, body []byte) (err error) {
	defer recoverDecode("PPA", &err)
	if err := checkHeader(h, CmdPushProfile, false); err != nil {
		return err
	}
	*a = PPA{}
	c := &common{sessionID: &a.SessionID, drmp: &a.DRMP, vsai: &a.VendorSpecificApplicationID,
		authSessionState: &a.AuthSessionState, originHost: &a.OriginHost, originRealm: &a.OriginRealm,
		supportedFeatures: &a.SupportedFeatures, proxyInfo: &a.ProxyInfo, routeRecord: &a.RouteRecord,
		resultCode: &a.ResultCode, experimental: &a.ExperimentalResult, failedAVP: &a.FailedAVP}
	d := newDecoder(false)
	d.each(body, func(v wireAVP) {
		if !c.visit(d, v) {
			d.unknown(v, &a.Unknown)
		}
	})
	c.check(d, h)
	return d.result("PPA")
}

// ParsePPA decodes msg as a PPA. On error the returned PPA holds what could be decoded.
func ParsePPA(msg *diam.Message) (*PPA, error) {
	a := new(PPA)
	return a, a.Unmarshal(msg)
}

var _ Answer = (*PPA)(nil)
