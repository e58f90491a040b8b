package aka

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// testSet is one TS 35.208 §4.3 test set as stored in testdata/ts35208.json.
type testSet struct {
	Set    int    `json:"set"`
	Clause string `json:"clause"`
	K      string `json:"k"`
	RAND   string `json:"rand"`
	SQN    string `json:"sqn"`
	AMF    string `json:"amf"`
	OP     string `json:"op"`
	OPc    string `json:"opc"`
	F1     string `json:"f1"`
	F1Star string `json:"f1star"`
	F2     string `json:"f2"`
	F5     string `json:"f5"`
	F3     string `json:"f3"`
	F4     string `json:"f4"`
	F5Star string `json:"f5star"`
}

func loadTestSets(tb testing.TB) []testSet {
	tb.Helper()
	var doc struct {
		Sets []testSet `json:"sets"`
	}
	readJSON(tb, "ts35208.json", &doc)
	if len(doc.Sets) != 6 {
		tb.Fatalf("ts35208.json holds %d test sets, want 6", len(doc.Sets))
	}
	return doc.Sets
}

func readJSON(tb testing.TB, name string, v any) {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		tb.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		tb.Fatalf("%s: %v", name, err)
	}
}

func unhex(tb testing.TB, s string, n int) []byte {
	tb.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		tb.Fatalf("hex %q: %v", s, err)
	}
	if len(b) != n {
		tb.Fatalf("hex %q is %d bytes, want %d", s, len(b), n)
	}
	return b
}

func hex16(tb testing.TB, s string) (a [16]byte) { copy(a[:], unhex(tb, s, 16)); return }
func hex8(tb testing.TB, s string) (a [8]byte)   { copy(a[:], unhex(tb, s, 8)); return }
func hex6(tb testing.TB, s string) (a [6]byte)   { copy(a[:], unhex(tb, s, 6)); return }
func hex2(tb testing.TB, s string) (a [2]byte)   { copy(a[:], unhex(tb, s, 2)); return }

// keysFromSet returns the set's keys with either OP or OPc stored.
func keysFromSet(tb testing.TB, ts testSet, withOPc bool) Keys {
	tb.Helper()
	k := Keys{K: hex16(tb, ts.K), AMF: hex2(tb, ts.AMF)}
	if withOPc {
		opc := hex16(tb, ts.OPc)
		k.OPc = &opc
	} else {
		op := hex16(tb, ts.OP)
		k.OP = &op
	}
	return k
}

// testKeys is a fixed subscriber for round trips (TS 35.208 set 1 K and OPc, AMF 8000).
func testKeys(tb testing.TB) Keys {
	tb.Helper()
	opc := hex16(tb, "cd63cb71954a9f4e48a5994e37a02baf")
	return Keys{K: hex16(tb, "465b5ce8b199b49faa5f0a2ee238a6bc"), OPc: &opc, AMF: [2]byte{0x80, 0x00}}
}

func newTestUSIM(tb testing.TB, keys Keys, cfg USIMConfig) *USIM {
	tb.Helper()
	u, err := NewUSIM(keys, cfg)
	if err != nil {
		tb.Fatal(err)
	}
	return u
}

func fixedRAND(b byte) (r [16]byte) {
	for i := range r {
		r[i] = b + byte(i)
	}
	return r
}

func sprintf(format string, v any) string { return fmt.Sprintf(format, v) }
func hexString(b []byte) string           { return hex.EncodeToString(b) }
