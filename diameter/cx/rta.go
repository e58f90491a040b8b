package cx

import (
	"github.com/fiorix/go-diameter/v4/diam"
	"github.com/fiorix/go-diameter/v4/diam/dict"
	"github.com/imscore/imscore/diameter"
)

// RTA is the Registration-Termination-Answer, TS 29.229 §6.1.10 (Command-Code 304, 'R' clear,
// 'P' set), from the S-CSCF (TS 29.228 §6.1.3, Table 6.1.3.2).
type RTA struct {
	SessionID                         string                              // < Session-Id >
	DRMP                              *DRMP                               // [ DRMP ]
	VendorSpecificApplicationID       *VendorSpecificApplicationID        // { }: nil sends CxApplicationID()
	ResultCode                        diameter.ResultCode                 // [ Result-Code ]: 0 when absent
	ExperimentalResult                *ExperimentalResult                 // [ Experimental-Result ]
	AuthSessionState                  *AuthSessionState                   // { }: nil sends NO_STATE_MAINTAINED
	OriginHost                        string                              // { Origin-Host }
	OriginRealm                       string                              // { Origin-Realm }
	AssociatedIdentities              *AssociatedIdentities               // [ Associated-Identities ]
	SupportedFeatures                 []SupportedFeatures                 // *[ Supported-Features ]
	IdentityWithEmergencyRegistration []IdentityWithEmergencyRegistration // *[ Identity-with-Emergency-Registration ]
	Unknown                           []*diam.AVP                         // *[ AVP ]
	FailedAVP                         []*diam.AVP                         // [ Failed-AVP ]: its contents
	ProxyInfo                         []ProxyInfo                         // *[ Proxy-Info ]
	RouteRecord                       []string                            // *[ Route-Record ]
}

// NewRTA starts the answer to req: Session-Id, Vendor-Specific-Application-Id and
// Auth-Session-State as in the request, Proxy-Info copied in order (RFC 6733 §6.2).
func NewRTA(req *RTR) *RTA {
	return &RTA{SessionID: req.SessionID, VendorSpecificApplicationID: cloneVSAI(req.VendorSpecificApplicationID),
		AuthSessionState: cloneState(req.AuthSessionState), ProxyInfo: cloneProxyInfo(req.ProxyInfo)}
}

// Command returns CmdRegistrationTermination.
func (a *RTA) Command() Command { return CmdRegistrationTermination }

// IsRequest returns false.
func (a *RTA) IsRequest() bool { return false }

func (a *RTA) outcome() outcome { return outcome{&a.ResultCode, &a.ExperimentalResult, &a.FailedAVP} }

// Result returns the outcome; see Answer.
func (a *RTA) Result() (diameter.ResultCode, uint32) { return a.outcome().result() }

// SetResultCode sets a base Result-Code; see Answer.
func (a *RTA) SetResultCode(code diameter.ResultCode) { a.outcome().setResultCode(code) }

// SetExperimentalResult sets an Experimental-Result; see Answer.
func (a *RTA) SetExperimentalResult(vendorID uint32, code diameter.ResultCode) {
	a.outcome().setExperimentalResult(vendorID, code)
}

// SetError sets the outcome from err; see Answer.
func (a *RTA) SetError(err error) { a.outcome().setError(err) }

// AppendBinary appends the RTA in wire form to b (RFC 6733 §3, §4), Hop-by-Hop and End-to-End
// identifiers 0 for the peer layer to set; see Message.
func (a *RTA) AppendBinary(b []byte) (out []byte, err error) {
	defer recoverEncode("marshal RTA", &out, &err)
	e, start := newEncoder(b)
	e.answerHead(a.SessionID, a.DRMP, a.VendorSpecificApplicationID, a.ResultCode, a.ExperimentalResult,
		a.AuthSessionState, a.OriginHost, a.OriginRealm)
	if a.AssociatedIdentities != nil {
		a.AssociatedIdentities.put(e)
	}
	e.supportedFeatures(a.SupportedFeatures)
	for i := range a.IdentityWithEmergencyRegistration {
		a.IdentityWithEmergencyRegistration[i].put(e)
	}
	e.tail(a.Unknown, a.FailedAVP, a.ProxyInfo, a.RouteRecord)
	out, err = e.answer(start, CmdRegistrationTermination, a.ResultCode)
	return marshalled("marshal RTA", out, err)
}

// Marshal builds the RTA as a go-diameter message with dictionary d; see Message.
func (a *RTA) Marshal(d *dict.Parser) (*diam.Message, error) { return marshalDiam(a, d) }

// UnmarshalBinary fills a from one RTA in wire form; see Message. a keeps no reference to b.
func (a *RTA) UnmarshalBinary(b []byte) error { return unmarshalBinary(a, b) }

// Unmarshal fills a from a go-diameter message; see Message.
func (a *RTA) Unmarshal(msg *diam.Message) error { return unmarshalDiam(a, msg) }

// decodeBody fills a from the AVPs of body, which it owns: decoded byte slices point into it.
func (a *RTA) decodeBody(h msgHeader, body []byte) (err error) {
	defer recoverDecode("RTA", &err)
	if err := checkHeader(h, CmdRegistrationTermination, false); err != nil {
		return err
	}
	*a = RTA{}
	c := &common{sessionID: &a.SessionID, drmp: &a.DRMP, vsai: &a.VendorSpecificApplicationID,
		authSessionState: &a.AuthSessionState, originHost: &a.OriginHost, originRealm: &a.OriginRealm,
		supportedFeatures: &a.SupportedFeatures, proxyInfo: &a.ProxyInfo, routeRecord: &a.RouteRecord,
		resultCode: &a.ResultCode, experimental: &a.ExperimentalResult, failedAVP: &a.FailedAVP}
	d := newDecoder(false)
	d.each(body, func(v wireAVP) {
		if c.visit(d, v) {
			return
		}
		switch keyOf(v) {
		case tgpp(AVPAssociatedIdentities):
			if d.once(v) {
				a.AssociatedIdentities = decodeAssociatedIdentities(d, v)
			}
		case tgpp(AVPIdentityWithEmergencyRegistration):
			if d.many(v) {
				a.IdentityWithEmergencyRegistration = append(a.IdentityWithEmergencyRegistration,
					decodeIdentityWithEmergencyRegistration(d, v))
			}
		default:
			d.unknown(v, &a.Unknown)
		}
	})
	c.check(d, h)
	return d.result("RTA")
}

// ParseRTA decodes msg as an RTA. On error the returned RTA holds what could be decoded.
func ParseRTA(msg *diam.Message) (*RTA, error) {
	a := new(RTA)
	return a, a.Unmarshal(msg)
}

var _ Answer = (*RTA)(nil)
