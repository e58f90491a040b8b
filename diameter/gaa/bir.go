package gaa

// BIR is the Zn Bootstrapping-Info-Request, NAF → BSF (TS 29.109 §6.1.3, Command-Code 310):
//
//	< Bootstrapping-Info-Request > ::= < Diameter Header: 310, REQ, PXY, 16777220 >
//	    < Session-Id > { Vendor-Specific-Application-Id } { Origin-Host } { Origin-Realm }
//	    { Destination-Realm } [ Destination-Host ] { Transaction-Identifier } { NAF-Id }
//	    [ GAA-Service-Identifier ] [ GBA_U-Awareness-Indicator ] *[ AVP ]
//
// (Auth-Session-State is written as in every GAA message: NO_STATE_MAINTAINED.)
type BIR struct {
	Header           Header
	SessionID        string
	OriginHost       string
	OriginRealm      string
	DestinationRealm string
	DestinationHost  string
	TransactionID    string // the B-TID the UE presented (TS 33.220 §4.5.3)
	NAFID            []byte // NAF_Id = NAF FQDN ‖ Ua security protocol identifier (TS 33.220 §4.5.2, Annex H)
	Unknown          [][]byte
}

// AppendBinary appends the request's wire form to b.
func (m *BIR) AppendBinary(b []byte) ([]byte, error) {
	w := &writer{buf: b}
	w.header(m.Header, AppZn, CmdBootstrappingInfo, true)
	w.head(AppZn, m.SessionID, m.OriginHost, m.OriginRealm)
	w.text(avpKey{AVPDestinationRealm, 0}, "Destination-Realm", m.DestinationRealm, true)
	w.text(avpKey{AVPDestinationHost, 0}, "Destination-Host", m.DestinationHost, false)
	w.text(avpKey{AVPTransactionIdentifier, Vendor3GPP}, "Transaction-Identifier", m.TransactionID, true)
	if len(m.NAFID) == 0 {
		w.invalid("NAF-Id is empty")
	}
	w.octets(avpKey{AVPNAFID, Vendor3GPP}, m.NAFID)
	w.raw(m.Unknown)
	return w.finish(len(b))
}

// UnmarshalBinary decodes a BIR frame.
func (m *BIR) UnmarshalBinary(b []byte) error {
	*m = BIR{}
	avps, err := body(b, &m.Header, AppZn, CmdBootstrappingInfo, true)
	if err != nil {
		return err
	}
	r := &reader{request: true}
	r.walk(avps, func(f field) {
		if r.common(f, &m.SessionID, &m.OriginHost, &m.OriginRealm) {
			return
		}
		switch f.key() {
		case avpKey{AVPDestinationRealm, 0}:
			if r.once(f) {
				r.text(f, &m.DestinationRealm)
			}
		case avpKey{AVPDestinationHost, 0}:
			if r.once(f) {
				r.text(f, &m.DestinationHost)
			}
		case avpKey{AVPTransactionIdentifier, Vendor3GPP}:
			if r.once(f) {
				r.text(f, &m.TransactionID)
			}
		case avpKey{AVPNAFID, Vendor3GPP}:
			if r.once(f) {
				m.NAFID = append([]byte(nil), f.data...)
			}
		default:
			r.unknown(f, &m.Unknown)
		}
	})
	r.missing(m.SessionID != "", "Session-Id")
	r.missing(m.OriginHost != "", "Origin-Host")
	r.missing(m.OriginRealm != "", "Origin-Realm")
	r.missing(m.DestinationRealm != "", "Destination-Realm")
	r.missing(m.TransactionID != "", "Transaction-Identifier")
	r.missing(len(m.NAFID) > 0, "NAF-Id")
	return r.done()
}
