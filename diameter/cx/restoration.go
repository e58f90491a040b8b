package cx

import (
	"fmt"

	"github.com/imscore/imscore/diameter"
)

// AppendBinary appends x in wire form as one SCSCF-Restoration-Info AVP (TS 29.229 §6.3.46): header, the
// grouped AVPs, padding. The HSS stores these bytes per private identity and implicit registration set
// and sends them back unchanged in an SAA (TS 29.228 §6.1.2.1).
func (x *SCSCFRestorationInfo) AppendBinary(b []byte) (out []byte, err error) {
	defer recoverEncode("marshal SCSCF-Restoration-Info", &out, &err)
	e := &encoder{buf: b}
	x.put(e)
	if e.err != nil {
		return b, fmt.Errorf("marshal SCSCF-Restoration-Info: %w", e.err)
	}
	return e.buf, nil
}

// UnmarshalBinary fills x from one SCSCF-Restoration-Info AVP in wire form (what AppendBinary writes). x
// keeps no reference to b. Anything else in b (another AVP, trailing bytes) is an error.
func (x *SCSCFRestorationInfo) UnmarshalBinary(b []byte) (err error) {
	defer recoverDecode("SCSCF-Restoration-Info", &err)
	own := append([]byte(nil), b...)
	d := newDecoder(false)
	n := 0
	d.each(own, func(a wireAVP) {
		n++
		if n > 1 || keyOf(a) != tgpp(AVPSCSCFRestorationInfo) {
			d.fail(diameter.InvalidAVPValue, nil, "AVP %d (vendor %d) is not one SCSCF-Restoration-Info", a.code, a.vendor)
			return
		}
		*x = decodeSCSCFRestorationInfo(d, a)
	})
	if n == 0 {
		d.fail(diameter.InvalidAVPValue, nil, "no SCSCF-Restoration-Info")
	}
	return d.result("SCSCF-Restoration-Info")
}
