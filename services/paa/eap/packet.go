// Package eap is the EAP packet codec (RFC 3748 §4, §5): the header of Request, Response, Success and
// Failure packets and the Type of a Request or Response. The methods live elsewhere (eaptls).
package eap

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Code is the EAP Code (RFC 3748 §4).
type Code uint8

const (
	CodeRequest  Code = 1
	CodeResponse Code = 2
	CodeSuccess  Code = 3
	CodeFailure  Code = 4
)

// Type is the EAP Type of a Request or Response (RFC 3748 §5, IANA "EAP Method Types").
type Type uint8

const (
	TypeIdentity     Type = 1  // RFC 3748 §5.1
	TypeNotification Type = 2  // RFC 3748 §5.2
	TypeNak          Type = 3  // RFC 3748 §5.3.1, Response only
	TypeTLS          Type = 13 // EAP-TLS, RFC 5216 / RFC 9190
)

// ErrBadPacket is an EAP packet whose Length does not fit or whose Code is unknown.
var ErrBadPacket = errors.New("bad EAP packet")

// Packet is one EAP packet (RFC 3748 §4). Type and Data are for Requests and Responses only.
type Packet struct {
	Code Code
	ID   uint8
	Type Type
	Data []byte
}

// Marshal encodes the packet.
func (p *Packet) Marshal() []byte {
	n := 4
	if p.Code == CodeRequest || p.Code == CodeResponse {
		n += 1 + len(p.Data)
	}
	b := make([]byte, 4, n)
	b[0], b[1] = byte(p.Code), p.ID
	binary.BigEndian.PutUint16(b[2:], uint16(n))
	if n > 4 {
		b = append(append(b, byte(p.Type)), p.Data...)
	}
	return b
}

// Parse decodes an EAP packet; octets beyond Length are padding and ignored (RFC 3748 §4).
func Parse(b []byte) (*Packet, error) {
	if len(b) < 4 {
		return nil, fmt.Errorf("eap: %d octets: %w", len(b), io.ErrUnexpectedEOF)
	}
	p := &Packet{Code: Code(b[0]), ID: b[1]}
	n := int(binary.BigEndian.Uint16(b[2:]))
	if n < 4 || n > len(b) {
		return nil, fmt.Errorf("eap: Length %d of %d octets: %w", n, len(b), ErrBadPacket)
	}
	switch p.Code {
	case CodeRequest, CodeResponse:
		if n < 5 {
			return nil, fmt.Errorf("eap: %d without a Type: %w", p.Code, ErrBadPacket)
		}
		p.Type = Type(b[4])
		p.Data = b[5:n:n]
	case CodeSuccess, CodeFailure:
	default:
		return nil, fmt.Errorf("eap: Code %d: %w", p.Code, ErrBadPacket) // RFC 3748 §4: silently discarded
	}
	return p, nil
}
