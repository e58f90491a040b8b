package cx

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"

	"github.com/fiorix/go-diameter/v4/diam"
	"github.com/fiorix/go-diameter/v4/diam/avp"
	"github.com/fiorix/go-diameter/v4/diam/datatype"
	"github.com/fiorix/go-diameter/v4/diam/dict"
	"github.com/imscore/imscore/diameter"
)

// maxGroupDepth bounds the nesting of grouped AVPs we follow; Cx nests four deep at most
// (SCSCF-Restoration-Info → Restoration-Info → Subscription-Info → Contact).
const maxGroupDepth = 16

// DecodeMessage decodes one Diameter message held in b with dictionary d (from NewDictionary).
//
// It checks the framing before go-diameter sees the bytes: the header (RFC 6733 §3: version 1,
// Message Length equal to len(b) and a multiple of 4, 'R' and 'E' not both set), every AVP's
// length and padding (§4.1), the size of fixed-length types (§4.2, §4.3) and the same inside
// grouped AVPs. go-diameter v4.3.0 misreads or panics on such input (a Message Length under 20,
// an Unsigned32 of 5 bytes, a truncated AVP inside a group); here it becomes a *diameter.Error
// carrying the answer's Result-Code and Failed-AVP, wrapping ErrMalformed. Any panic left in
// go-diameter is recovered and reported the same way.
func DecodeMessage(b []byte, d *dict.Parser) (msg *diam.Message, err error) {
	if d == nil {
		return nil, fmt.Errorf("%w: nil dictionary", ErrNotInDictionary)
	}
	if err := validateMessage(b, d); err != nil {
		return nil, err
	}
	defer func() {
		if r := recover(); r != nil {
			msg, err = nil, malformed(diameter.UnableToComply, nil, "go-diameter panic: %v", r)
		}
	}()
	m, err := diam.ReadMessage(bytes.NewReader(b), d)
	if err != nil {
		return nil, malformed(diameter.InvalidAVPValue, nil, "%v", err)
	}
	return m, nil
}

// ReadMessage reads one Diameter message from the stream r and decodes it as DecodeMessage does.
// A header that cannot be right (RFC 6733 §3) is reported before the body is read; the stream
// is then out of step and the caller should close the connection. I/O errors are returned
// wrapped, io.EOF included, so that errors.Is(err, io.EOF) tells a clean close.
func ReadMessage(r io.Reader, d *dict.Parser) (*diam.Message, error) {
	var hdr [diam.HeaderLength]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, fmt.Errorf("read diameter header: %w", err)
	}
	if err := validateHeader(hdr[:], -1); err != nil {
		return nil, err
	}
	n := int(hdr[1])<<16 | int(hdr[2])<<8 | int(hdr[3])
	b := make([]byte, n)
	copy(b, hdr[:])
	if _, err := io.ReadFull(r, b[diam.HeaderLength:]); err != nil {
		return nil, fmt.Errorf("read diameter body (%d bytes): %w", n-diam.HeaderLength, err)
	}
	return DecodeMessage(b, d)
}

// malformed builds the *diameter.Error for input that breaks the wire format.
func malformed(code diameter.ResultCode, failed *diam.AVP, format string, args ...any) *diameter.Error {
	e := &diameter.Error{Code: code, Err: fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, args...))}
	if failed != nil {
		e.FailedAVPs = []*diam.AVP{failed}
	}
	return e
}

// validateHeader checks the fixed header; size is the number of bytes available, or -1 when
// reading from a stream.
func validateHeader(b []byte, size int) error {
	if len(b) < diam.HeaderLength {
		return malformed(diameter.InvalidMessageLength, nil, "%d bytes, a header needs %d", len(b), diam.HeaderLength)
	}
	if b[0] != 1 {
		return malformed(diameter.UnsupportedVersion, nil, "version %d", b[0])
	}
	n := int(b[1])<<16 | int(b[2])<<8 | int(b[3])
	if n < diam.HeaderLength || n%4 != 0 || (size >= 0 && n != size) {
		return malformed(diameter.InvalidMessageLength, nil, "message length %d (have %d bytes)", n, size)
	}
	if flags := b[4]; flags&diam.RequestFlag != 0 && flags&diam.ErrorFlag != 0 {
		return malformed(diameter.InvalidHdrBits, nil, "request with the E bit")
	}
	return nil
}

func validateMessage(b []byte, d *dict.Parser) error {
	if err := validateHeader(b, len(b)); err != nil {
		return err
	}
	app := binary.BigEndian.Uint32(b[8:12])
	code := uint32(b[5])<<16 | uint32(b[6])<<8 | uint32(b[7])
	if _, err := d.FindCommand(app, code); err != nil {
		if _, appErr := d.App(app); app != 0 && appErr != nil {
			return malformed(diameter.ApplicationUnsupported, nil, "application %d", app)
		}
		return malformed(diameter.CommandUnsupported, nil, "command %d in application %d", code, app)
	}
	if err := validateAVPs(b[diam.HeaderLength:], app, d, 0); err != nil {
		return err
	}
	return nil
}

// validateAVPs checks the AVPs in b and, through the dictionary, the size of each typed payload.
func validateAVPs(b []byte, app uint32, d *dict.Parser, depth int) *diameter.Error {
	for len(b) > 0 {
		h, err := parseAVPHeader(b)
		if err != nil {
			return malformed(diameter.InvalidAVPLength, headerOnly(b), "%v", err)
		}
		if err := validatePayload(h, app, d, depth); err != nil {
			return err
		}
		b = b[h.padded:]
	}
	return nil
}

// headerOnly returns, for an AVP whose length is wrong, its header with an empty payload: what
// RFC 6733 §7.1.5 (DIAMETER_INVALID_AVP_LENGTH) allows as Failed-AVP. nil if b holds no header.
func headerOnly(b []byte) *diam.AVP {
	if len(b) < 8 {
		return nil
	}
	a := &diam.AVP{Code: binary.BigEndian.Uint32(b[0:4]), Flags: b[4]}
	if a.Flags&avp.Vbit != 0 && len(b) >= 12 {
		a.VendorID = binary.BigEndian.Uint32(b[8:12])
	}
	return diam.NewAVP(a.Code, a.Flags, a.VendorID, datatype.OctetString(""))
}

func validatePayload(h avpHeader, app uint32, d *dict.Parser, depth int) *diameter.Error {
	def, err := d.FindAVPByCode(app, h.code, h.vendor)
	if err != nil || def == nil {
		return nil // unknown to us: kept as opaque bytes
	}
	payload := h.payload
	// The offending AVP as received, for Failed-AVP (RFC 6733 §7.5).
	offender := func() *diam.AVP {
		return diam.NewAVP(h.code, h.flags, h.vendor, datatype.OctetString(append([]byte{}, payload...)))
	}
	want := -1
	switch def.Data.Type {
	case datatype.Unsigned32Type, datatype.Integer32Type, datatype.EnumeratedType,
		datatype.Float32Type, datatype.TimeType, datatype.IPv4Type:
		want = 4
	case datatype.Unsigned64Type, datatype.Integer64Type, datatype.Float64Type:
		want = 8
	case datatype.IPv6Type:
		want = 16
	case datatype.AddressType:
		// RFC 6733 §4.3.1: AddressType (2 octets) then the address; go-diameter rejects
		// family 0 and 65535 and checks the IPv4/IPv6 sizes.
		if len(payload) < 2 {
			return malformed(diameter.InvalidAVPLength, offender(), "%s: %d bytes", def.Name, len(payload))
		}
		switch fam := binary.BigEndian.Uint16(payload); fam {
		case 0, 0xffff:
			return malformed(diameter.InvalidAVPValue, offender(), "%s: address family %d", def.Name, fam)
		case 1:
			want = 6
		case 2:
			want = 18
		}
	case datatype.GroupedType:
		if depth >= maxGroupDepth {
			return malformed(diameter.InvalidAVPValue, offender(), "%s: grouped AVPs nested too deep", def.Name)
		}
		if err := validateAVPs(payload, app, d, depth+1); err != nil {
			// RFC 6733 §7.5: the grouped AVP, holding only the offending AVP.
			for i, f := range err.FailedAVPs {
				err.FailedAVPs[i] = diam.NewAVP(h.code, h.flags, h.vendor, &diam.GroupedAVP{AVP: []*diam.AVP{f}})
			}
			return err
		}
	}
	if want >= 0 && len(payload) != want {
		return malformed(diameter.InvalidAVPLength, offender(), "%s: %d bytes of data, want %d", def.Name, len(payload), want)
	}
	return nil
}
