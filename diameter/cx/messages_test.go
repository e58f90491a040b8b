package cx

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"unicode"

	"github.com/fiorix/go-diameter/v4/diam"
	"github.com/fiorix/go-diameter/v4/diam/avp"
	"github.com/fiorix/go-diameter/v4/diam/datatype"
	"github.com/fiorix/go-diameter/v4/diam/dict"
	"github.com/imscore/imscore/diameter"
)

var update = flag.Bool("update", false, "rewrite testdata/*.hex from the fixtures")

func encode(t testing.TB, d *dict.Parser, m Message) []byte {
	t.Helper()
	msg, err := m.Marshal(d)
	if err != nil {
		t.Fatalf("Marshal: %v", err)
	}
	b, err := msg.Serialize()
	if err != nil {
		t.Fatalf("Serialize: %v", err)
	}
	return b
}

var avpSliceType = reflect.TypeOf([]*diam.AVP(nil))

// takeAVPs serializes and clears every []*diam.AVP field (Unknown, FailedAVP) inside v, so that
// two messages can be compared with reflect.DeepEqual: those AVPs are compared by their bytes,
// since go-diameter decodes an unknown AVP into another Go type than the one it was built from.
func takeAVPs(v reflect.Value, out *[]string) {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			takeAVPs(v.Elem(), out)
		}
	case reflect.Slice:
		for i := 0; i < v.Len(); i++ {
			takeAVPs(v.Index(i), out)
		}
	case reflect.Struct:
		if v.Type().PkgPath() != reflect.TypeOf(MAR{}).PkgPath() {
			return
		}
		for i := 0; i < v.NumField(); i++ {
			f := v.Field(i)
			if f.Type() != avpSliceType {
				takeAVPs(f, out)
				continue
			}
			var buf bytes.Buffer
			for _, a := range f.Interface().([]*diam.AVP) {
				b, err := a.Serialize()
				if err != nil {
					panic(err)
				}
				buf.Write(b)
			}
			*out = append(*out, fmt.Sprintf("%s=%x", v.Type().Field(i).Name, buf.Bytes()))
			f.Set(reflect.Zero(f.Type()))
		}
	}
}

// sameMessage reports whether got equals want (both are modified).
func sameMessage(t *testing.T, got, want Message) {
	t.Helper()
	var ga, wa []string
	takeAVPs(reflect.ValueOf(got), &ga)
	takeAVPs(reflect.ValueOf(want), &wa)
	if !reflect.DeepEqual(ga, wa) {
		t.Errorf("AVP fields differ:\n got %v\nwant %v", ga, wa)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("decoded message differs:\n got %+v\nwant %+v", got, want)
	}
}

// TestRoundTrip: struct → Marshal → Serialize → decode (cx.DecodeMessage and diam.ReadMessage)
// → Parse → the same struct, and encoding it again gives the same bytes.
func TestRoundTrip(t *testing.T) {
	d := newTestDictionary(t)
	for _, s := range allSamples() {
		t.Run(s.name, func(t *testing.T) {
			msg, err := s.msg.Marshal(d)
			if err != nil {
				t.Fatalf("Marshal: %v", err)
			}
			h := msg.Header
			wantFlags := uint8(diam.ProxiableFlag)
			if s.msg.IsRequest() {
				wantFlags |= diam.RequestFlag
			}
			if h.CommandCode != uint32(s.msg.Command()) || h.ApplicationID != AppID || h.CommandFlags != wantFlags ||
				h.HopByHopID != 0 || h.EndToEndID != 0 || h.Version != 1 {
				t.Fatalf("header %+v, want command %d flags %#x ids 0", h, s.msg.Command(), wantFlags)
			}
			wire, err := msg.Serialize()
			if err != nil {
				t.Fatal(err)
			}
			if int(h.MessageLength) != len(wire) {
				t.Fatalf("Message Length %d, serialized %d bytes", h.MessageLength, len(wire))
			}
			for _, path := range []string{"cx.DecodeMessage", "diam.ReadMessage"} {
				var got *diam.Message
				if path == "cx.DecodeMessage" {
					got, err = DecodeMessage(wire, d)
				} else {
					got, err = diam.ReadMessage(bytes.NewReader(wire), d)
				}
				if err != nil {
					t.Fatalf("%s: %v", path, err)
				}
				back, err := Parse(got)
				if err != nil {
					t.Fatalf("%s → Parse: %v", path, err)
				}
				if reflect.TypeOf(back) != reflect.TypeOf(s.msg) {
					t.Fatalf("Parse gave %T, want %T", back, s.msg)
				}
				if again := encode(t, d, back); !bytes.Equal(again, wire) {
					t.Fatalf("%s: re-encoded bytes differ:\n got %x\nwant %x", path, again, wire)
				}
				sameMessage(t, back, allSamplesByName()[s.name])
			}
		})
	}
}

func allSamplesByName() map[string]Message {
	out := map[string]Message{}
	for _, s := range allSamples() {
		out[s.name] = s.msg
	}
	return out
}

// TestMinimalMessages: only the mandatory fields set, nil pointers taking the Cx defaults.
func TestMinimalMessages(t *testing.T) {
	d := newTestDictionary(t)
	tests := []struct {
		name string
		msg  Message
	}{
		{"uar", &UAR{SessionID: "s", OriginHost: testICSCF, OriginRealm: testRealm, DestinationRealm: testRealm,
			UserName: testIMPI, PublicIdentity: testIMPU, VisitedNetworkIdentifier: []byte(testRealm)}},
		{"uaa", &UAA{SessionID: "s", ResultCode: diameter.UnableToComply, OriginHost: testHSS, OriginRealm: testRealm}},
		{"sar", &SAR{SessionID: "s", OriginHost: testSCSCF, OriginRealm: testRealm, DestinationRealm: testRealm,
			ServerName: testServerName, ServerAssignmentType: SATNoAssignment}},
		{"lir", &LIR{SessionID: "s", OriginHost: testICSCF, OriginRealm: testRealm, DestinationRealm: testRealm, PublicIdentity: testIMPU}},
		{"mar", &MAR{SessionID: "s", OriginHost: testSCSCF, OriginRealm: testRealm, DestinationRealm: testRealm,
			UserName: testIMPI, PublicIdentity: testIMPU, ServerName: testServerName}},
		{"rtr", &RTR{SessionID: "s", OriginHost: testHSS, OriginRealm: testRealm, DestinationHost: testSCSCF,
			DestinationRealm: testRealm, UserName: testIMPI}},
		{"ppr", &PPR{SessionID: "s", OriginHost: testHSS, OriginRealm: testRealm, DestinationHost: testSCSCF,
			DestinationRealm: testRealm, UserName: testIMPI}},
		{"ppa", &PPA{SessionID: "s", ExperimentalResult: &ExperimentalResult{VendorID: Vendor3GPP, Code: ErrorUserUnknown},
			OriginHost: testSCSCF, OriginRealm: testRealm}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodeMessage(encode(t, d, tt.msg), d)
			if err != nil {
				t.Fatal(err)
			}
			back, err := Parse(got)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			// The nil defaults come back as the values Cx puts on the wire.
			v := reflect.ValueOf(back).Elem()
			vsai := v.FieldByName("VendorSpecificApplicationID").Interface().(*VendorSpecificApplicationID)
			state := v.FieldByName("AuthSessionState").Interface().(*AuthSessionState)
			if !reflect.DeepEqual(vsai, CxApplicationID()) || state == nil || *state != NoStateMaintained {
				t.Fatalf("defaults: VSAI %+v, Auth-Session-State %v", vsai, state)
			}
		})
	}
}

// ---------------------------------------------------------------------------------------------
// Annotated wire vectors in testdata/*.hex: hex bytes, one line per header and AVP, each with
// a comment. They are decoded and re-encoded byte for byte; tshark decodes them too.

func readVector(t testing.TB, path string) []byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var digits strings.Builder
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line, _, _ := strings.Cut(sc.Text(), "#")
		for _, r := range line {
			if !unicode.IsSpace(r) {
				digits.WriteRune(r)
			}
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	b, err := hexDecode(digits.String())
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return b
}

func hexDecode(s string) ([]byte, error) {
	out := make([]byte, len(s)/2)
	if len(s)%2 != 0 {
		return nil, errors.New("odd number of hex digits")
	}
	for i := range out {
		var v byte
		if _, err := fmt.Sscanf(s[2*i:2*i+2], "%02x", &v); err != nil {
			return nil, fmt.Errorf("at byte %d: %w", i, err)
		}
		out[i] = v
	}
	return out, nil
}

// writeVector renders an encoded message as annotated hex.
func writeVector(d *dict.Parser, title string, wire []byte) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# %s\n", title)
	fmt.Fprintf(&b, "# Generated from the fixture by `go test -run TestWireVectors -update`; tshark decodes it\n")
	fmt.Fprintf(&b, "# in TestTshark. Each line: the bytes of one header or AVP header+data (with padding).\n")
	h := wire[:20]
	fl := []string{}
	for _, f := range []struct {
		bit  uint8
		name string
	}{{diam.RequestFlag, "R"}, {diam.ProxiableFlag, "P"}, {diam.ErrorFlag, "E"}, {diam.RetransmittedFlag, "T"}} {
		if h[4]&f.bit != 0 {
			fl = append(fl, f.name)
		}
	}
	app := uint32(h[8])<<24 | uint32(h[9])<<16 | uint32(h[10])<<8 | uint32(h[11])
	fmt.Fprintf(&b, "%x %x %x %x %x %x %x  # header: version %d, length %d, flags %s, command %d, application %d, hop-by-hop 0, end-to-end 0\n",
		h[0:1], h[1:4], h[4:5], h[5:8], h[8:12], h[12:16], h[16:20], h[0], len(wire), strings.Join(fl, ""),
		int(h[5])<<16|int(h[6])<<8|int(h[7]), app)
	writeAVPs(&b, d, app, wire[20:], "")
	return b.String()
}

func writeAVPs(b *strings.Builder, d *dict.Parser, app uint32, data []byte, indent string) {
	for len(data) > 0 {
		a, n, err := nextAVP(data)
		if err != nil {
			fmt.Fprintf(b, "%x  # %v\n", data, err)
			return
		}
		hdr := 8
		if a.Flags&avp.Vbit != 0 {
			hdr = 12
		}
		name, typ, enumName := fmt.Sprintf("AVP-%d", a.Code), datatype.OctetStringType, ""
		payload := []byte(a.Data.(datatype.OctetString))
		if def, err := d.FindAVPByCode(app, a.Code, a.VendorID); err == nil && def.VendorID == a.VendorID {
			name, typ = def.Name, def.Data.Type
			for _, e := range def.Data.Enum {
				if len(payload) == 4 && uint32(e.Code) == binary.BigEndian.Uint32(payload) {
					enumName = " " + e.Name
				}
			}
		}
		flags := ""
		if a.Flags&avp.Vbit != 0 {
			flags += "V"
		}
		if a.Flags&avp.Mbit != 0 {
			flags += "M"
		}
		vendor := ""
		if a.VendorID != 0 {
			vendor = fmt.Sprintf(" vendor %d", a.VendorID)
		}
		if typ == datatype.GroupedType {
			fmt.Fprintf(b, "%s%x  # %s (%d%s) %s, length %d, grouped:\n", indent, data[:hdr], name, a.Code, vendor, flags, a.Length)
			writeAVPs(b, d, app, payload, indent+"    ")
			data = data[n:]
			continue
		}
		fmt.Fprintf(b, "%s%x %x  # %s (%d%s) %s, length %d: %s%s\n", indent, data[:hdr], data[hdr:n], name, a.Code, vendor,
			flags, a.Length, describe(typ, payload), enumName)
		data = data[n:]
	}
}

func describe(typ datatype.TypeID, p []byte) string {
	switch typ {
	case datatype.Unsigned32Type, datatype.EnumeratedType:
		if len(p) == 4 {
			return fmt.Sprint(uint32(p[0])<<24 | uint32(p[1])<<16 | uint32(p[2])<<8 | uint32(p[3]))
		}
	case datatype.UTF8StringType, datatype.DiameterIdentityType, datatype.DiameterURIType:
		return fmt.Sprintf("%q", p)
	}
	for _, c := range p {
		if c < 0x20 || c > 0x7e {
			return fmt.Sprintf("0x%x", p)
		}
	}
	return fmt.Sprintf("%q", p)
}

func TestWireVectors(t *testing.T) {
	d := newTestDictionary(t)
	for _, s := range allSamples() {
		t.Run(s.name, func(t *testing.T) {
			path := filepath.Join("testdata", s.name+".hex")
			if *update {
				wire := encode(t, d, s.msg)
				title := fmt.Sprintf("%s: %s-%s, TS 29.229", strings.ToUpper(s.name), s.msg.Command(),
					map[bool]string{true: "Request", false: "Answer"}[s.msg.IsRequest()])
				if err := os.WriteFile(path, []byte(writeVector(d, title, wire)), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			wire := readVector(t, path)
			got, err := DecodeMessage(wire, d)
			if err != nil {
				t.Fatalf("DecodeMessage: %v", err)
			}
			m := s.fresh()
			if err := m.Unmarshal(got); err != nil {
				t.Fatalf("Unmarshal: %v", err)
			}
			if again := encode(t, d, m); !bytes.Equal(again, wire) {
				t.Fatalf("re-encoded bytes differ from %s:\n got %x\nwant %x", path, again, wire)
			}
			sameMessage(t, m, s.msg)
		})
	}
}

// nextAVP reads the AVP at the start of b as a go-diameter AVP with opaque data, and how many
// bytes it takes with its padding.
func nextAVP(b []byte) (*diam.AVP, int, error) {
	h, err := parseAVPHeader(b)
	if err != nil {
		return nil, 0, err
	}
	return &diam.AVP{Code: h.code, Flags: h.flags, Length: h.length, VendorID: h.vendor,
		Data: datatype.OctetString(append([]byte{}, h.payload...))}, h.padded, nil
}
