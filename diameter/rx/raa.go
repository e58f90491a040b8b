package rx

import (
	"github.com/fiorix/go-diameter/v4/diam"
	"github.com/fiorix/go-diameter/v4/diam/dict"
)

// RAA is the Re-Auth-Answer, TS 29.214 §5.6.4 (Command-Code 258, 'R' clear, 'P' set). The AF may
// give updated service information in Media-Component-Description (§4.4.6.1).
type RAA struct {
	SessionID          string                      // < Session-Id >
	OriginHost         string                      // { Origin-Host }
	OriginRealm        string                      // { Origin-Realm }
	Outcome                                        // [ Result-Code ] [ Experimental-Result ] … [ Failed-AVP ]
	MediaComponents    []MediaComponentDescription // *[ Media-Component-Description ]
	OriginStateID      *uint32                     // [ Origin-State-Id ]
	Class              [][]byte                    // *[ Class ]
	ErrorMessage       string                      // [ Error-Message ]
	ErrorReportingHost string                      // [ Error-Reporting-Host ]
	ProxyInfo          []ProxyInfo                 // *[ Proxy-Info ]
	Unknown            []*diam.AVP                 // *[ AVP ]
}

// NewRAA starts the answer to req from this AF (RFC 6733 §6.2: Session-Id, Proxy-Info in order).
func NewRAA(req *RAR, originHost, originRealm string) *RAA {
	return &RAA{SessionID: req.SessionID, OriginHost: originHost, OriginRealm: originRealm,
		ProxyInfo: append([]ProxyInfo(nil), req.ProxyInfo...)}
}

// Command returns CmdReAuth.
func (a *RAA) Command() Command { return CmdReAuth }

// IsRequest returns false.
func (a *RAA) IsRequest() bool { return false }

// AppendBinary appends the RAA in wire form; see Message.
func (a *RAA) AppendBinary(b []byte) ([]byte, error) {
	w, at := begin(b)
	w.sessionID(a.SessionID)
	w.origin(a.OriginHost, a.OriginRealm)
	a.Outcome.put(w, true)
	for i := range a.MediaComponents {
		a.MediaComponents[i].put(w)
	}
	w.optU32(base(AVPOriginStateID), a.OriginStateID)
	w.tail(a.Class, nil, nil, nil)
	w.answerErrors(a.ErrorMessage, a.ErrorReportingHost, &a.Outcome)
	w.tail(nil, a.ProxyInfo, nil, a.Unknown)
	return w.finish(at, CmdReAuth, false, a.wireCode())
}

// Marshal builds the RAA as a go-diameter message with dictionary d.
func (a *RAA) Marshal(d *dict.Parser) (*diam.Message, error) { return marshalDiam(a, d) }

// UnmarshalBinary fills a from one RAA in wire form.
func (a *RAA) UnmarshalBinary(b []byte) error { return unmarshal(a, b) }

// Unmarshal fills a from a go-diameter message.
func (a *RAA) Unmarshal(msg *diam.Message) error { return unmarshalDiam(a, msg) }

func (a *RAA) decode(h header, b []byte) error {
	if err := expect(h, CmdReAuth, false); err != nil {
		return err
	}
	*a = RAA{}
	c := &common{sessionID: &a.SessionID, originHost: &a.OriginHost, originRealm: &a.OriginRealm,
		originStateID: &a.OriginStateID, class: &a.Class, proxyInfo: &a.ProxyInfo, outcome: &a.Outcome,
		experimental: true, errorMessage: &a.ErrorMessage, errorReportingHost: &a.ErrorReportingHost}
	r := &reader{}
	r.walk(b, func(f field) {
		if c.visit(r, f) {
			return
		}
		if f.key() == tgpp(AVPMediaComponentDescription) {
			r.repeated(f)
			a.MediaComponents = append(a.MediaComponents, decodeMCD(r, f))
			return
		}
		r.unknown(f, &a.Unknown)
	})
	c.check(r, h)
	return r.result("RAA")
}

var _ Message = (*RAA)(nil)
