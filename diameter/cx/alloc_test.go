package cx

import "testing"

// TestAllocationBudgets holds the codec to its allocation counts on the messages of a
// registration (issue 12: the go-diameter path took 67–291 allocations per Cx message). Encoding
// into a reused buffer allocates only the encoder; decoding allocates one copy of the message
// (shared by the byte slices), the decoder, one copy per string, and what the struct itself
// needs (optional pointers, slices of grouped AVPs).
// A change that allocates per AVP or per byte fails here.
func TestAllocationBudgets(t *testing.T) {
	budgets := map[string]struct{ encode, decode float64 }{
		"MAR":  {1, 16},
		"MAA1": {1, 15},
		"MAA5": {1, 27},
		"SAR":  {1, 35},
		"SAA":  {1, 42},
	}
	for _, s := range hotSamples() {
		budget, ok := budgets[s.name]
		if !ok {
			t.Fatalf("no budget for %s", s.name)
		}
		buf, err := s.msg.AppendBinary(nil)
		if err != nil {
			t.Fatal(err)
		}
		wire := append([]byte(nil), buf...)
		enc := testing.AllocsPerRun(100, func() {
			if buf, err = s.msg.AppendBinary(buf[:0]); err != nil {
				t.Fatal(err)
			}
		})
		m := s.fresh()
		dec := testing.AllocsPerRun(100, func() {
			if err := m.UnmarshalBinary(wire); err != nil {
				t.Fatal(err)
			}
		})
		t.Logf("%s: %.0f allocations to encode, %.0f to decode (%d bytes)", s.name, enc, dec, len(wire))
		if enc > budget.encode || dec > budget.decode {
			t.Errorf("%s: %.0f/%.0f allocations to encode/decode, budget %.0f/%.0f", s.name, enc, dec, budget.encode, budget.decode)
		}
	}
}
