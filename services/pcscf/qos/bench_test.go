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

// perSecond reports the benchmark's rate of op (b.N over the loop's time) as a metric.
func perSecond(b *testing.B, op string) {
	if s := b.Elapsed().Seconds(); s > 0 {
		b.ReportMetric(float64(b.N)/s, op+"/s")
	}
}

// BenchmarkAARAAA: one AAR/AAA exchange per iteration (an answer's AAR UPDATE_REQUEST on an open Rx session),
// over Diameter on loopback with the test PCRF in this process.
func BenchmarkAARAAA(b *testing.B) {
	r := newRig(b, Config{})
	ctx := context.Background()
	c := Call{CallID: "bench-aar", IMPU: impu, UE: ueAddr}
	if err := r.af.Offer(ctx, c, []byte(ueAudioOffer), true); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := r.af.Answer(ctx, c, []byte(remoteAudioAnswer), false); err != nil {
			b.Fatal(err)
		}
	}
	perSecond(b, "AAR")
}

// sessions runs b.N create/delete pairs: the offer opens the session (Rx AAR INITIAL_REQUEST, N5 POST
// /app-sessions), End closes it (STR, POST {appSessionId}/delete).
func sessions(b *testing.B, af *AF) {
	ctx := context.Background()
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		i++
		c := Call{CallID: "bench-s-" + strconv.Itoa(i), IMPU: impu, UE: ueAddr}
		if err := af.Offer(ctx, c, []byte(ueAudioOffer), true); err != nil {
			b.Fatal(err)
		}
		if err := af.End(ctx, c.CallID); err != nil {
			b.Fatal(err)
		}
	}
	perSecond(b, "session")
}

// BenchmarkRxSessionCreateDelete: AAR (create) + STR per iteration.
func BenchmarkRxSessionCreateDelete(b *testing.B) { sessions(b, newRig(b, Config{}).af) }

// BenchmarkN5AppSessionCreateDelete: POST /app-sessions + POST …/delete per iteration over h2c (the test PCF
// validates both bodies against the OpenAPI).
func BenchmarkN5AppSessionCreateDelete(b *testing.B) { sessions(b, newN5Rig(b, false, Config{}).af) }
