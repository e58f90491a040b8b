package main

import (
	"bytes"
	"strings"
	"testing"
)

const allocsBaselineText = `# header
benchtime 100x
cpu 2
# why the skip
# second line
skip /(regs=100000|postgres)

./sip/header BenchmarkFields 2
./diameter/cx BenchmarkMarshal/mar 67
./services/pcscf BenchmarkExpirySweep/regs=1000 0
./hss BenchmarkMAR/sqlite 1000

exclude ./sip/proxy BenchmarkProxiedMessage/concurrency=32 goroutine scheduling decides the allocations
`

func TestAllocBaselineRoundTrip(t *testing.T) {
	b, err := parseAllocBaseline(strings.NewReader(allocsBaselineText))
	if err != nil {
		t.Fatal(err)
	}
	if b.Benchtime != "100x" || b.CPU != "2" || b.Skip != "/(regs=100000|postgres)" || len(b.SkipWhy) != 2 {
		t.Fatalf("directives: %+v", b)
	}
	if len(b.Allocs) != 4 || b.Allocs[allocKey{"./diameter/cx", "BenchmarkMarshal/mar"}] != 67 {
		t.Fatalf("allocs: %v", b.Allocs)
	}
	if r := b.Excluded[allocKey{"./sip/proxy", "BenchmarkProxiedMessage/concurrency=32"}]; r != "goroutine scheduling decides the allocations" {
		t.Fatalf("exclusion reason %q", r)
	}
	var out bytes.Buffer
	if err := b.write(&out); err != nil {
		t.Fatal(err)
	}
	again, err := parseAllocBaseline(&out)
	if err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if again.Skip != b.Skip || strings.Join(again.SkipWhy, "|") != strings.Join(b.SkipWhy, "|") ||
		len(again.Allocs) != len(b.Allocs) || len(again.Excluded) != 1 {
		t.Fatalf("written and read again: %+v\n%s", again, out.String())
	}
	for k, v := range b.Allocs {
		if again.Allocs[k] != v {
			t.Errorf("%v: %g after the round trip, want %g", k, again.Allocs[k], v)
		}
	}
}

func TestAllocBaselineRejectsGarbage(t *testing.T) {
	for _, text := range []string{"./a BenchmarkX many\n", "./a BenchmarkX -1\n", "just two\n", "exclude ./a BenchmarkX\n"} {
		if _, err := parseAllocBaseline(strings.NewReader(text)); err == nil {
			t.Errorf("%q: accepted", text)
		}
	}
}

func TestAllocsOf(t *testing.T) {
	out := `pkg: github.com/imscore/imscore/diameter/cx
BenchmarkMarshal/mar-2     	     100	     22815 ns/op	    3056 B/op	      67 allocs/op
pkg: github.com/imscore/imscore/services/pcscf
BenchmarkRegisterBookkeeping/regs=10000/hot=1000-2         	     100	     55013 ns/op	    2065 B/op	      34 allocs/op
pkg: github.com/imscore/imscore
BenchmarkRoot-2 100 1 ns/op 0 B/op 0 allocs/op
`
	got := allocsOf(out, "github.com/imscore/imscore", "2")
	want := map[allocKey]float64{
		{"./diameter/cx", "BenchmarkMarshal/mar"}:                                67,
		{"./services/pcscf", "BenchmarkRegisterBookkeeping/regs=10000/hot=1000"}: 34,
		{".", "BenchmarkRoot"}:                                                   0,
	}
	if len(got) != len(want) {
		t.Fatalf("got %v", got)
	}
	for k, v := range want {
		if g, ok := got[k]; !ok || g != v {
			t.Errorf("%v = %g (%v), want %g", k, g, ok, v)
		}
	}
}

func TestCompareAllocs(t *testing.T) {
	base, err := parseAllocBaseline(strings.NewReader(allocsBaselineText))
	if err != nil {
		t.Fatal(err)
	}
	got := map[allocKey]float64{
		{"./sip/header", "BenchmarkFields"}:                       2,    // equal
		{"./diameter/cx", "BenchmarkMarshal/mar"}:                 74,   // +10.4 %: over
		{"./services/pcscf", "BenchmarkExpirySweep/regs=1000"}:    1,    // 0 → 1: over
		{"./sip/proxy", "BenchmarkProxiedMessage/concurrency=32"}: 9999, // excluded
		{"./sip/proxy", "BenchmarkProxiedMessage/concurrency=1"}:  367,  // new
		// ./hss BenchmarkMAR/sqlite is missing
	}
	v := compareAllocs(base, got)
	if !v.failed() || len(v.Regressed) != 2 || len(v.Missing) != 1 || len(v.New) != 1 || len(v.Improved) != 0 || v.Checked != 3 {
		t.Fatalf("verdict %+v", v)
	}
	if !strings.Contains(v.Missing[0], "./hss BenchmarkMAR/sqlite") {
		t.Errorf("missing names %q", v.Missing[0])
	}

	// Within the tolerance (+10 % exactly), and an improvement: passes.
	got = map[allocKey]float64{
		{"./sip/header", "BenchmarkFields"}:                    2,
		{"./diameter/cx", "BenchmarkMarshal/mar"}:              73.7,
		{"./services/pcscf", "BenchmarkExpirySweep/regs=1000"}: 0,
		{"./hss", "BenchmarkMAR/sqlite"}:                       500,
	}
	v = compareAllocs(base, got)
	if v.failed() || len(v.Improved) != 1 || v.Checked != 4 {
		t.Fatalf("verdict %+v", v)
	}
}
