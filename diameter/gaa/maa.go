package gaa

// MAA is the Zh Multimedia-Auth-Answer, HSS → BSF (TS 29.109 §6.1.2):
//
//	< Multimedia-Auth-Answer > ::= < Diameter Header: 303, PXY, 16777221 >
//	    < Session-Id > { Vendor-Specific-Application-Id } [ Result-Code ] [ Experimental-Result ]
//	    { Auth-Session-State } { Origin-Host } { Origin-Realm } [ User-Name ] [ Public-Identity ]
//	    [ SIP-Number-Auth-Items ] [ SIP-Auth-Data-Item ] [ GBA-UserSecSettings ] *[ AVP ]
type MAA struct {
	Header          Header
	SessionID       string
	Result          Result
	OriginHost      string
	OriginRealm     string
	UserName        string
	PublicIdentity  string
	NumberAuthItems *uint32
	AuthDataItem    *AuthDataItem
	// GUSS is the GBA User Security Settings document (TS 29.109 Annex A, GBA-UserSecSettings §6.3.1.1).
	GUSS    []byte
	Unknown [][]byte
}

// NewMAA starts the answer to req: its Session-Id and identifiers (RFC 6733 §6.2).
func NewMAA(req *MAR) *MAA {
	return &MAA{Header: Header{HopByHop: req.Header.HopByHop, EndToEnd: req.Header.EndToEnd, Flags: flagProxiable},
		SessionID: req.SessionID}
}

// AppendBinary appends the answer's wire form to b.
func (m *MAA) AppendBinary(b []byte) ([]byte, error) {
	w := &writer{buf: b}
	h := m.Header
	if !m.Result.Success() && m.Result.Vendor == 0 && m.Result.Code >= 3000 && m.Result.Code < 4000 {
		h.Flags |= flagError
	}
	w.header(h, AppZh, CmdMultimediaAuth, false)
	w.text(avpKey{AVPSessionID, 0}, "Session-Id", m.SessionID, true)
	w.group(avpKey{AVPVendorSpecificApplicationID, 0}, func() {
		w.u32(avpKey{AVPVendorID, 0}, Vendor3GPP)
		w.u32(avpKey{AVPAuthApplicationID, 0}, AppZh)
	})
	w.result(m.Result)
	w.u32(avpKey{AVPAuthSessionState, 0}, NoStateMaintained)
	w.text(avpKey{AVPOriginHost, 0}, "Origin-Host", m.OriginHost, true)
	w.text(avpKey{AVPOriginRealm, 0}, "Origin-Realm", m.OriginRealm, true)
	w.text(avpKey{AVPUserName, 0}, "User-Name", m.UserName, false)
	w.text(avpKey{AVPPublicIdentity, Vendor3GPP}, "Public-Identity", m.PublicIdentity, false)
	w.optU32(avpKey{AVPSIPNumberAuthItems, Vendor3GPP}, m.NumberAuthItems)
	w.authItem(m.AuthDataItem)
	w.octets(avpKey{AVPGBAUserSecSettings, Vendor3GPP}, m.GUSS)
	w.raw(m.Unknown)
	return w.finish(len(b))
}

// UnmarshalBinary decodes a MAA frame.
func (m *MAA) UnmarshalBinary(b []byte) error {
	*m = MAA{}
	avps, err := body(b, &m.Header, AppZh, CmdMultimediaAuth, false)
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
		case avpKey{AVPPublicIdentity, Vendor3GPP}:
			if r.once(f) {
				r.text(f, &m.PublicIdentity)
			}
		case avpKey{AVPSIPNumberAuthItems, Vendor3GPP}:
			if v, ok := r.u32(f); ok && r.once(f) {
				m.NumberAuthItems = &v
			}
		case avpKey{AVPSIPAuthDataItem, Vendor3GPP}:
			if m.AuthDataItem == nil { // the BSF uses one vector per bootstrapping; more are kept raw
				m.AuthDataItem = r.authItem(f)
			} else {
				r.unknown(f, &m.Unknown)
			}
		case avpKey{AVPGBAUserSecSettings, Vendor3GPP}:
			if r.once(f) {
				m.GUSS = append([]byte(nil), f.data...)
			}
		default:
			r.unknown(f, &m.Unknown)
		}
	})
	r.missing(m.SessionID != "", "Session-Id")
	r.missing(m.Result.Code != 0, "Result-Code")
	return r.done()
}
