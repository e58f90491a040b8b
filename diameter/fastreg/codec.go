package fastreg

import (
	"encoding/binary"
	"fmt"
	"unicode/utf8"

	"github.com/fiorix/go-diameter/v4/diam"
	"github.com/fiorix/go-diameter/v4/diam/avp"
	"github.com/fiorix/go-diameter/v4/diam/datatype"
	"github.com/fiorix/go-diameter/v4/diam/dict"

	"github.com/imscore/imscore/diameter"
)

// The codec: messages are built as go-diameter messages (the peer layer sends and serves those) and decoded
// from wire form by one bounds-checked walk (RFC 6733 §3 header, §4.1 AVP header and padding), so that the
// fuzz target, the vectors and the HSS all run the same decoder.

const (
	headerLength = 20
	flagRequest  = 0x80
	flagProxy    = 0x40
	flagError    = 0x20
	maxDepth     = 2 // a Vendor-Specific-Application-Id is the only grouped AVP we read
)

// header is the part of the Diameter header the decoder checks (RFC 6733 §3).
type header struct {
	flags uint8
	code  Command
	app   uint32
}

// field is one AVP as it is on the wire.
type field struct {
	code   AVPCode
	flags  uint8
	vendor uint32
	data   []byte
}

// splitMessage checks the header of b and returns it and the AVP area.
func splitMessage(b []byte) (header, []byte, error) {
	if len(b) < headerLength {
		return header{}, nil, fmt.Errorf("%w: %d bytes, shorter than a header", ErrMalformed, len(b))
	}
	if b[0] != 1 {
		return header{}, nil, fmt.Errorf("%w: version %d", ErrMalformed, b[0])
	}
	n := int(b[1])<<16 | int(b[2])<<8 | int(b[3])
	if n != len(b) || n%4 != 0 {
		return header{}, nil, fmt.Errorf("%w: Message Length %d for %d bytes", ErrMalformed, n, len(b))
	}
	h := header{flags: b[4], code: Command(uint32(b[5])<<16 | uint32(b[6])<<8 | uint32(b[7])),
		app: binary.BigEndian.Uint32(b[8:])}
	return h, b[headerLength:], nil
}

// walk calls fn for each AVP of b (RFC 6733 §4.1), stopping at the first malformed one.
func walk(b []byte, fn func(f field) error) error {
	for len(b) > 0 {
		if len(b) < 8 {
			return fmt.Errorf("%w: %d bytes left, shorter than an AVP header", ErrMalformed, len(b))
		}
		f := field{code: AVPCode(binary.BigEndian.Uint32(b)), flags: b[4]}
		n := int(b[5])<<16 | int(b[6])<<8 | int(b[7])
		hl := 8
		if f.flags&avp.Vbit != 0 {
			hl = 12
			if len(b) < 12 {
				return fmt.Errorf("%w: AVP %d: vendor header cut", ErrMalformed, f.code)
			}
			f.vendor = binary.BigEndian.Uint32(b[8:])
		}
		if n < hl || n > len(b) {
			return fmt.Errorf("%w: AVP %d: AVP Length %d of %d bytes left", ErrMalformed, f.code, n, len(b))
		}
		f.data = b[hl:n]
		padded := (n + 3) &^ 3
		if padded > len(b) {
			padded = len(b) // the last AVP's padding may be missing: tolerated (RFC 6733 §4.1 "SHOULD")
		}
		if err := fn(f); err != nil {
			return err
		}
		b = b[padded:]
	}
	return nil
}

// missing is DIAMETER_MISSING_AVP naming the absent AVP (RFC 6733 §7.5: an example AVP in Failed-AVP).
func missing(cmd, name string, code AVPCode, vendor uint32) error {
	flags := uint8(0)
	if vendor != 0 {
		flags = avp.Vbit
	} else {
		flags = avp.Mbit
	}
	return &diameter.Error{Code: diameter.MissingAVP,
		FailedAVPs: []*diam.AVP{diam.NewAVP(uint32(code), flags, vendor, datatype.OctetString(""))},
		Err:        fmt.Errorf("%s: %s missing", cmd, name)}
}

// invalid is DIAMETER_INVALID_AVP_VALUE with the offending AVP (RFC 6733 §7.1.5).
func invalid(cmd string, f field, why string) error {
	return &diameter.Error{Code: diameter.InvalidAVPValue,
		FailedAVPs: []*diam.AVP{diam.NewAVP(uint32(f.code), f.flags, f.vendor, datatype.OctetString(f.data))},
		Err:        fmt.Errorf("%s: AVP %d: %s", cmd, f.code, why)}
}

// text decodes a UTF8String or DiameterIdentity (RFC 6733 §4.3.1).
func text(cmd string, f field, dst *string) error {
	if !utf8.Valid(f.data) {
		return invalid(cmd, f, "not UTF-8")
	}
	*dst = string(f.data)
	return nil
}

// u32 decodes an Unsigned32 or Enumerated (RFC 6733 §4.2).
func u32(cmd string, f field, dst *uint32) error {
	if len(f.data) != 4 {
		return invalid(cmd, f, fmt.Sprintf("%d bytes, want 4", len(f.data)))
	}
	*dst = binary.BigEndian.Uint32(f.data)
	return nil
}

// checkVSAI checks that a Vendor-Specific-Application-Id names this application (RFC 6733 §6.11).
func checkVSAI(cmd string, f field) error {
	var vendor, app uint32
	err := walk(f.data, func(c field) error {
		switch {
		case c.vendor != 0:
		case c.code == avpVendorID:
			return u32(cmd, c, &vendor)
		case c.code == avpAuthApplicationID:
			return u32(cmd, c, &app)
		}
		return nil
	})
	if err != nil {
		return invalid(cmd, f, err.Error())
	}
	if vendor != VendorID || app != AppID {
		return invalid(cmd, f, fmt.Sprintf("names vendor %d application %d", vendor, app))
	}
	return nil
}

// common are the AVPs every message of the application carries (RFC 6733 §6.1: the session and the
// identities of the nodes).
type common struct {
	SessionID   string
	OriginHost  string
	OriginRealm string
}

// visit decodes f into c if it is one of the common AVPs and reports whether it was.
func (c *common) visit(cmd string, f field, sawVSAI *bool) (bool, error) {
	if f.vendor != 0 {
		return false, nil
	}
	switch f.code {
	case avpSessionID:
		return true, text(cmd, f, &c.SessionID)
	case avpOriginHost:
		return true, text(cmd, f, &c.OriginHost)
	case avpOriginRealm:
		return true, text(cmd, f, &c.OriginRealm)
	case avpVendorSpecificApplicationID:
		*sawVSAI = true
		return true, checkVSAI(cmd, f)
	case avpAuthSessionState:
		return true, nil // NO_STATE_MAINTAINED or not: the application keeps no Diameter session state
	}
	return false, nil
}

// required reports the first of the common AVPs that is absent.
func (c *common) required(cmd string, sawVSAI bool) error {
	switch {
	case c.SessionID == "":
		return missing(cmd, "Session-Id", avpSessionID, 0)
	case !sawVSAI:
		return missing(cmd, "Vendor-Specific-Application-Id", avpVendorSpecificApplicationID, 0)
	case c.OriginHost == "":
		return missing(cmd, "Origin-Host", avpOriginHost, 0)
	case c.OriginRealm == "":
		return missing(cmd, "Origin-Realm", avpOriginRealm, 0)
	}
	return nil
}

// newMessage starts a go-diameter message of cmd with the Session-Id first (RFC 6733 §8.8) and the
// application's Vendor-Specific-Application-Id and Auth-Session-State NO_STATE_MAINTAINED.
func newMessage(cmd Command, request bool, d *dict.Parser, c common) (*diam.Message, error) {
	if c.SessionID == "" || c.OriginHost == "" || c.OriginRealm == "" {
		return nil, fmt.Errorf("%w: %s: Session-Id, Origin-Host and Origin-Realm are required", ErrInvalidField, cmd)
	}
	flags := uint8(flagProxy)
	if request {
		flags |= flagRequest
	}
	m := diam.NewMessage(uint32(cmd), flags, AppID, 0, 0, d)
	m.Header.HopByHopID, m.Header.EndToEndID = 0, 0 // go-diameter draws them at random; the peer layer sets them
	m.NewAVP(avp.SessionID, avp.Mbit, 0, datatype.UTF8String(c.SessionID))
	m.NewAVP(avp.VendorSpecificApplicationID, avp.Mbit, 0, &diam.GroupedAVP{AVP: []*diam.AVP{
		diam.NewAVP(avp.VendorID, avp.Mbit, 0, datatype.Unsigned32(VendorID)),
		diam.NewAVP(avp.AuthApplicationID, avp.Mbit, 0, datatype.Unsigned32(AppID)),
	}})
	m.NewAVP(avp.AuthSessionState, avp.Mbit, 0, datatype.Enumerated(1)) // NO_STATE_MAINTAINED (RFC 6733 §8.11)
	m.NewAVP(avp.OriginHost, avp.Mbit, 0, datatype.DiameterIdentity(c.OriginHost))
	m.NewAVP(avp.OriginRealm, avp.Mbit, 0, datatype.DiameterIdentity(c.OriginRealm))
	return m, nil
}

// serialize is the wire form of a message built with newMessage.
func serialize(m *diam.Message, err error) ([]byte, error) {
	if err != nil {
		return nil, err
	}
	return m.Serialize()
}

// TokenAVP is the Token AVP the HSS puts in an MAA beside the vector (docs/fastreg.md).
func TokenAVP(token []byte) *diam.AVP {
	return diam.NewAVP(uint32(AVPToken), avp.Vbit, VendorID, datatype.OctetString(token))
}

// TokenFrom returns the Token of the AVPs an MAA kept unknown (cx.MAA.Unknown), or nil.
func TokenFrom(avps []*diam.AVP) []byte {
	for _, a := range avps {
		if a == nil || a.Code != uint32(AVPToken) || a.VendorID != VendorID || a.Data == nil {
			continue
		}
		return append([]byte(nil), a.Data.Serialize()...)
	}
	return nil
}
