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

func (r *TPR) head() requestHead {
	return requestHead{cmd: CmdTokenPush, c: &r.common, destRealm: &r.DestinationRealm, destHost: &r.DestinationHost,
		userName: &r.UserName}
}

// Marshal builds the request as a go-diameter message with dictionary d (NewDictionary).
func (r *TPR) Marshal(d *dict.Parser) (*diam.Message, error) {
	if len(r.Token) < MinTokenLength || len(r.Token) > MaxTokenLength {
		return nil, fmt.Errorf("%w: TPR: token of %d bytes, want %d..%d", ErrInvalidField, len(r.Token), MinTokenLength, MaxTokenLength)
	}
	if r.Lifetime == 0 {
		return nil, fmt.Errorf("%w: TPR: lifetime 0", ErrInvalidField)
	}
	m, err := r.head().marshal(d)
	if err != nil {
		return nil, err
	}
	m.NewAVP(uint32(AVPToken), avp.Vbit, VendorID, datatype.OctetString(r.Token))
	m.NewAVP(uint32(AVPTokenLifetime), avp.Vbit, VendorID, datatype.Unsigned32(r.Lifetime))
	return m, nil
}

// MarshalBinary is Marshal in wire form (identifiers 0, for the peer layer to set).
func (r *TPR) MarshalBinary(d *dict.Parser) ([]byte, error) { return serialize(r.Marshal(d)) }

// Unmarshal fills r from a go-diameter message.
func (r *TPR) Unmarshal(m *diam.Message) error { return unmarshalDiam(m, r.UnmarshalBinary) }

// UnmarshalBinary fills r from a TPR in wire form. A required AVP that is absent is a *diameter.Error
// DIAMETER_MISSING_AVP, a bad value DIAMETER_INVALID_AVP_VALUE (RFC 6733 §7.1.5), both naming the AVP.
func (r *TPR) UnmarshalBinary(b []byte) error {
	const cmd = "TPR"
	*r = TPR{}
	var sawLifetime bool
	err := r.head().decode(b, cmd, func(f field) error {
		switch {
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
	switch {
	case r.Token == nil:
		return missing(cmd, "Token", AVPToken, VendorID)
	case !sawLifetime:
		return missing(cmd, "Token-Lifetime", AVPTokenLifetime, VendorID)
	}
	return nil
}
