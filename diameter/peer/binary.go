package peer

import (
	"encoding/binary"
	"errors"
	"fmt"
	"unicode/utf8"
)

// The wire-form side of the peer layer: requests handed over as bytes (RequestBinary) and the
// few AVPs the layer itself reads from frames, found by walking the top-level AVPs in place.

// errMalformedRequest: a request given to RequestBinary that is not a well-framed message.
var errMalformedRequest = errors.New("malformed request frame")

// walkAVPs calls f for each top-level AVP of a message body (RFC 6733 §4.1) until f returns
// false. It reports whether every AVP was framed within b (padding included).
func walkAVPs(body []byte, f func(code uint32, flags uint8, vendor uint32, value []byte) bool) bool {
	for len(body) > 0 {
		if len(body) < avpHeaderLength {
			return false
		}
		code, flags := binary.BigEndian.Uint32(body[0:4]), body[4]
		length := int(uint24(body[5:8]))
		hlen := avpHeaderLength
		var vendor uint32
		if flags&avpFlagVendor != 0 {
			hlen = avpVendorHeaderLength
			if len(body) < hlen {
				return false
			}
			vendor = binary.BigEndian.Uint32(body[8:12])
		}
		if length < hlen || length > len(body) {
			return false
		}
		if !f(code, flags, vendor, body[hlen:length]) {
			return true
		}
		body = body[min(pad4(length), len(body)):]
	}
	return true
}

// rawResult returns an answer frame's Result-Code, or its Experimental-Result-Code and Vendor-Id
// (RFC 6733 §7.6); ok is false when the answer carries neither.
func rawResult(frame []byte) (code, vendor uint32, ok bool) {
	if len(frame) < headerLength {
		return 0, 0, false
	}
	walkAVPs(frame[headerLength:], func(c uint32, flags uint8, v uint32, value []byte) bool {
		switch {
		case v != 0:
		case c == avpResultCode && len(value) == 4:
			code, vendor, ok = binary.BigEndian.Uint32(value), 0, true
			return false
		case c == avpExperimentalResult:
			walkAVPs(value, func(ic uint32, _ uint8, iv uint32, iv4 []byte) bool {
				switch {
				case iv != 0 || len(iv4) != 4:
				case ic == avpExperimentalResultCode:
					code, ok = binary.BigEndian.Uint32(iv4), true
				case ic == avpVendorID:
					vendor = binary.BigEndian.Uint32(iv4)
				}
				return true
			})
		}
		return true
	})
	return code, vendor, ok
}

// rawString returns the UTF-8 value of the first top-level base AVP code in a message body.
func rawString(body []byte, code uint32) (s string, found bool) {
	walkAVPs(body, func(c uint32, flags uint8, v uint32, value []byte) bool {
		if c != code || v != 0 {
			return true
		}
		if utf8.Valid(value) {
			s, found = string(value), true
		}
		return false
	})
	return s, found
}

// prepareBinary copies a request frame for sending: header flags and identifiers as Request
// sets them (RFC 6733 §3), Origin-Host and Origin-Realm added when missing, the route read.
func (n *Node) prepareBinary(req []byte) ([]byte, route, error) {
	if len(req) < headerLength {
		return nil, route{}, fmt.Errorf("%w: %d bytes", errMalformedRequest, len(req))
	}
	h := parseHeader(req)
	rt := route{app: h.app, code: h.code}
	switch {
	case h.version != diameterVersion || int(h.length) != len(req) || len(req)%4 != 0:
		return nil, rt, fmt.Errorf("%w: version %d, length %d of %d bytes", errMalformedRequest, h.version, h.length, len(req))
	case !h.isRequest():
		return nil, rt, fmt.Errorf("diameter request %d: %w", h.code, ErrNotRequest)
	}
	var hasHost, hasRealm bool
	ok := walkAVPs(req[headerLength:], func(c uint32, flags uint8, v uint32, value []byte) bool {
		if v != 0 {
			return true
		}
		switch c {
		case avpOriginHost:
			hasHost = true
		case avpOriginRealm:
			hasRealm = true
		case avpDestinationHost:
			rt.host = string(value)
		case avpDestinationRealm:
			rt.realm = string(value)
		}
		return true
	})
	if !ok {
		return nil, rt, fmt.Errorf("%w: AVPs overrun the message", errMalformedRequest)
	}
	size := len(req)
	if !hasHost {
		size += avpHeaderLength + pad4(len(n.cfg.OriginHost))
	}
	if !hasRealm {
		size += avpHeaderLength + pad4(len(n.cfg.OriginRealm))
	}
	if size > maxMessageLength {
		return nil, rt, fmt.Errorf("%w: %d octets do not fit the 24-bit Message Length", errMalformedRequest, size)
	}
	frame := make([]byte, len(req), size)
	copy(frame, req)
	if !hasHost {
		frame = appendIdentity(frame, avpOriginHost, n.cfg.OriginHost)
	}
	if !hasRealm {
		frame = appendIdentity(frame, avpOriginRealm, n.cfg.OriginRealm)
	}
	frame[1], frame[2], frame[3] = byte(size>>16), byte(size>>8), byte(size)
	frame[4] = frame[4]&^(flagRetransmit|flagError|flagsReserved) | flagRequest
	putUint32(frame[12:16], 0) // Hop-by-Hop: set per connection
	putUint32(frame[16:20], n.nextEndToEnd())
	return frame, rt, nil
}

// appendIdentity appends a base DiameterIdentity AVP with the 'M' bit (Origin-Host, Origin-Realm).
func appendIdentity(b []byte, code uint32, v string) []byte {
	length := avpHeaderLength + len(v)
	b = binary.BigEndian.AppendUint32(b, code)
	b = append(b, avpFlagMandatory, byte(length>>16), byte(length>>8), byte(length))
	b = append(b, v...)
	return append(b, make([]byte, pad4(length)-length)...)
}
