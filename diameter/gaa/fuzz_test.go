package gaa

import (
	"bytes"
	"errors"
	"path/filepath"
	"testing"

	"github.com/fiorix/go-diameter/v4/diam"
	"github.com/fiorix/go-diameter/v4/diam/dict"

	"github.com/imscore/imscore/diameter"
)

// FuzzUnmarshalBinary decodes any input as each Zh and Zn message (seeds: the wire vectors). The decoder must
// never panic and must answer with a *diameter.Error or ErrUnexpectedMessage; what decodes cleanly encodes
// again, go-diameter reads that encoding with our dictionary, and it decodes and encodes to the same bytes.
func FuzzUnmarshalBinary(f *testing.F) {
	paths, _ := filepath.Glob(filepath.Join("testdata", "*.hex"))
	for _, p := range paths {
		f.Add(readVector(f, p))
	}
	d := newTestDictionary(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		// go-diameter panics on some malformed AVPs (diameter/peer doc); the peer layer checks every frame before
		// a handler sees it, so go-diameter's reading of our re-encoding is only asked of inputs it reads itself.
		goDiameterReads := readsSafely(b, d)
		for _, fresh := range []func() message{func() message { return new(MAR) }, func() message { return new(MAA) },
			func() message { return new(BIR) }, func() message { return new(BIA) }} {
			m := fresh()
			err := m.UnmarshalBinary(b)
			var de *diameter.Error
			if err != nil {
				if !errors.As(err, &de) && !errors.Is(err, ErrUnexpectedMessage) {
					t.Fatalf("%T: error %v is neither a *diameter.Error nor ErrUnexpectedMessage", m, err)
				}
				continue
			}
			out, err := m.AppendBinary(nil)
			if err != nil {
				continue // decodable but not encodable: e.g. non-UTF-8 kept raw
			}
			if goDiameterReads {
				if _, err := diam.ReadMessage(bytes.NewReader(out), d); err != nil {
					t.Fatalf("%T: go-diameter cannot read our re-encoding: %v\n%x", m, err, out)
				}
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

// readsSafely reports whether go-diameter reads b without error or panic.
func readsSafely(b []byte, d *dict.Parser) (ok bool) {
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	_, err := diam.ReadMessage(bytes.NewReader(b), d)
	return err == nil
}
