package qos

import (
	"context"
	"strconv"
	"testing"
)

// benchCalls runs b.N calls (offer, answer, end) through r's AF: the policy step a call adds to the
// P-CSCF, with the PCRF or PCF on loopback (both ends in this process, so CPU per call counts both).
func benchCalls(b *testing.B, af *AF) {
	ctx := context.Background()
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		i++
		c := Call{CallID: "bench-" + strconv.Itoa(i), IMPU: impu, UE: ueAddr}
		if err := af.Offer(ctx, c, []byte(ueAudioOffer), true); err != nil {
			b.Fatal(err)
		}
		if err := af.Answer(ctx, c, []byte(remoteAudioAnswer), false); err != nil {
			b.Fatal(err)
		}
		if err := af.End(ctx, c.CallID); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCallRx: AAR (offer) + AAR (answer) + STR per call over Diameter on loopback.
func BenchmarkCallRx(b *testing.B) {
	r := newRig(b, Config{})
	benchCalls(b, r.af)
}

// BenchmarkCallN5: create + PATCH + delete per call over h2c on loopback (validation in the test PCF included).
func BenchmarkCallN5(b *testing.B) {
	r := newN5Rig(b, false, Config{})
	benchCalls(b, r.af)
}
