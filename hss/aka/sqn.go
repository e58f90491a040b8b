package aka

import (
	"encoding/binary"
	"fmt"
)

// SQN is the 48-bit AKA sequence number (TS 33.102 §6.3.2). It is split as SQN = SEQ ‖ IND, IND being the
// SQNConfig.IndBits least significant bits (TS 33.102 Annex C.1.1.1).
type SQN uint64

const (
	// SQNBits is the length of SQN (TS 33.102 §6.3.2).
	SQNBits = 48
	// MaxSQN is the largest SQN.
	MaxSQN SQN = 1<<SQNBits - 1
)

// Valid reports whether s fits in 48 bits.
func (s SQN) Valid() bool { return s <= MaxSQN }

// Bytes returns the 6-byte big-endian encoding used in AUTN and AUTS.
func (s SQN) Bytes() [6]byte {
	var b8 [8]byte
	binary.BigEndian.PutUint64(b8[:], uint64(s))
	var b [6]byte
	copy(b[:], b8[2:])
	return b
}

// SQNFromBytes decodes the 6-byte big-endian encoding.
func SQNFromBytes(b [6]byte) SQN {
	var b8 [8]byte
	copy(b8[2:], b[:])
	return SQN(binary.BigEndian.Uint64(b8[:]))
}

// String is the 12-digit hex form operators and test specs use.
func (s SQN) String() string { return fmt.Sprintf("%012x", uint64(s)) }

// Annex C parameters: TS 33.102 Annex C.3 gives 5 bits of IND (a = 32 array entries), Δ = 2^28 and
// L = 2^5 (UERANSIM's USIM uses the same IND length and Δ).
const (
	DefaultIndBits uint8  = 5
	DefaultDelta   uint64 = 1 << 28
	DefaultL       uint64 = 1 << 5
	// MaxIndBits bounds the USIM array (2^16 entries) and keeps at least 32 bits of SEQ.
	MaxIndBits uint8 = 16
)

// SQNConfig holds the TS 33.102 Annex C parameters. The HSS and the USIM must agree on IndBits; the HSS
// uses Delta to decide whether a resync must move SQN_HE back (§6.3.5 step 2); only the USIM uses L.
type SQNConfig struct {
	// IndBits is the length of IND; the USIM keeps a = 2^IndBits SEQ_MS entries (Annex C.2.2).
	IndBits uint8
	// Delta is Δ: the USIM accepts SEQ only if SEQ − SEQ_MS ≤ Δ (Annex C.2.1). Must be ≥ 1.
	Delta uint64
	// L is the USIM's optional age limit: SEQ is accepted only if SEQ_MS − SEQ < L (Annex C.2.2).
	// Zero means the limit is not applied.
	L uint64
}

// DefaultSQNConfig returns the Annex C.3 values: IND 5 bits, Δ = 2^28, L = 2^5.
func DefaultSQNConfig() SQNConfig {
	return SQNConfig{IndBits: DefaultIndBits, Delta: DefaultDelta, L: DefaultL}
}

// Validate reports the first bad field.
func (c SQNConfig) Validate() error {
	if c.IndBits < 1 || c.IndBits > MaxIndBits {
		return fmt.Errorf("%w: IndBits %d, want 1..%d", ErrInvalidSQNConfig, c.IndBits, MaxIndBits)
	}
	if c.Delta < 1 || c.Delta > c.MaxSEQ() {
		return fmt.Errorf("%w: Delta %d, want 1..%d", ErrInvalidSQNConfig, c.Delta, c.MaxSEQ())
	}
	return nil
}

// MaxSEQ is the largest SEQ: 2^(48−IndBits) − 1.
func (c SQNConfig) MaxSEQ() uint64 { return uint64(MaxSQN) >> c.IndBits }

// IndCount is a, the number of IND values and of USIM array entries: 2^IndBits.
func (c SQNConfig) IndCount() uint32 { return 1 << c.IndBits }

// SEQ returns the SEQ part of s.
func (c SQNConfig) SEQ(s SQN) uint64 { return uint64(s&MaxSQN) >> c.IndBits }

// IND returns the IND part of s.
func (c SQNConfig) IND(s SQN) uint32 { return uint32(uint64(s) & uint64(c.IndCount()-1)) }

// Join builds SEQ ‖ IND.
func (c SQNConfig) Join(seq uint64, ind uint32) (SQN, error) {
	if seq > c.MaxSEQ() {
		return 0, fmt.Errorf("%w: SEQ %d exceeds %d for %d IND bits", ErrInvalidSQN, seq, c.MaxSEQ(), c.IndBits)
	}
	if ind >= c.IndCount() {
		return 0, fmt.Errorf("%w: IND %d exceeds %d", ErrInvalidSQN, ind, c.IndCount()-1)
	}
	return SQN(seq<<c.IndBits | uint64(ind)), nil
}

// NextSQN returns the SQN to use after current (SQN_HE, the last one allocated): SEQ_HE + 1 with the next
// IND in cycle, IND_HE + 1 mod a (TS 33.102 Annex C.1.1, C.1.2). The caller stores the result as the new
// SQN_HE, in the same transaction that read current.
//
// SEQ never wraps: at SEQ = MaxSEQ it returns ErrSQNExhausted (a wrapped SEQ is below SEQ_MS and the USIM
// would reject every vector from then on, Annex C.2).
func NextSQN(current SQN, cfg SQNConfig) (SQN, error) {
	sqns, err := NextSQNs(current, 1, cfg)
	if err != nil {
		return 0, err
	}
	return sqns[0], nil
}

// MaxSQNBatch bounds n in NextSQNs. SIP-Number-Auth-Items is an Unsigned32 straight from the wire; the HSS
// should apply its own, smaller limit, this one only keeps a bad request from allocating gigabytes.
const MaxSQNBatch = 1024

// NextSQNs allocates n consecutive SQNs after current, as NextSQN applied n times, for a MAR asking for n
// vectors (SIP-Number-Auth-Items, AVP 607 of TS 29.229). The caller stores the last one as the new SQN_HE.
// Either all n are allocated or none: on ErrSQNExhausted nothing is returned. 1 ≤ n ≤ MaxSQNBatch.
func NextSQNs(current SQN, n int, cfg SQNConfig) ([]SQN, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if !current.Valid() {
		return nil, fmt.Errorf("%w: current SQN %#x", ErrInvalidSQN, uint64(current))
	}
	if n < 1 || n > MaxSQNBatch {
		return nil, fmt.Errorf("%w: %d, want 1..%d", ErrInvalidCount, n, MaxSQNBatch)
	}
	seq, ind := cfg.SEQ(current), cfg.IND(current)
	if uint64(n) > cfg.MaxSEQ()-seq {
		return nil, fmt.Errorf("allocating %d SQNs after %s (SEQ %d of %d): %w", n, current, seq, cfg.MaxSEQ(), ErrSQNExhausted)
	}
	sqns := make([]SQN, n)
	mask := cfg.IndCount() - 1
	for i := range sqns {
		seq++
		ind = (ind + 1) & mask
		sqns[i] = SQN(seq<<cfg.IndBits | uint64(ind))
	}
	return sqns, nil
}

// SQNAfter returns the SQN NextSQNs would allocate n-th after current, without allocating the n before it:
// SEQ + n with IND + n mod a (Annex C.1.1, C.1.2). The HSS uses it to reserve a block of n SQNs in one
// store write: the store records the block's end as SQN_HE, so a reserved SQN counts as generated whether
// or not it is ever sent, and the USIM tolerates the gap (Annex C.2.1). 1 ≤ n; SEQ + n over MaxSEQ is
// ErrSQNExhausted.
func SQNAfter(current SQN, n uint64, cfg SQNConfig) (SQN, error) {
	if err := cfg.Validate(); err != nil {
		return 0, err
	}
	if !current.Valid() {
		return 0, fmt.Errorf("%w: current SQN %#x", ErrInvalidSQN, uint64(current))
	}
	if n < 1 {
		return 0, fmt.Errorf("%w: %d, want ≥ 1", ErrInvalidCount, n)
	}
	seq, ind := cfg.SEQ(current), cfg.IND(current)
	if n > cfg.MaxSEQ()-seq {
		return 0, fmt.Errorf("reserving %d SQNs after %s (SEQ %d of %d): %w", n, current, seq, cfg.MaxSEQ(), ErrSQNExhausted)
	}
	mask := uint64(cfg.IndCount() - 1)
	return SQN((seq+n)<<cfg.IndBits | (uint64(ind)+n)&mask), nil
}

// SQNAfterResync returns the SQN_HE to store after a verified AUTS carrying sqnMS (TS 33.102 §6.3.5).
//
// Step 2: if the next SEQ the HSS would issue, SEQ_HE + 1, is above SEQ_MS and within Δ of it, the USIM
// will accept it and SQN_HE stays as it is. That is the case when the USIM only rejected an old vector
// (say one cached by another S-CSCF); keeping SQN_HE never re-issues a SEQ. Step 5: otherwise SQN_HE is
// reset to SQN_MS, so the next allocation continues with SEQ_MS + 1.
//
// Call it only after Resync succeeded, inside the transaction that holds SQN_HE.
func SQNAfterResync(current, sqnMS SQN, cfg SQNConfig) (SQN, error) {
	if err := cfg.Validate(); err != nil {
		return 0, err
	}
	if !current.Valid() {
		return 0, fmt.Errorf("%w: current SQN %#x", ErrInvalidSQN, uint64(current))
	}
	if !sqnMS.Valid() {
		return 0, fmt.Errorf("%w: SQN_MS %#x", ErrInvalidSQN, uint64(sqnMS))
	}
	seqHE, seqMS := cfg.SEQ(current), cfg.SEQ(sqnMS)
	if seqHE >= seqMS && seqHE-seqMS < cfg.Delta { // (SEQ_HE + 1) − SEQ_MS ≤ Δ
		return current, nil
	}
	return sqnMS, nil
}
