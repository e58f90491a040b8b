package eapapp

import (
	"time"

	"github.com/fiorix/go-diameter/v4/diam"
	"github.com/fiorix/go-diameter/v4/diam/avp"
	"github.com/fiorix/go-diameter/v4/diam/dict"
)

// DEA is the Diameter-EAP-Answer, RFC 4072 §3.2 (Command-Code 268, 'P' set): the next EAP request with
// DIAMETER_MULTI_ROUND_AUTH, or EAP-Success with DIAMETER_SUCCESS and the MSK, or EAP-Failure with
// DIAMETER_AUTHENTICATION_REJECTED.
type DEA struct {
	SessionID          string        // < Session-Id >
	ResultCode         uint32        // { Result-Code }
	OriginHost         string        // { Origin-Host }
	OriginRealm        string        // { Origin-Realm }
	UserName           string        // [ User-Name ]: the authenticated identity (RFC 4072 §2.4)
	EAPPayload         []byte        // [ EAP-Payload ]
	EAPMasterSessionKy []byte        // [ EAP-Master-Session-Key ]: the MSK, with success only (RFC 4072 §4.1.3)
	MultiRoundTimeOut  uint32        // [ Multi-Round-Time-Out ] seconds, with 1001
	SessionTimeout     time.Duration // [ Session-Timeout ] seconds: how long the access may last
	ErrorMessage       string        // [ Error-Message ]
	State              []byte        // [ State ]
	Unknown            []*diam.AVP   // *[ AVP ]
}

// NewDEA starts the answer to req.
func NewDEA(req *DER, originHost, originRealm string) *DEA {
	return &DEA{SessionID: req.SessionID, OriginHost: originHost, OriginRealm: originRealm}
}

// Marshal builds the DEA with dictionary d.
func (a *DEA) Marshal(d *dict.Parser) (*diam.Message, error) {
	m, err := newMessage(CmdDiameterEAP, false, d)
	if err != nil {
		return nil, err
	}
	b := builder{m}
	b.head(a.SessionID, a.OriginHost, a.OriginRealm)
	b.u32(AVPAuthRequestType, AuthorizeAuthenticate)
	b.u32(AVPResultCode, a.ResultCode)
	b.text(AVPUserName, a.UserName, false)
	b.octets(AVPEAPPayload, avp.Mbit, a.EAPPayload)
	b.octets(AVPEAPMasterSessionKey, 0, a.EAPMasterSessionKy) // RFC 4072 §6: M must not be set
	if a.MultiRoundTimeOut > 0 {
		b.u32(AVPMultiRoundTimeOut, a.MultiRoundTimeOut)
	}
	b.text(AVPErrorMessage, a.ErrorMessage, false)
	if a.SessionTimeout > 0 {
		b.u32(AVPSessionTimeout, uint32(a.SessionTimeout/time.Second))
	}
	b.octets(AVPState, avp.Mbit, a.State)
	b.extra(a.Unknown)
	return m, nil
}

// Unmarshal fills a from a DEA.
func (a *DEA) Unmarshal(m *diam.Message) (err error) {
	defer func() { err = wrap(err) }()
	if err := checkHeader(m, CmdDiameterEAP, false); err != nil {
		return err
	}
	*a = DEA{}
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
		case AVPUserName:
			a.UserName = str(v)
		case AVPEAPPayload:
			a.EAPPayload = octets(v)
		case AVPEAPMasterSessionKey:
			a.EAPMasterSessionKy = octets(v)
		case AVPMultiRoundTimeOut:
			a.MultiRoundTimeOut = u32(v)
		case AVPSessionTimeout:
			a.SessionTimeout = time.Duration(u32(v)) * time.Second
		case AVPErrorMessage:
			a.ErrorMessage = str(v)
		case AVPState:
			a.State = octets(v)
		case AVPAuthApplicationID, AVPAuthRequestType:
		default:
			return false
		}
		return true
	}, &a.Unknown)
	return f.need("DEA", sessionIDAVP, resultCodeAVP, originHostAVP, originRealmAVP)
}
