package fastreg

import (
	"errors"
	"fmt"

	"github.com/fiorix/go-diameter/v4/diam"
	"github.com/fiorix/go-diameter/v4/diam/avp"
	"github.com/fiorix/go-diameter/v4/diam/datatype"
	"github.com/fiorix/go-diameter/v4/diam/dict"

	"github.com/imscore/imscore/diameter"
)

// Answer is the Token-Push-Answer (TPA) or Token-Drop-Answer (TDA), told apart by Command:
//
//	<TPA|TDA> ::= < Diameter Header: 16777214|16777215, PXY, 4294967294 >
//	              < Session-Id > { Vendor-Specific-Application-Id } [ Result-Code ] { Auth-Session-State }
//	              { Origin-Host } { Origin-Realm } [ User-Name ] [ Error-Message ] [ Failed-AVP ] *[ AVP ]
type Answer struct {
	common
	Command      Command
	ResultCode   diameter.ResultCode
	UserName     string
	ErrorMessage string
}

// NewAnswer starts the answer to a request of cmd with session id and user name as in the request.
func NewAnswer(cmd Command, sessionID, userName string) *Answer {
	return &Answer{common: common{SessionID: sessionID}, Command: cmd, UserName: userName}
}

// SetOrigin sets the answering node's identity.
func (a *Answer) SetOrigin(host, realm string) { a.OriginHost, a.OriginRealm = host, realm }

// SetError sets the outcome from err: a *diameter.Error's code, DIAMETER_UNABLE_TO_COMPLY otherwise
// (RFC 6733 §7.1.5), nil DIAMETER_SUCCESS.
func (a *Answer) SetError(err error) {
	var de *diameter.Error
	switch {
	case err == nil:
		a.ResultCode, a.ErrorMessage = diameter.Success, ""
	case errors.As(err, &de):
		a.ResultCode, a.ErrorMessage = de.Code, ""
	default:
		a.ResultCode, a.ErrorMessage = diameter.UnableToComply, ""
	}
}

// Marshal builds the answer as a go-diameter message with dictionary d.
func (a *Answer) Marshal(d *dict.Parser) (*diam.Message, error) {
	if a.Command != CmdTokenPush && a.Command != CmdTokenDrop {
		return nil, fmt.Errorf("%w: answer to command %d", ErrInvalidField, a.Command)
	}
	m, err := newMessage(a.Command, false, d, a.common)
	if err != nil {
		return nil, err
	}
	if a.ResultCode != 0 {
		m.NewAVP(avp.ResultCode, avp.Mbit, 0, datatype.Unsigned32(a.ResultCode))
		if a.ResultCode >= 3000 && a.ResultCode < 4000 {
			m.Header.CommandFlags |= flagError // RFC 6733 §7.1.3: protocol errors set the 'E' bit
		}
	}
	if a.UserName != "" {
		m.NewAVP(avp.UserName, avp.Mbit, 0, datatype.UTF8String(a.UserName))
	}
	if a.ErrorMessage != "" {
		m.NewAVP(avp.ErrorMessage, 0, 0, datatype.UTF8String(a.ErrorMessage))
	}
	return m, nil
}

// MarshalBinary is Marshal in wire form.
func (a *Answer) MarshalBinary(d *dict.Parser) ([]byte, error) { return serialize(a.Marshal(d)) }

// Unmarshal fills a from a go-diameter message.
func (a *Answer) Unmarshal(m *diam.Message) error { return unmarshalDiam(m, a.UnmarshalBinary) }

// UnmarshalBinary fills a from a TPA or TDA in wire form. An answer that carries no Result-Code (a peer
// layer error answer may lack the VSAI) is still decoded; Result then reports it.
func (a *Answer) UnmarshalBinary(b []byte) error {
	const cmd = "answer"
	h, body, err := splitMessage(b)
	if err != nil {
		return err
	}
	if (h.code != CmdTokenPush && h.code != CmdTokenDrop) || h.flags&flagRequest != 0 {
		return fmt.Errorf("%w: command %d flags %#x is no token answer", ErrMalformed, h.code, h.flags)
	}
	*a = Answer{Command: h.code}
	var sawVSAI bool
	err = walk(body, func(f field) error {
		if ok, err := a.visit(cmd, f, &sawVSAI); ok || err != nil {
			return err
		}
		switch {
		case f.vendor == 0 && f.code == avpResultCode:
			var v uint32
			err := u32(cmd, f, &v)
			a.ResultCode = diameter.ResultCode(v)
			return err
		case f.vendor == 0 && f.code == avpUserName:
			return text(cmd, f, &a.UserName)
		case f.vendor == 0 && f.code == avpErrorMessage:
			return text(cmd, f, &a.ErrorMessage)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if a.SessionID == "" {
		return missing(cmd, "Session-Id", avpSessionID, 0)
	}
	return nil
}

// Err is the answer's outcome as an error: nil for DIAMETER_SUCCESS, a *diameter.Error otherwise.
func (a *Answer) Err() error {
	switch {
	case a.ResultCode == 0:
		return diameter.Errorf(diameter.MissingAVP, "%s answer without Result-Code", a.Command)
	case a.ResultCode.IsSuccess():
		return nil
	}
	return diameter.Errorf(a.ResultCode, "%s answer %d %s", a.Command, a.ResultCode, a.ErrorMessage)
}
