package aka

import "testing"

func BenchmarkGenerateVector(b *testing.B) {
	for _, stored := range []string{"OPc", "OP"} {
		b.Run(stored, func(b *testing.B) {
			keys := fuzzKeys(b)
			if stored == "OPc" {
				opc, err := keys.DeriveOPc()
				if err != nil {
					b.Fatal(err)
				}
				keys.OP, keys.OPc = nil, &opc
			}
			rand := fixedRAND(7)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := GenerateVector(keys, 0x21, rand); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkResync(b *testing.B) {
	keys := testKeys(b)
	u := newTestUSIM(b, keys, DefaultUSIMConfig())
	if err := u.SetSQNms(0x1234567); err != nil {
		b.Fatal(err)
	}
	rand := fixedRAND(3)
	auts, err := u.auts(rand)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Resync(keys, rand, auts); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAuthenticate(b *testing.B) {
	keys := testKeys(b)
	v, err := GenerateVector(keys, 0x21, fixedRAND(5))
	if err != nil {
		b.Fatal(err)
	}
	u := newTestUSIM(b, keys, DefaultUSIMConfig())
	b.ReportAllocs()
	for b.Loop() {
		u.seqArr[1] = 0 // make the same vector fresh again
		if _, err := u.Authenticate(v.RAND, v.AUTN); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkNextSQNs(b *testing.B) {
	cfg := DefaultSQNConfig()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := NextSQNs(0x21, 5, cfg); err != nil {
			b.Fatal(err)
		}
	}
}
