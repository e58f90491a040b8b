package rx

import "testing"

// BenchmarkAppendBinary and BenchmarkUnmarshalBinary: the codec cost of the messages a call makes
// (the session AAR with two components and Codec-Data, its AAA, the STR).
func BenchmarkAppendBinary(b *testing.B) {
	for _, s := range allSamples() {
		b.Run(s.name, func(b *testing.B) {
			buf := make([]byte, 0, 4096)
			b.ReportAllocs()
			for b.Loop() {
				var err error
				if buf, err = s.msg.AppendBinary(buf[:0]); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkUnmarshalBinary(b *testing.B) {
	for _, s := range allSamples() {
		wire := encode(b, s.msg)
		b.Run(s.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := s.fresh().UnmarshalBinary(wire); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestAllocationBudgets: encoding appends to the caller's buffer without allocating once it is big
// enough; decoding a session AAR stays within a budget (measured 72).
func TestAllocationBudgets(t *testing.T) {
	aar := sampleSessionAAR()
	buf := make([]byte, 0, 4096)
	if n := testing.AllocsPerRun(50, func() { buf, _ = aar.AppendBinary(buf[:0]) }); n > 1 {
		t.Errorf("AppendBinary of the session AAR: %.0f allocations, want at most 1", n)
	}
	wire := encode(t, aar)
	if n := testing.AllocsPerRun(50, func() { _ = new(AAR).UnmarshalBinary(wire) }); n > 80 {
		t.Errorf("UnmarshalBinary of the session AAR: %.0f allocations, budget 80", n)
	}
}
