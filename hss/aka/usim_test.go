package aka

import (
	"bytes"
	"errors"
	"slices"
	"testing"
)

// TestUSIMFreshness walks the conditions of TS 33.102 Annex C.2 one at a time. Each case starts from a
// USIM state, presents one network vector and expects either acceptance or a sync failure for a given
// reason; on failure the AUTS must carry SQN_MS (checked with the network's Resync) and the state must
// not change; on success exactly one array entry changes.
func TestUSIMFreshness(t *testing.T) {
	keys := testKeys(t)
	small := SQNConfig{IndBits: 5, Delta: 100, L: 32}
	type entry struct {
		seq uint64
		ind uint32
	}
	tests := []struct {
		name   string
		cfg    SQNConfig
		state  []entry // SEQ_MS(IND) values set before the vector, in order
		seq    uint64  // vector SEQ
		ind    uint32  // vector IND
		reason SyncReason
	}{
		{name: "fresh card accepts SEQ 1", cfg: small, seq: 1, ind: 0},
		{name: "fresh card rejects SEQ 0", cfg: small, seq: 0, ind: 0, reason: SyncSEQNotFresh},
		{name: "next SEQ same IND", cfg: small, state: []entry{{50, 4}}, seq: 51, ind: 4},
		{name: "replay same SEQ same IND", cfg: small, state: []entry{{50, 4}}, seq: 50, ind: 4, reason: SyncSEQNotFresh},
		{name: "older SEQ same IND", cfg: small, state: []entry{{50, 4}}, seq: 49, ind: 4, reason: SyncSEQNotFresh},
		{name: "older SEQ other IND is fresh (array scheme)", cfg: small, state: []entry{{50, 4}}, seq: 49, ind: 5},
		{name: "older SEQ other IND used higher", cfg: small, state: []entry{{40, 5}, {50, 4}}, seq: 39, ind: 5, reason: SyncSEQNotFresh},
		{name: "jump exactly delta", cfg: small, state: []entry{{50, 4}}, seq: 150, ind: 9},
		{name: "jump delta+1", cfg: small, state: []entry{{50, 4}}, seq: 151, ind: 9, reason: SyncSEQBeyondDelta},
		{name: "fresh card, HSS far ahead", cfg: small, seq: 1 << 20, ind: 0, reason: SyncSEQBeyondDelta},
		{name: "default delta 2^28 accepted", cfg: DefaultSQNConfig(), state: []entry{{7, 0}}, seq: 7 + 1<<28, ind: 0},
		{name: "default delta 2^28 + 1 rejected", cfg: DefaultSQNConfig(), state: []entry{{7, 0}}, seq: 8 + 1<<28, ind: 0, reason: SyncSEQBeyondDelta},
		{name: "L: SEQ_MS - SEQ = L-1 accepted", cfg: small, state: []entry{{100, 0}}, seq: 69, ind: 1},
		{name: "L: SEQ_MS - SEQ = L rejected", cfg: small, state: []entry{{100, 0}}, seq: 68, ind: 2, reason: SyncSEQBelowL},
		{name: "L not applied: old SEQ on unused IND accepted", cfg: SQNConfig{IndBits: 5, Delta: 100}, state: []entry{{100, 0}}, seq: 1, ind: 2},
		{name: "L checked before the array", cfg: small, state: []entry{{100, 0}, {1, 2}}, seq: 1, ind: 2, reason: SyncSEQBelowL},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			u := newTestUSIM(t, keys, USIMConfig{SQN: tc.cfg})
			for _, e := range tc.state { // some states cannot be reached in order through vectors (L case)
				u.seqArr[e.ind] = e.seq
			}
			before, beforeMS := u.SEQArray(), u.SQNms()
			sqn := mustJoin(t, tc.cfg, tc.seq, tc.ind)
			v, err := GenerateVector(keys, sqn, fixedRAND(byte(tc.seq)))
			if err != nil {
				t.Fatal(err)
			}
			r, err := u.Authenticate(v.RAND, v.AUTN)
			if tc.reason == 0 {
				if err != nil {
					t.Fatalf("Authenticate: %v, want success", err)
				}
				if !bytes.Equal(r.RES, v.XRES) || r.CK != v.CK || r.IK != v.IK || r.SQN != sqn {
					t.Fatalf("result does not match the vector")
				}
				want := slices.Clone(before)
				want[tc.ind] = tc.seq
				if got := u.SEQArray(); !slices.Equal(got, want) {
					t.Errorf("array after success = %v, want %v", got, want)
				}
				return
			}
			var sf *SyncFailure
			if !errors.As(err, &sf) || !errors.Is(err, ErrSyncFailure) {
				t.Fatalf("Authenticate err = %v, want *SyncFailure", err)
			}
			if sf.Reason != tc.reason {
				t.Errorf("reason = %v, want %v", sf.Reason, tc.reason)
			}
			if len(sf.AUTS) != AUTSLen {
				t.Fatalf("AUTS is %d bytes", len(sf.AUTS))
			}
			sqnMS, err := Resync(keys, v.RAND, sf.AUTS)
			if err != nil {
				t.Fatalf("network Resync rejected the USIM's AUTS: %v", err)
			}
			if sqnMS != beforeMS {
				t.Errorf("AUTS carries SQN_MS %s, want %s", sqnMS, beforeMS)
			}
			if got := u.SEQArray(); !slices.Equal(got, before) || u.SQNms() != beforeMS {
				t.Errorf("state changed on failure: %v → %v", before, got)
			}
		})
	}
}

func TestUSIMSetSQNms(t *testing.T) {
	cfg := DefaultSQNConfig()
	u := newTestUSIM(t, testKeys(t), DefaultUSIMConfig())
	if got := u.SQNms(); got != 0 {
		t.Fatalf("new USIM SQN_MS = %s, want 0", got)
	}
	for _, sqn := range []SQN{mustJoin(t, cfg, 1000, 7), mustJoin(t, cfg, 3, 0), 0xff9bb4d0b607, MaxSQN} {
		if err := u.SetSQNms(sqn); err != nil {
			t.Fatal(err)
		}
		if got := u.SQNms(); got != sqn {
			t.Errorf("SQNms() = %s after SetSQNms(%s)", got, sqn)
		}
		arr := u.SEQArray()
		for i, seq := range arr {
			if want := map[bool]uint64{true: cfg.SEQ(sqn), false: 0}[uint32(i) == cfg.IND(sqn)]; seq != want {
				t.Fatalf("SEQ_MS(%d) = %d, want %d", i, seq, want)
			}
		}
	}
	if err := u.SetSQNms(MaxSQN + 1); !errors.Is(err, ErrInvalidSQN) {
		t.Errorf("SetSQNms(2^48) err = %v, want ErrInvalidSQN", err)
	}
	arr := u.SEQArray()
	arr[0] = 12345
	if u.SEQArray()[0] == 12345 {
		t.Error("SEQArray returns the USIM's own slice")
	}
}

// TestUSIMSeparationBit covers TS 33.102 Annex H bit 0, checked only when configured (TS 33.401 §6.1.1).
func TestUSIMSeparationBit(t *testing.T) {
	tests := []struct {
		name    string
		amf     [2]byte
		require bool
		wantErr error
	}{
		{name: "IMS default ignores bit 0", amf: [2]byte{0x00, 0x00}},
		{name: "required and set", amf: [2]byte{0x80, 0x00}, require: true},
		{name: "required and set with proprietary bits", amf: [2]byte{0x80, 0xff}, require: true},
		{name: "required and clear", amf: [2]byte{0x7f, 0xff}, require: true, wantErr: ErrAMFSeparationBit},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			keys := testKeys(t)
			keys.AMF = tc.amf
			cfg := DefaultUSIMConfig()
			cfg.RequireSeparationBit = tc.require
			u := newTestUSIM(t, keys, cfg)
			v, err := GenerateVector(keys, 0x21, fixedRAND(9))
			if err != nil {
				t.Fatal(err)
			}
			r, err := u.Authenticate(v.RAND, v.AUTN)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if err == nil && r.AMF != tc.amf {
				t.Errorf("result AMF = %x, want %x", r.AMF, tc.amf)
			}
			if err != nil && u.SQNms() != 0 {
				t.Errorf("state changed on rejection: SQN_MS %s", u.SQNms())
			}
		})
	}
}
