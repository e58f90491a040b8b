package eapapp

import (
	"github.com/fiorix/go-diameter/v4/diam"
	"github.com/fiorix/go-diameter/v4/diam/avp"
	"github.com/fiorix/go-diameter/v4/diam/dict"
)

// DER is the Diameter-EAP-Request, RFC 4072 §3.1 (Command-Code 268, 'R' and 'P' set): the NAS passes the
// peer's EAP response to the EAP server.
type DER struct {
	SessionID        string      // < Session-Id >
	OriginHost       string      // { Origin-Host }
	OriginRealm      string      // { Origin-Realm }
	DestinationRealm string      // { Destination-Realm }
	DestinationHost  string      // [ Destination-Host ]
	UserName         string      // [ User-Name ]: the EAP identity, once known
	EAPPayload       []byte      // { EAP-Payload }
	State            []byte      // [ State ]: echoed from the previous DEA
	Unknown          []*diam.AVP // *[ AVP ]
}

// Marshal builds the DER with dictionary d; Auth-Application-Id is 5 and Auth-Request-Type
// AUTHORIZE_AUTHENTICATE (RFC 4072 §3.1).
func (r *DER) Marshal(d *dict.Parser) (*diam.Message, error) {
	m, err := newMessage(CmdDiameterEAP, true, d)
	if err != nil {
		return nil, err
	}
	b := builder{m}
	b.head(r.SessionID, r.OriginHost, r.OriginRealm)
	b.ident(AVPDestinationRealm, r.DestinationRealm)
	b.u32(AVPAuthRequestType, AuthorizeAuthenticate)
	b.ident(AVPDestinationHost, r.DestinationHost)
	b.text(AVPUserName, r.UserName, false)
	b.octets(AVPEAPPayload, avp.Mbit, r.EAPPayload)
	b.octets(AVPState, avp.Mbit, r.State)
	b.extra(r.Unknown)
	return m, nil
}

// Unmarshal fills r from a DER; a missing required AVP is a *diameter.Error with DIAMETER_MISSING_AVP.
func (r *DER) Unmarshal(m *diam.Message) (err error) {
	defer func() { err = wrap(err) }()
	if err := checkHeader(m, CmdDiameterEAP, true); err != nil {
		return err
	}
	*r = DER{}
	f := walk(m, func(a *diam.AVP) bool {
		switch a.Code {
		case AVPSessionID:
			r.SessionID = str(a)
		case AVPOriginHost:
			r.OriginHost = str(a)
		case AVPOriginRealm:
			r.OriginRealm = str(a)
		case AVPDestinationRealm:
			r.DestinationRealm = str(a)
		case AVPDestinationHost:
			r.DestinationHost = str(a)
		case AVPUserName:
			r.UserName = str(a)
		case AVPEAPPayload:
			r.EAPPayload = octets(a)
		case AVPState:
			r.State = octets(a)
		case AVPAuthApplicationID, AVPAuthRequestType:
		default:
			return false
		}
		return true
	}, &r.Unknown)
	return f.need("DER", sessionIDAVP, originHostAVP, originRealmAVP, destRealmAVP,
		named{AVPAuthApplicationID, "Auth-Application-Id"}, named{AVPAuthRequestType, "Auth-Request-Type"},
		named{AVPEAPPayload, "EAP-Payload"})
}
