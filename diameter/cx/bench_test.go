package cx

import (
	"bytes"
	"testing"

	"github.com/fiorix/go-diameter/v4/diam"
)

// BenchmarkMarshal encodes each fixture: Marshal and Serialize, as a sender does.
func BenchmarkMarshal(b *testing.B) {
	d := newTestDictionary(b)
	for _, s := range append(allSamples(), hotSamples()...) {
		b.Run(s.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				msg, err := s.msg.Marshal(d)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := msg.Serialize(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkUnmarshal decodes each fixture from its bytes: DecodeMessage and Unmarshal, as a
// receiver does.
func BenchmarkUnmarshal(b *testing.B) {
	d := newTestDictionary(b)
	for _, s := range append(allSamples(), hotSamples()...) {
		wire := encode(b, d, s.msg)
		b.Run(s.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(wire)))
			m := s.fresh()
			for b.Loop() {
				msg, err := DecodeMessage(wire, d)
				if err != nil {
					b.Fatal(err)
				}
				if err := m.Unmarshal(msg); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkUnmarshalOnly measures our part alone: Unmarshal of an already decoded message.
func BenchmarkUnmarshalOnly(b *testing.B) {
	d := newTestDictionary(b)
	for _, s := range append(allSamples(), hotSamples()...) {
		msg, err := diam.ReadMessage(bytes.NewReader(encode(b, d, s.msg)), d)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(s.name, func(b *testing.B) {
			b.ReportAllocs()
			m := s.fresh()
			for b.Loop() {
				if err := m.Unmarshal(msg); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
