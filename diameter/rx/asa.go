package rx

import (
	"github.com/fiorix/go-diameter/v4/diam"
	"github.com/fiorix/go-diameter/v4/diam/dict"
)

// ASA is the Abort-Session-Answer, TS 29.214 §5.6.8 (Command-Code 274, 'R' clear, 'P' set).
type ASA struct {
	SessionID          string      // < Session-Id >
	OriginHost         string      // { Origin-Host }
	OriginRealm        string      // { Origin-Realm }
	Outcome                        // [ Result-Code ] [ Failed-AVP ]
	OriginStateID      *uint32     // [ Origin-State-Id ]
	ErrorMessage       string      // [ Error-Message ]
	ErrorReportingHost string      // [ Error-Reporting-Host ]
	ProxyInfo          []ProxyInfo // *[ Proxy-Info ]
	Unknown            []*diam.AVP // *[ AVP ]
}

// NewASA starts the answer to req from this AF (RFC 6733 §6.2).
func NewASA(req *ASR, originHost, originRealm string) *ASA {
	return &ASA{SessionID: req.SessionID, OriginHost: originHost, OriginRealm: originRealm,
		ProxyInfo: append([]ProxyInfo(nil), req.ProxyInfo...)}
}

// Command returns CmdAbortSession.
func (a *ASA) Command() Command { return CmdAbortSession }

// IsRequest returns false.
func (a *ASA) IsRequest() bool { return false }

// AppendBinary appends the ASA in wire form; see Message.
func (a *ASA) AppendBinary(b []byte) ([]byte, error) {
	w, at := begin(b)
	w.sessionID(a.SessionID)
	w.origin(a.OriginHost, a.OriginRealm)
	a.Outcome.put(w, false)
	w.optU32(base(AVPOriginStateID), a.OriginStateID)
	w.answerErrors(a.ErrorMessage, a.ErrorReportingHost, &a.Outcome)
	w.tail(nil, a.ProxyInfo, nil, a.Unknown)
	return w.finish(at, CmdAbortSession, false, a.wireCode())
}

// Marshal builds the ASA as a go-diameter message with dictionary d.
func (a *ASA) Marshal(d *dict.Parser) (*diam.Message, error) { return marshalDiam(a, d) }

// UnmarshalBinary fills a from one ASA in wire form.
func (a *ASA) UnmarshalBinary(b []byte) error { return unmarshal(a, b) }

// Unmarshal fills a from a go-diameter message.
func (a *ASA) Unmarshal(msg *diam.Message) error { return unmarshalDiam(a, msg) }

func (a *ASA) decode(h header, b []byte) error {
	if err := expect(h, CmdAbortSession, false); err != nil {
		return err
	}
	*a = ASA{}
	c := &common{sessionID: &a.SessionID, originHost: &a.OriginHost, originRealm: &a.OriginRealm,
		originStateID: &a.OriginStateID, proxyInfo: &a.ProxyInfo, outcome: &a.Outcome,
		errorMessage: &a.ErrorMessage, errorReportingHost: &a.ErrorReportingHost}
	r := &reader{}
	r.walk(b, func(f field) {
		if !c.visit(r, f) {
			r.unknown(f, &a.Unknown)
		}
	})
	c.check(r, h)
	return r.result("ASA")
}

var _ Message = (*ASA)(nil)
