package rx

import (
	"github.com/fiorix/go-diameter/v4/diam"
	"github.com/fiorix/go-diameter/v4/diam/dict"
)

// STA is the Session-Termination-Answer, TS 29.214 §5.6.6 (Command-Code 275, 'R' clear, 'P' set).
// Its ABNF has Result-Code only (no Experimental-Result).
type STA struct {
	SessionID          string      // < Session-Id >
	OriginHost         string      // { Origin-Host }
	OriginRealm        string      // { Origin-Realm }
	Outcome                        // [ Result-Code ] [ Failed-AVP ]
	ErrorMessage       string      // [ Error-Message ]
	ErrorReportingHost string      // [ Error-Reporting-Host ]
	OriginStateID      *uint32     // [ Origin-State-Id ]
	Class              [][]byte    // *[ Class ]
	ProxyInfo          []ProxyInfo // *[ Proxy-Info ]
	Unknown            []*diam.AVP // *[ AVP ]
}

// NewSTA starts the answer to req (RFC 6733 §6.2).
func NewSTA(req *STR, originHost, originRealm string) *STA {
	return &STA{SessionID: req.SessionID, OriginHost: originHost, OriginRealm: originRealm,
		ProxyInfo: append([]ProxyInfo(nil), req.ProxyInfo...)}
}

// Command returns CmdSessionTermination.
func (a *STA) Command() Command { return CmdSessionTermination }

// IsRequest returns false.
func (a *STA) IsRequest() bool { return false }

// AppendBinary appends the STA in wire form; see Message.
func (a *STA) AppendBinary(b []byte) ([]byte, error) {
	w, at := begin(b)
	w.sessionID(a.SessionID)
	w.origin(a.OriginHost, a.OriginRealm)
	a.Outcome.put(w, false)
	w.answerErrors(a.ErrorMessage, a.ErrorReportingHost, &a.Outcome)
	w.optU32(base(AVPOriginStateID), a.OriginStateID)
	w.tail(a.Class, a.ProxyInfo, nil, a.Unknown)
	return w.finish(at, CmdSessionTermination, false, a.wireCode())
}

// Marshal builds the STA as a go-diameter message with dictionary d.
func (a *STA) Marshal(d *dict.Parser) (*diam.Message, error) { return marshalDiam(a, d) }

// UnmarshalBinary fills a from one STA in wire form.
func (a *STA) UnmarshalBinary(b []byte) error { return unmarshal(a, b) }

// Unmarshal fills a from a go-diameter message.
func (a *STA) Unmarshal(msg *diam.Message) error { return unmarshalDiam(a, msg) }

func (a *STA) decode(h header, b []byte) error {
	if err := expect(h, CmdSessionTermination, false); err != nil {
		return err
	}
	*a = STA{}
	c := &common{sessionID: &a.SessionID, originHost: &a.OriginHost, originRealm: &a.OriginRealm,
		originStateID: &a.OriginStateID, class: &a.Class, proxyInfo: &a.ProxyInfo, outcome: &a.Outcome,
		errorMessage: &a.ErrorMessage, errorReportingHost: &a.ErrorReportingHost}
	r := &reader{}
	r.walk(b, func(f field) {
		if !c.visit(r, f) {
			r.unknown(f, &a.Unknown)
		}
	})
	c.check(r, h)
	return r.result("STA")
}

var _ Message = (*STA)(nil)
