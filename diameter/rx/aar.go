package rx

import (
	"net/netip"

	"github.com/fiorix/go-diameter/v4/diam"
	"github.com/fiorix/go-diameter/v4/diam/datatype"
	"github.com/fiorix/go-diameter/v4/diam/dict"
	"github.com/imscore/imscore/diameter"
)

// AAR is the AA-Request, TS 29.214 §5.6.1 (Command-Code 265, 'R' and 'P' set): the AF gives the
// PCRF the service information of a session (§4.4.1) or subscribes to the signalling path status
// (§4.4.5a), and updates it later (§4.4.2, Rx-Request-Type UPDATE_REQUEST).
type AAR struct {
	SessionID               string                      // < Session-Id >
	OriginHost              string                      // { Origin-Host }
	OriginRealm             string                      // { Origin-Realm }
	DestinationRealm        string                      // { Destination-Realm }
	DestinationHost         string                      // [ Destination-Host ]
	AuthSessionState        *AuthSessionState           // [ Auth-Session-State ]
	AFApplicationIdentifier []byte                      // [ AF-Application-Identifier ]
	MediaComponents         []MediaComponentDescription // *[ Media-Component-Description ]
	ServiceInfoStatus       *ServiceInfoStatus          // [ Service-Info-Status ]
	AFChargingIdentifier    []byte                      // [ AF-Charging-Identifier ]: the ICID (TS 29.214 §4.4.1)
	SIPForkingIndication    *SIPForkingIndication       // [ SIP-Forking-Indication ]
	SpecificActions         []SpecificAction            // *[ Specific-Action ]: the events subscribed to
	SubscriptionIDs         []SubscriptionID            // *[ Subscription-Id ]
	FramedIPAddress         netip.Addr                  // [ Framed-IP-Address ]: the UE's IPv4 address (4 bytes)
	FramedIPv6Prefix        netip.Prefix                // [ Framed-IPv6-Prefix ]: the UE's IPv6 address as a /128 or its prefix
	CalledStationID         string                      // [ Called-Station-Id ]: the APN
	ServiceURN              []byte                      // [ Service-URN ]: emergency sessions
	RxRequestType           *RxRequestType              // [ Rx-Request-Type ]
	OriginStateID           *uint32                     // [ Origin-State-Id ]
	ProxyInfo               []ProxyInfo                 // *[ Proxy-Info ]
	RouteRecord             []string                    // *[ Route-Record ]
	Unknown                 []*diam.AVP                 // *[ AVP ]
}

// Command returns CmdAA.
func (m *AAR) Command() Command { return CmdAA }

// IsRequest returns true.
func (m *AAR) IsRequest() bool { return true }

// AppendBinary appends the AAR in wire form; see Message.
func (m *AAR) AppendBinary(b []byte) ([]byte, error) {
	w, at := begin(b)
	w.sessionID(m.SessionID)
	w.appID()
	w.origin(m.OriginHost, m.OriginRealm)
	w.text(base(AVPDestinationRealm), "Destination-Realm", m.DestinationRealm, true)
	w.text(base(AVPDestinationHost), "Destination-Host", m.DestinationHost, false)
	putOptEnum(w, base(AVPAuthSessionState), m.AuthSessionState)
	if m.AFApplicationIdentifier != nil {
		w.raw(tgpp(AVPAFApplicationIdentifier), m.AFApplicationIdentifier)
	}
	for i := range m.MediaComponents {
		m.MediaComponents[i].put(w)
	}
	putOptEnum(w, tgpp(AVPServiceInfoStatus), m.ServiceInfoStatus)
	if m.AFChargingIdentifier != nil {
		w.raw(tgpp(AVPAFChargingIdentifier), m.AFChargingIdentifier)
	}
	putOptEnum(w, tgpp(AVPSIPForkingIndication), m.SIPForkingIndication)
	for _, a := range m.SpecificActions {
		putEnum(w, tgpp(AVPSpecificAction), a)
	}
	for i := range m.SubscriptionIDs {
		m.SubscriptionIDs[i].put(w)
	}
	putFramed(w, m.FramedIPAddress, m.FramedIPv6Prefix)
	w.text(base(AVPCalledStationID), "Called-Station-Id", m.CalledStationID, false)
	if m.ServiceURN != nil {
		w.raw(tgpp(AVPServiceURN), m.ServiceURN)
	}
	putOptEnum(w, tgpp(AVPRxRequestType), m.RxRequestType)
	w.optU32(base(AVPOriginStateID), m.OriginStateID)
	w.tail(nil, m.ProxyInfo, m.RouteRecord, m.Unknown)
	return w.finish(at, CmdAA, true, 0)
}

// putFramed writes Framed-IP-Address (RFC 7155 §4.4.10.5.1: the four address bytes) and
// Framed-IPv6-Prefix (§4.4.10.5.4, RFC 3162 §2.3: reserved byte, prefix length, prefix bytes).
func putFramed(w *writer, v4 netip.Addr, v6 netip.Prefix) {
	if v4.IsValid() {
		if !v4.Is4() {
			w.invalid("Framed-IP-Address %v is not IPv4", v4)
			return
		}
		a := v4.As4()
		w.raw(base(AVPFramedIPAddress), a[:])
	}
	if v6.IsValid() {
		if !v6.Addr().Is6() || v6.Addr().Is4In6() {
			w.invalid("Framed-IPv6-Prefix %v is not IPv6", v6)
			return
		}
		a := v6.Masked().Addr().As16()
		n := (v6.Bits() + 7) / 8
		w.raw(base(AVPFramedIPv6Prefix), append([]byte{0, byte(v6.Bits())}, a[:n]...))
	}
}

func decodeFramedIPv4(r *reader, f field, dst *netip.Addr) {
	if r.single(f) {
		if len(f.data) != 4 {
			r.fail(diameter.InvalidAVPLength, diam.NewAVP(f.code, f.flags, f.vendor, datatype.OctetString(make([]byte, 4))),
				"Framed-IP-Address of %d bytes", len(f.data))
			return
		}
		*dst = netip.AddrFrom4([4]byte(f.data))
	}
}

func decodeFramedIPv6(r *reader, f field, dst *netip.Prefix) {
	if !r.single(f) {
		return
	}
	if len(f.data) < 2 || f.data[1] > 128 || len(f.data)-2 < (int(f.data[1])+7)/8 || len(f.data)-2 > 16 {
		r.fail(diameter.InvalidAVPValue, f.diam(), "Framed-IPv6-Prefix is not a prefix")
		return
	}
	var a [16]byte
	copy(a[:], f.data[2:])
	p, err := netip.AddrFrom16(a).Prefix(int(f.data[1]))
	if err != nil {
		r.fail(diameter.InvalidAVPValue, f.diam(), "Framed-IPv6-Prefix: %v", err)
		return
	}
	*dst = p
}

// Marshal builds the AAR as a go-diameter message with dictionary d.
func (m *AAR) Marshal(d *dict.Parser) (*diam.Message, error) { return marshalDiam(m, d) }

// UnmarshalBinary fills m from one AAR in wire form.
func (m *AAR) UnmarshalBinary(b []byte) error { return unmarshal(m, b) }

// Unmarshal fills m from a go-diameter message.
func (m *AAR) Unmarshal(msg *diam.Message) error { return unmarshalDiam(m, msg) }

func (m *AAR) decode(h header, b []byte) error {
	if err := expect(h, CmdAA, true); err != nil {
		return err
	}
	*m = AAR{}
	c := &common{sessionID: &m.SessionID, originHost: &m.OriginHost, originRealm: &m.OriginRealm,
		destinationHost: &m.DestinationHost, destinationRealm: &m.DestinationRealm, authApplicationID: true,
		originStateID: &m.OriginStateID, proxyInfo: &m.ProxyInfo, routeRecord: &m.RouteRecord}
	r := &reader{request: true}
	r.walk(b, func(f field) {
		if c.visit(r, f) {
			return
		}
		switch f.key() {
		case base(AVPAuthSessionState):
			setOptEnum(r, f, &m.AuthSessionState)
		case tgpp(AVPAFApplicationIdentifier):
			r.setOctets(f, &m.AFApplicationIdentifier)
		case tgpp(AVPMediaComponentDescription):
			r.repeated(f)
			m.MediaComponents = append(m.MediaComponents, decodeMCD(r, f))
		case tgpp(AVPServiceInfoStatus):
			setOptEnum(r, f, &m.ServiceInfoStatus)
		case tgpp(AVPAFChargingIdentifier):
			r.setOctets(f, &m.AFChargingIdentifier)
		case tgpp(AVPSIPForkingIndication):
			setOptEnum(r, f, &m.SIPForkingIndication)
		case tgpp(AVPSpecificAction):
			addEnum(r, f, &m.SpecificActions)
		case base(AVPSubscriptionID):
			r.repeated(f)
			m.SubscriptionIDs = append(m.SubscriptionIDs, decodeSubscriptionID(r, f))
		case base(AVPFramedIPAddress):
			decodeFramedIPv4(r, f, &m.FramedIPAddress)
		case base(AVPFramedIPv6Prefix):
			decodeFramedIPv6(r, f, &m.FramedIPv6Prefix)
		case base(AVPCalledStationID):
			r.setText(f, &m.CalledStationID)
		case tgpp(AVPServiceURN):
			r.setOctets(f, &m.ServiceURN)
		case tgpp(AVPRxRequestType):
			setOptEnum(r, f, &m.RxRequestType)
		default:
			r.unknown(f, &m.Unknown)
		}
	})
	c.check(r, h)
	return r.result("AAR")
}

var _ Message = (*AAR)(nil)
