package rx

import (
	"encoding/binary"
	"fmt"
	"unicode/utf8"

	"github.com/fiorix/go-diameter/v4/diam"
	"github.com/fiorix/go-diameter/v4/diam/avp"
	"github.com/fiorix/go-diameter/v4/diam/datatype"
	"github.com/imscore/imscore/diameter"
)

// The wire codec: AVPs appended in place to the caller's buffer (RFC 6733 §4.1: header, flags,
// vendor, value, padding to 32 bits; a grouped AVP's length patched when its children are
// written), and read in place, bounds-checked, into the struct fields.

// maxLength is the largest AVP or message length the 24-bit length fields hold (RFC 6733 §3, §4.1).
const maxLength = 1<<24 - 1

// maxDepth bounds grouped nesting; Rx nests three deep (MCD → Media-Sub-Component → value).
const maxDepth = 8

// ---------------------------------------------------------------------------------------------
// Encoding

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

// open appends the header of AVP k with a zero length and returns where it starts.
func (w *writer) open(k avpKey) int {
	at := len(w.buf)
	f := avpFlags(k)
	w.buf = binary.BigEndian.AppendUint32(w.buf, uint32(k.code))
	w.buf = append(w.buf, f, 0, 0, 0)
	if f&avp.Vbit != 0 {
		w.buf = binary.BigEndian.AppendUint32(w.buf, k.vendor)
	}
	return at
}

// close writes the AVP Length (header and data, not the padding, RFC 6733 §4.1) of the AVP
// opened at at, and pads it to 32 bits counted from its own start.
func (w *writer) close(at int) {
	n := len(w.buf) - at
	if n > maxLength {
		w.invalid("AVP %d of %d bytes overflows its length field", binary.BigEndian.Uint32(w.buf[at:]), n)
		return
	}
	w.buf[at+5], w.buf[at+6], w.buf[at+7] = byte(n>>16), byte(n>>8), byte(n)
	for n&3 != 0 {
		w.buf = append(w.buf, 0)
		n++
	}
}

func (w *writer) raw(k avpKey, v []byte) {
	if w.err == nil {
		at := w.open(k)
		w.buf = append(w.buf, v...)
		w.close(at)
	}
}

// text writes a UTF8String, DiameterIdentity or IPFilterRule (RFC 6733 §4.3.1: UTF-8, an
// IPFilterRule is ASCII); required refuses an empty value, optional skips it.
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

func putEnum[T enum](w *writer, k avpKey, v T) {
	if !v.valid() {
		w.invalid("%s is not defined", v)
		return
	}
	w.u32(k, uint32(int32(v)))
}

func putOptEnum[T enum](w *writer, k avpKey, v *T) {
	if v != nil {
		putEnum(w, k, *v)
	}
}

// group writes the grouped AVP k whose children fill writes.
func (w *writer) group(k avpKey, fill func()) {
	if w.err == nil {
		at := w.open(k)
		fill()
		if w.err == nil {
			w.close(at)
		}
	}
}

// extra appends AVPs kept from a decoded message (Unknown, Failed-AVP contents) unchanged.
func (w *writer) extra(avps []*diam.AVP) {
	for _, a := range avps {
		if w.err != nil {
			return
		}
		if a == nil || a.Data == nil {
			w.invalid("AVP without data")
			return
		}
		n := a.Len()
		if n > maxLength {
			w.invalid("AVP %d of %d bytes", a.Code, n)
			return
		}
		at := len(w.buf)
		w.buf = append(w.buf, make([]byte, n)...)
		if err := a.SerializeTo(w.buf[at:]); err != nil {
			w.invalid("AVP %d: %v", a.Code, err)
			return
		}
		for (len(w.buf)-at)&3 != 0 {
			w.buf = append(w.buf, 0)
		}
	}
}

// ---------------------------------------------------------------------------------------------
// Decoding

// field is one AVP read in place; data aliases the message copy being decoded.
type field struct {
	code   uint32
	flags  uint8
	vendor uint32
	data   []byte
}

func (f field) key() avpKey { return avpKey{AVPCode(f.code), f.vendor} }

// diam copies f into a go-diameter AVP with opaque data, for Unknown and Failed-AVP.
func (f field) diam() *diam.AVP {
	return diam.NewAVP(f.code, f.flags, f.vendor, datatype.OctetString(append([]byte(nil), f.data...)))
}

// reader decodes the AVPs of one message. The first problem becomes err, a *diameter.Error with
// the RFC 6733 §7.1.5 code and Failed-AVP; reading goes on after it so that a failed request still
// yields the Session-Id and Proxy-Info its error answer needs.
type reader struct {
	request bool // an unknown AVP with 'M' is DIAMETER_AVP_UNSUPPORTED in a request (RFC 6733 §4.1)
	err     *diameter.Error
	seen    []avpKey // the AVPs of the current scope, for the occurrence checks
	depth   int
}

func (r *reader) fail(code diameter.ResultCode, failed *diam.AVP, format string, args ...any) {
	if r.err == nil {
		r.err = &diameter.Error{Code: code, Err: fmt.Errorf(format, args...)}
		if failed != nil {
			r.err.FailedAVPs = []*diam.AVP{failed}
		}
	}
}

func (r *reader) has(k avpKey) bool {
	for _, s := range r.seen {
		if s == k {
			return true
		}
	}
	return false
}

// single records f and reports whether it is the first of its kind; a second one is
// DIAMETER_AVP_OCCURS_TOO_MANY_TIMES with that AVP as Failed-AVP (RFC 6733 §7.1.5).
func (r *reader) single(f field) bool {
	if r.has(f.key()) {
		r.fail(diameter.AVPOccursTooManyTimes, f.diam(), "AVP %d (vendor %d) occurs more than once", f.code, f.vendor)
		return false
	}
	r.seen = append(r.seen, f.key())
	return true
}

// repeated records an AVP that may occur more than once.
func (r *reader) repeated(f field) {
	if !r.has(f.key()) {
		r.seen = append(r.seen, f.key())
	}
}

// walk calls visit for each AVP of b. An AVP whose header or length does not fit is
// DIAMETER_INVALID_AVP_LENGTH with what could be read of it as Failed-AVP, and ends the walk.
func (r *reader) walk(b []byte, visit func(f field)) {
	for len(b) > 0 {
		if len(b) < 8 {
			r.fail(diameter.InvalidAVPLength, nil, "%d bytes left, an AVP header needs 8", len(b))
			return
		}
		f := field{code: binary.BigEndian.Uint32(b), flags: b[4]}
		n := int(b[5])<<16 | int(b[6])<<8 | int(b[7])
		hdr := 8
		if f.flags&avp.Vbit != 0 {
			hdr = 12
		}
		if n < hdr || n > len(b) {
			r.fail(diameter.InvalidAVPLength, diam.NewAVP(f.code, f.flags, 0, datatype.OctetString("")),
				"AVP %d: length %d does not fit the %d bytes left", f.code, n, len(b))
			return
		}
		if hdr == 12 {
			f.vendor = binary.BigEndian.Uint32(b[8:])
		}
		f.data = b[hdr:n:n]
		if r.request && f.flags&0x1f != 0 {
			// RFC 6733 §4.1: the reserved bits "MUST be set to zero"; 5013 (§7.1.5).
			r.fail(diameter.InvalidAVPBits, f.diam(), "AVP %d: reserved flag bits set", f.code)
		}
		visit(f)
		b = b[min(n+(-n&3), len(b)):]
	}
}

// unknown keeps an AVP no field takes; in a request one Rx does not know with 'M' set is
// DIAMETER_AVP_UNSUPPORTED (RFC 6733 §4.1).
func (r *reader) unknown(f field, dst *[]*diam.AVP) {
	if r.request && f.flags&avp.Mbit != 0 {
		if known, _ := avpRules(f.key()); !known {
			r.fail(diameter.AVPUnsupported, f.diam(), "AVP %d (vendor %d) with the M bit is not supported", f.code, f.vendor)
			return
		}
	}
	*dst = append(*dst, f.diam())
}

// need reports a required AVP that did not occur: DIAMETER_MISSING_AVP with an example AVP of
// that code and a zero value of the minimum size as Failed-AVP (RFC 6733 §7.5).
func (r *reader) need(k avpKey, name string, zero datatype.Type) {
	if r.err == nil && !r.has(k) {
		r.fail(diameter.MissingAVP, diam.NewAVP(uint32(k.code), avpFlags(k), k.vendor, zero), "missing %s", name)
	}
}

func (r *reader) u32(f field) (uint32, bool) {
	if len(f.data) != 4 {
		r.fail(diameter.InvalidAVPLength, diam.NewAVP(f.code, f.flags, f.vendor, datatype.OctetString(make([]byte, 4))),
			"AVP %d (vendor %d): %d bytes of data, want 4", f.code, f.vendor, len(f.data))
		return 0, false
	}
	return binary.BigEndian.Uint32(f.data), true
}

func (r *reader) text(f field) (string, bool) {
	if !utf8.Valid(f.data) {
		r.fail(diameter.InvalidAVPValue, f.diam(), "AVP %d (vendor %d) is not UTF-8", f.code, f.vendor)
		return "", false
	}
	return string(f.data), true
}

// Setters: single for [ X ] and { X }, repeated for *[ X ].

func (r *reader) setText(f field, dst *string) {
	if r.single(f) {
		if v, ok := r.text(f); ok {
			*dst = v
		}
	}
}

func (r *reader) addText(f field, dst *[]string) {
	r.repeated(f)
	if v, ok := r.text(f); ok {
		*dst = append(*dst, v)
	}
}

// setOctets keeps an OctetString; the capacity is capped so an append by the caller never
// writes over the next AVP.
func (r *reader) setOctets(f field, dst *[]byte) {
	if r.single(f) {
		*dst = f.data
	}
}

func (r *reader) addOctets(f field, dst *[][]byte) {
	r.repeated(f)
	*dst = append(*dst, f.data)
}

func (r *reader) setU32(f field, dst *uint32) {
	if r.single(f) {
		if v, ok := r.u32(f); ok {
			*dst = v
		}
	}
}

func (r *reader) setOptU32(f field, dst **uint32) {
	if r.single(f) {
		if v, ok := r.u32(f); ok {
			*dst = &v
		}
	}
}

func getEnum[T enum](r *reader, f field) (T, bool) {
	n, ok := r.u32(f)
	if !ok {
		return 0, false
	}
	if v := T(int32(n)); v.valid() {
		return v, true
	}
	r.fail(diameter.InvalidAVPValue, f.diam(), "AVP %d (vendor %d): %d is not a defined value", f.code, f.vendor, n)
	return 0, false
}

func setEnum[T enum](r *reader, f field, dst *T) {
	if r.single(f) {
		if v, ok := getEnum[T](r, f); ok {
			*dst = v
		}
	}
}

func setOptEnum[T enum](r *reader, f field, dst **T) {
	if r.single(f) {
		if v, ok := getEnum[T](r, f); ok {
			*dst = &v
		}
	}
}

func addEnum[T enum](r *reader, f field, dst *[]T) {
	r.repeated(f)
	if v, ok := getEnum[T](r, f); ok {
		*dst = append(*dst, v)
	}
}

// group decodes the children of grouped AVP f in a scope of their own: visit returns false for a
// child it does not take (kept in *unknown), check looks for required children. A problem inside
// is reported through the parent (RFC 6733 §7.5): Failed-AVP is f holding only the offender.
func (r *reader) group(f field, unknown *[]*diam.AVP, visit func(c field) bool, check func()) {
	if r.depth >= maxDepth {
		r.fail(diameter.InvalidAVPValue, f.diam(), "AVP %d: grouped AVPs nested too deep", f.code)
		return
	}
	outerErr, outerSeen := r.err, r.seen
	r.err, r.seen = nil, nil
	r.depth++
	r.walk(f.data, func(c field) {
		if !visit(c) {
			r.unknown(c, unknown)
		}
	})
	if r.err == nil && check != nil {
		check()
	}
	r.depth--
	inner := r.err
	r.err, r.seen = outerErr, outerSeen
	if inner == nil || r.err != nil {
		return
	}
	wrapped := make([]*diam.AVP, len(inner.FailedAVPs))
	for i, a := range inner.FailedAVPs {
		wrapped[i] = diam.NewAVP(f.code, f.flags, f.vendor, &diam.GroupedAVP{AVP: []*diam.AVP{a}})
	}
	r.err = &diameter.Error{Code: inner.Code, FailedAVPs: wrapped,
		Err: fmt.Errorf("in AVP %d (vendor %d): %w", f.code, f.vendor, inner.Err)}
}

// result returns the first problem (its cause prefixed with op), or nil.
func (r *reader) result(op string) error {
	if r.err == nil {
		return nil
	}
	r.err.Err = fmt.Errorf("%s: %w", op, r.err.Err)
	return r.err
}
