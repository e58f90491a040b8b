package gaa

import "time"

// BIA is the Zn Bootstrapping-Info-Answer, BSF → NAF (TS 29.109 §6.1.4):
//
//	< Bootstrapping-Info-Answer > ::= < Diameter Header: 310, PXY, 16777220 >
//	    < Session-Id > { Vendor-Specific-Application-Id } [ Result-Code ] [ Experimental-Result ]
//	    { Origin-Host } { Origin-Realm } [ User-Name ] [ ME-Key-Material ] [ UICC-Key-Material ]
//	    [ Key-ExpiryTime ] [ BootstrapInfoCreationTime ] [ GBA-UserSecSettings ] [ GBA-Type ] *[ AVP ]
type BIA struct {
	Header      Header
	SessionID   string
	Result      Result
	OriginHost  string
	OriginRealm string
	UserName    string    // the IMPI (TS 29.109 §6.1.4)
	MEKey       []byte    // ME-Key-Material: Ks_NAF (GBA_ME, TS 33.220 §4.5.3)
	Expiry      time.Time // Key-ExpiryTime: the end of the bootstrapping session's key lifetime
	CreatedAt   time.Time // BootstrapInfoCreationTime
	GUSS        []byte    // GBA-UserSecSettings: the user's security settings, the identities the NAF may assert
	GBAType     *uint32
	Unknown     [][]byte
}

// NewBIA starts the answer to req.
func NewBIA(req *BIR) *BIA {
	return &BIA{Header: Header{HopByHop: req.Header.HopByHop, EndToEnd: req.Header.EndToEnd, Flags: flagProxiable},
		SessionID: req.SessionID}
}

// AppendBinary appends the answer's wire form to b.
func (m *BIA) AppendBinary(b []byte) ([]byte, error) {
	w := &writer{buf: b}
	h := m.Header
	if m.Result.Vendor == 0 && m.Result.Code >= 3000 && m.Result.Code < 4000 {
		h.Flags |= flagError
	}
	w.header(h, AppZn, CmdBootstrappingInfo, false)
	w.text(avpKey{AVPSessionID, 0}, "Session-Id", m.SessionID, true)
	w.group(avpKey{AVPVendorSpecificApplicationID, 0}, func() {
		w.u32(avpKey{AVPVendorID, 0}, Vendor3GPP)
		w.u32(avpKey{AVPAuthApplicationID, 0}, AppZn)
	})
	w.result(m.Result)
	w.u32(avpKey{AVPAuthSessionState, 0}, NoStateMaintained)
	w.text(avpKey{AVPOriginHost, 0}, "Origin-Host", m.OriginHost, true)
	w.text(avpKey{AVPOriginRealm, 0}, "Origin-Realm", m.OriginRealm, true)
	w.text(avpKey{AVPUserName, 0}, "User-Name", m.UserName, false)
	w.octets(avpKey{AVPMEKeyMaterial, Vendor3GPP}, m.MEKey)
	w.time(avpKey{AVPKeyExpiryTime, Vendor3GPP}, m.Expiry)
	w.time(avpKey{AVPBootstrapInfoCreationTime, Vendor3GPP}, m.CreatedAt)
	w.octets(avpKey{AVPGBAUserSecSettings, Vendor3GPP}, m.GUSS)
	w.optU32(avpKey{AVPGBAType, Vendor3GPP}, m.GBAType)
	w.raw(m.Unknown)
	return w.finish(len(b))
}

// UnmarshalBinary decodes a BIA frame.
func (m *BIA) UnmarshalBinary(b []byte) error {
	*m = BIA{}
	avps, err := body(b, &m.Header, AppZn, CmdBootstrappingInfo, false)
	if err != nil {
		return err
	}
	r := &reader{}
	r.walk(avps, func(f field) {
		if r.common(f, &m.SessionID, &m.OriginHost, &m.OriginRealm) || r.result(f, &m.Result) {
			return
		}
		switch f.key() {
		case avpKey{AVPUserName, 0}:
			if r.once(f) {
				r.text(f, &m.UserName)
			}
		case avpKey{AVPMEKeyMaterial, Vendor3GPP}:
			if r.once(f) {
				m.MEKey = append([]byte(nil), f.data...)
			}
		case avpKey{AVPKeyExpiryTime, Vendor3GPP}:
			if r.once(f) {
				m.Expiry = r.time(f)
			}
		case avpKey{AVPBootstrapInfoCreationTime, Vendor3GPP}:
			if r.once(f) {
				m.CreatedAt = r.time(f)
			}
		case avpKey{AVPGBAUserSecSettings, Vendor3GPP}:
			if r.once(f) {
				m.GUSS = append([]byte(nil), f.data...)
			}
		case avpKey{AVPGBAType, Vendor3GPP}:
			if v, ok := r.u32(f); ok && r.once(f) {
				m.GBAType = &v
			}
		default:
			r.unknown(f, &m.Unknown)
		}
	})
	r.missing(m.SessionID != "", "Session-Id")
	r.missing(m.Result.Code != 0, "Result-Code")
	return r.done()
}
