package peer

import (
	"encoding/binary"
	"fmt"
	"slices"

	"github.com/fiorix/go-diameter/v4/diam"
	"github.com/fiorix/go-diameter/v4/diam/datatype"
	"github.com/fiorix/go-diameter/v4/diam/dict"

	"github.com/imscore/imscore/diameter"
)

// maxGroupDepth bounds Grouped nesting. Real dictionaries nest three or four levels; deeper
// input is rejected with DIAMETER_INVALID_AVP_VALUE instead of recursing on attacker's terms.
const maxGroupDepth = 16

// checkRequestHeader applies RFC 6733 §3 to a request header; n is the frame length.
func checkRequestHeader(h header, n int) *diameter.Error {
	switch {
	case h.version != diameterVersion:
		return diameter.Errorf(diameter.UnsupportedVersion, "version %d, only %d is supported", h.version, diameterVersion)
	case n%4 != 0:
		// §3: "the Message Length field is always a multiple of 4".
		return diameter.Errorf(diameter.InvalidMessageLength, "message length %d is not a multiple of 4", n)
	case h.flags&flagsReserved != 0:
		return diameter.Errorf(diameter.InvalidHdrBits, "reserved command flag bits 0x%02x set", h.flags&flagsReserved)
	case h.flags&flagError != 0:
		// §3: the 'E' bit "MUST NOT be set in request messages".
		return diameter.Errorf(diameter.InvalidHdrBits, "'E' bit set on a request")
	}
	return nil
}

// decodeRequest checks a request frame and decodes it. supports tells whether the connection
// negotiated the application (RFC 6733 §5.3); Application-Id 0 (base protocol) always passes.
// The checks run in the order of the header: version, length, flags, application, command,
// then each AVP.
func decodeRequest(frame []byte, d *dict.Parser, supports func(app uint32) bool) (*diam.Message, *diameter.Error) {
	if derr := checkCommand(frame, d, supports); derr != nil {
		return nil, derr
	}
	return decodeMessage(frame, d)
}

// checkRequest holds a request frame to every rule decodeRequest does, decoding nothing (BinaryHandler).
func checkRequest(frame []byte, d *dict.Parser, supports func(app uint32) bool) *diameter.Error {
	if derr := checkCommand(frame, d, supports); derr != nil {
		return derr
	}
	return checkRequestAVPs(frame[headerLength:], parseHeader(frame).app, d)
}

// checkCommand checks a request's header, application and command.
func checkCommand(frame []byte, d *dict.Parser, supports func(app uint32) bool) *diameter.Error {
	h := parseHeader(frame)
	if derr := checkRequestHeader(h, len(frame)); derr != nil {
		return derr
	}
	if h.app != 0 && !supports(h.app) {
		return diameter.Errorf(diameter.ApplicationUnsupported, "application %d was not advertised by both peers", h.app)
	}
	if _, err := d.FindCommand(h.app, h.code); err != nil {
		return diameter.Errorf(diameter.CommandUnsupported, "command %d of application %d is not supported", h.code, h.app)
	}
	return nil
}

// decodeMessage decodes a complete frame whose framing readFrame has checked. Malformed AVPs
// give the *diameter.Error the peer must answer with (RFC 6733 §7.1); the recover is the last
// line of defence at the library boundary.
func decodeMessage(frame []byte, d *dict.Parser) (m *diam.Message, derr *diameter.Error) {
	defer func() {
		if r := recover(); r != nil {
			m, derr = nil, &diameter.Error{Code: diameter.UnableToComply, Err: fmt.Errorf("decoder panic: %v", r)}
		}
	}()
	h := parseHeader(frame)
	avps, derr := decodeAVPs(frame[headerLength:], h.app, d, h.isRequest(), 0)
	if derr != nil {
		return nil, derr
	}
	m = diam.NewMessage(h.code, h.flags, h.app, h.hbh, h.e2e, d)
	m.Header.Version = h.version
	// NewMessage replaces zero identifiers with random ones; the wire values are what count.
	m.Header.HopByHopID, m.Header.EndToEndID = h.hbh, h.e2e
	m.AVP = avps
	m.Header.MessageLength = uint32(len(frame))
	return m, nil
}

// decodeAVPs walks b (a message body or a Grouped payload), checks each AVP header (RFC 6733
// §4.1) and its length against its type, then decodes the value with go-diameter's datatype
// decoders. go-diameter's own AVP and Grouped decoders are not used: they step by the decoded
// value's length rather than the wire length, and dereference nil data after a bad header.
//
// Requests are held to every rule. Answers only to the structural ones (lengths that frame
// the top-level AVPs): reserved bits, unknown 'M' AVPs, values whose length does not fit their
// type and Grouped values that do not parse are kept as raw octets, because a correct error answer carries exactly such an AVP in its
// Failed-AVP (RFC 6733 §7.5), and the requester must get that answer.
func decodeAVPs(b []byte, app uint32, d *dict.Parser, request bool, depth int) ([]*diam.AVP, *diameter.Error) {
	return scanAVPs(b, app, d, request, true, depth)
}

// checkRequestAVPs holds a request's AVPs to every rule decodeAVPs does, building nothing: the check of a
// request served in wire form (BinaryHandler). Values are checked by length and, for Address, by
// go-diameter's decoder too: the other decoders accept any value of the right length.
func checkRequestAVPs(b []byte, app uint32, d *dict.Parser) *diameter.Error {
	_, derr := scanAVPs(b, app, d, true, false, 0)
	return derr
}

// scanAVPs is decodeAVPs; with build false it only checks, and returns no AVPs.
func scanAVPs(b []byte, app uint32, d *dict.Parser, request, build bool, depth int) ([]*diam.AVP, *diameter.Error) {
	var avps []*diam.AVP
	for off := 0; off < len(b); {
		rest := b[off:]
		if len(rest) < avpHeaderLength {
			// §7.1.5 (5014): an incomplete header is reported padded with zeros to 8 octets.
			hdr := make([]byte, avpHeaderLength)
			copy(hdr, rest)
			return nil, avpError(diameter.InvalidAVPLength, rawAVP(binary.BigEndian.Uint32(hdr[0:4]), hdr[4]&^avpFlagVendor, 0, nil),
				"AVP at offset %d: %d octets left, an AVP header needs %d", off, len(rest), avpHeaderLength)
		}
		code := binary.BigEndian.Uint32(rest[0:4])
		flags := rest[4]
		length := int(uint24(rest[5:8]))
		hlen := avpHeaderLength
		var vendor uint32
		if flags&avpFlagVendor != 0 {
			hlen = avpVendorHeaderLength
			if len(rest) < avpVendorHeaderLength {
				return nil, avpError(diameter.InvalidAVPLength, rawAVP(code, flags, 0, nil),
					"AVP %d: 'V' bit set but only %d octets left for a 12-octet header", code, len(rest))
			}
			vendor = binary.BigEndian.Uint32(rest[8:12])
		}
		def := lookupAVP(d, app, code, vendor)
		typ := datatype.UnknownType
		if def != nil {
			typ = def.Data.Type
		}
		if length < hlen || length > len(rest) {
			// §7.1.5 (5014): "the offending AVP header and a zero filled payload of the minimum
			// required length for the payloads data type".
			return nil, avpError(diameter.InvalidAVPLength, rawAVP(code, flags, vendor, make([]byte, minPayload(typ))),
				"AVP %d: length %d, header %d, %d octets left", code, length, hlen, len(rest))
		}
		payload := rest[hlen:length]
		if request && flags&avpFlagsReserved != 0 {
			return nil, avpError(diameter.InvalidAVPBits, rawAVP(code, flags, vendor, payload),
				"AVP %d: reserved flag bits 0x%02x set", code, flags&avpFlagsReserved)
		}
		a := &diam.AVP{Code: code, Flags: flags, Length: length, VendorID: vendor}
		switch {
		case def == nil:
			if request && flags&avpFlagMandatory != 0 {
				// §4.1: an unrecognized AVP with the 'M' bit "MUST" make the message rejected.
				return nil, avpError(diameter.AVPUnsupported, rawAVP(code, flags, vendor, payload),
					"AVP %d (vendor %d) with the 'M' bit is not in the dictionary", code, vendor)
			}
			if build {
				a.Data = datatype.Unknown(slices.Clone(payload))
			}
		case typ == datatype.GroupedType:
			if depth >= maxGroupDepth {
				return nil, avpError(diameter.InvalidAVPValue, rawAVP(code, flags, vendor, nil),
					"AVP %d: Grouped AVPs nested deeper than %d", code, maxGroupDepth)
			}
			inner, derr := scanAVPs(payload, app, d, request, build, depth+1)
			switch {
			case derr == nil:
				if build {
					a.Data = &diam.GroupedAVP{AVP: inner}
				}
			case !request:
				// An answer's Failed-AVP carries the offending AVP as received, content and all.
				a.Data = datatype.Unknown(slices.Clone(payload))
			default:
				// §7.5: the Failed-AVP may hold the enclosing Grouped AVP with only the offending AVP in it.
				derr.FailedAVPs = []*diam.AVP{groupAVP(code, flags, vendor, derr.FailedAVPs)}
				return nil, derr
			}
		default:
			if derr := checkValueLength(code, typ, payload); derr != nil {
				if !request {
					a.Data = datatype.Unknown(slices.Clone(payload))
					break
				}
				derr.FailedAVPs = []*diam.AVP{rawAVP(code, flags, vendor, payload)}
				return nil, derr
			}
			if !build && typ != datatype.AddressType {
				break
			}
			data, err := datatype.Decode(typ, payload)
			if err != nil || data == nil {
				if !request {
					a.Data = datatype.Unknown(slices.Clone(payload))
					break
				}
				return nil, avpError(diameter.InvalidAVPValue, rawAVP(code, flags, vendor, payload), "AVP %d: %v", code, err)
			}
			a.Data = data
		}
		if build {
			avps = append(avps, a)
		}
		// The last AVP may lack its padding; the loop then ends without reading past b.
		off += pad4(length)
	}
	return avps, nil
}

// checkValueLength rejects values whose length does not fit their type (RFC 6733 §4.2, §4.3.1).
func checkValueLength(code uint32, typ datatype.TypeID, v []byte) *diameter.Error {
	if size := fixedSize(typ); size > 0 && len(v) != size {
		return diameter.Errorf(diameter.InvalidAVPLength, "AVP %d: %d-octet value, its type needs %d", code, len(v), size)
	}
	if typ != datatype.AddressType {
		return nil
	}
	if len(v) < 2 {
		return diameter.Errorf(diameter.InvalidAVPLength, "AVP %d: Address of %d octets has no AddressType", code, len(v))
	}
	// §4.3.1 Address: a 2-octet AddressType (IANA address family numbers) then the address.
	switch family := binary.BigEndian.Uint16(v[:2]); family {
	case 0, 0xffff:
		return diameter.Errorf(diameter.InvalidAVPValue, "AVP %d: reserved AddressType %d", code, family)
	case 1:
		if len(v) != 2+4 {
			return diameter.Errorf(diameter.InvalidAVPLength, "AVP %d: IPv4 Address of %d octets", code, len(v)-2)
		}
	case 2:
		if len(v) != 2+16 {
			return diameter.Errorf(diameter.InvalidAVPLength, "AVP %d: IPv6 Address of %d octets", code, len(v)-2)
		}
	}
	return nil
}

// fixedSize is the value length of fixed-size types (RFC 6733 §4.2), 0 for variable ones.
func fixedSize(t datatype.TypeID) int {
	switch t {
	case datatype.Integer32Type, datatype.Unsigned32Type, datatype.Float32Type, datatype.EnumeratedType,
		datatype.TimeType, datatype.IPv4Type:
		return 4
	case datatype.Integer64Type, datatype.Unsigned64Type, datatype.Float64Type:
		return 8
	case datatype.IPv6Type:
		return 16
	}
	return 0
}

// minPayload is the zero-filled value put in a Failed-AVP whose length was unusable (§7.1.5).
func minPayload(t datatype.TypeID) int {
	if t == datatype.AddressType {
		return 2 + 4
	}
	return fixedSize(t)
}

// lookupAVP finds an AVP definition, or nil when the dictionary does not know it.
func lookupAVP(d *dict.Parser, app, code, vendor uint32) *dict.AVP {
	def, err := d.FindAVPByCode(app, code, vendor)
	if err != nil {
		return nil
	}
	return def
}

// rawAVP rebuilds an AVP from wire parts for Failed-AVP, value untouched.
func rawAVP(code uint32, flags uint8, vendor uint32, payload []byte) *diam.AVP {
	hlen := avpHeaderLength
	if flags&avpFlagVendor != 0 {
		hlen = avpVendorHeaderLength
	}
	return &diam.AVP{Code: code, Flags: flags, VendorID: vendor, Length: hlen + len(payload),
		Data: datatype.Unknown(slices.Clone(payload))}
}

// groupAVP wraps inner AVPs in a Grouped AVP header.
func groupAVP(code uint32, flags uint8, vendor uint32, inner []*diam.AVP) *diam.AVP {
	g := &diam.GroupedAVP{AVP: inner}
	return &diam.AVP{Code: code, Flags: flags &^ avpFlagsReserved, VendorID: vendor, Data: g}
}

// avpError builds the error for one offending AVP.
func avpError(code diameter.ResultCode, failed *diam.AVP, format string, args ...any) *diameter.Error {
	e := diameter.Errorf(code, format, args...)
	e.FailedAVPs = []*diam.AVP{failed}
	return e
}

// rawSessionID finds the Session-Id (RFC 6733 §8.8) in a frame that did not decode, so that the
// error answer still carries it. It returns "" when none can be read safely.
func rawSessionID(frame []byte) string {
	if len(frame) < headerLength {
		return ""
	}
	s, _ := rawString(frame[headerLength:], avpSessionID)
	return s
}
