package aka

import (
	"encoding/binary"
	"fmt"

	"github.com/wmnsk/milenage"
)

// milenageFuncs adapts github.com/wmnsk/milenage v1.2.1 to fixed-size inputs and outputs.
//
// Why an adapter: the library works on a mutable struct of slices built for one (RAND, SQN, AMF); its F1
// always uses the struct's SQN and AMF, its GenerateAUTS always uses the struct's SQN (the AUTN's, not
// SQN_MS), and it panics inside crypto/aes if a slice has the wrong length (OP nil and OPc nil, for one).
// Here every input has a fixed size, OPc is always given (derived once in Keys.DeriveOPc), f1* takes any
// SQN and AMF (F1Star accepts them explicitly, which is what resync needs), and a panic becomes an error.
type milenageFuncs struct {
	k   [16]byte
	opc [16]byte
}

func newMilenageFuncs(keys Keys) (milenageFuncs, error) {
	opc, err := keys.DeriveOPc()
	if err != nil {
		return milenageFuncs{}, err
	}
	return milenageFuncs{k: keys.K, opc: opc}, nil
}

// instance builds a fresh library value; NewWithOPc keeps our slices, so each call gets its own copies.
func (f milenageFuncs) instance(rand [16]byte, sqn [6]byte, amf [2]byte) *milenage.Milenage {
	k, opc := f.k, f.opc
	var sqn8 [8]byte
	copy(sqn8[2:], sqn[:])
	return milenage.NewWithOPc(k[:], opc[:], rand[:], binary.BigEndian.Uint64(sqn8[:]), binary.BigEndian.Uint16(amf[:]))
}

// guard turns a panic in the library into an error wrapping ErrMilenage.
func guard(fn string, run func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w %s: panic: %v", ErrMilenage, fn, r)
		}
	}()
	if err := run(); err != nil {
		return fmt.Errorf("%w %s: %w", ErrMilenage, fn, err)
	}
	return nil
}

// f1 computes MAC-A = f1_K(SQN ‖ RAND ‖ AMF) (TS 35.206 §4.1).
func (f milenageFuncs) f1(rand [16]byte, sqn [6]byte, amf [2]byte) (macA [8]byte, err error) {
	err = guard("f1", func() error {
		out, err := f.instance(rand, sqn, amf).F1()
		if err != nil {
			return err
		}
		copy(macA[:], out)
		return nil
	})
	return macA, err
}

// f1Star computes MAC-S = f1*_K(SQN ‖ RAND ‖ AMF) (TS 35.206 §4.1). For resync the caller passes SQN_MS
// and the dummy AMF* = 0x0000 (TS 33.102 §6.3.3); the TS 35.208 test data uses each set's own AMF.
func (f milenageFuncs) f1Star(rand [16]byte, sqn [6]byte, amf [2]byte) (macS [8]byte, err error) {
	err = guard("f1*", func() error {
		out, err := f.instance(rand, sqn, amf).F1Star(sqn[:], amf[:])
		if err != nil {
			return err
		}
		copy(macS[:], out)
		return nil
	})
	return macS, err
}

// f2345 computes RES = f2, CK = f3, IK = f4 and AK = f5 of RAND (TS 35.206 §4.1).
func (f milenageFuncs) f2345(rand [16]byte) (res [8]byte, ck, ik [16]byte, ak [6]byte, err error) {
	err = guard("f2345", func() error {
		r, c, i, a, err := f.instance(rand, [6]byte{}, [2]byte{}).F2345()
		if err != nil {
			return err
		}
		copy(res[:], r)
		copy(ck[:], c)
		copy(ik[:], i)
		copy(ak[:], a)
		return nil
	})
	return res, ck, ik, ak, err
}

// f5Star computes AK* = f5*_K(RAND), the key that conceals SQN_MS in AUTS (TS 35.206 §4.1).
func (f milenageFuncs) f5Star(rand [16]byte) (akStar [6]byte, err error) {
	err = guard("f5*", func() error {
		out, err := f.instance(rand, [6]byte{}, [2]byte{}).F5Star()
		if err != nil {
			return err
		}
		copy(akStar[:], out)
		return nil
	})
	return akStar, err
}
