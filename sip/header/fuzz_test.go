package header

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/emiago/sipgo/sip"
)

// Every fuzz target checks the same contract: no panic; a failure is a *ParseError naming the
// header with an offset inside the value; a success writes back to text that parses to the same
// thing, and writing that again gives the same text.

func checkParseError(t *testing.T, header, value string, err error) {
	t.Helper()
	var pe *ParseError
	if !errors.As(err, &pe) {
		t.Fatalf("%q: error %v is not a *ParseError", value, err)
	}
	if pe.Header != header || pe.Pos < 0 || pe.Pos > len(value) {
		t.Fatalf("%q: error %q has header %q pos %d", value, err, pe.Header, pe.Pos)
	}
}

func addSeeds(f *testing.F, file string) {
	for _, s := range seedLines(f, file) {
		f.Add(s)
	}
}

func FuzzNameAddrs(f *testing.F) {
	addSeeds(f, "nameaddr.txt")
	f.Fuzz(func(t *testing.T, value string) {
		list, err := ParseNameAddrs(Path, value)
		if err != nil {
			checkParseError(t, Path, value, err)
			return
		}
		text := FormatNameAddrs(list)
		again, err := ParseNameAddrs(Path, text)
		if err != nil {
			t.Fatalf("%q parsed, but its rewrite %q does not: %v", value, text, err)
		}
		if !equalNameAddrs(list, again) {
			t.Fatalf("%q: rewrite %q parses to %#v, not %#v", value, text, again, list)
		}
		if FormatNameAddrs(again) != text {
			t.Fatalf("%q: writing is not stable: %q then %q", value, text, FormatNameAddrs(again))
		}
		for _, n := range list {
			_, _ = n.ParsedURI() // must not panic whatever the URI
		}
	})
}

func FuzzVisitedNetworks(f *testing.F) {
	addSeeds(f, "visited-network.txt")
	f.Fuzz(func(t *testing.T, value string) {
		list, err := ParseVisitedNetworks(value)
		if err != nil {
			checkParseError(t, PVisitedNetworkID, value, err)
			return
		}
		text := FormatVisitedNetworks(list)
		again, err := ParseVisitedNetworks(text)
		if err != nil || len(again) != len(list) {
			t.Fatalf("%q: rewrite %q: %v, %v", value, text, again, err)
		}
		for i := range list {
			a, b := list[i], again[i]
			if !(Element{a.ID, a.Quoted, a.Params}).Equal(Element{b.ID, b.Quoted, b.Params}) {
				t.Fatalf("%q: rewrite %q parses to %#v, not %#v", value, text, again, list)
			}
		}
		if FormatVisitedNetworks(again) != text {
			t.Fatalf("%q: writing is not stable", value)
		}
	})
}

func FuzzAccessNetworkInfo(f *testing.F) {
	addSeeds(f, "access-network-info.txt")
	f.Fuzz(func(t *testing.T, value string) {
		list, err := ParseAccessNetworkInfo(value)
		if err != nil {
			checkParseError(t, PAccessNetworkInfo, value, err)
			return
		}
		text := FormatAccessNetworkInfo(list)
		again, err := ParseAccessNetworkInfo(text)
		if err != nil || len(again) != len(list) {
			t.Fatalf("%q: rewrite %q: %v, %v", value, text, again, err)
		}
		for i := range list {
			if list[i].AccessType != again[i].AccessType || !equalParams(list[i].Params, again[i].Params) ||
				list[i].CellID() != again[i].CellID() || list[i].NetworkProvided() != again[i].NetworkProvided() {
				t.Fatalf("%q: rewrite %q parses to %#v, not %#v", value, text, again, list)
			}
		}
		if FormatAccessNetworkInfo(again) != text {
			t.Fatalf("%q: writing is not stable", value)
		}
	})
}

func FuzzChargingVector(f *testing.F) {
	addSeeds(f, "charging-vector.txt")
	f.Fuzz(func(t *testing.T, value string) {
		v, err := ParseChargingVector(value)
		if err != nil {
			checkParseError(t, PChargingVector, value, err)
			return
		}
		text := v.String()
		again, err := ParseChargingVector(text)
		if err != nil {
			t.Fatalf("%q parsed, but its rewrite %q does not: %v", value, text, err)
		}
		if again.ICIDValue != v.ICIDValue || again.ICIDGeneratedAt != v.ICIDGeneratedAt || again.OrigIOI != v.OrigIOI ||
			again.TermIOI != v.TermIOI || !equalParams(again.Params, v.Params) {
			t.Fatalf("%q: rewrite %q parses to %#v, not %#v", value, text, again, v)
		}
		if again.String() != text {
			t.Fatalf("%q: writing is not stable", value)
		}
	})
}

func FuzzChargingFunctionAddresses(f *testing.F) {
	addSeeds(f, "charging-function-addresses.txt")
	f.Fuzz(func(t *testing.T, value string) {
		c, err := ParseChargingFunctionAddresses(value)
		if err != nil {
			checkParseError(t, PChargingFunctionAddresses, value, err)
			return
		}
		text := c.String()
		again, err := ParseChargingFunctionAddresses(text)
		if err != nil {
			t.Fatalf("%q parsed, but its rewrite %q does not: %v", value, text, err)
		}
		if strings.Join(again.CCF, "\n") != strings.Join(c.CCF, "\n") || strings.Join(again.ECF, "\n") != strings.Join(c.ECF, "\n") ||
			!equalParams(again.Params, c.Params) {
			t.Fatalf("%q: rewrite %q parses to %#v, not %#v", value, text, again, c)
		}
		if again.String() != text {
			t.Fatalf("%q: writing is not stable", value)
		}
	})
}

func FuzzSplitList(f *testing.F) {
	addSeeds(f, "nameaddr.txt")
	f.Fuzz(func(t *testing.T, value string) {
		for _, e := range SplitList(value) {
			if e == "" || e != strings.TrimSpace(e) || !strings.Contains(value, e) {
				t.Fatalf("SplitList(%q) gave element %q", value, e)
			}
		}
	})
}

// FuzzMessageHelpers puts one fuzzed header line into a REGISTER parsed by sipgo and runs the
// message helpers over every header name the message then holds.
func FuzzMessageHelpers(f *testing.F) {
	data, err := os.ReadFile(filepath.Join("testdata", "register.sip"))
	if err != nil {
		f.Fatal(err)
	}
	for _, l := range strings.Split(string(data), "\r\n") {
		if strings.Contains(l, ": ") {
			f.Add(l)
		}
	}
	f.Add("k: path, gruu")
	f.Add(`P-Asserted-Identity: "A, B" <sip:b@x;x=1,2>, tel:+123`)
	base := "REGISTER sip:ims.example SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK1\r\nCSeq: 1 REGISTER\r\n"
	f.Fuzz(func(t *testing.T, line string) {
		if strings.ContainsAny(line, "\r\n") {
			return // one header line only; the SIP parser's own fuzzing is sipgo's business
		}
		msg, err := sip.ParseMessage([]byte(base + line + "\r\nContent-Length: 0\r\n\r\n"))
		if err != nil {
			return
		}
		req, ok := msg.(*sip.Request)
		if !ok {
			return
		}
		for _, h := range req.Headers() {
			name := h.Name()
			vals := Values(req, name)
			if !Has(req, name) {
				t.Fatalf("Has(%q) false for a header the message holds", name)
			}
			if _, err := NameAddrs(req, name); err != nil {
				var pe *ParseError
				if !errors.As(err, &pe) {
					t.Fatalf("NameAddrs(%q): %v is not a *ParseError", name, err)
				}
			}
			_ = vals
		}
		for _, h := range append([]sip.Header(nil), req.Headers()...) {
			name := h.Name()
			if SameName(name, "Via") || SameName(name, "CSeq") {
				continue
			}
			Remove(req, name)
			if Has(req, name) {
				t.Fatalf("Has(%q) true after Remove", name)
			}
			if err := Set(req, name, "x"); err == nil && !Has(req, name) {
				t.Fatalf("Set(%q) succeeded but the header is absent", name)
			}
		}
	})
}
