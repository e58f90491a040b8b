package rx

import (
	"github.com/fiorix/go-diameter/v4/diam"
	"github.com/fiorix/go-diameter/v4/diam/datatype"
	"github.com/fiorix/go-diameter/v4/diam/dict"
)

// ASR is the Abort-Session-Request, TS 29.214 §5.6.7 (Command-Code 274, 'R' and 'P' set): the PCRF
// tells the AF that the session can no longer be served (§4.4.6.2: all bearers of the service are
// gone, the IP-CAN session ended); the AF answers and then sends STR (§4.4.4).
type ASR struct {
	SessionID        string      // < Session-Id >
	OriginHost       string      // { Origin-Host }
	OriginRealm      string      // { Origin-Realm }
	DestinationRealm string      // { Destination-Realm }
	DestinationHost  string      // { Destination-Host }
	AbortCause       AbortCause  // { Abort-Cause }
	OriginStateID    *uint32     // [ Origin-State-Id ]
	ProxyInfo        []ProxyInfo // *[ Proxy-Info ]
	RouteRecord      []string    // *[ Route-Record ]
	Unknown          []*diam.AVP // *[ AVP ]
}

// Command returns CmdAbortSession.
func (m *ASR) Command() Command { return CmdAbortSession }

// IsRequest returns true.
func (m *ASR) IsRequest() bool { return true }

// AppendBinary appends the ASR in wire form; see Message.
func (m *ASR) AppendBinary(b []byte) ([]byte, error) {
	w, at := begin(b)
	w.sessionID(m.SessionID)
	w.origin(m.OriginHost, m.OriginRealm)
	w.text(base(AVPDestinationRealm), "Destination-Realm", m.DestinationRealm, true)
	w.text(base(AVPDestinationHost), "Destination-Host", m.DestinationHost, true)
	w.appID()
	putEnum(w, tgpp(AVPAbortCause), m.AbortCause)
	w.optU32(base(AVPOriginStateID), m.OriginStateID)
	w.tail(nil, m.ProxyInfo, m.RouteRecord, m.Unknown)
	return w.finish(at, CmdAbortSession, true, 0)
}

// Marshal builds the ASR as a go-diameter message with dictionary d.
func (m *ASR) Marshal(d *dict.Parser) (*diam.Message, error) { return marshalDiam(m, d) }

// UnmarshalBinary fills m from one ASR in wire form.
func (m *ASR) UnmarshalBinary(b []byte) error { return unmarshal(m, b) }

// Unmarshal fills m from a go-diameter message.
func (m *ASR) Unmarshal(msg *diam.Message) error { return unmarshalDiam(m, msg) }

func (m *ASR) decode(h header, b []byte) error {
	if err := expect(h, CmdAbortSession, true); err != nil {
		return err
	}
	*m = ASR{}
	c := &common{sessionID: &m.SessionID, originHost: &m.OriginHost, originRealm: &m.OriginRealm,
		destinationHost: &m.DestinationHost, destinationRealm: &m.DestinationRealm, authApplicationID: true,
		originStateID: &m.OriginStateID, proxyInfo: &m.ProxyInfo, routeRecord: &m.RouteRecord}
	r := &reader{request: true}
	r.walk(b, func(f field) {
		if c.visit(r, f) {
			return
		}
		if f.key() == tgpp(AVPAbortCause) {
			setEnum(r, f, &m.AbortCause)
			return
		}
		r.unknown(f, &m.Unknown)
	})
	c.check(r, h)
	r.need(base(AVPDestinationHost), "Destination-Host", datatype.DiameterIdentity(""))
	r.need(tgpp(AVPAbortCause), "Abort-Cause", datatype.Enumerated(0))
	return r.result("ASR")
}

var _ Message = (*ASR)(nil)
