package gaa

import "github.com/imscore/imscore/diameter"

// AuthDataItem is the SIP-Auth-Data-Item of Zh (TS 29.109 §6.1.1, §6.1.2; TS 29.229 §6.3.13): in a MAR
// only SIP-Authorization (RAND ‖ AUTS) for a resynchronisation, in a MAA the AKA vector.
type AuthDataItem struct {
	Scheme        string // SIP-Authentication-Scheme, "Digest-AKAv1-MD5"
	Authenticate  []byte // RAND ‖ AUTN (TS 29.229 §6.3.10)
	Authorization []byte // XRES, or RAND ‖ AUTS in a resync request (§6.3.11)
	CK, IK        []byte // Confidentiality-Key, Integrity-Key (§6.3.27, §6.3.28)
}

func (w *writer) authItem(it *AuthDataItem) {
	if it == nil {
		return
	}
	w.group(avpKey{AVPSIPAuthDataItem, Vendor3GPP}, func() {
		w.text(avpKey{AVPSIPAuthenticationScheme, Vendor3GPP}, "SIP-Authentication-Scheme", it.Scheme, false)
		w.octets(avpKey{AVPSIPAuthenticate, Vendor3GPP}, it.Authenticate)
		w.octets(avpKey{AVPSIPAuthorization, Vendor3GPP}, it.Authorization)
		w.octets(avpKey{AVPConfidentialityKey, Vendor3GPP}, it.CK)
		w.octets(avpKey{AVPIntegrityKey, Vendor3GPP}, it.IK)
	})
}

func (r *reader) authItem(f field) *AuthDataItem {
	if r.depth++; r.depth > maxDepth {
		r.fail(diameter.InvalidAVPValue, "grouped AVPs nested too deep")
	}
	defer func() { r.depth-- }()
	it := new(AuthDataItem)
	r.walk(f.data, func(g field) {
		cp := func() []byte { return append([]byte(nil), g.data...) }
		switch g.key() {
		case avpKey{AVPSIPAuthenticationScheme, Vendor3GPP}:
			r.text(g, &it.Scheme)
		case avpKey{AVPSIPAuthenticate, Vendor3GPP}:
			it.Authenticate = cp()
		case avpKey{AVPSIPAuthorization, Vendor3GPP}:
			it.Authorization = cp()
		case avpKey{AVPConfidentialityKey, Vendor3GPP}:
			it.CK = cp()
		case avpKey{AVPIntegrityKey, Vendor3GPP}:
			it.IK = cp()
		}
	})
	return it
}

// MAR is the Zh Multimedia-Auth-Request, BSF → HSS (TS 29.109 §6.1.1, Command-Code 303, 'R' and 'P' set):
//
//	< Multimedia-Auth-Request > ::= < Diameter Header: 303, REQ, PXY, 16777221 >
//	    < Session-Id > { Vendor-Specific-Application-Id } { Auth-Session-State } { Origin-Host }
//	    { Origin-Realm } { Destination-Realm } [ Destination-Host ] { User-Name } [ Public-Identity ]
//	    [ SIP-Auth-Data-Item ] [ SIP-Number-Auth-Items ] [ Server-Name ] [ GUSS-Timestamp ] *[ AVP ]
type MAR struct {
	Header           Header
	SessionID        string
	OriginHost       string
	OriginRealm      string
	DestinationRealm string
	DestinationHost  string
	UserName         string        // the IMPI the UE sent on Ub (TS 29.109 §6.1.1)
	PublicIdentity   string        // optional
	AuthDataItem     *AuthDataItem // resynchronisation: SIP-Authorization = RAND ‖ AUTS (TS 33.220 §4.5.2)
	NumberAuthItems  *uint32
	ServerName       string // the BSF's name (optional)
	Unknown          [][]byte
}

// AppendBinary appends the request's wire form to b.
func (m *MAR) AppendBinary(b []byte) ([]byte, error) {
	w := &writer{buf: b}
	w.header(m.Header, AppZh, CmdMultimediaAuth, true)
	w.head(AppZh, m.SessionID, m.OriginHost, m.OriginRealm)
	w.text(avpKey{AVPDestinationRealm, 0}, "Destination-Realm", m.DestinationRealm, true)
	w.text(avpKey{AVPDestinationHost, 0}, "Destination-Host", m.DestinationHost, false)
	w.text(avpKey{AVPUserName, 0}, "User-Name", m.UserName, true)
	w.text(avpKey{AVPPublicIdentity, Vendor3GPP}, "Public-Identity", m.PublicIdentity, false)
	w.authItem(m.AuthDataItem)
	w.optU32(avpKey{AVPSIPNumberAuthItems, Vendor3GPP}, m.NumberAuthItems)
	w.text(avpKey{AVPServerName, Vendor3GPP}, "Server-Name", m.ServerName, false)
	w.raw(m.Unknown)
	return w.finish(len(b))
}

// UnmarshalBinary decodes a MAR frame. A missing required AVP is DIAMETER_MISSING_AVP.
func (m *MAR) UnmarshalBinary(b []byte) error {
	*m = MAR{}
	avps, err := body(b, &m.Header, AppZh, CmdMultimediaAuth, true)
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
		case avpKey{AVPUserName, 0}:
			if r.once(f) {
				r.text(f, &m.UserName)
			}
		case avpKey{AVPPublicIdentity, Vendor3GPP}:
			if r.once(f) {
				r.text(f, &m.PublicIdentity)
			}
		case avpKey{AVPSIPAuthDataItem, Vendor3GPP}:
			if r.once(f) {
				m.AuthDataItem = r.authItem(f)
			}
		case avpKey{AVPSIPNumberAuthItems, Vendor3GPP}:
			if v, ok := r.u32(f); ok && r.once(f) {
				m.NumberAuthItems = &v
			}
		case avpKey{AVPServerName, Vendor3GPP}:
			if r.once(f) {
				r.text(f, &m.ServerName)
			}
		default:
			r.unknown(f, &m.Unknown)
		}
	})
	r.missing(m.SessionID != "", "Session-Id")
	r.missing(m.OriginHost != "", "Origin-Host")
	r.missing(m.OriginRealm != "", "Origin-Realm")
	r.missing(m.DestinationRealm != "", "Destination-Realm")
	r.missing(m.UserName != "", "User-Name")
	return r.done()
}
