package fastreg

import (
	"bytes"
	"testing"
)

// FuzzDecode: any frame from the network decodes or is refused with an error, never a panic; what decodes
// as a request encodes again and decodes to the same fields.
func FuzzDecode(f *testing.F) {
	for _, s := range samples() {
		f.Add(s.encode(f))
	}
	d := testDict(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		_ = new(Answer).UnmarshalBinary(b)
		_ = new(TDR).UnmarshalBinary(b)
		var r TPR
		if r.UnmarshalBinary(b) != nil {
			return
		}
		again, err := r.MarshalBinary(d)
		if err != nil {
			return // a decoded name that is not UTF-8 safe for go-diameter, or similar: refused, not a panic
		}
		var back TPR
		if err := back.UnmarshalBinary(again); err != nil {
			t.Fatalf("re-encoded TPR does not decode: %v", err)
		}
		if back.UserName != r.UserName || !bytes.Equal(back.Token, r.Token) || back.Lifetime != r.Lifetime {
			t.Fatalf("re-encoded TPR differs: %+v vs %+v", back, r)
		}
	})
}
