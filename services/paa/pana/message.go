package pana

import (
	"encoding/binary"
	"fmt"
	"io"
)

// Type is the PANA Message Type (RFC 5191 §6.2, §7).
type Type uint16

const (
	TypeClientInitiation Type = 1 // PCI (RFC 5191 §7.1)
	TypeAuth             Type = 2 // PAR/PAN (RFC 5191 §7.2, §7.3)
	TypeTermination      Type = 3 // PTR/PTA (RFC 5191 §7.4, §7.5)
	TypeNotification     Type = 4 // PNR/PNA (RFC 5191 §7.6, §7.7)
)

func (t Type) String() string {
	switch t {
	case TypeClientInitiation:
		return "PCI"
	case TypeAuth:
		return "PANA-Auth"
	case TypeTermination:
		return "PANA-Termination"
	case TypeNotification:
		return "PANA-Notification"
	}
	return fmt.Sprintf("type(%d)", uint16(t))
}

// Flags are the PANA header flags (RFC 5191 §6.2); bit 0 is the most significant.
type Flags uint16

const (
	FlagRequest  Flags = 0x8000 // R: request (RFC 5191 §6.2)
	FlagStart    Flags = 0x4000 // S: start of the authentication phase
	FlagComplete Flags = 0x2000 // C: completion of the authentication phase
	FlagReauth   Flags = 0x1000 // A: re-authentication
	FlagPing     Flags = 0x0800 // P: ping (PANA-Notification only)
	FlagIPReconf Flags = 0x0400 // I: IP reconfiguration (RFC 5191 §6.2)
)

// HeaderLen is the fixed PANA header length (RFC 5191 §6.1).
const HeaderLen = 16

// MaxLen bounds a PANA message: it is one UDP datagram.
const MaxLen = 65535

// Message is one PANA message (RFC 5191 §6).
type Message struct {
	Flags     Flags
	Type      Type
	SessionID uint32 // RFC 5191 §6.2: 0 in the PCI
	Seq       uint32 // RFC 5191 §5.1: 0 in the PCI
	AVPs      []AVP
}

// IsRequest reports the R flag.
func (m *Message) IsRequest() bool { return m.Flags&FlagRequest != 0 }

// Has reports whether every bit of f is set.
func (m *Message) Has(f Flags) bool { return m.Flags&f == f }

// Name is the short name of the message: PCI, PAR, PAN, PTR, PTA, PNR, PNA.
func (m *Message) Name() string {
	req := m.IsRequest()
	switch m.Type {
	case TypeClientInitiation:
		return "PCI"
	case TypeAuth:
		return pick(req, "PAR", "PAN")
	case TypeTermination:
		return pick(req, "PTR", "PTA")
	case TypeNotification:
		return pick(req, "PNR", "PNA")
	}
	return m.Type.String()
}

func pick(c bool, a, b string) string {
	if c {
		return a
	}
	return b
}

// Find returns the first AVP with code c and no vendor, or nil.
func (m *Message) Find(c Code) *AVP {
	for i := range m.AVPs {
		if m.AVPs[i].Code == c && m.AVPs[i].Flags&AVPFlagVendor == 0 {
			return &m.AVPs[i]
		}
	}
	return nil
}

// Add appends an AVP with code c and value v.
func (m *Message) Add(c Code, v []byte) { m.AVPs = append(m.AVPs, AVP{Code: c, Value: v}) }

// AddUint32 appends an Unsigned32 (or Integer32/Enumerated) AVP (RFC 5191 §8).
func (m *Message) AddUint32(c Code, v uint32) {
	m.Add(c, binary.BigEndian.AppendUint32(nil, v))
}

// Uint32 returns the value of the Unsigned32 AVP c.
func (m *Message) Uint32(c Code) (uint32, bool) {
	a := m.Find(c)
	if a == nil || len(a.Value) != 4 {
		return 0, false
	}
	return binary.BigEndian.Uint32(a.Value), true
}

// Len is the encoded length.
func (m *Message) Len() int {
	n := HeaderLen
	for i := range m.AVPs {
		n += m.AVPs[i].len()
	}
	return n
}

// Marshal encodes the message (RFC 5191 §6.1).
func (m *Message) Marshal() ([]byte, error) {
	n := m.Len()
	if n > MaxLen {
		return nil, fmt.Errorf("pana: %s of %d bytes: %w", m.Name(), n, ErrTooLong)
	}
	b := make([]byte, HeaderLen, n)
	be := binary.BigEndian
	be.PutUint16(b[2:], uint16(n)) // Message Length covers the header (RFC 5191 §6.2)
	be.PutUint16(b[4:], uint16(m.Flags))
	be.PutUint16(b[6:], uint16(m.Type))
	be.PutUint32(b[8:], m.SessionID)
	be.PutUint32(b[12:], m.Seq)
	for i := range m.AVPs {
		b = m.AVPs[i].appendTo(b)
	}
	return b, nil
}

// Parse decodes one PANA message. Reserved bits must be zero on send and are ignored on receipt (RFC 5191 §6.2).
func Parse(b []byte) (*Message, error) {
	if len(b) < HeaderLen {
		return nil, fmt.Errorf("pana: header of %d bytes: %w", len(b), io.ErrUnexpectedEOF)
	}
	be := binary.BigEndian
	n := int(be.Uint16(b[2:]))
	if n < HeaderLen || n > len(b) {
		return nil, fmt.Errorf("pana: message length %d of a %d-byte datagram: %w", n, len(b), ErrBadLength)
	}
	m := &Message{Flags: Flags(be.Uint16(b[4:])), Type: Type(be.Uint16(b[6:])),
		SessionID: be.Uint32(b[8:]), Seq: be.Uint32(b[12:])}
	rest := b[HeaderLen:n]
	for len(rest) > 0 {
		a, used, err := parseAVP(rest, n-len(rest))
		if err != nil {
			return nil, fmt.Errorf("pana: %s AVP %d: %w", m.Type, len(m.AVPs), err)
		}
		m.AVPs = append(m.AVPs, a)
		rest = rest[used:]
	}
	return m, nil
}
