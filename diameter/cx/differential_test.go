package cx

import (
	"bytes"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/fiorix/go-diameter/v4/diam"
	"github.com/fiorix/go-diameter/v4/diam/datatype"
	"github.com/fiorix/go-diameter/v4/diam/dict"
)

// The codec (AppendBinary, UnmarshalBinary) is checked against go-diameter and its dictionary,
// which decode every AVP by the type the dictionary gives it and serialize it again with their
// own datatype code: a value we wrote with the wrong size or type does not survive that trip.

// wireSamples are the messages the differential tests run: the fixtures, the benchmark variants
// and the committed wire vectors (testdata/*.hex) decoded.
func wireSamples(t testing.TB) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	for _, s := range append(allSamples(), hotSamples()...) {
		b, err := s.msg.AppendBinary(nil)
		if err != nil {
			t.Fatalf("%s: AppendBinary: %v", s.name, err)
		}
		out["fixture/"+s.name] = b
	}
	vectors, err := filepath.Glob(filepath.Join("testdata", "*.hex"))
	if err != nil || len(vectors) == 0 {
		t.Fatalf("no wire vectors: %v", err)
	}
	for _, v := range vectors {
		out["vector/"+filepath.Base(v)] = readVector(t, v)
	}
	return out
}

// checkAgainstGoDiameter decodes wire with go-diameter and dictionary d and checks that every
// AVP our model knows is one the dictionary defines (by code, vendor and a type other than
// opaque) with the flags we send, and that go-diameter serializes the tree back to the same bytes.
func checkAgainstGoDiameter(t *testing.T, d *dict.Parser, wire []byte) *diam.Message {
	t.Helper()
	msg, err := DecodeMessage(wire, d)
	if err != nil {
		t.Fatalf("go-diameter does not decode our bytes: %v\n%x", err, wire)
	}
	var walk func(avps []*diam.AVP, path string)
	walk = func(avps []*diam.AVP, path string) {
		for _, a := range avps {
			if known, _ := avpRules(diamKey(a)); !known || diamKey(a) == base(AVPFailedAVP) {
				continue // an AVP we keep in Unknown, or Failed-AVP's copy of someone's input
			}
			def, err := d.FindAVPByCode(AppID, a.Code, a.VendorID)
			if err != nil || def.VendorID != a.VendorID || strings.HasPrefix(def.Name, "Opaque-AVP-") {
				t.Errorf("%s AVP %d vendor %d is not in the dictionary", path, a.Code, a.VendorID)
				continue
			}
			_, grouped := a.Data.(*diam.GroupedAVP)
			_, unknown := a.Data.(datatype.Unknown)
			if unknown || grouped != (def.Data.Type == datatype.GroupedType) || (!grouped && a.Data.Type() != def.Data.Type) {
				t.Errorf("%s %s decoded as %T, dictionary type %s", path, def.Name, a.Data, def.Data.TypeName)
			}
			if a.Flags != avpFlags(diamKey(a)) {
				t.Errorf("%s %s flags %#x, want %#x", path, def.Name, a.Flags, avpFlags(diamKey(a)))
			}
			if g, ok := a.Data.(*diam.GroupedAVP); ok {
				walk(g.AVP, path+"/"+def.Name)
			}
		}
	}
	walk(msg.AVP, "")
	again, err := msg.Serialize()
	if err != nil {
		t.Fatalf("go-diameter Serialize: %v", err)
	}
	if !bytes.Equal(again, wire) {
		t.Fatalf("go-diameter re-encodes our bytes differently:\n got %x\nwant %x", again, wire)
	}
	return msg
}

// TestDifferentialGoDiameter: for every fixture and wire vector, our bytes survive go-diameter's
// decode and encode unchanged; decoding both ways (UnmarshalBinary, and go-diameter's tree through
// Unmarshal) gives equal structs; encoding both ways (AppendBinary, and Marshal's go-diameter
// message serialized) gives equal bytes, equal to the vector.
func TestDifferentialGoDiameter(t *testing.T) {
	d := newTestDictionary(t)
	for name, wire := range wireSamples(t) {
		t.Run(name, func(t *testing.T) {
			tree := checkAgainstGoDiameter(t, d, wire)
			h := parseMsgHeader(wire)
			direct := newMessage(Command(h.code), h.flags&diam.RequestFlag != 0)
			viaTree := newMessage(Command(h.code), h.flags&diam.RequestFlag != 0)
			if err := direct.UnmarshalBinary(wire); err != nil {
				t.Fatalf("UnmarshalBinary: %v", err)
			}
			if err := viaTree.Unmarshal(tree); err != nil {
				t.Fatalf("Unmarshal of go-diameter's tree: %v", err)
			}
			out, err := direct.AppendBinary(nil)
			if err != nil {
				t.Fatalf("AppendBinary: %v", err)
			}
			if !bytes.Equal(out, wire) {
				t.Fatalf("AppendBinary after UnmarshalBinary:\n got %x\nwant %x", out, wire)
			}
			legacy, err := viaTree.Marshal(d)
			if err != nil {
				t.Fatalf("Marshal: %v", err)
			}
			lb, err := legacy.Serialize()
			if err != nil {
				t.Fatalf("Serialize: %v", err)
			}
			if !bytes.Equal(lb, wire) {
				t.Fatalf("Marshal + Serialize:\n got %x\nwant %x", lb, wire)
			}
			sameMessage(t, direct, viaTree)
		})
	}
}

// TestUnmarshalBinaryKeepsNoReference: the decoded struct does not share memory with the input
// (the peer layer reuses its read buffers).
func TestUnmarshalBinaryKeepsNoReference(t *testing.T) {
	wire, err := sampleSAA().AppendBinary(nil)
	if err != nil {
		t.Fatal(err)
	}
	var a SAA
	if err := a.UnmarshalBinary(wire); err != nil {
		t.Fatal(err)
	}
	want := a.UserData[0]
	for i := range wire {
		wire[i] ^= 0xff
	}
	if a.UserData[0] != want || a.OriginHost != testHSS || a.SessionID != sampleSAA().SessionID {
		t.Fatal("decoded SAA changed with its input buffer")
	}
	// An append to a decoded byte slice must not write over the bytes of the next field.
	ud := append(a.UserData, 'x')
	_ = ud
	if a.ServerName != testServerName {
		t.Fatalf("append to UserData overwrote Server-Name: %q", a.ServerName)
	}
}

// TestAppendBinaryAppends: AppendBinary keeps what b held and appends one message; on error b
// comes back as it was.
func TestAppendBinaryAppends(t *testing.T) {
	prefix := []byte("prefix")
	out, err := sampleMAR().AppendBinary(append([]byte{}, prefix...))
	if err != nil {
		t.Fatal(err)
	}
	alone, _ := sampleMAR().AppendBinary(nil)
	if !bytes.HasPrefix(out, prefix) || !bytes.Equal(out[len(prefix):], alone) {
		t.Fatalf("AppendBinary did not append:\n%x", out)
	}
	bad := sampleMAR()
	bad.OriginHost = ""
	out, err = bad.AppendBinary(append([]byte{}, prefix...))
	if err == nil || !bytes.Equal(out, prefix) {
		t.Fatalf("AppendBinary with an error = %q, %v", out, err)
	}
}

// decodeBinaryAll runs UnmarshalBinary of every message type on b, failing on a recovered panic.
func decodeBinaryAll(t *testing.T, b []byte) {
	t.Helper()
	for _, s := range allSamples() {
		if err := s.fresh().UnmarshalBinary(b); recoveredPanic(err) {
			t.Fatalf("%s UnmarshalBinary recovered a panic: %v", s.name, err)
		}
	}
}

// FuzzUnmarshalBinary: bytes → UnmarshalBinary of every message type, which must not panic; for
// what decodes cleanly, AppendBinary must give bytes that go-diameter decodes and serializes
// unchanged, and that decode to the same struct. Seeds: testdata/*.hex and
// testdata/fuzz/FuzzUnmarshal.
func FuzzUnmarshalBinary(f *testing.F) {
	d, err := NewDictionary()
	if err != nil {
		f.Fatal(err)
	}
	vectors, _ := filepath.Glob(filepath.Join("testdata", "*.hex"))
	for _, v := range vectors {
		f.Add(readVector(f, v))
	}
	seeds, _ := filepath.Glob(filepath.Join("testdata", "fuzz", "FuzzUnmarshal", "*"))
	for _, s := range seeds {
		f.Add(readCorpusFile(&testing.T{}, s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		decodeBinaryAll(t, b)
		if len(b) < diam.HeaderLength {
			return
		}
		h := parseMsgHeader(b)
		m := newMessage(Command(h.code), h.flags&diam.RequestFlag != 0)
		if m == nil || m.UnmarshalBinary(b) != nil {
			return
		}
		out, err := m.AppendBinary(nil)
		if err != nil {
			return // a decoded value we refuse to send (an empty required string, say)
		}
		if _, err := DecodeMessage(b, d); err == nil {
			// Input go-diameter accepts must come out as bytes it accepts and re-encodes unchanged
			// (input it rejects may carry such AVPs in Unknown, which we pass on as they came).
			checkAgainstGoDiameter(t, d, out)
		}
		back := reflect.New(reflect.TypeOf(m).Elem()).Interface().(Message)
		if err := back.UnmarshalBinary(out); err != nil {
			t.Fatalf("our own encoding does not decode: %v\n%x", err, out)
		}
		again, err := back.AppendBinary(nil)
		if err != nil || !bytes.Equal(again, out) {
			t.Fatalf("encoding is not stable: %v\n got %x\nwant %x", err, again, out)
		}
	})
}
