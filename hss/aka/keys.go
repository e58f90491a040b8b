package aka

import (
	"fmt"

	"github.com/wmnsk/milenage"
)

// Keys is what the HSS (or the USIM) holds for one subscriber.
//
// Exactly one of OP and OPc is set. Operators either provision OPc per subscriber (preferred: OP never
// leaves the operator) or one OP for all, from which OPc is derived per K (TS 35.206 §4.1); SIPp, for one,
// is configured with OP. AMF is the value the HSS puts into every AUTN it makes; the USIM takes the AMF from
// the AUTN it receives and ignores this field.
type Keys struct {
	K   [16]byte
	OP  *[16]byte
	OPc *[16]byte
	AMF [2]byte
}

// NewKeys builds Keys from byte slices as a store or a configuration file holds them: k of 16 bytes and
// exactly one of op and opc of 16 bytes, the other empty. The slices are copied.
func NewKeys(k, op, opc []byte, amf [2]byte) (Keys, error) {
	var keys Keys
	if len(k) != len(keys.K) {
		return Keys{}, fmt.Errorf("%w: K is %d bytes, want 16", ErrInvalidKeys, len(k))
	}
	copy(keys.K[:], k)
	keys.AMF = amf
	switch {
	case len(op) > 0 && len(opc) > 0:
		return Keys{}, fmt.Errorf("%w: both OP and OPc are set, exactly one is allowed", ErrInvalidKeys)
	case len(op) > 0:
		if len(op) != 16 {
			return Keys{}, fmt.Errorf("%w: OP is %d bytes, want 16", ErrInvalidKeys, len(op))
		}
		keys.OP = new([16]byte)
		copy(keys.OP[:], op)
	case len(opc) > 0:
		if len(opc) != 16 {
			return Keys{}, fmt.Errorf("%w: OPc is %d bytes, want 16", ErrInvalidKeys, len(opc))
		}
		keys.OPc = new([16]byte)
		copy(keys.OPc[:], opc)
	default:
		return Keys{}, fmt.Errorf("%w: neither OP nor OPc is set", ErrInvalidKeys)
	}
	return keys, nil
}

// Validate checks that exactly one of OP and OPc is set.
func (k Keys) Validate() error {
	switch {
	case k.OP == nil && k.OPc == nil:
		return fmt.Errorf("%w: neither OP nor OPc is set", ErrInvalidKeys)
	case k.OP != nil && k.OPc != nil:
		return fmt.Errorf("%w: both OP and OPc are set, exactly one is allowed", ErrInvalidKeys)
	}
	return nil
}

// DeriveOPc returns OPc: the stored one, or OPc = E_K(OP) ⊕ OP when only OP is stored (TS 35.206 §4.1).
func (k Keys) DeriveOPc() ([16]byte, error) {
	if err := k.Validate(); err != nil {
		return [16]byte{}, err
	}
	if k.OPc != nil {
		return *k.OPc, nil
	}
	return ComputeOPc(k.K, *k.OP)
}

// ComputeOPc derives OPc = E_K(OP) ⊕ OP (TS 35.206 §4.1), e.g. to provision OPc instead of OP.
func ComputeOPc(k, op [16]byte) ([16]byte, error) {
	var opc [16]byte
	err := guard("OPc", func() error {
		out, err := milenage.ComputeOPc(k[:], op[:])
		if err != nil {
			return err
		}
		if len(out) != len(opc) {
			return fmt.Errorf("OPc is %d bytes, want %d", len(out), len(opc))
		}
		copy(opc[:], out)
		return nil
	})
	return opc, err
}

// String keeps K, OP and OPc out of logs and error messages.
func (k Keys) String() string {
	kind := "none"
	switch {
	case k.OP != nil && k.OPc != nil:
		kind = "OP+OPc"
	case k.OP != nil:
		kind = "OP"
	case k.OPc != nil:
		kind = "OPc"
	}
	return fmt.Sprintf("aka.Keys{K:<redacted> %s:<redacted> AMF:%02x%02x}", kind, k.AMF[0], k.AMF[1])
}

// GoString redacts %#v as well.
func (k Keys) GoString() string { return k.String() }
