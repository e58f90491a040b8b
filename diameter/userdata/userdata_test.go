package userdata

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func strp(s string) *string { return &s }

func sample() *IMSSubscription {
	sc := SessionOriginating
	dh := SessionTerminated
	ppi := 0
	it := IdentityPublicUser
	return &IMSSubscription{
		PrivateID: "001010000000101@ims.mnc001.mcc001.3gppnetwork.org",
		ServiceProfiles: []ServiceProfile{{
			PublicIdentities: []PublicIdentity{
				{BarringIndication: NewBool(true), Identity: "sip:001010000000101@ims.mnc001.mcc001.3gppnetwork.org"},
				{Identity: "sip:15550000101@ims.mnc001.mcc001.3gppnetwork.org", Extension: &PublicIdentityExtension{IdentityType: &it}},
				{Identity: "tel:15550000101"},
			},
			InitialFilterCriteria: []InitialFilterCriteria{{
				Priority: 10,
				TriggerPoint: &TriggerPoint{ConditionTypeCNF: false, SPTs: []SPT{
					{Groups: []int{0}, Method: strp("MESSAGE")},
					{Groups: []int{0}, SessionCase: &sc},
					{ConditionNegated: NewBool(true), Groups: []int{1}, SIPHeader: &HeaderCondition{Header: "P-Asserted-Identity", Content: strp("^tel:")}},
				}},
				ApplicationServer:    ApplicationServer{ServerName: "sip:as.example.net:5070", DefaultHandling: &dh, Extension: &ApplicationServerExt{IncludeRegisterRequest: &struct{}{}}},
				ProfilePartIndicator: &ppi,
			}},
			Extension: &ServiceProfileExtension{SharedIFCSetIDs: []int{1, 2}},
		}},
	}
}

func TestRoundTrip(t *testing.T) {
	in := sample()
	b, err := Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(b), `<?xml version="1.0" encoding="UTF-8"?>`) {
		t.Fatalf("missing XML declaration: %.60s", b)
	}
	out, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	out.XMLName = in.XMLName
	if !reflect.DeepEqual(in, out) {
		t.Fatalf("round trip differs:\n in: %+v\nout: %+v", in, out)
	}
	if !out.ServiceProfiles[0].PublicIdentities[0].Barred() || out.ServiceProfiles[0].PublicIdentities[1].Barred() {
		t.Fatal("barring indication lost")
	}
}

func TestBoolLexicalSpace(t *testing.T) {
	doc := `<IMSSubscription><PrivateID>a@b</PrivateID><ServiceProfile><PublicIdentity>` +
		`<BarringIndication>true</BarringIndication><Identity>sip:a@b</Identity></PublicIdentity></ServiceProfile></IMSSubscription>`
	s, err := Parse([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	if !s.ServiceProfiles[0].PublicIdentities[0].Barred() {
		t.Fatal("true not read as barred")
	}
	bad := strings.Replace(doc, "true", "yes", 1)
	if _, err := Parse([]byte(bad)); err == nil {
		t.Fatal("accepted boolean 'yes'")
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*IMSSubscription)
		path   string
	}{
		{"no private id", func(s *IMSSubscription) { s.PrivateID = " " }, "IMSSubscription/PrivateID"},
		{"no profile", func(s *IMSSubscription) { s.ServiceProfiles = nil }, "IMSSubscription/ServiceProfile"},
		{"no identity", func(s *IMSSubscription) { s.ServiceProfiles[0].PublicIdentities = nil }, "ServiceProfile[0]/PublicIdentity"},
		{"empty identity", func(s *IMSSubscription) { s.ServiceProfiles[0].PublicIdentities[2].Identity = "" }, "ServiceProfile[0]/PublicIdentity[2]/Identity"},
		{"negative priority", func(s *IMSSubscription) { s.ServiceProfiles[0].InitialFilterCriteria[0].Priority = -1 }, "InitialFilterCriteria[0]/Priority"},
		{"no AS name", func(s *IMSSubscription) {
			s.ServiceProfiles[0].InitialFilterCriteria[0].ApplicationServer.ServerName = ""
		}, "ApplicationServer/ServerName"},
		{"SPT with two conditions", func(s *IMSSubscription) {
			s.ServiceProfiles[0].InitialFilterCriteria[0].TriggerPoint.SPTs[0].RequestURI = strp("sip:x")
		}, "SPT[0]"},
		{"SPT with no group", func(s *IMSSubscription) {
			s.ServiceProfiles[0].InitialFilterCriteria[0].TriggerPoint.SPTs[1].Groups = nil
		}, "SPT[1]/Group"},
		{"bad session case", func(s *IMSSubscription) {
			c := SessionCase(9)
			s.ServiceProfiles[0].InitialFilterCriteria[0].TriggerPoint.SPTs[1].SessionCase = &c
		}, "SPT[1]/SessionCase"},
		{"bad identity type", func(s *IMSSubscription) {
			it := IdentityType(7)
			s.ServiceProfiles[0].PublicIdentities[1].Extension.IdentityType = &it
		}, "PublicIdentity[1]/Extension/IdentityType"},
		{"trigger point without SPT", func(s *IMSSubscription) { s.ServiceProfiles[0].InitialFilterCriteria[0].TriggerPoint.SPTs = nil }, "TriggerPoint/SPT"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := sample()
			tt.mutate(s)
			_, err := Marshal(s)
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("want *ValidationError, got %v", err)
			}
			if !strings.Contains(ve.Path, tt.path) {
				t.Fatalf("error path %q does not name %q", ve.Path, tt.path)
			}
		})
	}
}

func TestTooMuchData(t *testing.T) {
	s := sample()
	for i := 0; i < 8000; i++ {
		s.ServiceProfiles[0].PublicIdentities = append(s.ServiceProfiles[0].PublicIdentities, PublicIdentity{Identity: "sip:padding-identity-to-exceed-the-limit@ims.example.org"})
	}
	if _, err := Marshal(s); !errors.Is(err, ErrTooMuchData) {
		t.Fatalf("want ErrTooMuchData, got %v", err)
	}
}

func TestParseTestdata(t *testing.T) {
	b, err := os.ReadFile("testdata/kamailio-style.xml")
	if err != nil {
		t.Fatal(err)
	}
	s, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	sp := s.ServiceProfiles[0]
	if len(sp.PublicIdentities) != 3 || sp.PublicIdentities[1].Extension.Extension.DisplayName != "Alice" {
		t.Fatalf("identities not read: %+v", sp.PublicIdentities)
	}
	ifc := sp.InitialFilterCriteria[0]
	if len(ifc.TriggerPoint.SPTs) != 3 || *ifc.TriggerPoint.SPTs[2].SIPHeader.Content != ".*video.*" {
		t.Fatalf("SPTs not read: %+v", ifc.TriggerPoint)
	}
	if sp.Extension == nil || !reflect.DeepEqual(sp.Extension.SharedIFCSetIDs, []int{7}) {
		t.Fatalf("shared iFC set ids not read: %+v", sp.Extension)
	}
}

// TestSchemaValid checks what Marshal writes against the Annex E schema with xmllint, an independent
// validating parser.
func TestSchemaValid(t *testing.T) {
	xmllint, err := exec.LookPath("xmllint")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("xmllint not found (apt-get install libxml2-utils); CI must run this test")
		}
		t.Skip("xmllint not found: apt-get install libxml2-utils to validate against the schema")
	}
	minimal := &IMSSubscription{PrivateID: "a@b", ServiceProfiles: []ServiceProfile{{PublicIdentities: []PublicIdentity{{Identity: "sip:a@b"}}}}}
	for name, s := range map[string]*IMSSubscription{"full": sample(), "minimal": minimal} {
		t.Run(name, func(t *testing.T) {
			b, err := Marshal(s)
			if err != nil {
				t.Fatal(err)
			}
			f := filepath.Join(t.TempDir(), "ud.xml")
			if err := os.WriteFile(f, b, 0o600); err != nil {
				t.Fatal(err)
			}
			out, err := exec.Command(xmllint, "--noout", "--schema", "testdata/CxDataType.xsd", f).CombinedOutput()
			if err != nil {
				t.Fatalf("schema validation failed: %v\n%s\n%s", err, out, b)
			}
		})
	}
	// The schema must be able to fail: an SPT with no condition is invalid.
	bad := filepath.Join(t.TempDir(), "bad.xml")
	doc := `<IMSSubscription><PrivateID>a@b</PrivateID><ServiceProfile><PublicIdentity><Identity>sip:a@b</Identity></PublicIdentity>` +
		`<InitialFilterCriteria><Priority>0</Priority><TriggerPoint><ConditionTypeCNF>1</ConditionTypeCNF><SPT><Group>0</Group></SPT></TriggerPoint>` +
		`<ApplicationServer><ServerName>sip:as@x</ServerName></ApplicationServer></InitialFilterCriteria></ServiceProfile></IMSSubscription>`
	if err := os.WriteFile(bad, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := exec.Command(xmllint, "--noout", "--schema", "testdata/CxDataType.xsd", bad).Run(); err == nil {
		t.Fatal("schema accepted an SPT without a condition")
	}
}

func FuzzParse(f *testing.F) {
	if b, err := os.ReadFile("testdata/kamailio-style.xml"); err == nil {
		f.Add(b)
	}
	if b, err := Marshal(sample()); err == nil {
		f.Add(b)
	}
	f.Add([]byte("<IMSSubscription><PrivateID>x</PrivateID></IMSSubscription>"))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := Parse(b)
		if err != nil {
			return
		}
		// Whatever parses and validates must write back and parse again.
		out, err := Marshal(s)
		if err != nil {
			if errors.Is(err, ErrTooMuchData) {
				return
			}
			t.Fatalf("valid document did not marshal: %v", err)
		}
		if _, err := Parse(out); err != nil {
			t.Fatalf("marshalled document did not parse: %v\n%s", err, out)
		}
	})
}

func BenchmarkMarshal(b *testing.B) {
	s := sample()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Marshal(s); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParse(b *testing.B) {
	doc, err := Marshal(sample())
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(doc); err != nil {
			b.Fatal(err)
		}
	}
}
