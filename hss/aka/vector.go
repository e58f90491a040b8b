package aka

import (
	"crypto/rand"
	"crypto/subtle"
	"fmt"
)

// Lengths fixed by TS 33.102 §6.3.2 and §6.3.3 for Milenage.
const (
	RESLen  = 8  // RES/XRES, f2 (TS 35.206 gives 64 bits)
	AUTSLen = 14 // (SQN_MS ⊕ AK*) ‖ MAC-S
)

// resyncAMF is AMF*, the dummy AMF of MAC-S: "The AMF used to calculate MAC-S assumes a dummy value of
// all zeros so that it does not need to be transmitted in the clear in the re-synch message"
// (TS 33.102 §6.3.3).
var resyncAMF = [2]byte{0x00, 0x00}

// Vector is one authentication vector (quintet, TS 33.102 §6.3.2) as the HSS returns it in a MAA
// SIP-Auth-Data-Item (AVP 612 of TS 29.229): RAND ‖ AUTN go to the UE, XRES, CK and IK to the S-CSCF.
type Vector struct {
	RAND [16]byte
	// AUTN = (SQN ⊕ AK) ‖ AMF ‖ MAC-A.
	AUTN [16]byte
	// XRES = f2_K(RAND), 8 bytes.
	XRES []byte
	CK   [16]byte
	IK   [16]byte
	// SQN is the sequence number inside AUTN (concealed there by AK).
	SQN SQN
}

// String keeps XRES, CK and IK out of logs and error messages.
func (v Vector) String() string {
	return fmt.Sprintf("aka.Vector{SQN:%s XRES,CK,IK:<redacted>}", v.SQN)
}

// GoString redacts %#v as well.
func (v Vector) GoString() string { return v.String() }

// NewRAND draws a 128-bit RAND from crypto/rand (TS 33.102 §6.3.2: RAND is a fresh random challenge).
func NewRAND() ([16]byte, error) {
	var r [16]byte
	if _, err := rand.Read(r[:]); err != nil {
		return r, fmt.Errorf("aka: RAND: %w", err)
	}
	return r, nil
}

// GenerateVector computes the vector for sqn (already allocated with NextSQN or NextSQNs) and rand
// (from NewRAND), following TS 33.102 §6.3.2 figure 7: MAC = f1(SQN ‖ RAND ‖ AMF), XRES = f2(RAND),
// CK = f3(RAND), IK = f4(RAND), AK = f5(RAND), AUTN = (SQN ⊕ AK) ‖ AMF ‖ MAC.
func GenerateVector(keys Keys, sqn SQN, rand [16]byte) (Vector, error) {
	if !sqn.Valid() {
		return Vector{}, fmt.Errorf("aka: generate vector: %w: %#x", ErrInvalidSQN, uint64(sqn))
	}
	f, err := newMilenageFuncs(keys)
	if err != nil {
		return Vector{}, fmt.Errorf("aka: generate vector: %w", err)
	}
	sqnBytes := sqn.Bytes()
	macA, err := f.f1(rand, sqnBytes, keys.AMF)
	if err != nil {
		return Vector{}, fmt.Errorf("aka: generate vector: %w", err)
	}
	res, ck, ik, ak, err := f.f2345(rand)
	if err != nil {
		return Vector{}, fmt.Errorf("aka: generate vector: %w", err)
	}
	v := Vector{RAND: rand, XRES: res[:], CK: ck, IK: ik, SQN: sqn}
	for i := range sqnBytes {
		v.AUTN[i] = sqnBytes[i] ^ ak[i]
	}
	copy(v.AUTN[6:8], keys.AMF[:])
	copy(v.AUTN[8:16], macA[:])
	return v, nil
}

// Resync verifies an AUTS from the UE for the RAND of the vector it rejected and returns SQN_MS
// (TS 33.102 §6.3.5 step 4, AUTS as built in §6.3.3): AK* = f5*(RAND), SQN_MS = AUTS[0:6] ⊕ AK*,
// XMAC-S = f1*(SQN_MS ‖ RAND ‖ AMF*) with AMF* = 0x0000, compared with MAC-S = AUTS[6:14].
//
// On ErrMACSMismatch (or ErrInvalidAUTS) the AUTS is not from the subscriber: leave SQN_HE as it is. On
// success, store SQNAfterResync(current, sqnMS, cfg). Resync never panics on any input.
func Resync(keys Keys, rand [16]byte, auts []byte) (SQN, error) {
	if len(auts) != AUTSLen {
		return 0, fmt.Errorf("aka: resync: %w, got %d", ErrInvalidAUTS, len(auts))
	}
	f, err := newMilenageFuncs(keys)
	if err != nil {
		return 0, fmt.Errorf("aka: resync: %w", err)
	}
	akStar, err := f.f5Star(rand)
	if err != nil {
		return 0, fmt.Errorf("aka: resync: %w", err)
	}
	var sqnMS [6]byte
	for i := range sqnMS {
		sqnMS[i] = auts[i] ^ akStar[i]
	}
	xmacS, err := f.f1Star(rand, sqnMS, resyncAMF)
	if err != nil {
		return 0, fmt.Errorf("aka: resync: %w", err)
	}
	if subtle.ConstantTimeCompare(xmacS[:], auts[6:AUTSLen]) != 1 {
		return 0, fmt.Errorf("aka: resync: %w", ErrMACSMismatch)
	}
	return SQNFromBytes(sqnMS), nil
}
