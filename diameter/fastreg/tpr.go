package fastreg

import (
	"fmt"
	"time"

	"github.com/fiorix/go-diameter/v4/diam"
	"github.com/fiorix/go-diameter/v4/diam/avp"
	"github.com/fiorix/go-diameter/v4/diam/datatype"
	"github.com/fiorix/go-diameter/v4/diam/dict"
)

// TPR is the Token-Push-Request, PAA → HSS (docs/fastreg.md):
//
//	<TPR> ::= < Diameter Header: 16777214, REQ, PXY, 4294967294 >
//	          < Session-Id > { Vendor-Specific-Application-Id } { Auth-Session-State }
//	          { Origin-Host } { Origin-Realm } { Destination-Realm } [ Destination-Host ]
//	          { User-Name } { Token } { Token-Lifetime } *[ AVP ]
type TPR struct {
	common
	DestinationRealm string
	DestinationHost  string
	UserName         string // the IMPI the access authentication named
	Token            []byte // the exporter output (MinTokenLength..MaxTokenLength bytes)
	Lifetime         uint32 // seconds from receipt; 0 is refused (a token that is already expired)
}

// Expiry is when a token received at now stops being valid.
func (r *TPR) Expiry(now time.Time) time.Time {
	return now.Add(time.Duration(r.Lifetime) * time.Second)
}

// Marshal builds the request as a go-diameter message with dictionary d (NewDictionary).
func (r *TPR) Marshal(d *dict.Parser) (*diam.Message, error) {
	if r.DestinationRealm == "" || r.UserName == "" {
		return nil, fmt.Errorf("%w: TPR: Destination-Realm and User-Name are required", ErrInvalidField)
	}
	if len(r.Token) < MinTokenLength || len(r.Token) > MaxTokenLength {
		return nil, fmt.Errorf("%w: TPR: token of %d bytes, want %d..%d", ErrInvalidField, len(r.Token), MinTokenLength, MaxTokenLength)
	}
	if r.Lifetime == 0 {
		return nil, fmt.Errorf("%w: TPR: lifetime 0", ErrInvalidField)
	}
	m, err := newMessage(CmdTokenPush, true, d, r.common)
	if err != nil {
		return nil, err
	}
	m.NewAVP(avp.DestinationRealm, avp.Mbit, 0, datatype.DiameterIdentity(r.DestinationRealm))
	if r.DestinationHost != "" {
		m.NewAVP(avp.DestinationHost, avp.Mbit, 0, datatype.DiameterIdentity(r.DestinationHost))
	}
	m.NewAVP(avp.UserName, avp.Mbit, 0, datatype.UTF8String(r.UserName))
	m.NewAVP(uint32(AVPToken), avp.Vbit, VendorID, datatype.OctetString(r.Token))
	m.NewAVP(uint32(AVPTokenLifetime), avp.Vbit, VendorID, datatype.Unsigned32(r.Lifetime))
	return m, nil
}

// MarshalBinary is Marshal in wire form (identifiers 0, for the peer layer to set).
func (r *TPR) MarshalBinary(d *dict.Parser) ([]byte, error) { return serialize(r.Marshal(d)) }

// Unmarshal fills r from a go-diameter message.
func (r *TPR) Unmarshal(m *diam.Message) error {
	b, err := m.Serialize()
	if err != nil {
		return fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	return r.UnmarshalBinary(b)
}

// UnmarshalBinary fills r from a TPR in wire form. A required AVP that is absent is a *diameter.Error
// DIAMETER_MISSING_AVP, a bad value DIAMETER_INVALID_AVP_VALUE (RFC 6733 §7.1.5), both naming the AVP.
func (r *TPR) UnmarshalBinary(b []byte) error {
	const cmd = "TPR"
	h, body, err := splitMessage(b)
	if err != nil {
		return err
	}
	if h.code != CmdTokenPush || h.app != AppID || h.flags&flagRequest == 0 {
		return fmt.Errorf("%w: command %d application %d flags %#x is no TPR", ErrMalformed, h.code, h.app, h.flags)
	}
	*r = TPR{}
	var sawVSAI, sawLifetime bool
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
		case f.vendor == VendorID && f.code == AVPToken:
			if len(f.data) < MinTokenLength || len(f.data) > MaxTokenLength {
				return invalid(cmd, f, fmt.Sprintf("token of %d bytes, want %d..%d", len(f.data), MinTokenLength, MaxTokenLength))
			}
			r.Token = append([]byte(nil), f.data...)
		case f.vendor == VendorID && f.code == AVPTokenLifetime:
			sawLifetime = true
			if err := u32(cmd, f, &r.Lifetime); err != nil {
				return err
			}
			if r.Lifetime == 0 {
				return invalid(cmd, f, "lifetime 0")
			}
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
	case r.Token == nil:
		return missing(cmd, "Token", AVPToken, VendorID)
	case !sawLifetime:
		return missing(cmd, "Token-Lifetime", AVPTokenLifetime, VendorID)
	}
	return nil
}
