package gaa

import (
	"encoding/binary"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/imscore/imscore/diameter"
)

// The wire codec: AVPs appended to the caller's buffer (RFC 6733 §4.1: header, flags, vendor, value, padding
// to 32 bits; a grouped AVP's length patched when its children are written), and read in place,
// bounds-checked, into the struct fields.

const (
	headerLength = 20
	maxLength    = 1<<24 - 1 // the 24-bit length fields (RFC 6733 §3, §4.1)
	maxDepth     = 4         // grouped nesting: Zh nests two deep (SIP-Auth-Data-Item → value)

	flagRequest   = 0x80 // 'R', RFC 6733 §3
	flagProxiable = 0x40 // 'P'
	flagError     = 0x20 // 'E'
	avpFlagVendor = 0x80
)

// ntpOffset is the seconds from 1900-01-01 (the Time AVP's epoch, RFC 6733 §4.3.1) to the Unix epoch.
const ntpOffset = 2208988800

// Header is what a message carries besides its AVPs. The peer layer sets the identifiers of a request;
// an answer copies its request's (RFC 6733 §6.2).
type Header struct {
	Flags         uint8
	HopByHop      uint32
	EndToEnd      uint32
	applicationID uint32
	command       Command
}

// writer appends one message. The first problem sticks in err and later writes do nothing.
type writer struct {
	buf []byte
	err error
}

func (w *writer) invalid(format string, args ...any) {
	if w.err == nil {
		w.err = fmt.Errorf("%w: %s", ErrInvalidField, fmt.Sprintf(format, args...))
	}
}

func (w *writer) header(h Header, app uint32, cmd Command, request bool) {
	flags := h.Flags &^ flagRequest
	if request {
		flags |= flagRequest | flagProxiable
	}
	w.buf = append(w.buf, 1, 0, 0, 0, flags, byte(cmd>>16), byte(cmd>>8), byte(cmd))
	w.buf = binary.BigEndian.AppendUint32(w.buf, app)
	w.buf = binary.BigEndian.AppendUint32(w.buf, h.HopByHop)
	w.buf = binary.BigEndian.AppendUint32(w.buf, h.EndToEnd)
}

// finish writes the Message Length (RFC 6733 §3).
func (w *writer) finish(start int) ([]byte, error) {
	if w.err != nil {
		return nil, w.err
	}
	n := len(w.buf) - start
	if n > maxLength {
		return nil, fmt.Errorf("%w: message of %d bytes", ErrInvalidField, n)
	}
	w.buf[start+1], w.buf[start+2], w.buf[start+3] = byte(n>>16), byte(n>>8), byte(n)
	return w.buf, nil
}

func (w *writer) open(k avpKey) int {
	at := len(w.buf)
	f := flagsOf(k)
	w.buf = binary.BigEndian.AppendUint32(w.buf, uint32(k.code))
	w.buf = append(w.buf, f, 0, 0, 0)
	if k.vendor != 0 {
		w.buf = binary.BigEndian.AppendUint32(w.buf, k.vendor)
	}
	return at
}

func (w *writer) close(at int) {
	n := len(w.buf) - at
	if n > maxLength {
		w.invalid("AVP of %d bytes overflows its length field", n)
		return
	}
	w.buf[at+5], w.buf[at+6], w.buf[at+7] = byte(n>>16), byte(n>>8), byte(n)
	for n&3 != 0 {
		w.buf = append(w.buf, 0)
		n++
	}
}

func (w *writer) octets(k avpKey, v []byte) {
	if w.err == nil && v != nil {
		at := w.open(k)
		w.buf = append(w.buf, v...)
		w.close(at)
	}
}

// text writes a UTF8String or DiameterIdentity; required refuses an empty value, optional skips it.
func (w *writer) text(k avpKey, name, v string, required bool) {
	switch {
	case v == "" && required:
		w.invalid("%s is empty", name)
	case v == "":
	case !utf8.ValidString(v):
		w.invalid("%s is not UTF-8", name)
	case w.err == nil:
		at := w.open(k)
		w.buf = append(w.buf, v...)
		w.close(at)
	}
}

func (w *writer) u32(k avpKey, v uint32) {
	if w.err == nil {
		at := w.open(k)
		w.buf = binary.BigEndian.AppendUint32(w.buf, v)
		w.close(at)
	}
}

func (w *writer) optU32(k avpKey, v *uint32) {
	if v != nil {
		w.u32(k, *v)
	}
}

// time writes a Time AVP: NTP seconds (RFC 6733 §4.3.1, RFC 5905). The zero time is not written.
func (w *writer) time(k avpKey, t time.Time) {
	if !t.IsZero() {
		w.u32(k, uint32(t.Unix()+ntpOffset))
	}
}

func (w *writer) group(k avpKey, fill func()) {
	if w.err == nil {
		at := w.open(k)
		fill()
		if w.err == nil {
			w.close(at)
		}
	}
}

// raw appends AVPs kept from a decoded message (Unknown) unchanged: each is a whole, padded AVP.
func (w *writer) raw(avps [][]byte) {
	for _, a := range avps {
		if w.err == nil {
			w.buf = append(w.buf, a...)
		}
	}
}

// head writes Session-Id, Vendor-Specific-Application-Id, Auth-Session-State, Origin-Host and Origin-Realm,
// the order the ABNFs of TS 29.109 §6.1 start with.
func (w *writer) head(app uint32, sessionID, host, realm string) {
	w.text(avpKey{AVPSessionID, 0}, "Session-Id", sessionID, true)
	w.group(avpKey{AVPVendorSpecificApplicationID, 0}, func() {
		w.u32(avpKey{AVPVendorID, 0}, Vendor3GPP)
		w.u32(avpKey{AVPAuthApplicationID, 0}, app)
	})
	w.u32(avpKey{AVPAuthSessionState, 0}, NoStateMaintained)
	w.text(avpKey{AVPOriginHost, 0}, "Origin-Host", host, true)
	w.text(avpKey{AVPOriginRealm, 0}, "Origin-Realm", realm, true)
}

// result writes Result-Code or Experimental-Result (RFC 6733 §7.1, §7.6).
func (w *writer) result(r Result) {
	switch {
	case r.Code == 0:
		w.invalid("no Result-Code")
	case r.Vendor == 0:
		w.u32(avpKey{AVPResultCode, 0}, r.Code)
	default:
		w.group(avpKey{AVPExperimentalResult, 0}, func() {
			w.u32(avpKey{AVPVendorID, 0}, r.Vendor)
			w.u32(avpKey{AVPExperimentalResultCode, 0}, r.Code)
		})
	}
}

// Result is an answer's outcome: a Result-Code (Vendor 0) or an Experimental-Result-Code of Vendor.
type Result struct {
	Code   uint32
	Vendor uint32
}

// Success reports a 2xxx outcome.
func (r Result) Success() bool { return r.Code >= 2000 && r.Code < 3000 }

// Err is the outcome as a *diameter.Error, nil on success.
func (r Result) Err() error {
	if r.Success() {
		return nil
	}
	return &diameter.Error{Code: diameter.ResultCode(r.Code), VendorID: r.Vendor, Err: fmt.Errorf("result %d (vendor %d)", r.Code, r.Vendor)}
}

// ---------------------------------------------------------------------------------------------
// Decoding

// field is one AVP read in place; data aliases the message being decoded, whole the AVP with its padding.
type field struct {
	code   uint32
	flags  uint8
	vendor uint32
	data   []byte
	whole  []byte
}

func (f field) key() avpKey { return avpKey{AVPCode(f.code), f.vendor} }

// reader decodes the AVPs of one message. The first problem becomes err, a *diameter.Error with the RFC
// 6733 §7.1.5 code; reading goes on after it so that a failed request still yields its Session-Id.
type reader struct {
	request bool
	err     *diameter.Error
	seen    map[avpKey]bool
	depth   int
}

func (r *reader) fail(code diameter.ResultCode, format string, args ...any) {
	if r.err == nil {
		r.err = &diameter.Error{Code: code, Err: fmt.Errorf(format, args...)}
	}
}

// once records f and reports whether it is the first of its kind at the top level of the message.
func (r *reader) once(f field) bool {
	if r.seen == nil {
		r.seen = map[avpKey]bool{}
	}
	if r.seen[f.key()] {
		r.fail(diameter.AVPOccursTooManyTimes, "AVP %d (vendor %d) occurs more than once", f.code, f.vendor)
		return false
	}
	r.seen[f.key()] = true
	return true
}

// walk calls visit for each AVP of b; an AVP that does not fit ends the walk with
// DIAMETER_INVALID_AVP_LENGTH (RFC 6733 §7.1.5).
func (r *reader) walk(b []byte, visit func(f field)) {
	for len(b) > 0 {
		if len(b) < 8 {
			r.fail(diameter.InvalidAVPLength, "%d bytes left, an AVP header needs 8", len(b))
			return
		}
		f := field{code: binary.BigEndian.Uint32(b), flags: b[4]}
		n := int(b[5])<<16 | int(b[6])<<8 | int(b[7])
		hl := 8
		if f.flags&avpFlagVendor != 0 {
			hl = 12
			if len(b) < 12 {
				r.fail(diameter.InvalidAVPLength, "vendor AVP header truncated")
				return
			}
			f.vendor = binary.BigEndian.Uint32(b[8:])
		}
		if n < hl || n > len(b) {
			r.fail(diameter.InvalidAVPLength, "AVP %d: length %d of %d bytes", f.code, n, len(b))
			return
		}
		padded := (n + 3) &^ 3
		if padded > len(b) {
			padded = len(b) // the last AVP's padding may be cut by a sloppy peer; tolerated
		}
		f.data, f.whole = b[hl:n], b[:padded]
		visit(f)
		b = b[padded:]
	}
}

func (r *reader) text(f field, dst *string) {
	if !utf8.Valid(f.data) {
		r.fail(diameter.InvalidAVPValue, "AVP %d is not UTF-8", f.code)
		return
	}
	*dst = string(f.data)
}

func (r *reader) u32(f field) (uint32, bool) {
	if len(f.data) != 4 {
		r.fail(diameter.InvalidAVPLength, "AVP %d: %d bytes, want 4", f.code, len(f.data))
		return 0, false
	}
	return binary.BigEndian.Uint32(f.data), true
}

func (r *reader) time(f field) time.Time {
	v, ok := r.u32(f)
	if !ok {
		return time.Time{}
	}
	// RFC 6733 §4.3.1: a value with the top bit clear is in the era starting 2036 (RFC 5905 §6).
	secs := int64(v) - ntpOffset
	if v < 1<<31 {
		secs += 1 << 32
	}
	return time.Unix(secs, 0).UTC()
}

// result reads Result-Code and Experimental-Result into res.
func (r *reader) result(f field, res *Result) bool {
	switch f.key() {
	case avpKey{AVPResultCode, 0}:
		if v, ok := r.u32(f); ok && r.once(f) {
			res.Code, res.Vendor = v, 0
		}
		return true
	case avpKey{AVPExperimentalResult, 0}:
		if r.once(f) {
			r.walk(f.data, func(g field) {
				switch g.key() {
				case avpKey{AVPVendorID, 0}:
					res.Vendor, _ = r.u32(g)
				case avpKey{AVPExperimentalResultCode, 0}:
					res.Code, _ = r.u32(g)
				}
			})
		}
		return true
	}
	return false
}

// common reads the AVPs every GAA message may carry; it reports whether f was one of them.
func (r *reader) common(f field, sessionID, host, realm *string) bool {
	switch f.key() {
	case avpKey{AVPSessionID, 0}:
		if r.once(f) {
			r.text(f, sessionID)
		}
	case avpKey{AVPOriginHost, 0}:
		if r.once(f) {
			r.text(f, host)
		}
	case avpKey{AVPOriginRealm, 0}:
		if r.once(f) {
			r.text(f, realm)
		}
	case avpKey{AVPVendorSpecificApplicationID, 0}, avpKey{AVPAuthSessionState, 0}:
		r.once(f) // written again on encoding
	default:
		return false
	}
	return true
}

// unknown keeps an AVP no field holds. In a request an unknown AVP with 'M' is DIAMETER_AVP_UNSUPPORTED
// (RFC 6733 §4.1) unless it is a base AVP the ABNF allows anywhere (Proxy-Info, Route-Record, …).
func (r *reader) unknown(f field, dst *[][]byte) {
	if r.request && f.flags&0x40 != 0 && f.vendor != 0 {
		r.fail(diameter.AVPUnsupported, "AVP %d (vendor %d) with 'M' is not supported", f.code, f.vendor)
	}
	a := append([]byte(nil), f.whole...)
	for len(a)&3 != 0 { // the last AVP's padding was cut: restore it so that re-encoding stays aligned
		a = append(a, 0)
	}
	*dst = append(*dst, a)
}

// body checks the header of b as a message of app and cmd, in the direction request, and returns its AVPs.
func body(b []byte, h *Header, app uint32, cmd Command, request bool) ([]byte, error) {
	if len(b) < headerLength {
		return nil, fmt.Errorf("%w: %d bytes", ErrUnexpectedMessage, len(b))
	}
	n := int(b[1])<<16 | int(b[2])<<8 | int(b[3])
	code := Command(uint32(b[5])<<16 | uint32(b[6])<<8 | uint32(b[7]))
	gotApp := binary.BigEndian.Uint32(b[8:])
	if b[0] != 1 || n != len(b) || n%4 != 0 {
		return nil, &diameter.Error{Code: diameter.InvalidMessageLength, Err: fmt.Errorf("version %d, length %d of %d bytes", b[0], n, len(b))}
	}
	if code != cmd || gotApp != app || (b[4]&flagRequest != 0) != request {
		return nil, fmt.Errorf("%w: command %d application %d flags %#x", ErrUnexpectedMessage, code, gotApp, b[4])
	}
	*h = Header{Flags: b[4], HopByHop: binary.BigEndian.Uint32(b[12:]), EndToEnd: binary.BigEndian.Uint32(b[16:]),
		applicationID: gotApp, command: code}
	return b[headerLength:], nil
}

// missing is DIAMETER_MISSING_AVP for a required AVP (RFC 6733 §7.1.5).
func (r *reader) missing(present bool, name string) {
	if !present {
		r.fail(diameter.MissingAVP, "%s is missing", name)
	}
}

// done returns the decoding outcome.
func (r *reader) done() error {
	if r.err != nil {
		return r.err
	}
	return nil
}
