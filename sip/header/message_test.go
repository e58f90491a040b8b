package header

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/emiago/sipgo/sip"
)

// parseRaw parses a message with sipgo's own parser, as a transport would.
func parseRaw(t *testing.T, lines ...string) *sip.Request {
	t.Helper()
	msg, err := sip.ParseMessage([]byte(strings.Join(append(lines, "", ""), "\r\n")))
	if err != nil {
		t.Fatalf("sipgo ParseMessage: %v", err)
	}
	req, ok := msg.(*sip.Request)
	if !ok {
		t.Fatalf("parsed %T, want *sip.Request", msg)
	}
	return req
}

func loadRegister(t *testing.T) *sip.Request {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "register.sip"))
	if err != nil {
		t.Fatal(err)
	}
	msg, err := sip.ParseMessage(data)
	if err != nil {
		t.Fatalf("sipgo ParseMessage(register.sip): %v", err)
	}
	return msg.(*sip.Request)
}

var mixedLines = []string{
	"REGISTER sip:ims.example SIP/2.0",
	"v: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK1",
	"f: <sip:a@ims.example>;tag=1",
	"t: <sip:a@ims.example>",
	"i: abc",
	"CSeq: 1 REGISTER",
	"k: path",
	"Supported: gruu, sec-agree",
	"p-asserted-identity: <sip:a@x>",
	`P-Asserted-Identity: "A, B" <sip:b@x;x=1,2>, tel:+123`,
	"m: <sip:a@1.2.3.4>;expires=600, <sip:b@1.2.3.4>",
	"o: reg",
	`Authorization: Digest username="u", realm="r", nonce="", uri="sip:ims.example", response=""`,
	"l: 0",
}

// TestSipgoStorage pins down how sipgo v1.7.2 stores headers; the helpers in this package exist
// because of it. If sipgo changes, this test says so before the helpers misbehave.
func TestSipgoStorage(t *testing.T) {
	req := parseRaw(t, mixedLines...)
	names := []string{}
	for _, h := range req.Headers() {
		names = append(names, h.Name())
	}
	want := []string{"Via", "From", "To", "Call-ID", "CSeq", "k", "Supported", "p-asserted-identity",
		"P-Asserted-Identity", "Contact", "Contact", "o", "Authorization", "Content-Length"}
	if !reflect.DeepEqual(names, want) {
		t.Fatalf("sipgo header names = %q, want %q", names, want)
	}
	// Compact forms it parses are expanded (f → From); others keep their letter (k, o).
	if req.From() == nil || req.Via() == nil || req.CallID() == nil {
		t.Errorf("sipgo did not expand f/v/i into typed headers")
	}
	if n := len(req.GetHeaders("Supported")); n != 1 {
		t.Errorf("sipgo GetHeaders(Supported) = %d lines, want 1 (it does not see \"k\")", n)
	}
	if n := len(req.GetHeaders("p-asserted-identity")); n != 2 {
		t.Errorf("sipgo GetHeaders is case-insensitive: got %d lines, want 2", n)
	}
	// RemoveHeader: exact case, one line.
	if req.RemoveHeader("P-ASSERTED-IDENTITY") {
		t.Errorf("sipgo RemoveHeader matched a different case")
	}
	if !req.RemoveHeader("P-Asserted-Identity") || len(req.GetHeaders("P-Asserted-Identity")) != 1 {
		t.Errorf("sipgo RemoveHeader should remove exactly the one exact-case line")
	}
}

func TestValues(t *testing.T) {
	req := parseRaw(t, mixedLines...)
	tests := []struct {
		name   string
		header string
		want   []string
	}{
		{name: "compact and long form together, in order", header: "Supported", want: []string{"path", "gruu", "sec-agree"}},
		{name: "asked by compact form", header: "k", want: []string{"path", "gruu", "sec-agree"}},
		{name: "asked in upper case", header: "SUPPORTED", want: []string{"path", "gruu", "sec-agree"}},
		{name: "two spellings, comma inside quotes and brackets", header: "P-Asserted-Identity",
			want: []string{"<sip:a@x>", `"A, B" <sip:b@x;x=1,2>`, "tel:+123"}},
		{name: "typed header from a compact form, split by sipgo", header: "Contact",
			want: []string{"<sip:a@1.2.3.4>;expires=600", "<sip:b@1.2.3.4>"}},
		{name: "Event by its long name finds o", header: "Event", want: []string{"reg"}},
		{name: "Via by v", header: "v", want: []string{"SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK1"}},
		{name: "Authorization is not a list", header: "authorization",
			want: []string{`Digest username="u", realm="r", nonce="", uri="sip:ims.example", response=""`}},
		{name: "absent", header: "Path", want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Values(req, tt.header); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Values(%q) = %q, want %q", tt.header, got, tt.want)
			}
			if got := Has(req, tt.header); got != (tt.want != nil) {
				t.Errorf("Has(%q) = %v", tt.header, got)
			}
		})
	}
	if got, want := Lines(req, "p-asserted-identity"), []string{"<sip:a@x>", `"A, B" <sip:b@x;x=1,2>, tel:+123`}; !reflect.DeepEqual(got, want) {
		t.Errorf("Lines = %q, want %q", got, want)
	}
	if Values(nil, "Via") != nil || Has(nil, "Via") || Remove(nil, "Via") != 0 {
		t.Errorf("nil message should have no headers")
	}
}

func TestRemove(t *testing.T) {
	tests := []struct {
		name    string
		header  string
		removed int
		gone    []string // substrings that must not be in the printed message
	}{
		{name: "both spellings of P-Asserted-Identity", header: "P-Asserted-Identity", removed: 2, gone: []string{"sserted"}},
		{name: "Supported also removes k", header: "supported", removed: 2, gone: []string{"k: path", "Supported:"}},
		{name: "k also removes Supported", header: "K", removed: 2, gone: []string{"k: path", "Supported:"}},
		{name: "Contact, both lines split by sipgo", header: "m", removed: 2, gone: []string{"Contact:"}},
		{name: "Event written as o", header: "Event", removed: 1, gone: []string{"o: reg"}},
		{name: "absent", header: "Path", removed: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := parseRaw(t, mixedLines...)
			if got := Remove(req, tt.header); got != tt.removed {
				t.Fatalf("Remove(%q) = %d, want %d", tt.header, got, tt.removed)
			}
			out := req.String()
			for _, g := range tt.gone {
				if strings.Contains(out, g) {
					t.Errorf("after Remove(%q) the message still holds %q:\n%s", tt.header, g, out)
				}
			}
			if Has(req, tt.header) {
				t.Errorf("Has(%q) after Remove", tt.header)
			}
			if req.Via() == nil || req.CallID() == nil {
				t.Errorf("Remove(%q) disturbed other headers", tt.header)
			}
		})
	}
	t.Run("Via keeps sipgo's quick reference right", func(t *testing.T) {
		req := parseRaw(t, append([]string{mixedLines[0], "Via: SIP/2.0/UDP 10.0.0.2;branch=z9hG4bK2"}, mixedLines[1:]...)...)
		if Remove(req, "VIA") != 2 {
			t.Fatalf("want both Via lines removed")
		}
		if req.Via() != nil {
			t.Errorf("msg.Via() = %v after removing every Via", req.Via())
		}
	})
}

func TestSet(t *testing.T) {
	t.Run("replaces every line of a generic header", func(t *testing.T) {
		req := parseRaw(t, mixedLines...)
		if err := Set(req, "k", "path, sec-agree"); err != nil {
			t.Fatal(err)
		}
		if got, want := Values(req, Supported), []string{"path", "sec-agree"}; !reflect.DeepEqual(got, want) {
			t.Errorf("Values after Set = %q, want %q", got, want)
		}
		if !strings.Contains(req.String(), "\r\nSupported: path, sec-agree\r\n") {
			t.Errorf("Set should write the registered name:\n%s", req.String())
		}
	})
	t.Run("typed header stays typed", func(t *testing.T) {
		req := parseRaw(t, mixedLines...)
		if err := Set(req, "from", `"Bob" <sip:bob@ims.example>;tag=9`); err != nil {
			t.Fatal(err)
		}
		f := req.From()
		if f == nil || f.Address.User != "bob" || f.DisplayName != "Bob" {
			t.Fatalf("msg.From() after Set = %+v", f)
		}
		if len(Values(req, "f")) != 1 {
			t.Errorf("want exactly one From line")
		}
	})
	t.Run("comma-separated Contact becomes two typed lines", func(t *testing.T) {
		req := parseRaw(t, mixedLines...)
		if err := Set(req, Contact, "<sip:c@1.2.3.4>, <sip:d@1.2.3.4>"); err != nil {
			t.Fatal(err)
		}
		if got := len(req.GetHeaders("Contact")); got != 2 {
			t.Errorf("Contact lines = %d, want 2", got)
		}
	})
	tests := []struct {
		name, header, value string
	}{
		{name: "CRLF injection", header: PChargingVector, value: "icid-value=1\r\nX-Evil: 1"},
		{name: "NUL", header: PChargingVector, value: "icid-value=1\x00"},
		{name: "name not a token", header: "Bad Name", value: "x"},
		{name: "value sipgo cannot parse for a typed header", header: "CSeq", value: "not-a-number REGISTER"},
	}
	for _, tt := range tests {
		t.Run("refuses "+tt.name, func(t *testing.T) {
			req := parseRaw(t, mixedLines...)
			before := req.String()
			err := Set(req, tt.header, tt.value)
			if !errors.Is(err, ErrInvalidValue) {
				t.Fatalf("Set(%q, %q) error = %v, want ErrInvalidValue", tt.header, tt.value, err)
			}
			if req.String() != before {
				t.Errorf("a refused Set changed the message")
			}
		})
	}
}

func TestAddAndPrepend(t *testing.T) {
	req := parseRaw(t, mixedLines...)
	if err := Add(req, "path", "<sip:term@pcscf2.ims.example;lr>"); err != nil {
		t.Fatal(err)
	}
	if err := Prepend(req, Path, "<sip:term@pcscf1.ims.example;lr>"); err != nil {
		t.Fatal(err)
	}
	if err := Add(req, "X-Bad", "a\nb"); !errors.Is(err, ErrInvalidValue) {
		t.Errorf("Add with LF: error = %v, want ErrInvalidValue", err)
	}
	list, err := NameAddrs(req, "PATH")
	if err != nil {
		t.Fatal(err)
	}
	want := []NameAddr{{URI: "sip:term@pcscf1.ims.example;lr"}, {URI: "sip:term@pcscf2.ims.example;lr"}}
	if !equalNameAddrs(list, want) {
		t.Errorf("NameAddrs(Path) = %v, want %v", list, want)
	}
	if first := req.Headers()[0]; first.Name() != Path {
		t.Errorf("Prepend put %q first, want Path", first.Name())
	}
}

// TestRegisterCapture runs the helpers over a REGISTER laid out as a Samsung handset sends it:
// compact From, Call-ID, Contact, Supported and Content-Length, two Security-Client lines.
func TestRegisterCapture(t *testing.T) {
	req := loadRegister(t)
	if got := Values(req, SecurityClient); len(got) != 3 {
		t.Errorf("Security-Client mechanisms = %d, want 3: %q", len(got), got)
	}
	if got, want := Values(req, "supported"), []string{"path", "gruu", "sec-agree"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Supported = %q, want %q", got, want)
	}
	ppi, err := NameAddrs(req, PPreferredIdentity)
	if err != nil || len(ppi) != 1 || ppi[0].URI != "sip:001010000123511@ims.mnc001.mcc001.3gppnetwork.org" {
		t.Errorf("P-Preferred-Identity = %v, %v", ppi, err)
	}
	pani, err := ParseAccessNetworkInfo(Values(req, PAccessNetworkInfo)[0])
	if err != nil || pani[0].CellID() != "0010100010019B01" {
		t.Errorf("P-Access-Network-Info = %v, %v", pani, err)
	}
	// The P-CSCF strips sec-agree headers before forwarding (TS 24.229 §5.2.2).
	for _, h := range []string{SecurityClient, SecurityVerify, Require, ProxyRequire} {
		Remove(req, h)
	}
	out := req.String()
	for _, g := range []string{"Security-Client", "Require: sec-agree"} {
		if strings.Contains(out, g) {
			t.Errorf("after stripping, message still holds %q", g)
		}
	}
	// And what is left is still a message sipgo parses.
	if _, err := sip.ParseMessage([]byte(out)); err != nil {
		t.Errorf("re-parse after edits: %v", err)
	}
}

func TestTopRoute(t *testing.T) {
	base := []string{"REGISTER sip:ims.example SIP/2.0", "Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK1",
		"From: <sip:alice@ims.example>;tag=1", "To: <sip:alice@ims.example>", "Call-ID: c1", "CSeq: 1 REGISTER",
		"Security-Client: ipsec-3gpp;alg=hmac-sha-1-96;spi-c=1;spi-s=2;port-c=5062;port-s=5064",
		"P-Access-Network-Info: 3GPP-E-UTRAN-FDD;utran-cell-id-3gpp=0010100010019B01", "Content-Length: 0"}
	if got := TopRoute(parseRaw(t, base...)); got != nil {
		t.Fatalf("TopRoute of a request without Route: %v", got)
	}
	withRoute := append([]string{base[0], "route: <sip:pcscf.ims.example;lr>", "Route: <sip:scscf.ims.example;lr>"}, base[1:]...)
	got := TopRoute(parseRaw(t, withRoute...))
	if got == nil || got.Address.Host != "pcscf.ims.example" {
		t.Fatalf("TopRoute: %v, want the first Route value (pcscf.ims.example)", got)
	}
	// Every node asks it of every request: without a Route it must not allocate (sipgo's Route() allocates
	// once per IMS header name each time).
	req := parseRaw(t, base...)
	if n := testing.AllocsPerRun(100, func() { _ = TopRoute(req) }); n != 0 {
		t.Fatalf("TopRoute without a Route allocates %v times", n)
	}
}
