package fastreg

import (
	"fmt"

	"github.com/fiorix/go-diameter/v4/diam"
	"github.com/fiorix/go-diameter/v4/diam/avp"
	"github.com/fiorix/go-diameter/v4/diam/datatype"
	"github.com/fiorix/go-diameter/v4/diam/dict"
)

// TDR is the Token-Drop-Request, PAA → HSS, sent when the access session ends (PANA termination, RFC 5191
// §4.4) so that the token stops opening one-pass registrations before its lifetime runs out:
//
//	<TDR> ::= < Diameter Header: 16777215, REQ, PXY, 4294967294 >
//	          < Session-Id > { Vendor-Specific-Application-Id } { Auth-Session-State }
//	          { Origin-Host } { Origin-Realm } { Destination-Realm } [ Destination-Host ]
//	          { User-Name } *[ AVP ]
type TDR struct {
	common
	DestinationRealm string
	DestinationHost  string
	UserName         string
}

// Marshal builds the request as a go-diameter message with dictionary d (NewDictionary).
func (r *TDR) Marshal(d *dict.Parser) (*diam.Message, error) {
	if r.DestinationRealm == "" || r.UserName == "" {
		return nil, fmt.Errorf("%w: TDR: Destination-Realm and User-Name are required", ErrInvalidField)
	}
	m, err := newMessage(CmdTokenDrop, true, d, r.common)
	if err != nil {
		return nil, err
	}
	m.NewAVP(avp.DestinationRealm, avp.Mbit, 0, datatype.DiameterIdentity(r.DestinationRealm))
	if r.DestinationHost != "" {
		m.NewAVP(avp.DestinationHost, avp.Mbit, 0, datatype.DiameterIdentity(r.DestinationHost))
	}
	m.NewAVP(avp.UserName, avp.Mbit, 0, datatype.UTF8String(r.UserName))
	return m, nil
}

// MarshalBinary is Marshal in wire form (identifiers 0, for the peer layer to set).
func (r *TDR) MarshalBinary(d *dict.Parser) ([]byte, error) { return serialize(r.Marshal(d)) }

// Unmarshal fills r from a go-diameter message.
func (r *TDR) Unmarshal(m *diam.Message) error {
	b, err := m.Serialize()
	if err != nil {
		return fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	return r.UnmarshalBinary(b)
}

// UnmarshalBinary fills r from a TDR in wire form; errors as TPR.UnmarshalBinary.
func (r *TDR) UnmarshalBinary(b []byte) error {
	const cmd = "TDR"
	h, body, err := splitMessage(b)
	if err != nil {
		return err
	}
	if h.code != CmdTokenDrop || h.app != AppID || h.flags&flagRequest == 0 {
		return fmt.Errorf("%w: command %d application %d flags %#x is no TDR", ErrMalformed, h.code, h.app, h.flags)
	}
	*r = TDR{}
	var sawVSAI bool
	err = walk(body, func(f field) error {
		if ok, err := r.visit(cmd, f, &sawVSAI); ok || err != nil {
			return err
		}
		switch {
		case f.vendor == 0 && f.code == avpDestinationRealm:
			return text(cmd, f, &r.DestinationRealm)
		case f.vendor == 0 && f.code == avpDestinationHost:
			return text(cmd, f, &r.DestinationHost)
		case f.vendor == 0 && f.code == avpUserName:
			return text(cmd, f, &r.UserName)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if err := r.required(cmd, sawVSAI); err != nil {
		return err
	}
	switch {
	case r.DestinationRealm == "":
		return missing(cmd, "Destination-Realm", avpDestinationRealm, 0)
	case r.UserName == "":
		return missing(cmd, "User-Name", avpUserName, 0)
	}
	return nil
}
