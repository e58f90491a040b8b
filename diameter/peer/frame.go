package peer

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Header layout and flags, RFC 6733 §3.
const (
	headerLength = 20
	// diameterVersion is the only Version this node speaks (RFC 6733 §3: "MUST be set to 1").
	diameterVersion = 1

	flagRequest    uint8 = 0x80 // R
	flagProxiable  uint8 = 0x40 // P
	flagError      uint8 = 0x20 // E: never on a request
	flagRetransmit uint8 = 0x10 // T: set on a request resent after link failover (§5.5.4)
	flagsReserved  uint8 = 0x0f // r(eserved): "MUST be set to zero"; DIAMETER_INVALID_HDR_BITS otherwise
)

// AVP header flags, RFC 6733 §4.1.
const (
	avpFlagVendor    uint8 = 0x80 // V: the Vendor-ID field is present
	avpFlagMandatory uint8 = 0x40 // M
	avpFlagProtected uint8 = 0x20 // P: reserved for end-to-end security, tolerated
	avpFlagsReserved uint8 = 0x1f // r: "an unrecognized bit SHOULD be considered an error" (3009)

	avpHeaderLength       = 8
	avpVendorHeaderLength = 12
)

// Base protocol commands handled by this package (RFC 6733 §3.1), all with Application-Id 0.
const (
	cmdCapabilitiesExchange uint32 = 257
	cmdDeviceWatchdog       uint32 = 280
	cmdDisconnectPeer       uint32 = 282
)

// relayApplicationID is the Relay application (RFC 6733 §2.4): a peer advertising it takes any application.
const relayApplicationID uint32 = 0xffffffff

// header is a decoded message header (RFC 6733 §3).
type header struct {
	version uint8
	length  uint32
	flags   uint8
	code    uint32
	app     uint32
	hbh     uint32
	e2e     uint32
}

func (h header) isRequest() bool { return h.flags&flagRequest != 0 }

// parseHeader decodes the first headerLength bytes of b; the caller guarantees the length.
func parseHeader(b []byte) header {
	return header{
		version: b[0],
		length:  uint24(b[1:4]),
		flags:   b[4],
		code:    uint24(b[5:8]),
		app:     binary.BigEndian.Uint32(b[8:12]),
		hbh:     binary.BigEndian.Uint32(b[12:16]),
		e2e:     binary.BigEndian.Uint32(b[16:20]),
	}
}

func uint24(b []byte) uint32 { return uint32(b[0])<<16 | uint32(b[1])<<8 | uint32(b[2]) }

// pad4 rounds n up to a multiple of four: AVPs are padded to 32-bit boundaries (RFC 6733 §4).
func pad4(n int) int { return (n + 3) &^ 3 }

// frameError is a header whose Message Length cannot be used to find the next message: framing
// on the stream is lost and the connection must close (after an answer, if it was a request).
type frameError struct {
	hdr    header
	reason string
}

func (e *frameError) Error() string { return "diameter framing lost: " + e.reason }

// readFrame reads one whole message from r: the 20-byte header, then Message Length - 20 bytes
// of body. It checks only what framing needs (RFC 6733 §3: at least the header, at most max);
// everything else is judged later, on a complete frame, so one bad message never desynchronises
// the stream. io.EOF is returned only when the stream ends cleanly between messages.
func readFrame(r io.Reader, max int) ([]byte, error) {
	var hb [headerLength]byte
	if _, err := io.ReadFull(r, hb[:]); err != nil {
		return nil, err
	}
	h := parseHeader(hb[:])
	switch {
	case h.length < headerLength:
		return nil, &frameError{hdr: h, reason: fmt.Sprintf("message length %d is shorter than the %d-byte header", h.length, headerLength)}
	case h.length > uint32(max):
		return nil, &frameError{hdr: h, reason: fmt.Sprintf("message length %d exceeds the %d-byte limit", h.length, max)}
	}
	frame := make([]byte, h.length)
	copy(frame, hb[:])
	if _, err := io.ReadFull(r, frame[headerLength:]); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, fmt.Errorf("read %d-byte message body: %w", h.length-headerLength, err)
	}
	return frame, nil
}
