package rx

import (
	"github.com/fiorix/go-diameter/v4/diam"
	"github.com/fiorix/go-diameter/v4/diam/dict"
)

// AAA is the AA-Answer, TS 29.214 §5.6.2 (Command-Code 265, 'R' clear, 'P' set): the PCRF's
// decision on the service information. A failure is an Experimental-Result of §5.5
// (INVALID_SERVICE_INFORMATION 5061, FILTER_RESTRICTIONS 5062, REQUESTED_SERVICE_NOT_AUTHORIZED
// 5063, …) or a base Result-Code; a rejected AAR may carry the Acceptable-Service-Info (kept in Unknown).
type AAA struct {
	SessionID          string            // < Session-Id >
	OriginHost         string            // { Origin-Host }
	OriginRealm        string            // { Origin-Realm }
	Outcome                              // [ Result-Code ] [ Experimental-Result ] … [ Failed-AVP ]
	AuthSessionState   *AuthSessionState // [ Auth-Session-State ]
	IPCANType          *IPCANType        // [ IP-CAN-Type ]: TS 29.214 §4.4.1, the access the UE uses
	RATType            *RATType          // [ RAT-Type ]
	SubscriptionIDs    []SubscriptionID  // *[ Subscription-Id ]
	Class              [][]byte          // *[ Class ]
	ErrorMessage       string            // [ Error-Message ]
	ErrorReportingHost string            // [ Error-Reporting-Host ]
	OriginStateID      *uint32           // [ Origin-State-Id ]
	ProxyInfo          []ProxyInfo       // *[ Proxy-Info ]
	Unknown            []*diam.AVP       // *[ AVP ]
}

// NewAAA starts the answer to req: the Session-Id, the Proxy-Info in order (RFC 6733 §6.2).
func NewAAA(req *AAR, originHost, originRealm string) *AAA {
	return &AAA{SessionID: req.SessionID, OriginHost: originHost, OriginRealm: originRealm,
		ProxyInfo: append([]ProxyInfo(nil), req.ProxyInfo...)}
}

// Command returns CmdAA.
func (a *AAA) Command() Command { return CmdAA }

// IsRequest returns false.
func (a *AAA) IsRequest() bool { return false }

// AppendBinary appends the AAA in wire form; see Message.
func (a *AAA) AppendBinary(b []byte) ([]byte, error) {
	w, at := begin(b)
	w.sessionID(a.SessionID)
	w.appID()
	w.origin(a.OriginHost, a.OriginRealm)
	a.Outcome.put(w, true)
	putOptEnum(w, base(AVPAuthSessionState), a.AuthSessionState)
	putOptEnum(w, tgpp(AVPIPCANType), a.IPCANType)
	putOptEnum(w, tgpp(AVPRATType), a.RATType)
	for i := range a.SubscriptionIDs {
		a.SubscriptionIDs[i].put(w)
	}
	w.tail(a.Class, nil, nil, nil)
	w.answerErrors(a.ErrorMessage, a.ErrorReportingHost, &a.Outcome)
	w.optU32(base(AVPOriginStateID), a.OriginStateID)
	w.tail(nil, a.ProxyInfo, nil, a.Unknown)
	return w.finish(at, CmdAA, false, a.wireCode())
}

// Marshal builds the AAA as a go-diameter message with dictionary d.
func (a *AAA) Marshal(d *dict.Parser) (*diam.Message, error) { return marshalDiam(a, d) }

// UnmarshalBinary fills a from one AAA in wire form.
func (a *AAA) UnmarshalBinary(b []byte) error { return unmarshal(a, b) }

// Unmarshal fills a from a go-diameter message.
func (a *AAA) Unmarshal(msg *diam.Message) error { return unmarshalDiam(a, msg) }

func (a *AAA) decode(h header, b []byte) error {
	if err := expect(h, CmdAA, false); err != nil {
		return err
	}
	*a = AAA{}
	c := &common{sessionID: &a.SessionID, originHost: &a.OriginHost, originRealm: &a.OriginRealm,
		authApplicationID: true, originStateID: &a.OriginStateID, class: &a.Class, proxyInfo: &a.ProxyInfo,
		outcome: &a.Outcome, experimental: true, errorMessage: &a.ErrorMessage, errorReportingHost: &a.ErrorReportingHost}
	r := &reader{}
	r.walk(b, func(f field) {
		if c.visit(r, f) {
			return
		}
		switch f.key() {
		case base(AVPAuthSessionState):
			setOptEnum(r, f, &a.AuthSessionState)
		case tgpp(AVPIPCANType):
			setOptEnum(r, f, &a.IPCANType)
		case tgpp(AVPRATType):
			setOptEnum(r, f, &a.RATType)
		case base(AVPSubscriptionID):
			r.repeated(f)
			a.SubscriptionIDs = append(a.SubscriptionIDs, decodeSubscriptionID(r, f))
		default:
			r.unknown(f, &a.Unknown)
		}
	})
	c.check(r, h)
	return r.result("AAA")
}

var _ Message = (*AAA)(nil)
