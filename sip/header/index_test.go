package header

import (
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/emiago/sipgo/sip"
)

func recordedRegister(tb testing.TB) *sip.Request {
	tb.Helper()
	data, err := os.ReadFile("testdata/register.sip")
	if err != nil {
		tb.Fatal(err)
	}
	data = []byte(strings.ReplaceAll(strings.ReplaceAll(string(data), "\r\n", "\n"), "\n", "\r\n"))
	msg, err := sip.ParseMessage(data)
	if err != nil {
		tb.Fatal(err)
	}
	return msg.(*sip.Request)
}

// The index finds what Fields finds, for every name in any case or compact form, in message order.
func TestIndexAgreesWithFields(t *testing.T) {
	req := recordedRegister(t)
	req.AppendHeader(sip.NewHeader("VIA", "SIP/2.0/UDP 10.0.0.9;branch=z9hG4bKx")) // a second Via, another spelling
	ix := NewIndex(req)
	names := []string{"Via", "v", "V", "via", "From", "f", "F", "To", "t", "Call-ID", "i", "CSeq", "Contact", "m",
		"Supported", "k", "Content-Length", "l", "Security-Client", "security-client", "P-Preferred-Identity",
		"P-Access-Network-Info", "Authorization", "Require", "Proxy-Require", "Max-Forwards", "x", "Path", "",
		"User-Agent", "Allow", "Expires"}
	for _, name := range names {
		want := Fields(req, name)
		got := ix.Fields(name)
		if !slices.Equal(got, want) {
			t.Errorf("Index.Fields(%q): %d lines, Fields: %d", name, len(got), len(want))
		}
		if !slices.Equal(ix.Lines(name), Lines(req, name)) {
			t.Errorf("Index.Lines(%q) = %q, Lines: %q", name, ix.Lines(name), Lines(req, name))
		}
		if ix.Has(name) != Has(req, name) {
			t.Errorf("Index.Has(%q) disagrees", name)
		}
	}
	total := 0
	for _, g := range ix.groups {
		total += g.end - g.start
	}
	if total != len(req.Headers()) {
		t.Errorf("index holds %d lines, message %d", total, len(req.Headers()))
	}
	if NewIndex(nil).Has("via") {
		t.Error("the index of nil finds a Via")
	}
}

// A lookup in the index allocates nothing (Fields allocates its result slice each time).
func TestIndexFieldsAllocations(t *testing.T) {
	ix := NewIndex(recordedRegister(t))
	allocs := testing.AllocsPerRun(100, func() {
		if len(ix.Fields("security-client")) != 2 || len(ix.Fields("v")) != 1 {
			t.Fatal("lookup failed")
		}
	})
	if allocs != 0 {
		t.Errorf("Index.Fields: %.0f allocations per lookup, want 0", allocs)
	}
	// Building it: the index, its groups, its lines.
	req := recordedRegister(t)
	allocs = testing.AllocsPerRun(100, func() { _ = NewIndex(req) })
	if allocs > 3 {
		t.Errorf("NewIndex: %.0f allocations for a 21-line REGISTER, want at most 3", allocs)
	}
}

// Parsed runs the parser once per index and key, and hands every caller the same result.
func TestParsedOncePerIndex(t *testing.T) {
	ix := NewIndex(recordedRegister(t))
	calls := 0
	parse := func(ix *Index) ([]NameAddr, error) {
		calls++
		return NameAddrs(ix.Message(), PPreferredIdentity)
	}
	for range 3 {
		got, err := Parsed(ix, "test.ppi", parse)
		if err != nil || len(got) != 1 || got[0].URI != "sip:001010000123511@ims.mnc001.mcc001.3gppnetwork.org" {
			t.Fatalf("Parsed = %v, %v", got, err)
		}
	}
	if calls != 1 {
		t.Errorf("parser ran %d times, want 1", calls)
	}
	a, _ := NameAddrsOf(ix, "p-preferred-identity")
	b, _ := NameAddrsOf(ix, PPreferredIdentity)
	if len(a) != 1 || &a[0] != &b[0] {
		t.Errorf("NameAddrsOf parsed twice or not at all: %v %v", a, b)
	}
	if _, err := NameAddrsOf(NewIndex(recordedRegister(t)), "Path"); err != nil {
		t.Errorf("absent Path: %v", err)
	}
}

func BenchmarkIndex(b *testing.B) {
	req := recordedRegister(b)
	b.Run("build", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = NewIndex(req)
		}
	})
	b.Run("lookup", func(b *testing.B) {
		ix := NewIndex(req)
		b.ReportAllocs()
		for b.Loop() {
			_ = ix.Fields("Authorization")
		}
	})
}
