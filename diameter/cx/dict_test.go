package cx

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/fiorix/go-diameter/v4/diam"
	"github.com/fiorix/go-diameter/v4/diam/avp"
	"github.com/fiorix/go-diameter/v4/diam/datatype"
	"github.com/fiorix/go-diameter/v4/diam/dict"
)

// wiresharkTGPP is Wireshark's 3GPP dictionary, our fact sheet for AVP codes and types.
const wiresharkTGPP = "/usr/share/wireshark/diameter/TGPP.xml"

func newTestDictionary(t testing.TB) *dict.Parser {
	t.Helper()
	d, err := NewDictionary()
	if err != nil {
		t.Fatalf("NewDictionary: %v", err)
	}
	return d
}

// requireFile skips (or fails under CI=true) when a file a test needs is absent.
func requireFile(t *testing.T, path string) {
	t.Helper()
	if _, err := os.Stat(path); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is required in CI: %v", path, err)
		}
		t.Skipf("%s not installed (Wireshark's dictionaries come with tshark): %v", path, err)
	}
}

func TestNewDictionaryIsFresh(t *testing.T) {
	a, b := newTestDictionary(t), newTestDictionary(t)
	if a == b || a == dict.Default || b == dict.Default {
		t.Fatal("NewDictionary must build a new parser each call, never dict.Default")
	}
	if _, err := dict.Default.FindCommand(AppID, uint32(CmdMultimediaAuth)); err == nil {
		t.Fatal("dict.Default gained the Cx commands: NewDictionary must not touch it")
	}
	for _, cmd := range []Command{CmdUserAuthorization, CmdServerAssignment, CmdLocationInfo,
		CmdMultimediaAuth, CmdRegistrationTermination, CmdPushProfile} {
		c, err := a.FindCommand(AppID, uint32(cmd))
		if err != nil {
			t.Fatalf("command %d: %v", cmd, err)
		}
		if c.Name != cmd.String() || len(c.Request.Rule) == 0 || len(c.Answer.Rule) == 0 {
			t.Errorf("command %d: name %q, %d request rules, %d answer rules", cmd, c.Name, len(c.Request.Rule), len(c.Answer.Rule))
		}
	}
	for _, code := range []uint32{257, 258, 274, 275, 280, 282} {
		if _, err := a.FindCommand(0, code); err != nil {
			t.Errorf("base command %d: %v", code, err)
		}
	}
}

// wsAVP is an AVP of Wireshark's dictionary format (dictionary.dtd).
type wsAVP struct {
	Name     string `xml:"name,attr"`
	Code     uint32 `xml:"code,attr"`
	VendorID string `xml:"vendor-id,attr"`
	Type     struct {
		Name string `xml:"type-name,attr"`
	} `xml:"type"`
	Grouped *struct{} `xml:"grouped"`
	Enum    []struct {
		Name string `xml:"name,attr"`
		Code int32  `xml:"code,attr"`
	} `xml:"enum"`
}

// wiresharkApp reads the AVPs of one <application> of a Wireshark dictionary file, which holds
// several top-level elements.
func wiresharkApp(t *testing.T, path, id string) []wsAVP {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dec := xml.NewDecoder(f)
	dec.Strict = false
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			t.Fatalf("application %s not in %s", id, path)
		}
		if err != nil {
			t.Fatal(err)
		}
		se, ok := tok.(xml.StartElement)
		if !ok || se.Name.Local != "application" {
			continue
		}
		for _, at := range se.Attr {
			if at.Name.Local == "id" && at.Value == id {
				var app struct {
					AVP []wsAVP `xml:"avp"`
				}
				if err := dec.DecodeElement(&app, &se); err != nil {
					t.Fatal(err)
				}
				return app.AVP
			}
		}
	}
}

// wiresharkTypes maps Wireshark's type names to the go-diameter types they may be.
func wiresharkTypes(name string) []datatype.TypeID {
	switch name {
	case "OctetStringOrUTF8":
		return []datatype.TypeID{datatype.OctetStringType, datatype.UTF8StringType}
	case "IPAddress":
		return []datatype.TypeID{datatype.AddressType}
	}
	if id, ok := datatype.Available[name]; ok {
		return []datatype.TypeID{id}
	}
	return nil
}

// TestWiresharkCxAVPs: every Cx AVP Wireshark knows (codes 600–699 of application 16777216)
// resolves in our dictionary with vendor 10415 and a matching type, enumerations included.
func TestWiresharkCxAVPs(t *testing.T) {
	requireFile(t, wiresharkTGPP)
	d := newTestDictionary(t)
	avps := wiresharkApp(t, wiresharkTGPP, "16777216")
	checked := 0
	for _, w := range avps {
		if w.Code < 600 || w.Code > 699 || w.VendorID != "TGPP" {
			continue
		}
		checked++
		t.Run(strconv.Itoa(int(w.Code))+"/"+w.Name, func(t *testing.T) {
			ours, err := d.FindAVPByCode(AppID, w.Code, Vendor3GPP)
			if err != nil {
				t.Fatalf("not in our dictionary: %v", err)
			}
			if ours.VendorID != Vendor3GPP || ours.Code != w.Code {
				t.Fatalf("resolved to %s (code %d vendor %d)", ours.Name, ours.Code, ours.VendorID)
			}
			want := wiresharkTypes(w.Type.Name)
			if w.Grouped != nil {
				want = []datatype.TypeID{datatype.GroupedType}
			}
			found := false
			for _, id := range want {
				found = found || id == ours.Data.Type
			}
			if !found {
				t.Fatalf("%s is %s here, %q in Wireshark", ours.Name, ours.Data.TypeName, w.Type.Name)
			}
			for _, e := range w.Enum {
				if !hasEnum(ours, e.Code) {
					t.Errorf("enum %d (%s) missing", e.Code, e.Name)
				}
			}
		})
	}
	if checked < 59 {
		t.Fatalf("checked only %d Cx AVPs from %s", checked, wiresharkTGPP)
	}
}

func hasEnum(a *dict.AVP, code int32) bool {
	for _, e := range a.Data.Enum {
		if e.Code == code {
			return true
		}
	}
	return false
}

// ourAVPs returns every AVP our dictionary files define, with the application it belongs to.
func ourAVPs(t *testing.T) map[avpKey]*dict.AVP {
	t.Helper()
	out := map[avpKey]*dict.AVP{}
	for _, name := range dictionaryOrder() {
		raw, err := dictionaryFiles.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		var f dict.File
		if err := xml.Unmarshal(raw, &f); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for _, app := range f.App {
			for _, a := range app.AVP {
				k := avpKey{AVPCode(a.Code), a.VendorID}
				if _, dup := out[k]; dup {
					t.Errorf("%s: AVP %d vendor %d defined twice", name, a.Code, a.VendorID)
				}
				out[k] = a
			}
		}
	}
	return out
}

// TestFlagRulesMatchDictionary: the Go flag rules (avpRules, used to build AVPs) and the "must"
// column of dict/*.xml agree entry by entry, in both directions.
func TestFlagRulesMatchDictionary(t *testing.T) {
	defs := ourAVPs(t)
	for k, a := range defs {
		known, mandatory := avpRules(k)
		if !known {
			t.Errorf("%s (%d/%d) is in the XML but not in avpRules", a.Name, k.code, k.vendor)
		}
		if xmlM := strings.Contains(a.Must, "M"); xmlM != mandatory {
			t.Errorf("%s (%d/%d): XML must=%q, avpRules mandatory=%t", a.Name, k.code, k.vendor, a.Must, mandatory)
		}
		if xmlV := strings.Contains(a.Must, "V"); xmlV != (k.vendor != 0) {
			t.Errorf("%s (%d/%d): XML must=%q but vendor is %d", a.Name, k.code, k.vendor, a.Must, k.vendor)
		}
	}
	for _, vendor := range []uint32{0, Vendor3GPP, VendorETSI} {
		for code := AVPCode(0); code < 1000; code++ {
			k := avpKey{code, vendor}
			if known, _ := avpRules(k); known && defs[k] == nil {
				t.Errorf("avpRules knows %d/%d, the XML does not", code, vendor)
			}
		}
	}
	// TS 29.229 Table 6.3.1: the AVPs with the M bit among 600–667.
	for code := AVPVisitedNetworkIdentifier; code <= AVPOCRegTimerExt; code++ {
		if _, ok := defs[tgpp(code)]; !ok {
			t.Errorf("Cx AVP %d missing from the dictionary", code)
			continue
		}
		_, m := avpRules(tgpp(code))
		wantM := code <= AVPUserDataRequestType || code == AVPOriginatingRequest
		if m != wantM {
			t.Errorf("Cx AVP %d: M bit %t, Table 6.3.1 says %t", code, m, wantM)
		}
	}
}

// TestGroupedMatchesDictionary: isGrouped (how Failed-AVP contents are split) and the Grouped
// types of dict/*.xml agree in both directions.
func TestGroupedMatchesDictionary(t *testing.T) {
	defs := ourAVPs(t)
	for k, a := range defs {
		if xmlG := a.Data.TypeName == "Grouped"; xmlG != isGrouped(k) {
			t.Errorf("%s (%d/%d): XML type %s, isGrouped %t", a.Name, k.code, k.vendor, a.Data.TypeName, isGrouped(k))
		}
	}
	for _, vendor := range []uint32{0, Vendor3GPP, VendorETSI} {
		for code := AVPCode(0); code < 1000; code++ {
			if k := (avpKey{code, vendor}); isGrouped(k) && defs[k] == nil {
				t.Errorf("isGrouped knows %d/%d, the XML does not", code, vendor)
			}
		}
	}
}

// TestEnumsMatchDictionary: the Go enumerations and the XML items have the same values and names.
func TestEnumsMatchDictionary(t *testing.T) {
	defs := ourAVPs(t)
	tests := []struct {
		name   string
		key    avpKey
		values func() []string // String() of 0..n until invalid
	}{
		{"Server-Assignment-Type", tgpp(AVPServerAssignmentType), enumNames[ServerAssignmentType]},
		{"Reason-Code", tgpp(AVPReasonCode), enumNames[ReasonCode]},
		{"User-Authorization-Type", tgpp(AVPUserAuthorizationType), enumNames[UserAuthorizationType]},
		{"User-Data-Already-Available", tgpp(AVPUserDataAlreadyAvailable), enumNames[UserDataAlreadyAvailable]},
		{"Originating-Request", tgpp(AVPOriginatingRequest), enumNames[OriginatingRequest]},
		{"Loose-Route-Indication", tgpp(AVPLooseRouteIndication), enumNames[LooseRouteIndication]},
		{"Multiple-Registration-Indication", tgpp(AVPMultipleRegistrationIndication), enumNames[MultipleRegistrationIndication]},
		{"Session-Priority", tgpp(AVPSessionPriority), enumNames[SessionPriority]},
		{"Priviledged-Sender-Indication", tgpp(AVPPriviledgedSenderIndication), enumNames[PriviledgedSenderIndication]},
		{"Auth-Session-State", base(AVPAuthSessionState), enumNames[AuthSessionState]},
		{"DRMP", base(AVPDRMP), enumNames[DRMP]},
		{"OC-Report-Type", base(AVPOCReportType), enumNames[OCReportType]},
		{"Load-Type", base(AVPLoadType), enumNames[LoadType]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := defs[tt.key]
			if a == nil || a.Name != tt.name {
				t.Fatalf("XML entry for %d/%d is %v", tt.key.code, tt.key.vendor, a)
			}
			names := tt.values()
			if len(names) != len(a.Data.Enum) {
				t.Fatalf("Go has %d values %v, XML %d", len(names), names, len(a.Data.Enum))
			}
			for i, item := range a.Data.Enum {
				if item.Code != int32(i) || item.Name != names[i] {
					t.Errorf("XML item %d=%s, Go %d=%s", item.Code, item.Name, i, names[i])
				}
			}
		})
	}
}

func enumNames[T enum]() []string {
	var out []string
	for v := T(0); v.valid(); v++ {
		out = append(out, v.String())
	}
	return out
}

// TestUnknownVendorAVPsPreserved: AVPs whose (code, vendor) we do not define decode as their
// exact bytes and come back unchanged, even when the code is one we know for another vendor
// and the payload would be invalid for that AVP's type.
func TestUnknownVendorAVPsPreserved(t *testing.T) {
	d := newTestDictionary(t)
	strays := []*diam.AVP{
		// Result-Code's number under vendor 9999 with 5 bytes: as Result-Code it would be misframed.
		diam.NewAVP(268, avp.Vbit, 9999, datatype.OctetString("\x01\x02\x03\x04\x05")),
		// Server-Capabilities' number (Grouped in Cx) from another vendor, not AVPs inside.
		diam.NewAVP(603, avp.Vbit, 5535, datatype.OctetString("abc")),
		// A 3GPP AVP we do not define (3GPP-IMSI, TS 29.061): code 1 would read as User-Name.
		diam.NewAVP(1, avp.Vbit, Vendor3GPP, datatype.OctetString("001010000000101")),
		// A code nobody defines.
		diam.NewAVP(9999, 0, 0, datatype.OctetString("\xff")),
	}
	mar := sampleMAR()
	mar.Unknown = strays
	msg, err := mar.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	wire, err := msg.Serialize()
	if err != nil {
		t.Fatal(err)
	}
	for _, decode := range []struct {
		name string
		fn   func([]byte) (*diam.Message, error)
	}{
		{"cx.DecodeMessage", func(b []byte) (*diam.Message, error) { return DecodeMessage(b, d) }},
		{"diam.ReadMessage", func(b []byte) (*diam.Message, error) { return diam.ReadMessage(bytes.NewReader(b), d) }},
	} {
		t.Run(decode.name, func(t *testing.T) {
			got, err := decode.fn(wire)
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			back, err := ParseMAR(got)
			if err != nil {
				t.Fatalf("ParseMAR: %v", err)
			}
			if len(back.Unknown) != len(strays) {
				t.Fatalf("kept %d unknown AVPs, want %d", len(back.Unknown), len(strays))
			}
			for i, a := range back.Unknown {
				wantB, _ := strays[i].Serialize()
				gotB, _ := a.Serialize()
				if !bytes.Equal(gotB, wantB) {
					t.Errorf("unknown AVP %d: got %x, want %x", i, gotB, wantB)
				}
			}
			again, err := back.Marshal(d)
			if err != nil {
				t.Fatal(err)
			}
			if b, _ := again.Serialize(); !bytes.Equal(b, wire) {
				t.Fatalf("re-encoded bytes differ:\n got %x\nwant %x", b, wire)
			}
		})
	}
	// The same bytes through our XML without the opaque fallbacks misdecode: the guard is needed.
	bare, err := dict.NewParser()
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range dictionaryOrder() {
		raw, _ := dictionaryFiles.ReadFile(name)
		if err := bare.Load(bytes.NewReader(raw)); err != nil {
			t.Fatal(err)
		}
	}
	if roundTrips(wire, bare) {
		t.Fatal("without the fallbacks the strays still round-trip: the test no longer shows the hazard")
	}
}

// roundTrips reports whether go-diameter decodes wire with d and serializes it back unchanged;
// a panic inside go-diameter (which the bare dictionary provokes) counts as not.
func roundTrips(wire []byte, d *dict.Parser) (ok bool) {
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	got, err := diam.ReadMessage(bytes.NewReader(wire), d)
	if err != nil {
		return false
	}
	b, err := got.Serialize()
	return err == nil && bytes.Equal(b, wire)
}
