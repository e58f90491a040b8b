package rx

import (
	"bytes"
	"errors"
	"path/filepath"
	"testing"

	"github.com/fiorix/go-diameter/v4/diam"
	"github.com/imscore/imscore/diameter"
)

// FuzzUnmarshalBinary decodes any input as each Rx message (seeds: the wire vectors). The decoder
// must never panic (recoverDecode firing is a failure) and must answer with a *diameter.Error or
// ErrUnexpectedMessage; what decodes cleanly encodes again, go-diameter reads that encoding with
// the Rx dictionary, and it decodes and encodes to the same bytes once more.
func FuzzUnmarshalBinary(f *testing.F) {
	paths, _ := filepath.Glob(filepath.Join("testdata", "*.hex"))
	for _, p := range paths {
		f.Add(readVector(f, p))
	}
	d := newTestDictionary(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, fresh := range []func() Message{func() Message { return new(AAR) }, func() Message { return new(AAA) },
			func() Message { return new(RAR) }, func() Message { return new(RAA) }, func() Message { return new(STR) },
			func() Message { return new(STA) }, func() Message { return new(ASR) }, func() Message { return new(ASA) }} {
			m := fresh()
			err := m.UnmarshalBinary(b)
			var de *diameter.Error
			if errors.As(err, &de) && de.Code == diameter.UnableToComply {
				t.Fatalf("%T: decoder panicked: %v", m, err)
			}
			if err != nil {
				if de == nil && !errors.Is(err, ErrUnexpectedMessage) {
					t.Fatalf("%T: error %v is neither a *diameter.Error nor ErrUnexpectedMessage", m, err)
				}
				continue
			}
			out, err := m.AppendBinary(nil)
			if err != nil {
				continue // decodable but not encodable: e.g. an answer with both results
			}
			if _, err := diam.ReadMessage(bytes.NewReader(out), d); err != nil {
				t.Fatalf("%T: go-diameter cannot read our re-encoding: %v\n%x", m, err, out)
			}
			again := fresh()
			if err := again.UnmarshalBinary(out); err != nil {
				t.Fatalf("%T: re-encoding does not decode: %v", m, err)
			}
			out2, err := again.AppendBinary(nil)
			if err != nil || !bytes.Equal(out, out2) {
				t.Fatalf("%T: not stable: %v", m, err)
			}
		}
	})
}
