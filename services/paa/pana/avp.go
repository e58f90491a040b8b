package pana

import (
	"encoding/binary"
	"fmt"
	"io"
)

// Code is a PANA AVP code (RFC 5191 §8, IANA "PANA AVP Codes").
type Code uint16

const (
	CodeAUTH               Code = 1 // RFC 5191 §8.1: integrity over the whole PDU
	CodeEAPPayload         Code = 2 // RFC 5191 §8.2
	CodeIntegrityAlgorithm Code = 3 // RFC 5191 §8.3, Unsigned32
	CodeKeyID              Code = 4 // RFC 5191 §8.4, Integer32
	CodeNonce              Code = 5 // RFC 5191 §8.5, 8 to 256 octets
	CodePRFAlgorithm       Code = 6 // RFC 5191 §8.6, Unsigned32
	CodeResultCode         Code = 7 // RFC 5191 §8.7, Unsigned32
	CodeSessionLifetime    Code = 8 // RFC 5191 §8.8, Unsigned32 seconds
	CodeTerminationCause   Code = 9 // RFC 5191 §8.9, Enumerated
)

// AVPFlags are the AVP flags (RFC 5191 §6.3).
type AVPFlags uint16

// AVPFlagVendor is the V bit: a Vendor-Id follows the header (RFC 5191 §6.3).
const AVPFlagVendor AVPFlags = 0x8000

// Result-Code values (RFC 5191 §8.7).
const (
	ResultSuccess                uint32 = 0
	ResultAuthenticationRejected uint32 = 1
	ResultAuthorizationRejected  uint32 = 2
)

// Termination-Cause values (RFC 5191 §8.9, from RFC 6733 §8.15).
const (
	TerminationLogout         uint32 = 1
	TerminationAdministrative uint32 = 4
	TerminationSessionTimeout uint32 = 8
)

// AVP is one PANA AVP (RFC 5191 §6.3).
type AVP struct {
	Code     Code
	Flags    AVPFlags
	VendorID uint32 // with AVPFlagVendor only
	Value    []byte
	off      int // offset of Value in the parsed message, for Verify
}

func (a *AVP) headerLen() int {
	if a.Flags&AVPFlagVendor != 0 {
		return 12
	}
	return 8
}

func (a *AVP) len() int { return a.headerLen() + (len(a.Value)+3)&^3 }

// appendTo encodes the AVP; AVP Length counts the Value only and padding is not counted (RFC 5191 §6.3).
func (a *AVP) appendTo(b []byte) []byte {
	be := binary.BigEndian
	b = be.AppendUint16(b, uint16(a.Code))
	b = be.AppendUint16(b, uint16(a.Flags))
	b = be.AppendUint16(b, uint16(len(a.Value)))
	b = be.AppendUint16(b, 0) // Reserved
	if a.Flags&AVPFlagVendor != 0 {
		b = be.AppendUint32(b, a.VendorID)
	}
	b = append(b, a.Value...)
	for range (4 - len(a.Value)%4) % 4 {
		b = append(b, 0)
	}
	return b
}

func parseAVP(b []byte, base int) (AVP, int, error) {
	if len(b) < 8 {
		return AVP{}, 0, fmt.Errorf("AVP header of %d bytes: %w", len(b), io.ErrUnexpectedEOF)
	}
	be := binary.BigEndian
	a := AVP{Code: Code(be.Uint16(b)), Flags: AVPFlags(be.Uint16(b[2:]))}
	vlen := int(be.Uint16(b[4:]))
	hl := a.headerLen()
	if len(b) < hl {
		return AVP{}, 0, fmt.Errorf("vendor AVP header of %d bytes: %w", len(b), io.ErrUnexpectedEOF)
	}
	if hl == 12 {
		a.VendorID = be.Uint32(b[8:])
	}
	if len(b) < hl+vlen {
		return AVP{}, 0, fmt.Errorf("AVP %d value of %d bytes, %d left: %w", a.Code, vlen, len(b)-hl, ErrBadLength)
	}
	a.Value = b[hl : hl+vlen : hl+vlen]
	a.off = base + hl
	used := hl + (vlen+3)&^3
	if used > len(b) { // RFC 5191 §6.3: the last AVP's padding may be missing from a sloppy sender; accept it
		used = len(b)
	}
	return a, used, nil
}
