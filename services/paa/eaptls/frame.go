package eaptls

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Flags is the EAP-TLS Flags octet (RFC 5216 §3.1; RFC 9190 keeps it).
type Flags uint8

const (
	FlagLength Flags = 0x80 // L: the TLS Message Length field is present
	FlagMore   Flags = 0x40 // M: more fragments follow
	FlagStart  Flags = 0x20 // S: EAP-TLS Start, server only
)

// DefaultFragment is the TLS data carried per EAP-TLS packet by default: PANA runs over UDP, and 1024
// octets of TLS data plus the EAP, PANA, UDP and IPv6 headers stay below the IPv6 minimum MTU of 1280.
const DefaultFragment = 1024

// maxMessage bounds a reassembled TLS flight: a certificate chain is a few KiB; more is an attack.
const maxMessage = 64 << 10

var (
	// ErrProtocol is an EAP-TLS packet out of sequence or malformed.
	ErrProtocol = errors.New("eap-tls protocol error")
	// ErrIdentity is a peer whose certificate names no IMPI, or another one than its EAP identity.
	ErrIdentity = errors.New("eap-tls peer identity")
)

// frame is one EAP-TLS packet's Data: flags, the optional TLS Message Length and a TLS fragment.
type frame struct {
	flags Flags
	total uint32
	data  []byte
}

func (f frame) marshal() []byte {
	b := []byte{byte(f.flags)}
	if f.flags&FlagLength != 0 {
		b = binary.BigEndian.AppendUint32(b, f.total)
	}
	return append(b, f.data...)
}

func parseFrame(b []byte) (frame, error) {
	if len(b) < 1 {
		return frame{}, fmt.Errorf("eap-tls: no Flags octet: %w", ErrProtocol)
	}
	f := frame{flags: Flags(b[0])}
	b = b[1:]
	if f.flags&FlagLength != 0 {
		if len(b) < 4 {
			return frame{}, fmt.Errorf("eap-tls: short TLS Message Length: %w", ErrProtocol)
		}
		f.total = binary.BigEndian.Uint32(b)
		b = b[4:]
		if f.total > maxMessage {
			return frame{}, fmt.Errorf("eap-tls: TLS Message Length %d: %w", f.total, ErrProtocol)
		}
	}
	f.data = b
	return f, nil
}

// fragmenter holds one direction's pending flight and the other direction's reassembly (RFC 5216 §2.1.5).
type fragmenter struct {
	size int
	out  []byte // not yet sent
	sent bool   // out is a flight of which a first fragment went (later ones carry no L flag)
	in   []byte
	inN  uint32 // announced TLS Message Length of the flight being reassembled, 0 if none
}

// pending reports whether fragments of the outbound flight remain: the next inbound packet must be an ack.
func (f *fragmenter) pending() bool { return len(f.out) > 0 }

// queue starts sending a flight.
func (f *fragmenter) queue(b []byte) { f.out, f.sent = b, false }

// next returns the next fragment to send. The first fragment of a flight that needs more than one carries
// L and the total (RFC 5216 §2.1.5: the L bit MUST be set on the first fragment), every one but the last M.
func (f *fragmenter) next() frame {
	size := f.size
	if size <= 0 {
		size = DefaultFragment
	}
	var fr frame
	if !f.sent && len(f.out) > size {
		fr.flags, fr.total = FlagLength, uint32(len(f.out))
	}
	f.sent = true
	n := min(size, len(f.out))
	fr.data, f.out = f.out[:n], f.out[n:]
	if len(f.out) > 0 {
		fr.flags |= FlagMore
	}
	return fr
}

// receive adds an inbound fragment; it returns the whole flight once the last fragment is in.
func (f *fragmenter) receive(fr frame) (flight []byte, complete bool, err error) {
	if fr.flags&FlagLength != 0 && len(f.in) == 0 {
		f.inN = fr.total
	}
	if len(f.in)+len(fr.data) > maxMessage || (f.inN > 0 && uint32(len(f.in)+len(fr.data)) > f.inN) {
		return nil, false, fmt.Errorf("eap-tls: flight longer than announced (%d): %w", f.inN, ErrProtocol)
	}
	f.in = append(f.in, fr.data...)
	if fr.flags&FlagMore != 0 {
		return nil, false, nil
	}
	flight, f.in = f.in, nil
	if f.inN > 0 && uint32(len(flight)) != f.inN {
		return nil, false, fmt.Errorf("eap-tls: flight of %d octets, %d announced: %w", len(flight), f.inN, ErrProtocol)
	}
	f.inN = 0
	return flight, true, nil
}
