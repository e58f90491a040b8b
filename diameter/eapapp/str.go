package eapapp

import (
	"github.com/fiorix/go-diameter/v4/diam"
	"github.com/fiorix/go-diameter/v4/diam/dict"
)

// STR is the Session-Termination-Request (RFC 6733 §8.4.1) the NAS sends when the access session of a
// successful DER/DEA exchange ends: the EAP server then forgets what it granted for the session.
type STR struct {
	SessionID        string // < Session-Id >
	OriginHost       string // { Origin-Host }
	OriginRealm      string // { Origin-Realm }
	DestinationRealm string // { Destination-Realm }
	TerminationCause uint32 // { Termination-Cause }
	UserName         string // [ User-Name ]
}

// Marshal builds the STR with dictionary d.
func (r *STR) Marshal(d *dict.Parser) (*diam.Message, error) {
	m, err := newMessage(CmdSessionTermination, true, d)
	if err != nil {
		return nil, err
	}
	b := builder{m}
	b.head(r.SessionID, r.OriginHost, r.OriginRealm)
	b.ident(AVPDestinationRealm, r.DestinationRealm)
	b.u32(AVPTerminationCause, r.TerminationCause)
	b.text(AVPUserName, r.UserName, false)
	return m, nil
}

// Unmarshal fills r from an STR.
func (r *STR) Unmarshal(m *diam.Message) (err error) {
	defer func() { err = wrap(err) }()
	if err := checkHeader(m, CmdSessionTermination, true); err != nil {
		return err
	}
	*r = STR{}
	var unknown []*diam.AVP
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
		case AVPTerminationCause:
			r.TerminationCause = u32(a)
		case AVPUserName:
			r.UserName = str(a)
		default:
			return false
		}
		return true
	}, &unknown)
	return f.need("STR", sessionIDAVP, originHostAVP, originRealmAVP, named{AVPTerminationCause, "Termination-Cause"})
}

// STA is the Session-Termination-Answer (RFC 6733 §8.4.2).
type STA struct {
	SessionID   string
	ResultCode  uint32
	OriginHost  string
	OriginRealm string
}

// Marshal builds the STA with dictionary d.
func (a *STA) Marshal(d *dict.Parser) (*diam.Message, error) {
	m, err := newMessage(CmdSessionTermination, false, d)
	if err != nil {
		return nil, err
	}
	b := builder{m}
	b.head(a.SessionID, a.OriginHost, a.OriginRealm)
	b.u32(AVPResultCode, a.ResultCode)
	return m, nil
}

// Unmarshal fills a from an STA.
func (a *STA) Unmarshal(m *diam.Message) (err error) {
	defer func() { err = wrap(err) }()
	if err := checkHeader(m, CmdSessionTermination, false); err != nil {
		return err
	}
	*a = STA{}
	var unknown []*diam.AVP
	f := walk(m, func(v *diam.AVP) bool {
		switch v.Code {
		case AVPSessionID:
			a.SessionID = str(v)
		case AVPResultCode:
			a.ResultCode = u32(v)
		case AVPOriginHost:
			a.OriginHost = str(v)
		case AVPOriginRealm:
			a.OriginRealm = str(v)
		default:
			return false
		}
		return true
	}, &unknown)
	return f.need("STA", resultCodeAVP)
}
