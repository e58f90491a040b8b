package aka

import (
	"bytes"
	"errors"
	"testing"
)

// fuzzKeys is TS 35.208 set 1 with OP stored, so that the fuzzers also exercise OPc derivation.
func fuzzKeys(tb testing.TB) Keys {
	tb.Helper()
	op := hex16(tb, "cdc202d5123e20f62b6d676ac72cb318")
	return Keys{K: hex16(tb, "465b5ce8b199b49faa5f0a2ee238a6bc"), OP: &op, AMF: [2]byte{0xb9, 0xb9}}
}

// FuzzResync feeds arbitrary RAND and AUTS bytes to the network side. It must never panic; it must either
// reject with ErrInvalidAUTS / ErrMACSMismatch, or return an SQN_MS for which the USIM side produces
// exactly this AUTS. Seeds: the AUTS known answers and USIM-made AUTS for the TS 35.208 sets.
func FuzzResync(f *testing.F) {
	var kat struct {
		Cases []struct {
			K, OP, RAND, AUTS string
		} `json:"cases"`
	}
	readJSON(f, "resync_kat.json", &kat)
	for _, c := range kat.Cases {
		rand := hex16(f, c.RAND)
		f.Add(rand[:], unhex(f, c.AUTS, AUTSLen))
	}
	keys := fuzzKeys(f)
	for _, ts := range loadTestSets(f) {
		rand := hex16(f, ts.RAND)
		u := newTestUSIM(f, keys, DefaultUSIMConfig())
		if err := u.SetSQNms(SQNFromBytes(hex6(f, ts.SQN))); err != nil {
			f.Fatal(err)
		}
		auts, err := u.auts(rand)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(rand[:], auts)
		f.Add(rand[:], auts[:13])
	}
	f.Add([]byte{}, []byte{})

	f.Fuzz(func(t *testing.T, randBytes, auts []byte) {
		var rand [16]byte
		copy(rand[:], randBytes)
		sqnMS, err := Resync(keys, rand, auts)
		if err != nil {
			if !errors.Is(err, ErrInvalidAUTS) && !errors.Is(err, ErrMACSMismatch) {
				t.Fatalf("unexpected error %v", err)
			}
			if errors.Is(err, ErrInvalidAUTS) != (len(auts) != AUTSLen) {
				t.Fatalf("length %d gave %v", len(auts), err)
			}
			return
		}
		// Accepted: the USIM with SQN_MS = sqnMS must produce exactly this AUTS.
		u := newTestUSIM(t, keys, DefaultUSIMConfig())
		if err := u.SetSQNms(sqnMS); err != nil {
			t.Fatal(err)
		}
		want, err := u.auts(rand)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(want, auts) {
			t.Fatalf("accepted AUTS %x, but SQN_MS %s gives %x", auts, sqnMS, want)
		}
	})
}

// FuzzAuthenticate feeds arbitrary RAND and AUTN to a USIM. It must never panic; a rejection leaves the
// card's state unchanged; an acceptance must agree with the network side's vector for the recovered SQN.
// Seeds: the TS 35.208 vectors (accepted) and their tampered copies.
func FuzzAuthenticate(f *testing.F) {
	keys := fuzzKeys(f)
	for _, ts := range loadTestSets(f) {
		rand := hex16(f, ts.RAND)
		v, err := GenerateVector(keys, SQNFromBytes(hex6(f, ts.SQN))>>20, rand) // within Δ of a fresh card
		if err != nil {
			f.Fatal(err)
		}
		f.Add(rand[:], v.AUTN[:])
		bad := v.AUTN
		bad[15] ^= 1
		f.Add(rand[:], bad[:])
	}
	f.Add([]byte{}, []byte{})

	f.Fuzz(func(t *testing.T, randBytes, autnBytes []byte) {
		var rand, autn [16]byte
		copy(rand[:], randBytes)
		copy(autn[:], autnBytes)
		u := newTestUSIM(t, keys, DefaultUSIMConfig())
		r, err := u.Authenticate(rand, autn)
		if err != nil {
			if !errors.Is(err, ErrMACFailure) && !errors.Is(err, ErrSyncFailure) {
				t.Fatalf("unexpected error %v", err)
			}
			if u.SQNms() != 0 {
				t.Fatalf("rejected AUTN changed the state to %s", u.SQNms())
			}
			return
		}
		keysWithAMF := keys
		keysWithAMF.AMF = r.AMF
		v, err := GenerateVector(keysWithAMF, r.SQN, rand)
		if err != nil {
			t.Fatal(err)
		}
		if v.AUTN != autn || !bytes.Equal(v.XRES, r.RES) || v.CK != r.CK || v.IK != r.IK {
			t.Fatalf("accepted AUTN %x does not match the network's vector %x", autn, v.AUTN)
		}
		if u.SQNms() != r.SQN {
			t.Fatalf("SQN_MS %s after accepting %s", u.SQNms(), r.SQN)
		}
	})
}
