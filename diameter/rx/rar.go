package rx

import (
	"github.com/fiorix/go-diameter/v4/diam"
	"github.com/fiorix/go-diameter/v4/diam/datatype"
	"github.com/fiorix/go-diameter/v4/diam/dict"
)

// RAR is the Re-Auth-Request, TS 29.214 §5.6.3 (Command-Code 258, 'R' and 'P' set): the PCRF
// reports an event the AF subscribed to (§4.4.6: loss or release of bearer, §4.4.6.7 signalling
// path status), with the affected Flows and, on release, the Abort-Cause.
type RAR struct {
	SessionID        string           // < Session-Id >
	OriginHost       string           // { Origin-Host }
	OriginRealm      string           // { Origin-Realm }
	DestinationRealm string           // { Destination-Realm }
	DestinationHost  string           // { Destination-Host }
	SpecificActions  []SpecificAction // 1*{ Specific-Action }: the events reported
	Flows            []Flows          // *[ Flows ]: the flows affected; none means all of the session
	SubscriptionIDs  []SubscriptionID // *[ Subscription-Id ]
	AbortCause       *AbortCause      // [ Abort-Cause ]
	IPCANType        *IPCANType       // [ IP-CAN-Type ]
	RATType          *RATType         // [ RAT-Type ]
	OriginStateID    *uint32          // [ Origin-State-Id ]
	Class            [][]byte         // *[ Class ]
	ProxyInfo        []ProxyInfo      // *[ Proxy-Info ]
	RouteRecord      []string         // *[ Route-Record ]
	Unknown          []*diam.AVP      // *[ AVP ]
}

// Command returns CmdReAuth.
func (m *RAR) Command() Command { return CmdReAuth }

// IsRequest returns true.
func (m *RAR) IsRequest() bool { return true }

// Has reports whether the RAR reports event a.
func (m *RAR) Has(a SpecificAction) bool {
	for _, x := range m.SpecificActions {
		if x == a {
			return true
		}
	}
	return false
}

// AppendBinary appends the RAR in wire form; see Message.
func (m *RAR) AppendBinary(b []byte) ([]byte, error) {
	w, at := begin(b)
	w.sessionID(m.SessionID)
	w.origin(m.OriginHost, m.OriginRealm)
	w.text(base(AVPDestinationRealm), "Destination-Realm", m.DestinationRealm, true)
	w.text(base(AVPDestinationHost), "Destination-Host", m.DestinationHost, true)
	w.appID()
	if len(m.SpecificActions) == 0 {
		w.invalid("RAR without Specific-Action") // TS 29.214 §5.6.3: *{ Specific-Action }, at least one
	}
	for _, a := range m.SpecificActions {
		putEnum(w, tgpp(AVPSpecificAction), a)
	}
	for i := range m.Flows {
		m.Flows[i].put(w)
	}
	for i := range m.SubscriptionIDs {
		m.SubscriptionIDs[i].put(w)
	}
	putOptEnum(w, tgpp(AVPAbortCause), m.AbortCause)
	putOptEnum(w, tgpp(AVPIPCANType), m.IPCANType)
	putOptEnum(w, tgpp(AVPRATType), m.RATType)
	w.optU32(base(AVPOriginStateID), m.OriginStateID)
	w.tail(m.Class, m.ProxyInfo, m.RouteRecord, m.Unknown)
	return w.finish(at, CmdReAuth, true, 0)
}

// Marshal builds the RAR as a go-diameter message with dictionary d.
func (m *RAR) Marshal(d *dict.Parser) (*diam.Message, error) { return marshalDiam(m, d) }

// UnmarshalBinary fills m from one RAR in wire form.
func (m *RAR) UnmarshalBinary(b []byte) error { return unmarshal(m, b) }

// Unmarshal fills m from a go-diameter message.
func (m *RAR) Unmarshal(msg *diam.Message) error { return unmarshalDiam(m, msg) }

func (m *RAR) decode(h header, b []byte) error {
	if err := expect(h, CmdReAuth, true); err != nil {
		return err
	}
	*m = RAR{}
	c := &common{sessionID: &m.SessionID, originHost: &m.OriginHost, originRealm: &m.OriginRealm,
		destinationHost: &m.DestinationHost, destinationRealm: &m.DestinationRealm, authApplicationID: true,
		originStateID: &m.OriginStateID, class: &m.Class, proxyInfo: &m.ProxyInfo, routeRecord: &m.RouteRecord}
	r := &reader{request: true}
	r.walk(b, func(f field) {
		if c.visit(r, f) {
			return
		}
		switch f.key() {
		case tgpp(AVPSpecificAction):
			addEnum(r, f, &m.SpecificActions)
		case tgpp(AVPFlows):
			r.repeated(f)
			m.Flows = append(m.Flows, decodeFlows(r, f))
		case base(AVPSubscriptionID):
			r.repeated(f)
			m.SubscriptionIDs = append(m.SubscriptionIDs, decodeSubscriptionID(r, f))
		case tgpp(AVPAbortCause):
			setOptEnum(r, f, &m.AbortCause)
		case tgpp(AVPIPCANType):
			setOptEnum(r, f, &m.IPCANType)
		case tgpp(AVPRATType):
			setOptEnum(r, f, &m.RATType)
		default:
			r.unknown(f, &m.Unknown)
		}
	})
	c.check(r, h)
	r.need(base(AVPDestinationHost), "Destination-Host", datatype.DiameterIdentity(""))
	r.need(tgpp(AVPSpecificAction), "Specific-Action", datatype.Enumerated(0))
	return r.result("RAR")
}

var _ Message = (*RAR)(nil)
