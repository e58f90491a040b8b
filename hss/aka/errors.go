package aka

import (
	"errors"
	"fmt"
)

var (
	// ErrInvalidKeys means a Keys value is unusable: not exactly one of OP and OPc is set.
	ErrInvalidKeys = errors.New("aka: invalid subscriber keys")

	// ErrInvalidSQN means a sequence number does not fit the 48-bit SQN field (TS 33.102 §6.3.2).
	ErrInvalidSQN = errors.New("aka: SQN out of the 48-bit range")

	// ErrInvalidSQNConfig means an SQNConfig fails Validate.
	ErrInvalidSQNConfig = errors.New("aka: invalid SQN configuration")

	// ErrInvalidCount means NextSQNs was asked for fewer than 1 or more than MaxSQNBatch SQNs.
	ErrInvalidCount = errors.New("aka: invalid number of sequence numbers")

	// ErrSQNExhausted means SEQ_HE reached its maximum. SEQ must never wrap: the USIM rejects every SEQ not
	// above its SEQ_MS (TS 33.102 Annex C.2.1, C.2.2), so the only way forward is a new K (a new USIM).
	ErrSQNExhausted = errors.New("aka: SEQ space exhausted, SQN would wrap; the subscriber needs a new K")

	// ErrInvalidAUTS means the AUTS is not 14 bytes (SQN_MS ⊕ AK* ‖ MAC-S, TS 33.102 §6.3.3).
	ErrInvalidAUTS = errors.New("aka: AUTS must be 14 bytes")

	// ErrMACSMismatch means MAC-S in AUTS does not verify (TS 33.102 §6.3.5 step 4). The AUTS did not come
	// from the subscriber's USIM for this RAND: the caller must leave SQN_HE untouched.
	ErrMACSMismatch = errors.New("aka: AUTS MAC-S mismatch")

	// ErrMACFailure means XMAC ≠ MAC in AUTN: the USIM rejects the network (TS 33.102 §6.3.3,
	// "user authentication reject", cause MAC failure). The USIM's SQN state is unchanged.
	ErrMACFailure = errors.New("aka: AUTN MAC failure")

	// ErrAMFSeparationBit means the USIM requires the AMF separation bit (TS 33.102 Annex H, used for
	// E-UTRAN by TS 33.401 §6.1.1) and the AUTN has it cleared.
	ErrAMFSeparationBit = errors.New("aka: AMF separation bit not set")

	// ErrSyncFailure matches every *SyncFailure with errors.Is.
	ErrSyncFailure = errors.New("aka: synchronisation failure")

	// ErrMilenage wraps a failure inside the Milenage library (it should never happen with valid lengths).
	ErrMilenage = errors.New("aka: milenage")
)

// SyncReason says which freshness condition of TS 33.102 Annex C.2 rejected the SQN.
type SyncReason uint8

const (
	// SyncSEQNotFresh: SEQ ≤ SEQ_MS(IND), the array check of Annex C.2.2 (a replay or a used vector).
	SyncSEQNotFresh SyncReason = 1
	// SyncSEQBeyondDelta: SEQ − SEQ_MS > Δ, the wrap-around protection of Annex C.2.1.
	SyncSEQBeyondDelta SyncReason = 2
	// SyncSEQBelowL: SEQ_MS − SEQ ≥ L, the age limit of Annex C.2.2.
	SyncSEQBelowL SyncReason = 3
)

func (r SyncReason) String() string {
	switch r {
	case SyncSEQNotFresh:
		return "SEQ not above SEQ_MS(IND) (Annex C.2.2)"
	case SyncSEQBeyondDelta:
		return "SEQ - SEQ_MS > delta (Annex C.2.1)"
	case SyncSEQBelowL:
		return "SEQ_MS - SEQ >= L (Annex C.2.2)"
	default:
		return fmt.Sprintf("SyncReason(%d)", uint8(r))
	}
}

// SyncFailure is the USIM's answer to an authentic AUTN whose SQN is not fresh (TS 33.102 §6.3.3):
// the UE sends AUTS back (in SIP, the auts= parameter of RFC 3310 §3.4) instead of RES.
type SyncFailure struct {
	// AUTS = (SQN_MS ⊕ AK*) ‖ MAC-S, 14 bytes; MAC-S = f1*(K, SQN_MS ‖ RAND ‖ AMF*), AMF* = 0x0000.
	AUTS []byte
	// Reason is the freshness condition that failed.
	Reason SyncReason
}

func (e *SyncFailure) Error() string {
	return "aka: synchronisation failure: " + e.Reason.String()
}

// Is makes errors.Is(err, ErrSyncFailure) true for a *SyncFailure.
func (e *SyncFailure) Is(target error) bool { return target == ErrSyncFailure }
