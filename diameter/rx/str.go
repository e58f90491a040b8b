package rx

import (
	"github.com/fiorix/go-diameter/v4/diam"
	"github.com/fiorix/go-diameter/v4/diam/datatype"
	"github.com/fiorix/go-diameter/v4/diam/dict"
)

// STR is the Session-Termination-Request, TS 29.214 §5.6.5 (Command-Code 275, 'R' and 'P' set):
// the AF ends the Rx session when the SIP session ends (§4.4.4: BYE, CANCEL, a failure) or the
// registration does, with Termination-Cause DIAMETER_LOGOUT.
type STR struct {
	SessionID        string           // < Session-Id >
	OriginHost       string           // { Origin-Host }
	OriginRealm      string           // { Origin-Realm }
	DestinationRealm string           // { Destination-Realm }
	TerminationCause TerminationCause // { Termination-Cause }
	DestinationHost  string           // [ Destination-Host ]
	Class            [][]byte         // *[ Class ]
	ProxyInfo        []ProxyInfo      // *[ Proxy-Info ]
	RouteRecord      []string         // *[ Route-Record ]
	Unknown          []*diam.AVP      // *[ AVP ]
}

// Command returns CmdSessionTermination.
func (m *STR) Command() Command { return CmdSessionTermination }

// IsRequest returns true.
func (m *STR) IsRequest() bool { return true }

// AppendBinary appends the STR in wire form; see Message.
func (m *STR) AppendBinary(b []byte) ([]byte, error) {
	w, at := begin(b)
	w.sessionID(m.SessionID)
	w.origin(m.OriginHost, m.OriginRealm)
	w.text(base(AVPDestinationRealm), "Destination-Realm", m.DestinationRealm, true)
	w.appID()
	putEnum(w, base(AVPTerminationCause), m.TerminationCause)
	w.text(base(AVPDestinationHost), "Destination-Host", m.DestinationHost, false)
	w.tail(m.Class, m.ProxyInfo, m.RouteRecord, m.Unknown)
	return w.finish(at, CmdSessionTermination, true, 0)
}

// Marshal builds the STR as a go-diameter message with dictionary d.
func (m *STR) Marshal(d *dict.Parser) (*diam.Message, error) { return marshalDiam(m, d) }

// UnmarshalBinary fills m from one STR in wire form.
func (m *STR) UnmarshalBinary(b []byte) error { return unmarshal(m, b) }

// Unmarshal fills m from a go-diameter message.
func (m *STR) Unmarshal(msg *diam.Message) error { return unmarshalDiam(m, msg) }

func (m *STR) decode(h header, b []byte) error {
	if err := expect(h, CmdSessionTermination, true); err != nil {
		return err
	}
	*m = STR{}
	c := &common{sessionID: &m.SessionID, originHost: &m.OriginHost, originRealm: &m.OriginRealm,
		destinationHost: &m.DestinationHost, destinationRealm: &m.DestinationRealm, authApplicationID: true,
		class: &m.Class, proxyInfo: &m.ProxyInfo, routeRecord: &m.RouteRecord}
	r := &reader{request: true}
	r.walk(b, func(f field) {
		if c.visit(r, f) {
			return
		}
		if f.key() == base(AVPTerminationCause) {
			setEnum(r, f, &m.TerminationCause)
			return
		}
		r.unknown(f, &m.Unknown)
	})
	c.check(r, h)
	r.need(base(AVPTerminationCause), "Termination-Cause", datatype.Enumerated(0))
	return r.result("STR")
}

var _ Message = (*STR)(nil)
