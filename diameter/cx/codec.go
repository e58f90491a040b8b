package cx

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"time"
	"unicode/utf8"

	"github.com/fiorix/go-diameter/v4/diam"
	"github.com/fiorix/go-diameter/v4/diam/avp"
	"github.com/fiorix/go-diameter/v4/diam/datatype"
	"github.com/imscore/imscore/diameter"
)

// base and tgpp name an AVP definition: an IETF AVP (vendor 0) or a 3GPP one (vendor 10415).
func base(code AVPCode) avpKey { return avpKey{code, 0} }
func tgpp(code AVPCode) avpKey { return avpKey{code, Vendor3GPP} }

// rfc868Offset is the number of seconds between 1900 (Diameter Time, RFC 6733 §4.3.1, an NTP
// timestamp) and 1970 (Unix time).
const rfc868Offset = 2208988800

// ---------------------------------------------------------------------------------------------
// Encoding

// encoder appends the AVPs of a message to buf, in wire form (RFC 6733 §4.1): header, flags,
// vendor, value, padding to 32 bits. A grouped AVP is written in place and its length patched
// when its children are done, so encoding allocates nothing beyond growing buf. The first
// problem sticks in err and later calls do nothing.
type encoder struct {
	buf []byte
	err error
}

func (e *encoder) fail(err error) {
	if e.err == nil {
		e.err = err
	}
}

func (e *encoder) invalid(format string, args ...any) {
	e.fail(fmt.Errorf("%w: %s", ErrInvalidField, fmt.Sprintf(format, args...)))
}

// begin appends the header of AVP k with its flags (avpFlags) and a zero length, and returns
// where it starts; end patches the length and pads.
func (e *encoder) begin(k avpKey) int {
	start := len(e.buf)
	flags := avpFlags(k)
	e.buf = binary.BigEndian.AppendUint32(e.buf, uint32(k.code))
	e.buf = append(e.buf, flags, 0, 0, 0)
	if flags&avp.Vbit != 0 {
		e.buf = binary.BigEndian.AppendUint32(e.buf, k.vendor)
	}
	return start
}

// end sets the AVP Length of the AVP begun at start (header and data, not the padding, RFC 6733
// §4.1) and pads it with zeros to a 32-bit boundary.
func (e *encoder) end(start int) {
	n := len(e.buf) - start
	if n > maxAVPLength {
		e.invalid("AVP %d is %d bytes long, more than its 24-bit length field holds",
			binary.BigEndian.Uint32(e.buf[start:]), n)
		return
	}
	e.buf[start+5], e.buf[start+6], e.buf[start+7] = byte(n>>16), byte(n>>8), byte(n)
	e.buf = append(e.buf, zeros[:pad(n)]...)
}

// pad is the number of zero bytes that bring n to a 32-bit boundary.
func pad(n int) int { return -n & 3 }

var zeros [3]byte

// maxAVPLength is the largest AVP Length the 24-bit field holds (RFC 6733 §4.1).
const maxAVPLength = 1<<24 - 1

func (e *encoder) putBytes(k avpKey, v []byte) {
	if e.err != nil {
		return
	}
	start := e.begin(k)
	e.buf = append(e.buf, v...)
	e.end(start)
}

func (e *encoder) putString(k avpKey, v string) {
	if e.err != nil {
		return
	}
	start := e.begin(k)
	e.buf = append(e.buf, v...)
	e.end(start)
}

// str writes a UTF8String (RFC 6733 §4.3.1: must be valid UTF-8). An empty value is an error:
// use optStr for optional AVPs.
func (e *encoder) str(k avpKey, name, v string) {
	if v == "" {
		e.invalid("%s is empty", name)
		return
	}
	e.optStr(k, name, v)
}

func (e *encoder) optStr(k avpKey, name, v string) {
	if v == "" {
		return
	}
	if !utf8.ValidString(v) {
		e.invalid("%s is not UTF-8", name)
		return
	}
	e.putString(k, v)
}

// ident writes a DiameterIdentity (an FQDN or realm, RFC 6733 §4.3.1).
func (e *encoder) ident(k avpKey, name, v string) { e.str(k, name, v) }

func (e *encoder) optIdent(k avpKey, name, v string) { e.optStr(k, name, v) }

// optURI writes a DiameterURI (RFC 6733 §4.3.1) unless v is empty.
func (e *encoder) optURI(k avpKey, name, v string) { e.optStr(k, name, v) }

// octets writes an OctetString; nil is an error (use optOctets for optional AVPs), an empty
// non-nil slice is sent as a zero-length value.
func (e *encoder) octets(k avpKey, name string, v []byte) {
	if v == nil {
		e.invalid("%s is missing", name)
		return
	}
	e.putBytes(k, v)
}

func (e *encoder) optOctets(k avpKey, v []byte) {
	if v != nil {
		e.putBytes(k, v)
	}
}

func (e *encoder) u32(k avpKey, v uint32) {
	if e.err != nil {
		return
	}
	start := e.begin(k)
	e.buf = binary.BigEndian.AppendUint32(e.buf, v)
	e.end(start)
}

func (e *encoder) optU32(k avpKey, v *uint32) {
	if v != nil {
		e.u32(k, *v)
	}
}

func (e *encoder) u64(k avpKey, v uint64) {
	if e.err != nil {
		return
	}
	start := e.begin(k)
	e.buf = binary.BigEndian.AppendUint64(e.buf, v)
	e.end(start)
}

func (e *encoder) optU64(k avpKey, v *uint64) {
	if v != nil {
		e.u64(k, *v)
	}
}

// optTime writes a Time (RFC 6733 §4.3.1: NTP seconds since 1900, wrapping in 2036) unless nil.
func (e *encoder) optTime(k avpKey, v *time.Time) {
	if v != nil {
		e.u32(k, uint32(v.Unix()+rfc868Offset))
	}
}

// addr writes an Address (RFC 6733 §4.3.1: 2-byte IANA address family, then the address).
func (e *encoder) addr(k avpKey, name string, v netip.Addr) {
	if e.err != nil {
		return
	}
	var fam byte
	switch {
	case v.Is4():
		fam = 1
	case v.Is6():
		fam = 2
	default:
		e.invalid("%s is not an IP address", name)
		return
	}
	start := e.begin(k)
	e.buf = append(e.buf, 0, fam)
	if fam == 1 {
		a4 := v.As4()
		e.buf = append(e.buf, a4[:]...)
	} else {
		a16 := v.As16()
		e.buf = append(e.buf, a16[:]...)
	}
	e.end(start)
}

func encodeEnum[T enum](e *encoder, k avpKey, v T) {
	if !v.valid() {
		e.invalid("%s is not defined", v)
		return
	}
	e.u32(k, uint32(int32(v)))
}

func encodeOptEnum[T enum](e *encoder, k avpKey, v *T) {
	if v != nil {
		encodeEnum(e, k, *v)
	}
}

func encodeFlags[T ~uint32](e *encoder, k avpKey, v *T) {
	if v != nil {
		e.u32(k, uint32(*v))
	}
}

// group writes a Grouped AVP whose children fill adds, in place.
func (e *encoder) group(k avpKey, fill func(g *encoder)) {
	if e.err != nil {
		return
	}
	start := e.begin(k)
	fill(e)
	if e.err == nil {
		e.end(start)
	}
}

// extra appends AVPs kept from a decoded message (the Unknown fields) unchanged.
func (e *encoder) extra(avps []*diam.AVP) {
	for _, a := range avps {
		if e.err != nil {
			return
		}
		if a == nil || a.Data == nil {
			e.invalid("unknown AVP without data")
			return
		}
		n := a.Len()
		if n > maxAVPLength {
			e.invalid("AVP %d is %d bytes long", a.Code, n)
			return
		}
		e.buf = append(e.buf, make([]byte, n)...)
		if err := a.SerializeTo(e.buf[len(e.buf)-n:]); err != nil {
			e.invalid("AVP %d: %v", a.Code, err)
			return
		}
		e.buf = append(e.buf, zeros[:pad(n)]...) // a Data type that miscounts its padding
	}
}

// ---------------------------------------------------------------------------------------------
// Decoding

// wireAVP is one AVP read in place (RFC 6733 §4.1): data aliases the message being decoded.
type wireAVP struct {
	code   uint32
	flags  uint8
	vendor uint32
	data   []byte
}

func keyOf(a wireAVP) avpKey { return avpKey{AVPCode(a.code), a.vendor} }

// toDiam copies a into a go-diameter AVP with opaque data, for Unknown and Failed-AVP.
func (a wireAVP) toDiam() *diam.AVP {
	return &diam.AVP{Code: a.code, Flags: a.flags, VendorID: a.vendor, Length: a.headerLen() + len(a.data),
		Data: datatype.OctetString(append([]byte{}, a.data...))}
}

func (a wireAVP) headerLen() int {
	if a.flags&avp.Vbit != 0 {
		return 12
	}
	return 8
}

// decoder reads the AVPs of one message into struct fields, walking the bytes once. The first
// problem found becomes err, a *diameter.Error carrying the RFC 6733 §7.1.5 code and Failed-AVP;
// decoding goes on after it (only the first is reported), so that a failed request still yields
// the Session-Id and Proxy-Info its error answer needs.
//
// Grouped AVPs are decoded with the same decoder: group opens a scope (the AVPs seen from
// scopeStart on, its own error) and closes it when its children are done.
type decoder struct {
	request    bool // unknown AVPs with the 'M' bit are rejected in requests (RFC 6733 §4.1)
	err        *diameter.Error
	seen       []avpKey
	scopeStart int
	depth      int
	seenArr    [32]avpKey
}

// newDecoder starts decoding a message body the decoder owns: decoded byte slices point into it
// (unmarshalBinary copies the caller's bytes once for that); strings are copied.
func newDecoder(request bool) *decoder {
	d := &decoder{request: request}
	d.seen = d.seenArr[:0]
	return d
}

func (d *decoder) ok() bool { return d.err == nil }

func (d *decoder) fail(code diameter.ResultCode, failed *diam.AVP, format string, args ...any) {
	if d.err != nil {
		return
	}
	d.err = &diameter.Error{Code: code, Err: fmt.Errorf(format, args...)}
	if failed != nil {
		d.err.FailedAVPs = []*diam.AVP{failed}
	}
}

func (d *decoder) has(k avpKey) bool {
	for _, s := range d.seen[d.scopeStart:] {
		if s == k {
			return true
		}
	}
	return false
}

// once records a and reports whether it is its first occurrence; a second one is
// DIAMETER_AVP_OCCURS_TOO_MANY_TIMES with that second AVP as Failed-AVP (RFC 6733 §7.1.5).
func (d *decoder) once(a wireAVP) bool {
	k := keyOf(a)
	if d.has(k) {
		d.fail(diameter.AVPOccursTooManyTimes, a.toDiam(), "AVP %d (vendor %d) occurs more than once", a.code, a.vendor)
		return false
	}
	d.seen = append(d.seen, k)
	return true
}

// many records a repeatable AVP.
func (d *decoder) many(a wireAVP) bool {
	if k := keyOf(a); !d.has(k) {
		d.seen = append(d.seen, k)
	}
	return true
}

// each calls f for every AVP of b (a message body or a grouped AVP's data). An AVP whose
// header or length does not fit in b is DIAMETER_INVALID_AVP_LENGTH with its header as
// Failed-AVP (RFC 6733 §7.1.5) and ends the walk; nothing is allocated from a length field.
func (d *decoder) each(b []byte, f func(a wireAVP)) {
	for len(b) > 0 {
		h, err := parseAVPHeader(b)
		if err != nil {
			d.fail(diameter.InvalidAVPLength, headerOnly(b), "%v", err)
			return
		}
		if d.request && h.flags&avpFlagsReserved != 0 {
			d.fail(diameter.InvalidAVPBits, wireAVP{h.code, h.flags, h.vendor, h.payload}.toDiam(),
				"AVP %d: reserved flag bits 0x%02x set", h.code, h.flags&avpFlagsReserved)
		}
		f(wireAVP{code: h.code, flags: h.flags, vendor: h.vendor, data: h.payload})
		if h.padded > len(b) { // the last AVP may lack its padding
			return
		}
		b = b[h.padded:]
	}
}

// avpFlagsReserved are the AVP flag bits RFC 6733 §4.1 reserves ("r"); 'P' is tolerated.
const avpFlagsReserved uint8 = 0x1f

// result returns the first problem as a *diameter.Error (its cause prefixed with op), or nil.
func (d *decoder) result(op string) error {
	if d.err == nil {
		return nil
	}
	d.err.Err = fmt.Errorf("%s: %w", op, d.err.Err)
	return d.err
}

// need reports a required AVP that did not occur as DIAMETER_MISSING_AVP, with an example AVP
// of that code and vendor and a zero value of the minimum length as Failed-AVP (RFC 6733 §7.5).
func (d *decoder) need(k avpKey, name string, zero datatype.Type) {
	if d.ok() && !d.has(k) {
		d.fail(diameter.MissingAVP, diam.NewAVP(uint32(k.code), avpFlags(k), k.vendor, zero), "missing %s", name)
	}
}

// unknown keeps an AVP no field takes. In a request an AVP we do not know with the 'M' bit set
// is DIAMETER_AVP_UNSUPPORTED (RFC 6733 §4.1, §7.1.5).
func (d *decoder) unknown(a wireAVP, dst *[]*diam.AVP) {
	if d.request && a.flags&avp.Mbit != 0 {
		if known, _ := avpRules(keyOf(a)); !known {
			d.fail(diameter.AVPUnsupported, a.toDiam(), "AVP %d (vendor %d) with the M bit is not supported", a.code, a.vendor)
			return
		}
	}
	*dst = append(*dst, a.toDiam())
}

// sized returns the data of a fixed-size AVP, or reports DIAMETER_INVALID_AVP_LENGTH.
func (d *decoder) sized(a wireAVP, size int) ([]byte, bool) {
	if len(a.data) != size {
		// RFC 6733 §7.1.5: the AVP header and a zero-filled value of the minimum length.
		d.fail(diameter.InvalidAVPLength, diam.NewAVP(a.code, a.flags, a.vendor, datatype.OctetString(make([]byte, size))),
			"AVP %d (vendor %d) has %d bytes of data, want %d", a.code, a.vendor, len(a.data), size)
		return nil, false
	}
	return a.data, true
}

func (d *decoder) str(a wireAVP) (string, bool) {
	if !utf8.Valid(a.data) {
		d.fail(diameter.InvalidAVPValue, a.toDiam(), "AVP %d (vendor %d) is not UTF-8", a.code, a.vendor)
		return "", false
	}
	// A copy: strings are what callers keep as keys (identities, hosts), and one pointing into
	// the message would keep all of it alive.
	return string(a.data), true
}

func (d *decoder) octets(a wireAVP) ([]byte, bool) {
	// Capacity capped so that an append by the caller never writes over the next AVP.
	return a.data[:len(a.data):len(a.data)], true
}

func (d *decoder) u32(a wireAVP) (uint32, bool) {
	b, ok := d.sized(a, 4)
	if !ok {
		return 0, false
	}
	return binary.BigEndian.Uint32(b), true
}

func (d *decoder) u64(a wireAVP) (uint64, bool) {
	b, ok := d.sized(a, 8)
	if !ok {
		return 0, false
	}
	return binary.BigEndian.Uint64(b), true
}

func (d *decoder) i32(a wireAVP) (int32, bool) {
	v, ok := d.u32(a)
	return int32(v), ok
}

// time decodes a Time: NTP seconds; values with the top bit clear are after the 2036 wrap
// (RFC 6733 §4.3.1 refers to RFC 5905 for the era).
func (d *decoder) time(a wireAVP) (time.Time, bool) {
	v, ok := d.u32(a)
	if !ok {
		return time.Time{}, false
	}
	sec := int64(v)
	if sec&0x80000000 == 0 {
		sec += 1 << 32
	}
	return time.Unix(sec-rfc868Offset, 0).UTC(), true
}

// addr decodes an Address holding an IPv4 (family 1) or IPv6 (family 2) address.
func (d *decoder) addr(a wireAVP) (netip.Addr, bool) {
	b := a.data
	if len(b) < 2 {
		d.fail(diameter.InvalidAVPLength, diam.NewAVP(a.code, a.flags, a.vendor, datatype.OctetString(net4zero())),
			"AVP %d (vendor %d): Address of %d bytes", a.code, a.vendor, len(b))
		return netip.Addr{}, false
	}
	switch fam := binary.BigEndian.Uint16(b); {
	case fam == 1 && len(b) == 6:
		return netip.AddrFrom4([4]byte(b[2:])), true
	case fam == 2 && len(b) == 18:
		return netip.AddrFrom16([16]byte(b[2:])), true
	}
	d.fail(diameter.InvalidAVPValue, a.toDiam(), "AVP %d (vendor %d) is not an IP address", a.code, a.vendor)
	return netip.Addr{}, false
}

func net4zero() []byte { return []byte{0, 1, 0, 0, 0, 0} }

// group decodes grouped AVP a: visit is called for each child and returns false for those it
// does not take, which go to *unknown; check then looks for required children. A problem inside
// is reported through the parent as RFC 6733 §7.5 allows: the Failed-AVP is the grouped AVP
// holding only the offending (or example missing) child.
func (d *decoder) group(a wireAVP, unknown *[]*diam.AVP, visit func(g *decoder, c wireAVP) bool, check func(g *decoder)) {
	if d.depth >= maxGroupDepth {
		d.fail(diameter.InvalidAVPValue, a.toDiam(), "AVP %d (vendor %d): grouped AVPs nested too deep", a.code, a.vendor)
		return
	}
	outerErr, outerStart, outerLen := d.err, d.scopeStart, len(d.seen)
	d.err, d.scopeStart = nil, len(d.seen)
	d.depth++
	d.each(a.data, func(c wireAVP) {
		if !visit(d, c) {
			d.unknown(c, unknown)
		}
	})
	if d.ok() && check != nil {
		check(d)
	}
	d.depth--
	inner := d.err
	d.err, d.scopeStart, d.seen = outerErr, outerStart, d.seen[:outerLen]
	if inner == nil || !d.ok() {
		return
	}
	wrapped := make([]*diam.AVP, len(inner.FailedAVPs))
	for i, f := range inner.FailedAVPs {
		wrapped[i] = diam.NewAVP(a.code, a.flags, a.vendor, &diam.GroupedAVP{AVP: []*diam.AVP{f}})
	}
	d.err = &diameter.Error{Code: inner.Code, FailedAVPs: wrapped,
		Err: fmt.Errorf("in AVP %d (vendor %d): %w", a.code, a.vendor, inner.Err)}
}

// Setters: each records the occurrence (once for [ X ] and { X }, many for *[ X ]) and stores
// the decoded value.

func (d *decoder) setStr(a wireAVP, dst *string) {
	if d.once(a) {
		if v, ok := d.str(a); ok {
			*dst = v
		}
	}
}

func (d *decoder) addStr(a wireAVP, dst *[]string) {
	if d.many(a) {
		if v, ok := d.str(a); ok {
			*dst = append(*dst, v)
		}
	}
}

func (d *decoder) setOctets(a wireAVP, dst *[]byte) {
	if d.once(a) {
		if v, ok := d.octets(a); ok {
			*dst = v
		}
	}
}

func (d *decoder) addOctets(a wireAVP, dst *[][]byte) {
	if d.many(a) {
		if v, ok := d.octets(a); ok {
			*dst = append(*dst, v)
		}
	}
}

func (d *decoder) setU32(a wireAVP, dst *uint32) {
	if d.once(a) {
		if v, ok := d.u32(a); ok {
			*dst = v
		}
	}
}

func (d *decoder) setOptU32(a wireAVP, dst **uint32) {
	if d.once(a) {
		if v, ok := d.u32(a); ok {
			*dst = &v
		}
	}
}

func (d *decoder) addU32(a wireAVP, dst *[]uint32) {
	if d.many(a) {
		if v, ok := d.u32(a); ok {
			*dst = append(*dst, v)
		}
	}
}

func (d *decoder) setU64(a wireAVP, dst *uint64) {
	if d.once(a) {
		if v, ok := d.u64(a); ok {
			*dst = v
		}
	}
}

func (d *decoder) setOptU64(a wireAVP, dst **uint64) {
	if d.once(a) {
		if v, ok := d.u64(a); ok {
			*dst = &v
		}
	}
}

func (d *decoder) setOptTime(a wireAVP, dst **time.Time) {
	if d.once(a) {
		if v, ok := d.time(a); ok {
			*dst = &v
		}
	}
}

func decodeEnum[T enum](d *decoder, a wireAVP) (T, bool) {
	n, ok := d.i32(a)
	if !ok {
		return 0, false
	}
	if v := T(n); v.valid() {
		return v, true
	}
	d.fail(diameter.InvalidAVPValue, a.toDiam(), "AVP %d (vendor %d): %d is not a defined value", a.code, a.vendor, n)
	return 0, false
}

func setEnum[T enum](d *decoder, a wireAVP, dst *T) {
	if d.once(a) {
		if v, ok := decodeEnum[T](d, a); ok {
			*dst = v
		}
	}
}

func setOptEnum[T enum](d *decoder, a wireAVP, dst **T) {
	if d.once(a) {
		if v, ok := decodeEnum[T](d, a); ok {
			*dst = &v
		}
	}
}

func setFlags[T ~uint32](d *decoder, a wireAVP, dst **T) {
	if d.once(a) {
		if v, ok := d.u32(a); ok {
			f := T(v)
			*dst = &f
		}
	}
}

// ---------------------------------------------------------------------------------------------
// AVP framing (RFC 6733 §4.1), read in place.

var errAVPFraming = errors.New("bad AVP framing")

// avpHeader is an AVP header read in place (RFC 6733 §4.1), with the payload it frames.
type avpHeader struct {
	code, vendor   uint32
	flags          uint8
	length, padded int    // AVP Length, and the bytes it takes with padding
	payload        []byte // aliases the input
}

func parseAVPHeader(b []byte) (avpHeader, error) {
	var h avpHeader
	if len(b) < 8 {
		return h, fmt.Errorf("%w: %d bytes left, an AVP header needs 8", errAVPFraming, len(b))
	}
	h.code = binary.BigEndian.Uint32(b[0:4])
	h.flags = b[4]
	h.length = int(b[5])<<16 | int(b[6])<<8 | int(b[7])
	hdr := 8
	if h.flags&avp.Vbit != 0 {
		hdr = 12
	}
	if h.length < hdr {
		return h, fmt.Errorf("%w: AVP %d length %d is shorter than its header", errAVPFraming, h.code, h.length)
	}
	h.padded = (h.length + 3) &^ 3
	if h.padded > len(b) {
		return h, fmt.Errorf("%w: AVP %d length %d overruns the %d bytes left", errAVPFraming, h.code, h.length, len(b))
	}
	if hdr == 12 {
		h.vendor = binary.BigEndian.Uint32(b[8:12])
	}
	h.payload = b[hdr:h.length]
	return h, nil
}
