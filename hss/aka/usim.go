package aka

import (
	"crypto/subtle"
	"fmt"
)

// USIMConfig configures the simulated USIM.
type USIMConfig struct {
	// SQN holds IND length, Δ and L (TS 33.102 Annex C.2). IndBits must match the HSS.
	SQN SQNConfig
	// RequireSeparationBit rejects an AUTN whose AMF separation bit is 0 (AMF bit 0, the most significant,
	// TS 33.102 Annex H). TS 33.401 §6.1.1 makes the ME check it for E-UTRAN access; IMS AKA (TS 33.203)
	// does not, so it is off by default.
	RequireSeparationBit bool
}

// DefaultUSIMConfig returns the Annex C.3 SQN values and no separation-bit check.
func DefaultUSIMConfig() USIMConfig { return USIMConfig{SQN: DefaultSQNConfig()} }

// Result is what a successful USIM authentication gives the UE (TS 33.102 §6.3.3).
type Result struct {
	// RES = f2_K(RAND), 8 bytes: the SIP digest password (RFC 3310 §3.3).
	RES []byte
	CK  [16]byte
	IK  [16]byte
	// SQN and AMF are the values recovered from AUTN.
	SQN SQN
	AMF [2]byte
}

// String keeps RES, CK and IK out of logs and error messages.
func (r Result) String() string {
	return fmt.Sprintf("aka.Result{SQN:%s AMF:%02x%02x RES,CK,IK:<redacted>}", r.SQN, r.AMF[0], r.AMF[1])
}

// GoString redacts %#v as well.
func (r Result) GoString() string { return r.String() }

// USIM is the user side of AKA for the UE simulator: Milenage plus the SQN state of TS 33.102 Annex C.2,
// an array SEQ_MS(0) … SEQ_MS(a−1) indexed by IND.
//
// A USIM is not safe for concurrent use: like a real card it handles one command at a time. The simulator
// gives each simulated UE its own USIM, or serialises access.
type USIM struct {
	f      milenageFuncs
	cfg    USIMConfig
	seqArr []uint64 // SEQ_MS(i), i = IND; "the initial sequence number value in each array element shall be zero"
}

// NewUSIM makes a USIM with all SEQ_MS entries zero (Annex C.2.2). keys.AMF is not used.
func NewUSIM(keys Keys, cfg USIMConfig) (*USIM, error) {
	if err := cfg.SQN.Validate(); err != nil {
		return nil, fmt.Errorf("aka: usim: %w", err)
	}
	f, err := newMilenageFuncs(keys)
	if err != nil {
		return nil, fmt.Errorf("aka: usim: %w", err)
	}
	return &USIM{f: f, cfg: cfg, seqArr: make([]uint64, cfg.SQN.IndCount())}, nil
}

// SQNms returns SQN_MS, the highest sequence number the USIM has accepted: SEQ_MS ‖ IND of the array
// entry holding the highest SEQ (Annex C.2.2). With ties, the lowest IND.
func (u *USIM) SQNms() SQN {
	var best uint32
	for i, seq := range u.seqArr {
		if seq > u.seqArr[best] {
			best = uint32(i)
		}
	}
	return SQN(u.seqArr[best]<<u.cfg.SQN.IndBits | uint64(best))
}

// SetSQNms puts the USIM in the state of a card that has accepted exactly sqn: every entry zero but
// SEQ_MS(IND(sqn)) = SEQ(sqn). Afterwards SQNms() == sqn. Tests and the simulator use it to start from a
// known SQN (for instance the one provisioned in the HSS).
func (u *USIM) SetSQNms(sqn SQN) error {
	if !sqn.Valid() {
		return fmt.Errorf("aka: usim: %w: %#x", ErrInvalidSQN, uint64(sqn))
	}
	clear(u.seqArr)
	u.seqArr[u.cfg.SQN.IND(sqn)] = u.cfg.SQN.SEQ(sqn)
	return nil
}

// SEQArray returns a copy of SEQ_MS(0) … SEQ_MS(a−1).
func (u *USIM) SEQArray() []uint64 { return append([]uint64(nil), u.seqArr...) }

// Authenticate runs the USIM side of TS 33.102 §6.3.3 on RAND and AUTN:
//  1. AK = f5(RAND), SQN = (SQN ⊕ AK) ⊕ AK, XMAC = f1(SQN ‖ RAND ‖ AMF); XMAC ≠ MAC → ErrMACFailure.
//  2. If required, the AMF separation bit must be set → else ErrAMFSeparationBit.
//  3. SQN freshness, Annex C.2: SEQ − SEQ_MS ≤ Δ (C.2.1); SEQ_MS − SEQ < L if L is applied, and
//     SEQ > SEQ_MS(IND) (C.2.2). If not → *SyncFailure carrying AUTS = (SQN_MS ⊕ AK*) ‖ MAC-S.
//  4. Otherwise SEQ_MS(IND) = SEQ and RES = f2, CK = f3, IK = f4 are returned.
//
// Only step 4 changes the USIM's state; every error leaves it as it was.
func (u *USIM) Authenticate(rand, autn [16]byte) (Result, error) {
	res, ck, ik, ak, err := u.f.f2345(rand)
	if err != nil {
		return Result{}, fmt.Errorf("aka: usim: %w", err)
	}
	var sqnBytes [6]byte
	for i := range sqnBytes {
		sqnBytes[i] = autn[i] ^ ak[i]
	}
	amf := [2]byte{autn[6], autn[7]}
	xmac, err := u.f.f1(rand, sqnBytes, amf)
	if err != nil {
		return Result{}, fmt.Errorf("aka: usim: %w", err)
	}
	if subtle.ConstantTimeCompare(xmac[:], autn[8:16]) != 1 {
		return Result{}, fmt.Errorf("aka: usim: %w", ErrMACFailure)
	}
	if u.cfg.RequireSeparationBit && amf[0]&0x80 == 0 {
		return Result{}, fmt.Errorf("aka: usim: %w: AMF %02x%02x", ErrAMFSeparationBit, amf[0], amf[1])
	}
	sqn := SQNFromBytes(sqnBytes)
	if reason, fresh := u.fresh(sqn); !fresh {
		auts, err := u.auts(rand)
		if err != nil {
			return Result{}, fmt.Errorf("aka: usim: %w", err)
		}
		return Result{}, &SyncFailure{AUTS: auts, Reason: reason}
	}
	u.seqArr[u.cfg.SQN.IND(sqn)] = u.cfg.SQN.SEQ(sqn)
	return Result{RES: res[:], CK: ck, IK: ik, SQN: sqn, AMF: amf}, nil
}

// fresh applies the freshness conditions of TS 33.102 Annex C.2 without changing state.
func (u *USIM) fresh(sqn SQN) (SyncReason, bool) {
	seq, ind := u.cfg.SQN.SEQ(sqn), u.cfg.SQN.IND(sqn)
	seqMS := u.cfg.SQN.SEQ(u.SQNms())
	// C.2.1: "the received sequence number SQN shall only be accepted by the USIM if SEQ − SEQ_MS ≤ Δ".
	if seq > seqMS && seq-seqMS > u.cfg.SQN.Delta {
		return SyncSEQBeyondDelta, false
	}
	// C.2.2: if the limit L is applied, accepted only if SEQ_MS − SEQ < L, checked before the array.
	if u.cfg.SQN.L > 0 && seq < seqMS && seqMS-seq >= u.cfg.SQN.L {
		return SyncSEQBelowL, false
	}
	// C.2.2: fresh only if SEQ > SEQ_MS(i), i = IND.
	if seq <= u.seqArr[ind] {
		return SyncSEQNotFresh, false
	}
	return 0, true
}

// auts builds AUTS = (SQN_MS ⊕ AK*) ‖ MAC-S, MAC-S = f1*(SQN_MS ‖ RAND ‖ AMF*), AMF* = 0x0000, using
// "the highest previously accepted sequence number anywhere in the array, i.e. SQN_MS" (§6.3.3, C.2.2).
func (u *USIM) auts(rand [16]byte) ([]byte, error) {
	sqnMS := u.SQNms().Bytes()
	akStar, err := u.f.f5Star(rand)
	if err != nil {
		return nil, err
	}
	macS, err := u.f.f1Star(rand, sqnMS, resyncAMF)
	if err != nil {
		return nil, err
	}
	auts := make([]byte, AUTSLen)
	for i := range sqnMS {
		auts[i] = sqnMS[i] ^ akStar[i]
	}
	copy(auts[6:], macS[:])
	return auts, nil
}
