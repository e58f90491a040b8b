package aka

import (
	"bytes"
	"errors"
	"testing"
)

// hss is the network side of a round trip: SQN_HE as a store would keep it, and the Annex C config.
type hss struct {
	tb   testing.TB
	keys Keys
	cfg  SQNConfig
	sqn  SQN // SQN_HE, the last SQN allocated
}

// vectors allocates n SQNs the way the store will (NextSQNs, then store the last) and makes the vectors.
func (h *hss) vectors(n int) []Vector {
	h.tb.Helper()
	sqns, err := NextSQNs(h.sqn, n, h.cfg)
	if err != nil {
		h.tb.Fatal(err)
	}
	h.sqn = sqns[len(sqns)-1]
	vs := make([]Vector, n)
	for i, sqn := range sqns {
		rand, err := NewRAND()
		if err != nil {
			h.tb.Fatal(err)
		}
		if vs[i], err = GenerateVector(h.keys, sqn, rand); err != nil {
			h.tb.Fatal(err)
		}
	}
	return vs
}

// resync runs the MAR-with-AUTS path: Resync, then SQNAfterResync in the "transaction".
func (h *hss) resync(rand [16]byte, auts []byte) SQN {
	h.tb.Helper()
	sqnMS, err := Resync(h.keys, rand, auts)
	if err != nil {
		h.tb.Fatalf("Resync: %v", err)
	}
	if h.sqn, err = SQNAfterResync(h.sqn, sqnMS, h.cfg); err != nil {
		h.tb.Fatal(err)
	}
	return sqnMS
}

func checkAccepted(tb testing.TB, u *USIM, v Vector) {
	tb.Helper()
	r, err := u.Authenticate(v.RAND, v.AUTN)
	if err != nil {
		tb.Fatalf("USIM rejected vector SQN %s: %v", v.SQN, err)
	}
	if !bytes.Equal(r.RES, v.XRES) || len(r.RES) != RESLen {
		tb.Errorf("RES %x ≠ XRES %x", r.RES, v.XRES)
	}
	if r.CK != v.CK || r.IK != v.IK {
		tb.Error("USIM CK/IK differ from the vector's")
	}
	if r.SQN != v.SQN {
		tb.Errorf("USIM recovered SQN %s, vector has %s", r.SQN, v.SQN)
	}
}

func syncFailure(tb testing.TB, err error) *SyncFailure {
	tb.Helper()
	var sf *SyncFailure
	if !errors.As(err, &sf) {
		tb.Fatalf("err = %v, want *SyncFailure", err)
	}
	return sf
}

func TestRoundTrip(t *testing.T) {
	for _, stored := range []string{"OP", "OPc"} {
		t.Run(stored, func(t *testing.T) {
			keys := testKeys(t)
			if stored == "OP" {
				op := hex16(t, "cdc202d5123e20f62b6d676ac72cb318") // set 1 OP, OPc above is derived from it
				keys.OPc, keys.OP = nil, &op
			}
			h := &hss{tb: t, keys: keys, cfg: DefaultSQNConfig()}
			u := newTestUSIM(t, keys, DefaultUSIMConfig())
			for _, v := range h.vectors(3) {
				checkAccepted(t, u, v)
			}
			if got := u.SQNms(); got != h.sqn {
				t.Errorf("USIM SQN_MS %s, HSS SQN_HE %s", got, h.sqn)
			}
		})
	}
}

// TestRoundTripOutOfOrder: vectors of one batch used by different S-CSCFs in any order are all accepted,
// which is what IND and the USIM array exist for (Annex C.1.2, C.2.2).
func TestRoundTripOutOfOrder(t *testing.T) {
	keys := testKeys(t)
	h := &hss{tb: t, keys: keys, cfg: DefaultSQNConfig()}
	u := newTestUSIM(t, keys, DefaultUSIMConfig())
	vs := h.vectors(8)
	for _, i := range []int{7, 0, 3, 6, 1, 2, 5, 4} {
		checkAccepted(t, u, vs[i])
	}
	for i, v := range vs { // and none of them twice
		if _, err := u.Authenticate(v.RAND, v.AUTN); !errors.Is(err, ErrSyncFailure) {
			t.Errorf("replay of vector %d: err = %v, want sync failure", i, err)
		}
	}
}

// TestTamperedAUTN: any bit flipped in AUTN, or a different RAND, fails the MAC (TS 33.102 §6.3.3) and
// leaves the USIM as it was.
func TestTamperedAUTN(t *testing.T) {
	keys := testKeys(t)
	h := &hss{tb: t, keys: keys, cfg: DefaultSQNConfig()}
	u := newTestUSIM(t, keys, DefaultUSIMConfig())
	v := h.vectors(1)[0]
	tests := []struct {
		name   string
		mutate func(rand, autn *[16]byte)
	}{
		{name: "SQN⊕AK first byte", mutate: func(_, a *[16]byte) { a[0] ^= 0x80 }},
		{name: "SQN⊕AK last byte", mutate: func(_, a *[16]byte) { a[5] ^= 0x01 }},
		{name: "AMF", mutate: func(_, a *[16]byte) { a[6] ^= 0x80 }},
		{name: "MAC first byte", mutate: func(_, a *[16]byte) { a[8] ^= 0x01 }},
		{name: "MAC last byte", mutate: func(_, a *[16]byte) { a[15] ^= 0x01 }},
		{name: "other RAND", mutate: func(r, _ *[16]byte) { r[3] ^= 0x10 }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rand, autn := v.RAND, v.AUTN
			tc.mutate(&rand, &autn)
			if _, err := u.Authenticate(rand, autn); !errors.Is(err, ErrMACFailure) {
				t.Fatalf("err = %v, want ErrMACFailure", err)
			}
			if u.SQNms() != 0 {
				t.Fatalf("state changed after MAC failure: SQN_MS %s", u.SQNms())
			}
		})
	}
	// Another subscriber's vector fails the MAC too.
	other := keys
	other.K[0] ^= 1
	ov, err := GenerateVector(other, v.SQN, v.RAND)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := u.Authenticate(ov.RAND, ov.AUTN); !errors.Is(err, ErrMACFailure) {
		t.Fatalf("other K: err = %v, want ErrMACFailure", err)
	}
	checkAccepted(t, u, v) // the untouched vector still works
}

// TestResyncRecoversSQNms: a stale vector gives a SyncFailure whose AUTS the network accepts, recovering
// exactly SQN_MS; any tampering with AUTS or RAND gives ErrMACSMismatch.
func TestResyncRecoversSQNms(t *testing.T) {
	keys := testKeys(t)
	h := &hss{tb: t, keys: keys, cfg: DefaultSQNConfig()}
	u := newTestUSIM(t, keys, DefaultUSIMConfig())
	vs := h.vectors(2)
	checkAccepted(t, u, vs[1])
	checkAccepted(t, u, vs[0])
	sf := syncFailure(t, second(u.Authenticate(vs[0].RAND, vs[0].AUTN)))
	if sf.Reason != SyncSEQNotFresh {
		t.Errorf("reason %v, want %v", sf.Reason, SyncSEQNotFresh)
	}
	sqnMS, err := Resync(keys, vs[0].RAND, sf.AUTS)
	if err != nil {
		t.Fatal(err)
	}
	if sqnMS != vs[1].SQN || sqnMS != u.SQNms() {
		t.Fatalf("Resync SQN_MS = %s, want the highest accepted %s", sqnMS, vs[1].SQN)
	}
	for i := range sf.AUTS {
		for _, bit := range []byte{0x01, 0x80} {
			bad := bytes.Clone(sf.AUTS)
			bad[i] ^= bit
			if _, err := Resync(keys, vs[0].RAND, bad); !errors.Is(err, ErrMACSMismatch) {
				t.Errorf("AUTS byte %d ^ %#x: err = %v, want ErrMACSMismatch", i, bit, err)
			}
		}
	}
	otherRAND := vs[0].RAND
	otherRAND[0] ^= 1
	if _, err := Resync(keys, otherRAND, sf.AUTS); !errors.Is(err, ErrMACSMismatch) {
		t.Errorf("AUTS with another RAND: err = %v, want ErrMACSMismatch", err)
	}
	otherKeys := keys
	otherKeys.K[15] ^= 1
	if _, err := Resync(otherKeys, vs[0].RAND, sf.AUTS); !errors.Is(err, ErrMACSMismatch) {
		t.Errorf("AUTS with another K: err = %v, want ErrMACSMismatch", err)
	}
	for _, n := range []int{0, 13, 15, 28} {
		if _, err := Resync(keys, vs[0].RAND, make([]byte, n)); !errors.Is(err, ErrInvalidAUTS) {
			t.Errorf("%d-byte AUTS: err = %v, want ErrInvalidAUTS", n, err)
		}
	}
}

// TestResyncFlows runs the whole failure → MAR with AUTS → new vector path for the ways HSS and USIM
// drift apart, and checks that the next vector after SQNAfterResync is accepted.
func TestResyncFlows(t *testing.T) {
	cfg := DefaultSQNConfig()
	tests := []struct {
		name      string
		hssSQN    SQN // SQN_HE before the first vector
		usimSQN   SQN // SQN_MS of the card
		staleFrom int // >0: the card first uses a newer vector, then presents this many older ones
		wantReset bool
	}{
		{name: "HSS restored from an old backup (behind the card)", hssSQN: mustJoin(t, cfg, 10, 0), usimSQN: mustJoin(t, cfg, 5000, 17), wantReset: true},
		{name: "new card, HSS provisioned far ahead (beyond delta)", hssSQN: mustJoin(t, cfg, 1<<29, 3), usimSQN: 0, wantReset: true},
		{name: "card swapped with a used one (far ahead of HSS)", hssSQN: 0, usimSQN: mustJoin(t, cfg, 1<<30, 1), wantReset: true},
		{name: "stale cached vector, HSS already ahead", hssSQN: mustJoin(t, cfg, 100, 0), usimSQN: mustJoin(t, cfg, 90, 0), staleFrom: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			keys := testKeys(t)
			h := &hss{tb: t, keys: keys, cfg: cfg, sqn: tc.hssSQN}
			u := newTestUSIM(t, keys, DefaultUSIMConfig())
			if err := u.SetSQNms(tc.usimSQN); err != nil {
				t.Fatal(err)
			}
			var stale Vector
			if tc.staleFrom > 0 {
				vs := h.vectors(2)
				checkAccepted(t, u, vs[1])
				checkAccepted(t, u, vs[0])
				stale = vs[0]
			} else {
				stale = h.vectors(1)[0]
			}
			before := h.sqn
			sf := syncFailure(t, second(u.Authenticate(stale.RAND, stale.AUTN)))
			sqnMS := h.resync(stale.RAND, sf.AUTS)
			if sqnMS != u.SQNms() {
				t.Fatalf("recovered SQN_MS %s, card has %s", sqnMS, u.SQNms())
			}
			if reset := h.sqn != before; reset != tc.wantReset {
				t.Errorf("SQN_HE %s → %s, reset = %v, want %v", before, h.sqn, reset, tc.wantReset)
			}
			for _, v := range h.vectors(3) {
				checkAccepted(t, u, v)
			}
		})
	}
}

// TestResyncTamperedAUTSLeavesSQN: on ErrMACSMismatch the HSS must keep SQN_HE (the caller's duty,
// shown here the way the HSS will do it).
func TestResyncTamperedAUTSLeavesSQN(t *testing.T) {
	keys := testKeys(t)
	cfg := DefaultSQNConfig()
	h := &hss{tb: t, keys: keys, cfg: cfg, sqn: mustJoin(t, cfg, 1<<29, 0)}
	u := newTestUSIM(t, keys, DefaultUSIMConfig())
	v := h.vectors(1)[0]
	sf := syncFailure(t, second(u.Authenticate(v.RAND, v.AUTN)))
	sf.AUTS[13] ^= 0xff
	stored := h.sqn
	if _, err := Resync(keys, v.RAND, sf.AUTS); !errors.Is(err, ErrMACSMismatch) {
		t.Fatalf("err = %v, want ErrMACSMismatch", err)
	}
	if h.sqn != stored {
		t.Fatal("SQN_HE changed")
	}
}

func second[T any](_ T, err error) error { return err }

func TestNewRAND(t *testing.T) {
	seen := map[[16]byte]bool{}
	for range 64 {
		r, err := NewRAND()
		if err != nil {
			t.Fatal(err)
		}
		if r == ([16]byte{}) || seen[r] {
			t.Fatalf("NewRAND returned %x twice or all zero", r)
		}
		seen[r] = true
	}
}

func TestGenerateVectorInvalidSQN(t *testing.T) {
	if _, err := GenerateVector(testKeys(t), MaxSQN+1, [16]byte{}); !errors.Is(err, ErrInvalidSQN) {
		t.Fatalf("err = %v, want ErrInvalidSQN", err)
	}
	v, err := GenerateVector(testKeys(t), MaxSQN, [16]byte{})
	if err != nil || v.SQN != MaxSQN || len(v.XRES) != RESLen {
		t.Fatalf("GenerateVector(MaxSQN) = %v, %v", v, err)
	}
}
