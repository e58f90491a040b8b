package cx

import "testing"

// hotSamples are the messages of a registration that the benchmarks and allocation budgets
// cover: MAR, MAA with 1 and 5 vectors, SAR, SAA with User-Data. BenchmarkMarshal and
// BenchmarkUnmarshal run them through go-diameter, the path before the codec.
func hotSamples() []sample {
	maa5 := sampleMAA()
	for i := 2; i <= 5; i++ {
		v := maa5.SIPAuthDataItems[0]
		v.ItemNumber = ptr(uint32(i))
		maa5.SIPAuthDataItems = append(maa5.SIPAuthDataItems, v)
	}
	maa5.SIPNumberAuthItems = ptr(uint32(5))
	saa := sampleSAA()
	saa.Unknown = nil
	return []sample{
		{"MAR", sampleMAR(), func() Message { return new(MAR) }},
		{"MAA1", sampleMAA(), func() Message { return new(MAA) }},
		{"MAA5", maa5, func() Message { return new(MAA) }},
		{"SAR", sampleSAR(), func() Message { return new(SAR) }},
		{"SAA", saa, func() Message { return new(SAA) }},
	}
}

// BenchmarkHotEncode is the codec: AppendBinary into a reused buffer.
func BenchmarkHotEncode(b *testing.B) {
	for _, s := range hotSamples() {
		b.Run(s.name, func(b *testing.B) {
			b.ReportAllocs()
			buf := make([]byte, 0, 4096)
			for b.Loop() {
				var err error
				if buf, err = s.msg.AppendBinary(buf[:0]); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkHotDecode is the codec: UnmarshalBinary from the wire bytes.
func BenchmarkHotDecode(b *testing.B) {
	for _, s := range hotSamples() {
		wire, err := s.msg.AppendBinary(nil)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(s.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(wire)))
			for b.Loop() {
				if err := s.fresh().UnmarshalBinary(wire); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
