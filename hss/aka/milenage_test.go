package aka

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// TestTS35208 checks every output of TS 35.208 §4.3 Test Sets 1–6 (testdata/ts35208.json): OPc from OP,
// f1 (MAC-A), f1* (MAC-S), f2 (RES), f3 (CK), f4 (IK), f5 (AK), f5* (AK*), through the Milenage adapter and
// through the exported API, with OP stored and with OPc stored.
func TestTS35208(t *testing.T) {
	for _, ts := range loadTestSets(t) {
		for _, withOPc := range []bool{false, true} {
			stored := "OP"
			if withOPc {
				stored = "OPc"
			}
			t.Run(sprintf("set%d", ts.Set)+"/"+stored, func(t *testing.T) {
				keys := keysFromSet(t, ts, withOPc)
				rand := hex16(t, ts.RAND)
				sqnBytes := hex6(t, ts.SQN)
				amf := hex2(t, ts.AMF)
				wantOPc := hex16(t, ts.OPc)

				opc, err := keys.DeriveOPc()
				if err != nil {
					t.Fatal(err)
				}
				if opc != wantOPc {
					t.Errorf("OPc = %x, want %x", opc, wantOPc)
				}
				if !withOPc {
					computed, err := ComputeOPc(keys.K, *keys.OP)
					if err != nil {
						t.Fatal(err)
					}
					if computed != wantOPc {
						t.Errorf("ComputeOPc = %x, want %x", computed, wantOPc)
					}
				}

				f, err := newMilenageFuncs(keys)
				if err != nil {
					t.Fatal(err)
				}
				macA, err := f.f1(rand, sqnBytes, amf)
				if err != nil {
					t.Fatal(err)
				}
				if want := hex8(t, ts.F1); macA != want {
					t.Errorf("f1 MAC-A = %x, want %x", macA, want)
				}
				macS, err := f.f1Star(rand, sqnBytes, amf)
				if err != nil {
					t.Fatal(err)
				}
				if want := hex8(t, ts.F1Star); macS != want {
					t.Errorf("f1* MAC-S = %x, want %x", macS, want)
				}
				res, ck, ik, ak, err := f.f2345(rand)
				if err != nil {
					t.Fatal(err)
				}
				if want := hex8(t, ts.F2); res != want {
					t.Errorf("f2 RES = %x, want %x", res, want)
				}
				if want := hex16(t, ts.F3); ck != want {
					t.Errorf("f3 CK = %x, want %x", ck, want)
				}
				if want := hex16(t, ts.F4); ik != want {
					t.Errorf("f4 IK = %x, want %x", ik, want)
				}
				if want := hex6(t, ts.F5); ak != want {
					t.Errorf("f5 AK = %x, want %x", ak, want)
				}
				akStar, err := f.f5Star(rand)
				if err != nil {
					t.Fatal(err)
				}
				if want := hex6(t, ts.F5Star); akStar != want {
					t.Errorf("f5* AK* = %x, want %x", akStar, want)
				}

				// The exported network side: AUTN = (SQN ⊕ AK) ‖ AMF ‖ MAC-A, XRES, CK, IK.
				sqn := SQNFromBytes(sqnBytes)
				v, err := GenerateVector(keys, sqn, rand)
				if err != nil {
					t.Fatal(err)
				}
				var concealed [6]byte
				for i := range concealed {
					concealed[i] = sqnBytes[i] ^ hex6(t, ts.F5)[i]
				}
				if !bytes.Equal(v.AUTN[0:6], concealed[:]) {
					t.Errorf("AUTN SQN⊕AK = %x, want %x", v.AUTN[0:6], concealed)
				}
				if !bytes.Equal(v.AUTN[6:8], amf[:]) {
					t.Errorf("AUTN AMF = %x, want %x", v.AUTN[6:8], amf)
				}
				if want := hex8(t, ts.F1); !bytes.Equal(v.AUTN[8:16], want[:]) {
					t.Errorf("AUTN MAC-A = %x, want %x", v.AUTN[8:16], want)
				}
				if want := hex8(t, ts.F2); !bytes.Equal(v.XRES, want[:]) {
					t.Errorf("XRES = %x, want %x", v.XRES, want)
				}
				if want := hex16(t, ts.F3); v.CK != want {
					t.Errorf("vector CK = %x, want %x", v.CK, want)
				}
				if want := hex16(t, ts.F4); v.IK != want {
					t.Errorf("vector IK = %x, want %x", v.IK, want)
				}
				if v.SQN != sqn || v.RAND != rand {
					t.Errorf("vector SQN/RAND = %s/%x, want %s/%x", v.SQN, v.RAND, sqn, rand)
				}

				// The exported USIM side on the spec vector: a USIM one SEQ behind accepts it.
				cfg := DefaultUSIMConfig()
				u := newTestUSIM(t, keys, cfg)
				seq, ind := cfg.SQN.SEQ(sqn), cfg.SQN.IND(sqn)
				behind, err := cfg.SQN.Join(seq-1, ind)
				if err != nil {
					t.Fatal(err)
				}
				if err := u.SetSQNms(behind); err != nil {
					t.Fatal(err)
				}
				r, err := u.Authenticate(rand, v.AUTN)
				if err != nil {
					t.Fatalf("USIM rejected the TS 35.208 vector: %v", err)
				}
				if want := hex8(t, ts.F2); !bytes.Equal(r.RES, want[:]) || r.CK != v.CK || r.IK != v.IK || r.SQN != sqn || r.AMF != amf {
					t.Errorf("USIM result %x/%x/%x/%s/%x, want %x/%x/%x/%s/%x", r.RES, r.CK, r.IK, r.SQN, r.AMF, want, v.CK, v.IK, sqn, amf)
				}
				// Replaying it gives a sync failure whose AUTS conceals SQN_MS (= sqn now) with the spec's AK*.
				_, err = u.Authenticate(rand, v.AUTN)
				var sf *SyncFailure
				if !errors.As(err, &sf) {
					t.Fatalf("replay: err = %v, want *SyncFailure", err)
				}
				wantAKStar := hex6(t, ts.F5Star)
				for i := range 6 {
					if got := sf.AUTS[i] ^ sqnBytes[i]; got != wantAKStar[i] {
						t.Fatalf("AUTS[0:6] ⊕ SQN_MS = %x…, want AK* %x", got, wantAKStar)
					}
				}
			})
		}
	}
}

// TestResyncKnownAnswers checks Resync against AUTS values produced by other implementations and by a real
// test USIM (testdata/resync_kat.json): they can only verify if MAC-S uses AMF* = 0x0000 as we do.
func TestResyncKnownAnswers(t *testing.T) {
	var doc struct {
		Cases []struct {
			Name  string `json:"name"`
			K     string `json:"k"`
			OP    string `json:"op"`
			OPc   string `json:"opc"`
			RAND  string `json:"rand"`
			AUTS  string `json:"auts"`
			SQNMS string `json:"sqn_ms"`
		} `json:"cases"`
	}
	readJSON(t, "resync_kat.json", &doc)
	if len(doc.Cases) == 0 {
		t.Fatal("no cases in resync_kat.json")
	}
	for _, tc := range doc.Cases {
		t.Run(tc.Name, func(t *testing.T) {
			keys := Keys{K: hex16(t, tc.K)}
			switch {
			case tc.OP != "":
				op := hex16(t, tc.OP)
				keys.OP = &op
			default:
				opc := hex16(t, tc.OPc)
				keys.OPc = &opc
			}
			auts := unhex(t, tc.AUTS, AUTSLen)
			sqnMS, err := Resync(keys, hex16(t, tc.RAND), auts)
			if err != nil {
				t.Fatalf("Resync: %v", err)
			}
			if tc.SQNMS != "" {
				if want := SQNFromBytes(hex6(t, tc.SQNMS)); sqnMS != want {
					t.Errorf("SQN_MS = %s, want %s", sqnMS, want)
				}
			}
			t.Logf("SQN_MS = %s", sqnMS)
			// One flipped bit anywhere must be refused.
			for i := range auts {
				bad := append([]byte(nil), auts...)
				bad[i] ^= 0x01
				if _, err := Resync(keys, hex16(t, tc.RAND), bad); !errors.Is(err, ErrMACSMismatch) {
					t.Errorf("AUTS with byte %d flipped: err = %v, want ErrMACSMismatch", i, err)
				}
			}
		})
	}
}

func TestKeysValidate(t *testing.T) {
	var v [16]byte
	tests := []struct {
		name string
		keys Keys
		ok   bool
	}{
		{name: "OP only", keys: Keys{OP: &v}, ok: true},
		{name: "OPc only", keys: Keys{OPc: &v}, ok: true},
		{name: "neither", keys: Keys{}},
		{name: "both", keys: Keys{OP: &v, OPc: &v}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.keys.Validate()
			if tc.ok != (err == nil) {
				t.Fatalf("Validate() = %v, want ok=%v", err, tc.ok)
			}
			if err != nil && !errors.Is(err, ErrInvalidKeys) {
				t.Errorf("error %v does not wrap ErrInvalidKeys", err)
			}
			if _, err := GenerateVector(tc.keys, 1, [16]byte{}); tc.ok != (err == nil) {
				t.Errorf("GenerateVector err = %v, want ok=%v", err, tc.ok)
			}
			if _, err := NewUSIM(tc.keys, DefaultUSIMConfig()); tc.ok != (err == nil) {
				t.Errorf("NewUSIM err = %v, want ok=%v", err, tc.ok)
			}
		})
	}
}

func TestNewKeys(t *testing.T) {
	k16 := bytes.Repeat([]byte{1}, 16)
	op16 := bytes.Repeat([]byte{2}, 16)
	tests := []struct {
		name       string
		k, op, opc []byte
		wantOP     bool
		wantErr    bool
	}{
		{name: "OP", k: k16, op: op16, wantOP: true},
		{name: "OPc", k: k16, opc: op16},
		{name: "short K", k: k16[:15], op: op16, wantErr: true},
		{name: "no K", op: op16, wantErr: true},
		{name: "short OP", k: k16, op: op16[:8], wantErr: true},
		{name: "long OPc", k: k16, opc: append(op16, 0), wantErr: true},
		{name: "both", k: k16, op: op16, opc: op16, wantErr: true},
		{name: "neither", k: k16, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			keys, err := NewKeys(tc.k, tc.op, tc.opc, [2]byte{0x80, 0x01})
			if tc.wantErr {
				if !errors.Is(err, ErrInvalidKeys) {
					t.Fatalf("err = %v, want ErrInvalidKeys", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if err := keys.Validate(); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(keys.K[:], tc.k) || keys.AMF != [2]byte{0x80, 0x01} || (keys.OP != nil) != tc.wantOP {
				t.Fatalf("keys = %#v", keys)
			}
			stored := keys.OPc
			if tc.wantOP {
				stored = keys.OP
			}
			if !bytes.Equal(stored[:], op16) {
				t.Fatalf("OP/OPc = %x, want %x", stored[:], op16)
			}
			op16[0] = 9 // the slices are copied
			if stored[0] == 9 {
				t.Fatal("NewKeys kept the caller's slice")
			}
			op16[0] = 2
		})
	}
	// Same vector whether OPc is derived here or given.
	set := loadTestSets(t)[2]
	fromOP, err := NewKeys(unhex(t, set.K, 16), unhex(t, set.OP, 16), nil, hex2(t, set.AMF))
	if err != nil {
		t.Fatal(err)
	}
	fromOPc, err := NewKeys(unhex(t, set.K, 16), nil, unhex(t, set.OPc, 16), hex2(t, set.AMF))
	if err != nil {
		t.Fatal(err)
	}
	a, errA := GenerateVector(fromOP, 99, fixedRAND(4))
	b, errB := GenerateVector(fromOPc, 99, fixedRAND(4))
	if errA != nil || errB != nil || a.AUTN != b.AUTN || !bytes.Equal(a.XRES, b.XRES) {
		t.Fatalf("OP and OPc keys give different vectors: %v %v", errA, errB)
	}
}

// TestSecretsRedacted makes sure %v, %+v and %#v never print key material.
func TestSecretsRedacted(t *testing.T) {
	keys := testKeys(t)
	v, err := GenerateVector(keys, 33, fixedRAND(1))
	if err != nil {
		t.Fatal(err)
	}
	u := newTestUSIM(t, keys, DefaultUSIMConfig())
	r, err := u.Authenticate(v.RAND, v.AUTN)
	if err != nil {
		t.Fatal(err)
	}
	secrets := map[string][]byte{"K": keys.K[:], "OPc": keys.OPc[:], "XRES": v.XRES, "CK": v.CK[:], "IK": v.IK[:], "RES": r.RES}
	for _, format := range []string{"%v", "%+v", "%#v", "%s"} {
		for _, value := range []any{keys, v, r, &keys, &v, &r} {
			out := sprintf(format, value)
			for name, secret := range secrets {
				decimal := strings.Trim(sprintf("%v", secret), "[]") // how %v prints a byte array
				if strings.Contains(out, hexString(secret)) || strings.Contains(out, decimal) {
					t.Errorf("%s of %T prints %s: %s", format, value, name, out)
				}
			}
		}
	}
}
