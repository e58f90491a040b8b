package fastreg

import (
	"github.com/fiorix/go-diameter/v4/diam"
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

func (r *TDR) head() requestHead {
	return requestHead{cmd: CmdTokenDrop, c: &r.common, destRealm: &r.DestinationRealm, destHost: &r.DestinationHost,
		userName: &r.UserName}
}

// Marshal builds the request as a go-diameter message with dictionary d (NewDictionary).
func (r *TDR) Marshal(d *dict.Parser) (*diam.Message, error) { return r.head().marshal(d) }

// MarshalBinary is Marshal in wire form (identifiers 0, for the peer layer to set).
func (r *TDR) MarshalBinary(d *dict.Parser) ([]byte, error) { return serialize(r.Marshal(d)) }

// Unmarshal fills r from a go-diameter message.
func (r *TDR) Unmarshal(m *diam.Message) error { return unmarshalDiam(m, r.UnmarshalBinary) }

// UnmarshalBinary fills r from a TDR in wire form; errors as TPR.UnmarshalBinary.
func (r *TDR) UnmarshalBinary(b []byte) error {
	*r = TDR{}
	return r.head().decode(b, "TDR", func(field) error { return nil })
}
