package cx

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/fiorix/go-diameter/v4/diam"
	"github.com/imscore/imscore/diameter"
)

// parsers are the twelve Parse functions, each run on every decoded message.
var parsers = []func(*diam.Message) error{
	func(m *diam.Message) error { _, err := ParseUAR(m); return err },
	func(m *diam.Message) error { _, err := ParseUAA(m); return err },
	func(m *diam.Message) error { _, err := ParseSAR(m); return err },
	func(m *diam.Message) error { _, err := ParseSAA(m); return err },
	func(m *diam.Message) error { _, err := ParseLIR(m); return err },
	func(m *diam.Message) error { _, err := ParseLIA(m); return err },
	func(m *diam.Message) error { _, err := ParseMAR(m); return err },
	func(m *diam.Message) error { _, err := ParseMAA(m); return err },
	func(m *diam.Message) error { _, err := ParseRTR(m); return err },
	func(m *diam.Message) error { _, err := ParseRTA(m); return err },
	func(m *diam.Message) error { _, err := ParsePPR(m); return err },
	func(m *diam.Message) error { _, err := ParsePPA(m); return err },
}

// recoveredPanic reports whether err is one of our recover boundaries firing: a bug to fix,
// not a verdict on the input.
func recoveredPanic(err error) bool {
	var de *diameter.Error
	return errors.As(err, &de) && de.Code == diameter.UnableToComply && strings.Contains(err.Error(), "panic")
}

// FuzzUnmarshal: bytes → DecodeMessage (framing checks, then diam.ReadMessage) → every Parse
// function, and for what decodes cleanly Marshal → decode → Parse again. Also bytes →
// diam.ReadMessage directly (its own panics recovered: they are go-diameter's, documented in
// DecodeMessage) → every Parse function, which must cope with whatever go-diameter produced.
// Seeds: testdata/*.hex and testdata/fuzz/FuzzUnmarshal.
func FuzzUnmarshal(f *testing.F) {
	d, err := NewDictionary()
	if err != nil {
		f.Fatal(err)
	}
	vectors, err := filepath.Glob(filepath.Join("testdata", "*.hex"))
	if err != nil || len(vectors) == 0 {
		f.Fatalf("no seed vectors: %v", err)
	}
	for _, v := range vectors {
		f.Add(readVector(f, v))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		msg, err := DecodeMessage(b, d)
		if recoveredPanic(err) {
			t.Fatalf("DecodeMessage recovered a panic: %v", err)
		}
		if err == nil {
			checkParsers(t, msg)
			if m, err := Parse(msg); err == nil {
				if out, err := m.Marshal(d); err == nil {
					wire, err := out.Serialize()
					if err != nil {
						t.Fatalf("Serialize after Marshal: %v", err)
					}
					again, err := DecodeMessage(wire, d)
					if err != nil {
						t.Fatalf("our own encoding does not decode: %v\n%x", err, wire)
					}
					if _, err := Parse(again); err != nil {
						t.Fatalf("our own encoding does not parse: %v\n%x", err, wire)
					}
				}
			}
		}
		// Straight through go-diameter: only with a sane length, since diam.ReadMessage
		// allocates whatever the header claims (4 GiB for a length under 20).
		if len(b) >= diam.HeaderLength && int(b[1])<<16|int(b[2])<<8|int(b[3]) == len(b) {
			if raw := readLenient(b, d); raw != nil {
				checkParsers(t, raw)
			}
		}
	})
}

func checkParsers(t *testing.T, msg *diam.Message) {
	t.Helper()
	for _, p := range parsers {
		if err := p(msg); recoveredPanic(err) {
			t.Fatalf("Unmarshal recovered a panic: %v", err)
		}
	}
	if _, err := Parse(msg); recoveredPanic(err) {
		t.Fatalf("Parse recovered a panic: %v", err)
	}
}

// TestFuzzSeedsDecode keeps the seed corpus honest: every stored input still runs clean.
func TestFuzzSeedsDecode(t *testing.T) {
	d := newTestDictionary(t)
	seeds, _ := filepath.Glob(filepath.Join("testdata", "fuzz", "FuzzUnmarshal", "*"))
	if len(seeds) == 0 {
		t.Fatal("no seed corpus in testdata/fuzz/FuzzUnmarshal")
	}
	for _, s := range seeds {
		b := readCorpusFile(t, s)
		msg, err := DecodeMessage(b, d)
		if recoveredPanic(err) {
			t.Errorf("%s: %v", s, err)
		}
		if err == nil {
			checkParsers(t, msg)
		}
	}
}

// readCorpusFile reads a file of Go's fuzz corpus format: "go test fuzz v1", then []byte("…").
func readCorpusFile(t *testing.T, path string) []byte {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitN(strings.TrimSpace(string(raw)), "\n", 2)
	if len(lines) != 2 || lines[0] != "go test fuzz v1" {
		t.Fatalf("%s: not a fuzz corpus file", path)
	}
	quoted, ok := strings.CutPrefix(lines[1], "[]byte(")
	quoted, ok2 := strings.CutSuffix(quoted, ")")
	if !ok || !ok2 {
		t.Fatalf("%s: want one []byte value", path)
	}
	s, err := strconv.Unquote(quoted)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return []byte(s)
}
