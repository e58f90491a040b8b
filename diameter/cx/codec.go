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
	"github.com/fiorix/go-diameter/v4/diam/dict"
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

// encoder collects the AVPs of a message or of a grouped AVP for Marshal. Each AVP is checked
// against the dictionary (defined for that vendor, with that type), so that we never send what
// we could not decode; the first problem sticks in err and later calls do nothing.
type encoder struct {
	dict *dict.Parser
	avps []*diam.AVP
	err  error
}

func (e *encoder) fail(err error) {
	if e.err == nil {
		e.err = err
	}
}

func (e *encoder) invalid(format string, args ...any) {
	e.fail(fmt.Errorf("%w: %s", ErrInvalidField, fmt.Sprintf(format, args...)))
}

// put appends one AVP with the flags of its definition (avpFlags).
func (e *encoder) put(k avpKey, want datatype.TypeID, data datatype.Type) {
	if e.err != nil {
		return
	}
	def, err := e.dict.FindAVPByCode(AppID, uint32(k.code), k.vendor)
	if err != nil || def.Code != uint32(k.code) || def.VendorID != k.vendor {
		e.fail(fmt.Errorf("%w: code %d vendor %d", ErrNotInDictionary, k.code, k.vendor))
		return
	}
	if def.Data.Type != want {
		e.fail(fmt.Errorf("%w: %s (%d) is %s in the dictionary", ErrNotInDictionary, def.Name, def.Code, def.Data.TypeName))
		return
	}
	e.avps = append(e.avps, diam.NewAVP(uint32(k.code), avpFlags(k), k.vendor, data))
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
	e.put(k, datatype.UTF8StringType, datatype.UTF8String(v))
}

// ident writes a DiameterIdentity (an FQDN or realm, RFC 6733 §4.3.1).
func (e *encoder) ident(k avpKey, name, v string) {
	if v == "" {
		e.invalid("%s is empty", name)
		return
	}
	e.optIdent(k, name, v)
}

func (e *encoder) optIdent(k avpKey, name, v string) {
	if v == "" {
		return
	}
	if !utf8.ValidString(v) {
		e.invalid("%s is not UTF-8", name)
		return
	}
	e.put(k, datatype.DiameterIdentityType, datatype.DiameterIdentity(v))
}

// optURI writes a DiameterURI (RFC 6733 §4.3.1) unless v is empty.
func (e *encoder) optURI(k avpKey, name, v string) {
	if v == "" {
		return
	}
	if !utf8.ValidString(v) {
		e.invalid("%s is not UTF-8", name)
		return
	}
	e.put(k, datatype.DiameterURIType, datatype.DiameterURI(v))
}

// octets writes an OctetString; nil is an error (use optOctets for optional AVPs), an empty
// non-nil slice is sent as a zero-length value.
func (e *encoder) octets(k avpKey, name string, v []byte) {
	if v == nil {
		e.invalid("%s is missing", name)
		return
	}
	e.put(k, datatype.OctetStringType, datatype.OctetString(v))
}

func (e *encoder) optOctets(k avpKey, v []byte) {
	if v != nil {
		e.put(k, datatype.OctetStringType, datatype.OctetString(v))
	}
}

func (e *encoder) u32(k avpKey, v uint32) {
	e.put(k, datatype.Unsigned32Type, datatype.Unsigned32(v))
}

func (e *encoder) optU32(k avpKey, v *uint32) {
	if v != nil {
		e.u32(k, *v)
	}
}

func (e *encoder) u64(k avpKey, v uint64) {
	e.put(k, datatype.Unsigned64Type, datatype.Unsigned64(v))
}

func (e *encoder) optU64(k avpKey, v *uint64) {
	if v != nil {
		e.u64(k, *v)
	}
}

// optTime writes a Time (RFC 6733 §4.3.1: NTP seconds since 1900, wrapping in 2036) unless nil.
func (e *encoder) optTime(k avpKey, v *time.Time) {
	if v == nil {
		return
	}
	b := make([]byte, 4)
	binary.BigEndian.PutUint32(b, uint32(v.Unix()+rfc868Offset))
	e.put(k, datatype.TimeType, datatype.OctetString(b))
}

// addr writes an Address (RFC 6733 §4.3.1: 2-byte IANA address family, then the address).
func (e *encoder) addr(k avpKey, name string, v netip.Addr) {
	var b []byte
	switch {
	case v.Is4():
		b = append([]byte{0, 1}, v.AsSlice()...)
	case v.Is6():
		b = append([]byte{0, 2}, v.AsSlice()...)
	default:
		e.invalid("%s is not an IP address", name)
		return
	}
	// A family-prefixed slice serializes verbatim in go-diameter's Address type.
	e.put(k, datatype.AddressType, datatype.Address(b))
}

func encodeEnum[T enum](e *encoder, k avpKey, v T) {
	if !v.valid() {
		e.invalid("%s is not defined", v)
		return
	}
	e.put(k, datatype.EnumeratedType, datatype.Enumerated(int32(v)))
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

// group writes a Grouped AVP whose children fill adds.
func (e *encoder) group(k avpKey, fill func(g *encoder)) {
	if e.err != nil {
		return
	}
	g := &encoder{dict: e.dict}
	fill(g)
	if g.err != nil {
		e.fail(g.err)
		return
	}
	e.put(k, datatype.GroupedType, &diam.GroupedAVP{AVP: g.avps})
}

// extra appends AVPs kept from a decoded message (the Unknown fields) unchanged.
func (e *encoder) extra(avps []*diam.AVP) {
	for _, a := range avps {
		if a == nil || a.Data == nil {
			e.invalid("unknown AVP without data")
			return
		}
		e.avps = append(e.avps, a)
	}
}

// ---------------------------------------------------------------------------------------------
// Decoding

// decoder reads the AVPs of one message or grouped AVP into struct fields. The first problem
// found becomes err, a *diameter.Error carrying the RFC 6733 §7.1.5 code and Failed-AVP;
// later AVPs are skipped once it is set.
type decoder struct {
	request bool // unknown AVPs with the 'M' bit are rejected in requests (RFC 6733 §4.1)
	err     *diameter.Error
	seen    []avpKey
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
	for _, s := range d.seen {
		if s == k {
			return true
		}
	}
	return false
}

// once records a and reports whether it is its first occurrence; a second one is
// DIAMETER_AVP_OCCURS_TOO_MANY_TIMES with that second AVP as Failed-AVP (RFC 6733 §7.1.5).
// Decoding goes on after an error (only the first is reported), so that a failed request still
// yields the Session-Id and Proxy-Info its error answer needs.
func (d *decoder) once(a *diam.AVP) bool {
	k := keyOf(a)
	if d.has(k) {
		d.fail(diameter.AVPOccursTooManyTimes, a, "AVP %d (vendor %d) occurs more than once", a.Code, a.VendorID)
		return false
	}
	d.seen = append(d.seen, k)
	return true
}

// many records a repeatable AVP.
func (d *decoder) many(a *diam.AVP) bool {
	if k := keyOf(a); !d.has(k) {
		d.seen = append(d.seen, k)
	}
	return true
}

// each calls f for every AVP of avps; a nil entry is an error.
func (d *decoder) each(avps []*diam.AVP, f func(a *diam.AVP)) {
	for _, a := range avps {
		if a == nil {
			d.fail(diameter.InvalidAVPValue, nil, "nil AVP")
			continue
		}
		f(a)
	}
}

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
func (d *decoder) unknown(a *diam.AVP, dst *[]*diam.AVP) {
	if a == nil || a.Data == nil {
		d.fail(diameter.InvalidAVPValue, nil, "AVP without data")
		return
	}
	if d.request && a.Flags&avp.Mbit != 0 {
		if known, _ := avpRules(keyOf(a)); !known {
			d.fail(diameter.AVPUnsupported, a, "AVP %d (vendor %d) with the M bit is not supported", a.Code, a.VendorID)
			return
		}
	}
	*dst = append(*dst, a)
}

func headerLen(a *diam.AVP) int {
	if a.Flags&avp.Vbit != 0 {
		return 12
	}
	return 8
}

// framed checks that a holds data and that its length on the wire matches the data go-diameter
// decoded. go-diameter v4.3.0 decodes an Unsigned32, Integer32 or Enumerated of the wrong size
// as 0 without an error; the AVP Length it read still tells the truth.
func (d *decoder) framed(a *diam.AVP, zero datatype.Type) bool {
	if a == nil || a.Data == nil {
		d.fail(diameter.InvalidAVPValue, nil, "AVP without data")
		return false
	}
	if a.Length != 0 && a.Length != headerLen(a)+a.Data.Len() {
		d.fail(diameter.InvalidAVPLength, diam.NewAVP(a.Code, a.Flags, a.VendorID, zero),
			"AVP %d (vendor %d) has length %d", a.Code, a.VendorID, a.Length)
		return false
	}
	return true
}

// raw returns the payload bytes of a, whatever type the dictionary that decoded it chose.
func raw(a *diam.AVP) []byte {
	switch v := a.Data.(type) {
	case datatype.OctetString:
		return []byte(v)
	case datatype.UTF8String:
		return []byte(v)
	case datatype.DiameterIdentity:
		return []byte(v)
	case datatype.DiameterURI:
		return []byte(v)
	case datatype.Unknown:
		return []byte(v)
	}
	return a.Data.Serialize()
}

// sized returns the payload of a fixed-size AVP, or reports DIAMETER_INVALID_AVP_LENGTH.
func (d *decoder) sized(a *diam.AVP, size int, zero datatype.Type) ([]byte, bool) {
	if !d.framed(a, zero) {
		return nil, false
	}
	b := raw(a)
	if len(b) != size {
		d.fail(diameter.InvalidAVPLength, diam.NewAVP(a.Code, a.Flags, a.VendorID, zero),
			"AVP %d (vendor %d) has %d bytes of data, want %d", a.Code, a.VendorID, len(b), size)
		return nil, false
	}
	return b, true
}

func (d *decoder) str(a *diam.AVP) (string, bool) {
	if !d.framed(a, datatype.UTF8String("")) {
		return "", false
	}
	var s string
	switch v := a.Data.(type) {
	case datatype.UTF8String:
		s = string(v)
	case datatype.DiameterIdentity:
		s = string(v)
	default:
		s = string(raw(a))
	}
	if !utf8.ValidString(s) {
		d.fail(diameter.InvalidAVPValue, a, "AVP %d (vendor %d) is not UTF-8", a.Code, a.VendorID)
		return "", false
	}
	return s, true
}

func (d *decoder) octets(a *diam.AVP) ([]byte, bool) {
	if !d.framed(a, datatype.OctetString("")) {
		return nil, false
	}
	if v, ok := a.Data.(datatype.OctetString); ok {
		return []byte(v), true
	}
	return append([]byte{}, raw(a)...), true
}

func (d *decoder) u32(a *diam.AVP) (uint32, bool) {
	if v, ok := a.Data.(datatype.Unsigned32); ok && d.framed(a, datatype.Unsigned32(0)) {
		return uint32(v), true
	}
	b, ok := d.sized(a, 4, datatype.Unsigned32(0))
	if !ok {
		return 0, false
	}
	return binary.BigEndian.Uint32(b), true
}

func (d *decoder) u64(a *diam.AVP) (uint64, bool) {
	if v, ok := a.Data.(datatype.Unsigned64); ok && d.framed(a, datatype.Unsigned64(0)) {
		return uint64(v), true
	}
	b, ok := d.sized(a, 8, datatype.Unsigned64(0))
	if !ok {
		return 0, false
	}
	return binary.BigEndian.Uint64(b), true
}

func (d *decoder) i32(a *diam.AVP) (int32, bool) {
	if v, ok := a.Data.(datatype.Enumerated); ok && d.framed(a, datatype.Enumerated(0)) {
		return int32(v), true
	}
	b, ok := d.sized(a, 4, datatype.Enumerated(0))
	if !ok {
		return 0, false
	}
	return int32(binary.BigEndian.Uint32(b)), true
}

// time decodes a Time: NTP seconds; values with the top bit clear are after the 2036 wrap
// (RFC 6733 §4.3.1 refers to RFC 5905 for the era).
func (d *decoder) time(a *diam.AVP) (time.Time, bool) {
	b, ok := d.sized(a, 4, datatype.OctetString(make([]byte, 4)))
	if !ok {
		return time.Time{}, false
	}
	sec := int64(binary.BigEndian.Uint32(b))
	if sec&0x80000000 == 0 {
		sec += 1 << 32
	}
	return time.Unix(sec-rfc868Offset, 0).UTC(), true
}

// addr decodes an Address holding an IPv4 (family 1) or IPv6 (family 2) address.
func (d *decoder) addr(a *diam.AVP) (netip.Addr, bool) {
	if !d.framed(a, datatype.Address(net4zero())) {
		return netip.Addr{}, false
	}
	b := raw(a)
	if len(b) >= 2 {
		switch fam := binary.BigEndian.Uint16(b); {
		case fam == 1 && len(b) == 6:
			return netip.AddrFrom4([4]byte(b[2:])), true
		case fam == 2 && len(b) == 18:
			return netip.AddrFrom16([16]byte(b[2:])), true
		}
	}
	d.fail(diameter.InvalidAVPValue, a, "AVP %d (vendor %d) is not an IP address", a.Code, a.VendorID)
	return netip.Addr{}, false
}

func net4zero() []byte { return []byte{0, 1, 0, 0, 0, 0} }

// children returns the AVPs inside grouped AVP a. go-diameter has already split them when its
// dictionary knew a as Grouped; otherwise (an AVP decoded as opaque bytes) we split them here.
func (d *decoder) children(a *diam.AVP) ([]*diam.AVP, bool) {
	if !d.framed(a, &diam.GroupedAVP{}) {
		return nil, false
	}
	if g, ok := a.Data.(*diam.GroupedAVP); ok {
		for _, c := range g.AVP {
			if c == nil || c.Data == nil {
				d.fail(diameter.InvalidAVPValue, a, "grouped AVP %d (vendor %d) holds an undecodable AVP", a.Code, a.VendorID)
				return nil, false
			}
		}
		return g.AVP, true
	}
	kids, err := splitAVPs(raw(a))
	if err != nil {
		d.fail(diameter.InvalidAVPValue, a, "grouped AVP %d (vendor %d): %v", a.Code, a.VendorID, err)
		return nil, false
	}
	return kids, true
}

// group decodes grouped AVP a: visit is called for each child and returns false for those it
// does not take, which go to *unknown; check then looks for required children. A problem inside
// is reported through the parent as RFC 6733 §7.5 allows: the Failed-AVP is the grouped AVP
// holding only the offending (or example missing) child.
func (d *decoder) group(a *diam.AVP, unknown *[]*diam.AVP, visit func(g *decoder, c *diam.AVP) bool, check func(g *decoder)) {
	kids, ok := d.children(a)
	if !ok {
		return
	}
	g := &decoder{request: d.request}
	g.each(kids, func(c *diam.AVP) {
		if !visit(g, c) {
			g.unknown(c, unknown)
		}
	})
	if g.ok() && check != nil {
		check(g)
	}
	if g.ok() || !d.ok() {
		return
	}
	wrapped := make([]*diam.AVP, len(g.err.FailedAVPs))
	for i, f := range g.err.FailedAVPs {
		wrapped[i] = diam.NewAVP(a.Code, a.Flags, a.VendorID, &diam.GroupedAVP{AVP: []*diam.AVP{f}})
	}
	d.err = &diameter.Error{Code: g.err.Code, FailedAVPs: wrapped,
		Err: fmt.Errorf("in AVP %d (vendor %d): %w", a.Code, a.VendorID, g.err.Err)}
}

// Setters: each records the occurrence (once for [ X ] and { X }, many for *[ X ]) and stores
// the decoded value.

func (d *decoder) setStr(a *diam.AVP, dst *string) {
	if d.once(a) {
		if v, ok := d.str(a); ok {
			*dst = v
		}
	}
}

func (d *decoder) addStr(a *diam.AVP, dst *[]string) {
	if d.many(a) {
		if v, ok := d.str(a); ok {
			*dst = append(*dst, v)
		}
	}
}

func (d *decoder) setOctets(a *diam.AVP, dst *[]byte) {
	if d.once(a) {
		if v, ok := d.octets(a); ok {
			*dst = v
		}
	}
}

func (d *decoder) addOctets(a *diam.AVP, dst *[][]byte) {
	if d.many(a) {
		if v, ok := d.octets(a); ok {
			*dst = append(*dst, v)
		}
	}
}

func (d *decoder) setU32(a *diam.AVP, dst *uint32) {
	if d.once(a) {
		if v, ok := d.u32(a); ok {
			*dst = v
		}
	}
}

func (d *decoder) setOptU32(a *diam.AVP, dst **uint32) {
	if d.once(a) {
		if v, ok := d.u32(a); ok {
			*dst = &v
		}
	}
}

func (d *decoder) addU32(a *diam.AVP, dst *[]uint32) {
	if d.many(a) {
		if v, ok := d.u32(a); ok {
			*dst = append(*dst, v)
		}
	}
}

func (d *decoder) setU64(a *diam.AVP, dst *uint64) {
	if d.once(a) {
		if v, ok := d.u64(a); ok {
			*dst = v
		}
	}
}

func (d *decoder) setOptU64(a *diam.AVP, dst **uint64) {
	if d.once(a) {
		if v, ok := d.u64(a); ok {
			*dst = &v
		}
	}
}

func (d *decoder) setOptTime(a *diam.AVP, dst **time.Time) {
	if d.once(a) {
		if v, ok := d.time(a); ok {
			*dst = &v
		}
	}
}

func decodeEnum[T enum](d *decoder, a *diam.AVP) (T, bool) {
	n, ok := d.i32(a)
	if !ok {
		return 0, false
	}
	if v := T(n); v.valid() {
		return v, true
	}
	d.fail(diameter.InvalidAVPValue, a, "AVP %d (vendor %d): %d is not a defined value", a.Code, a.VendorID, n)
	return 0, false
}

func setEnum[T enum](d *decoder, a *diam.AVP, dst *T) {
	if d.once(a) {
		if v, ok := decodeEnum[T](d, a); ok {
			*dst = v
		}
	}
}

func setOptEnum[T enum](d *decoder, a *diam.AVP, dst **T) {
	if d.once(a) {
		if v, ok := decodeEnum[T](d, a); ok {
			*dst = &v
		}
	}
}

func setFlags[T ~uint32](d *decoder, a *diam.AVP, dst **T) {
	if d.once(a) {
		if v, ok := d.u32(a); ok {
			f := T(v)
			*dst = &f
		}
	}
}

// ---------------------------------------------------------------------------------------------
// Raw AVP framing (RFC 6733 §4.1), used where go-diameter has not split the bytes for us.

var errAVPFraming = errors.New("bad AVP framing")

// splitAVPs splits b into AVPs whose data stay opaque bytes. Every AVP must be complete and
// padded to 32 bits (RFC 6733 §4.1: "AVP Length ... does not include any bytes used for padding",
// and the next AVP starts on a 32-bit boundary).
func splitAVPs(b []byte) ([]*diam.AVP, error) {
	var out []*diam.AVP
	for len(b) > 0 {
		a, n, err := nextAVP(b)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
		b = b[n:]
	}
	return out, nil
}

// nextAVP reads the AVP at the start of b: it returns the AVP (opaque data), and how many bytes
// it takes with its padding.
func nextAVP(b []byte) (*diam.AVP, int, error) {
	h, err := parseAVPHeader(b)
	if err != nil {
		return nil, 0, err
	}
	a := &diam.AVP{Code: h.code, Flags: h.flags, Length: h.length, VendorID: h.vendor}
	a.Data = datatype.OctetString(append([]byte{}, h.payload...))
	return a, h.padded, nil
}

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
