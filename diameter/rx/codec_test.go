package rx

import (
	"bytes"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/fiorix/go-diameter/v4/diam"
	"github.com/fiorix/go-diameter/v4/diam/avp"
	"github.com/fiorix/go-diameter/v4/diam/dict"
	"github.com/imscore/imscore/diameter"
)

var update = flag.Bool("update", false, "rewrite testdata/*.hex from the fixtures")

func newTestDictionary(t testing.TB) *dict.Parser {
	t.Helper()
	d, err := NewDictionary()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func encode(t testing.TB, m Message) []byte {
	t.Helper()
	b, err := m.AppendBinary(nil)
	if err != nil {
		t.Fatalf("%T.AppendBinary: %v", m, err)
	}
	return b
}

// TestRoundTrip: every fixture encodes, decodes to an equal struct, and encodes to the same bytes
// again, also when appended after a prefix (padding counted from each AVP's own start).
func TestRoundTrip(t *testing.T) {
	for _, s := range allSamples() {
		t.Run(s.name, func(t *testing.T) {
			b := encode(t, s.msg)
			m := s.fresh()
			if err := m.UnmarshalBinary(b); err != nil {
				t.Fatalf("UnmarshalBinary: %v", err)
			}
			if !reflect.DeepEqual(m, s.msg) {
				t.Fatalf("decoded\n%+v\nwant\n%+v", m, s.msg)
			}
			if again := encode(t, m); !bytes.Equal(again, b) {
				t.Fatalf("re-encoded bytes differ")
			}
			prefixed, err := s.msg.AppendBinary([]byte{0xaa, 0xbb, 0xcc})
			if err != nil || !bytes.Equal(prefixed[3:], b) {
				t.Fatalf("AppendBinary after a prefix: %v", err)
			}
		})
	}
}

// TestDifferentialGoDiameter decodes our bytes with go-diameter and the Rx dictionary: every AVP,
// nested ones too, must be a dictionary AVP (not the opaque fallback) with the flags avpFlags
// gives; go-diameter serializes the result to the same bytes, and Unmarshal of its tree gives
// the struct back.
func TestDifferentialGoDiameter(t *testing.T) {
	d := newTestDictionary(t)
	for _, s := range allSamples() {
		t.Run(s.name, func(t *testing.T) {
			b := encode(t, s.msg)
			msg, err := diam.ReadMessage(bytes.NewReader(b), d)
			if err != nil {
				t.Fatalf("go-diameter: %v", err)
			}
			var check func(avps []*diam.AVP, inFailed bool)
			check = func(avps []*diam.AVP, inFailed bool) {
				for _, a := range avps {
					def, err := d.FindAVPWithVendor(AppID, a.Code, a.VendorID)
					if err != nil || strings.HasPrefix(def.Name, "Opaque-") {
						t.Errorf("AVP %d vendor %d is not in the dictionary", a.Code, a.VendorID)
						continue
					}
					if want := avpFlags(avpKey{AVPCode(a.Code), a.VendorID}); !inFailed && a.Flags != want {
						t.Errorf("%s: flags %#x, want %#x", def.Name, a.Flags, want)
					}
					if g, ok := a.Data.(*diam.GroupedAVP); ok {
						check(g.AVP, inFailed || a.Code == uint32(AVPFailedAVP))
					}
				}
			}
			check(msg.AVP, false)
			out, err := msg.Serialize()
			if err != nil || !bytes.Equal(out, b) {
				t.Fatalf("go-diameter re-serializes differently (%v):\n got %x\nwant %x", err, out, b)
			}
			m := s.fresh()
			if err := m.Unmarshal(msg); err != nil || !reflect.DeepEqual(m, s.msg) {
				t.Fatalf("Unmarshal(go-diameter message): %v\n%+v", err, m)
			}
			viaDiam, err := s.msg.Marshal(d)
			if err != nil {
				t.Fatalf("Marshal: %v", err)
			}
			if got, _ := viaDiam.Serialize(); !bytes.Equal(got, b) {
				t.Fatalf("Marshal+Serialize differs from AppendBinary")
			}
		})
	}
}

// TestWireVectors holds the encoder to the committed, annotated vectors in testdata.
func TestWireVectors(t *testing.T) {
	d := newTestDictionary(t)
	for _, s := range allSamples() {
		t.Run(s.name, func(t *testing.T) {
			path := filepath.Join("testdata", s.name+".hex")
			b := encode(t, s.msg)
			if *update {
				if err := os.WriteFile(path, []byte(annotate(t, d, s, b)), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want := readVector(t, path)
			if !bytes.Equal(b, want) {
				t.Fatalf("encoding differs from %s:\n got %x\nwant %x", path, b, want)
			}
			m := s.fresh()
			if err := m.UnmarshalBinary(want); err != nil || !reflect.DeepEqual(m, s.msg) {
				t.Fatalf("decoding %s: %v", path, err)
			}
		})
	}
}

// readVector reads an annotated hex file: '#' starts a comment, whitespace is ignored.
func readVector(t testing.TB, path string) []byte {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var h strings.Builder
	for _, l := range strings.Split(string(raw), "\n") {
		if i := strings.IndexByte(l, '#'); i >= 0 {
			l = l[:i]
		}
		h.WriteString(strings.Join(strings.Fields(l), ""))
	}
	b, err := hex.DecodeString(h.String())
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return b
}

// annotate writes b as one line per header and AVP, each named by the dictionary.
func annotate(t testing.TB, d *dict.Parser, s sample, b []byte) string {
	kind := map[bool]string{true: "Request", false: "Answer"}[s.msg.IsRequest()]
	var out strings.Builder
	fmt.Fprintf(&out, "# %s: %s-%s, TS 29.214 §5.6\n# Generated from the fixture by `go test -run TestWireVectors -update`; tshark decodes it in TestTshark.\n",
		strings.ToUpper(s.name), s.msg.Command(), kind)
	fmt.Fprintf(&out, "%x  # header: version 1, length %d, flags %#02x, command %d, application %d\n",
		b[:20], len(b), b[4], s.msg.Command(), AppID)
	var walk func(body []byte, indent string)
	walk = func(body []byte, indent string) {
		for len(body) >= 8 {
			flags := body[4]
			n := int(body[5])<<16 | int(body[6])<<8 | int(body[7])
			hdr := 8
			var vendor uint32
			if flags&avp.Vbit != 0 {
				hdr, vendor = 12, uint32(body[8])<<24|uint32(body[9])<<16|uint32(body[10])<<8|uint32(body[11])
			}
			code := uint32(body[0])<<24 | uint32(body[1])<<16 | uint32(body[2])<<8 | uint32(body[3])
			name := fmt.Sprint(code)
			typ := ""
			if def, err := d.FindAVPWithVendor(AppID, code, vendor); err == nil {
				name, typ = def.Name, def.Data.TypeName
			}
			padded := (n + 3) &^ 3
			if typ == "Grouped" {
				fmt.Fprintf(&out, "%s%x  # %s (%d), length %d, grouped:\n", indent, body[:hdr], name, code, n)
				walk(body[hdr:n], indent+"    ")
			} else {
				fmt.Fprintf(&out, "%s%x %x  # %s (%d), length %d\n", indent, body[:hdr], body[hdr:padded], name, code, n)
			}
			body = body[padded:]
		}
	}
	walk(b[20:], "")
	return out.String()
}

// TestDecodeErrors: what breaks the ABNF gives the answer's Result-Code and Failed-AVP.
func TestDecodeErrors(t *testing.T) {
	aar := encode(t, sampleSignallingAAR())
	withAVP := func(b []byte, avpBytes []byte) []byte {
		out := append(append([]byte(nil), b...), avpBytes...)
		n := len(out)
		out[1], out[2], out[3] = byte(n>>16), byte(n>>8), byte(n)
		return out
	}
	vendorAVP := func(code uint32, flags byte, data ...byte) []byte {
		n := 12 + len(data)
		b := []byte{byte(code >> 24), byte(code >> 16), byte(code >> 8), byte(code), flags | avp.Vbit, 0, 0, byte(n), 0, 0, 0x28, 0xaf}
		b = append(b, data...)
		for len(b)%4 != 0 {
			b = append(b, 0)
		}
		return b
	}
	str := encode(t, &STR{SessionID: "s", OriginHost: "h", OriginRealm: "r", DestinationRealm: "d", TerminationCause: DiameterLogout})
	tests := []struct {
		name string
		msg  Message
		in   []byte
		code diameter.ResultCode
	}{
		{"unknown vendor AVP with M", new(AAR), withAVP(aar, vendorAVP(599, avp.Mbit, 1, 2, 3, 4)), diameter.AVPUnsupported},
		{"unknown vendor AVP without M is kept", new(AAR), withAVP(aar, vendorAVP(599, 0, 1, 2, 3, 4)), 0},
		{"second Rx-Request-Type", new(AAR), withAVP(aar, vendorAVP(uint32(AVPRxRequestType), 0, 0, 0, 0, 1)), diameter.AVPOccursTooManyTimes},
		{"undefined Specific-Action", new(AAR), withAVP(aar, vendorAVP(uint32(AVPSpecificAction), avp.Mbit, 0, 0, 0, 5)), diameter.InvalidAVPValue},
		{"Specific-Action of 3 bytes", new(AAR), withAVP(aar, vendorAVP(uint32(AVPSpecificAction), avp.Mbit, 0, 0, 2)), diameter.InvalidAVPLength},
		{"AVP overruns the message", new(AAR), withAVP(aar, []byte{0, 0, 1, 0x2c, 0x40, 0, 0, 0x40}), diameter.InvalidAVPLength},
		{"truncated", new(AAR), aar[:len(aar)-4], diameter.InvalidMessageLength},
		{"STR without Termination-Cause", new(STR), str[:len(str)-12], diameter.InvalidMessageLength},
	}
	// An STR whose Termination-Cause is cut out properly: rebuild it without that AVP.
	noCause := append([]byte(nil), str...)
	{
		var r reader
		var kept []byte
		r.walk(noCause[20:], func(f field) {
			if f.key() != base(AVPTerminationCause) {
				kept = append(kept, rawAVP(f)...)
			}
		})
		noCause = withAVP(noCause[:20], kept)
	}
	tests = append(tests, struct {
		name string
		msg  Message
		in   []byte
		code diameter.ResultCode
	}{"STR missing Termination-Cause", new(STR), noCause, diameter.MissingAVP})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.msg.UnmarshalBinary(tt.in)
			var de *diameter.Error
			switch {
			case tt.code == 0 && err != nil:
				t.Fatalf("unexpected error %v", err)
			case tt.code == 0:
			case !errors.As(err, &de):
				t.Fatalf("error %v, want a *diameter.Error %d", err, tt.code)
			case de.Code != tt.code:
				t.Fatalf("code %d (%v), want %d", de.Code, err, tt.code)
			case tt.code >= 5000 && tt.code != diameter.InvalidMessageLength && len(de.FailedAVPs) == 0:
				t.Fatalf("no Failed-AVP: %v", err)
			}
		})
	}
	if err := new(AAA).UnmarshalBinary(aar); !errors.Is(err, ErrUnexpectedMessage) {
		t.Fatalf("an AAR decoded as AAA: %v", err)
	}
}

func rawAVP(f field) []byte {
	hdr := 8
	if f.flags&avp.Vbit != 0 {
		hdr = 12
	}
	n := hdr + len(f.data)
	b := []byte{byte(f.code >> 24), byte(f.code >> 16), byte(f.code >> 8), byte(f.code), f.flags, byte(n >> 16), byte(n >> 8), byte(n)}
	if hdr == 12 {
		b = append(b, byte(f.vendor>>24), byte(f.vendor>>16), byte(f.vendor>>8), byte(f.vendor))
	}
	b = append(b, f.data...)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

// TestEncodeErrors: a struct that would make an invalid message is refused and the buffer kept.
func TestEncodeErrors(t *testing.T) {
	tests := []struct {
		name string
		msg  Message
	}{
		{"AAR without Session-Id", &AAR{OriginHost: "h", OriginRealm: "r", DestinationRealm: "d"}},
		{"RAR without Specific-Action", &RAR{SessionID: "s", OriginHost: "h", OriginRealm: "r", DestinationRealm: "d", DestinationHost: "x"}},
		{"three Flow-Description", &AAR{SessionID: "s", OriginHost: "h", OriginRealm: "r", DestinationRealm: "d",
			MediaComponents: []MediaComponentDescription{{Number: 1, SubComponents: []MediaSubComponent{{FlowNumber: 1, FlowDescriptions: []string{"a", "b", "c"}}}}}}},
		{"undefined Flow-Status", &AAR{SessionID: "s", OriginHost: "h", OriginRealm: "r", DestinationRealm: "d",
			MediaComponents: []MediaComponentDescription{{Number: 1, FlowStatus: ptr(FlowStatus(9))}}}},
		{"answer without result", &STA{SessionID: "s", OriginHost: "h", OriginRealm: "r"}},
		{"STA with Experimental-Result", &STA{SessionID: "s", OriginHost: "h", OriginRealm: "r",
			Outcome: Outcome{ExperimentalResult: &ExperimentalResult{VendorID: Vendor3GPP, Code: 5063}}}},
		{"bad UTF-8", &STR{SessionID: "s\xff", OriginHost: "h", OriginRealm: "r", DestinationRealm: "d", TerminationCause: DiameterLogout}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			prefix := []byte{1, 2, 3}
			out, err := tt.msg.AppendBinary(prefix)
			if !errors.Is(err, ErrInvalidField) {
				t.Fatalf("err %v, want ErrInvalidField", err)
			}
			if !bytes.Equal(out, prefix) {
				t.Fatalf("buffer not restored: %x", out)
			}
		})
	}
}

// TestErrorAnswer: an answer with a 3xxx code carries 'E' and decodes with only the §7.2 AVPs.
func TestErrorAnswer(t *testing.T) {
	a := &AAA{OriginHost: testPCRF, OriginRealm: testPCRFRealm, SessionID: "s"}
	a.ResultCode = diameter.UnableToDeliver
	b := encode(t, a)
	if b[4]&diam.ErrorFlag == 0 {
		t.Fatal("no 'E' bit on a 3002 answer")
	}
	var got AAA
	if err := got.UnmarshalBinary(b); err != nil || got.ResultCode != diameter.UnableToDeliver {
		t.Fatalf("%v %+v", err, got)
	}
}
