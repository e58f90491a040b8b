package header

import (
	"errors"
	"strings"
	"testing"
)

func TestParseNameAddrs(t *testing.T) {
	tests := []struct {
		name   string
		header string
		value  string
		want   []NameAddr
	}{
		{
			name: "RFC 3327 Path example, no space after comma", header: Path,
			value: "<sip:P3.EXAMPLEHOME.COM;lr>,<sip:P1.EXAMPLEVISITED.COM;lr>",
			want:  []NameAddr{{URI: "sip:P3.EXAMPLEHOME.COM;lr"}, {URI: "sip:P1.EXAMPLEVISITED.COM;lr"}},
		},
		{
			name: "RFC 3608 Service-Route example", header: ServiceRoute,
			value: "<sip:P2.HOME.EXAMPLE.COM;lr>, <sip:HSP.HOME.EXAMPLE.COM;lr>",
			want:  []NameAddr{{URI: "sip:P2.HOME.EXAMPLE.COM;lr"}, {URI: "sip:HSP.HOME.EXAMPLE.COM;lr"}},
		},
		{
			name: "RFC 3325 quoted display name", header: PAssertedIdentity,
			value: `"Cullen Jennings" <sip:fluffy@cisco.com>`,
			want:  []NameAddr{{Display: "Cullen Jennings", URI: "sip:fluffy@cisco.com"}},
		},
		{
			name: "RFC 3325 bare tel addr-spec", header: PAssertedIdentity,
			value: "tel:+14085264000",
			want:  []NameAddr{{URI: "tel:+14085264000"}},
		},
		{
			name: "P-Associated-URI implicit set", header: PAssociatedURI,
			value: "<sip:001010000123511@ims.mnc001.mcc001.3gppnetwork.org>, <sip:0123511@ims.mnc001.mcc001.3gppnetwork.org>, <tel:0123511>",
			want: []NameAddr{
				{URI: "sip:001010000123511@ims.mnc001.mcc001.3gppnetwork.org"},
				{URI: "sip:0123511@ims.mnc001.mcc001.3gppnetwork.org"},
				{URI: "tel:0123511"},
			},
		},
		{
			name: "display with comma and escapes, URI with comma and headers, params kept in order", header: PAssertedIdentity,
			value: `"Alice, the \"Great\"" <sip:alice@example.com;user=phone?X=1,2>;x=1;flag;Z="q v"`,
			want: []NameAddr{{
				Display: `Alice, the "Great"`, URI: "sip:alice@example.com;user=phone?X=1,2",
				Params: Params{{Name: "x", Value: "1"}, {Name: "flag"}, {Name: "Z", Value: "q v", Quoted: true}},
			}},
		},
		{
			name: "unquoted display name", header: PPreferredIdentity,
			value: "Alice Smith <sip:alice@example.com>",
			want:  []NameAddr{{Display: "Alice Smith", URI: "sip:alice@example.com"}},
		},
		{
			name: "addr-spec: parameters after the URI are header parameters (RFC 3261 §20.10)", header: PAssertedIdentity,
			value: "sip:alice@example.com;tag=x , <tel:+1>",
			want:  []NameAddr{{URI: "sip:alice@example.com", Params: Params{{Name: "tag", Value: "x"}}}, {URI: "tel:+1"}},
		},
		{
			name: "LWS everywhere", header: Path,
			value: "  <sip:a.example;lr> ; x = 1 ,\t<sip:b.example>  ",
			want:  []NameAddr{{URI: "sip:a.example;lr", Params: Params{{Name: "x", Value: "1"}}}, {URI: "sip:b.example"}},
		},
		{name: "empty P-Associated-URI", header: PAssociatedURI, value: "  ", want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseNameAddrs(tt.header, tt.value)
			if err != nil {
				t.Fatalf("ParseNameAddrs(%q): %v", tt.value, err)
			}
			if !equalNameAddrs(got, tt.want) {
				t.Fatalf("ParseNameAddrs(%q) =\n %#v\nwant\n %#v", tt.value, got, tt.want)
			}
			// What we write, we read back the same.
			again, err := ParseNameAddrs(tt.header, FormatNameAddrs(got))
			if err != nil || !equalNameAddrs(again, got) {
				t.Fatalf("round trip of %q via %q: %#v, %v", tt.value, FormatNameAddrs(got), again, err)
			}
		})
	}
}

func equalNameAddrs(a, b []NameAddr) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !a[i].Equal(b[i]) {
			return false
		}
	}
	return true
}

func TestFormatNameAddrs(t *testing.T) {
	list := []NameAddr{
		{URI: "sip:term@pcscf.ims.mnc001.mcc001.3gppnetwork.org:5060;lr"},
		{Display: `Bob "B" \ Smith`, URI: "tel:+15551234567", Params: Params{{Name: "x", Value: "1"}}},
		{Display: "evil\r\nInjected: 1", URI: "sip:a>\r\nInjected: 2@b"},
	}
	want := `<sip:term@pcscf.ims.mnc001.mcc001.3gppnetwork.org:5060;lr>, "Bob \"B\" \\ Smith" <tel:+15551234567>;x=1, "evil  Injected: 1" <sip:aInjected: 2@b>`
	if got := FormatNameAddrs(list); got != want {
		t.Errorf("FormatNameAddrs =\n %s\nwant\n %s", got, want)
	}
}

func TestParseNameAddrsErrors(t *testing.T) {
	tests := []struct {
		name    string
		value   string
		pos     int
		message string
	}{
		{name: "missing closing bracket", value: "<sip:a@b", pos: 0, message: "without a closing '>'"},
		{name: "unterminated display name", value: `"unterminated <sip:a>`, pos: 0, message: "unterminated quoted-string"},
		{name: "empty URI", value: "<>", pos: 1, message: "empty URI"},
		{name: "URI without scheme", value: "<nocolon>", pos: 1, message: "no scheme"},
		{name: "bad scheme", value: "<1sip:a>", pos: 1, message: "invalid scheme"},
		{name: "space inside URI", value: "<sip:a b>", pos: 1, message: "holds ' '"},
		{name: "trailing comma", value: "<sip:a>,", pos: 8, message: "empty list element"},
		{name: "double comma", value: "<sip:a>,,<sip:b>", pos: 8, message: "empty list element"},
		{name: "missing comma", value: "<sip:a> <sip:b>", pos: 8, message: "expected ',' or ';'"},
		{name: "parameter without name", value: "<sip:a>;=x", pos: 8, message: "expected parameter name"},
		{name: "parameter with empty value", value: "<sip:a>;x=", pos: 10, message: "empty value"},
		{name: "quoted display without brackets", value: `"A" sip:a`, pos: 4, message: "expected '<'"},
		{name: "control character in display", value: "A\x01B <sip:a>", pos: 1, message: "control character"},
		{name: "CR in quoted display", value: "\"A\rB\" <sip:a>", pos: 2, message: "CR, LF or NUL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseNameAddrs(ServiceRoute, tt.value)
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("ParseNameAddrs(%q) error = %v, want a *ParseError", tt.value, err)
			}
			if pe.Header != ServiceRoute || pe.Pos != tt.pos || !strings.Contains(pe.Msg, tt.message) {
				t.Errorf("ParseNameAddrs(%q) error = %q (pos %d), want pos %d and %q", tt.value, err, pe.Pos, tt.pos, tt.message)
			}
			if !errors.Is(err, ErrSyntax) {
				t.Errorf("error %v does not unwrap to ErrSyntax", err)
			}
			if !strings.HasPrefix(err.Error(), "Service-Route: ") {
				t.Errorf("error %q does not name the header", err)
			}
		})
	}
}

func TestNameAddrParsedURI(t *testing.T) {
	tests := []struct {
		name     string
		uri      string
		wantHost string
		wantErr  bool
	}{
		{name: "sip with lr", uri: "sip:orig@scscf.ims.mnc001.mcc001.3gppnetwork.org:6060;lr", wantHost: "scscf.ims.mnc001.mcc001.3gppnetwork.org"},
		{name: "tel", uri: "tel:+15551234567", wantHost: ""},
		{name: "garbage", uri: "sip:[::1", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, err := NameAddr{URI: tt.uri}.ParsedURI()
			if (err != nil) != tt.wantErr {
				t.Fatalf("ParsedURI(%q) error = %v, wantErr %v", tt.uri, err, tt.wantErr)
			}
			if err == nil && u.Host != tt.wantHost {
				t.Errorf("ParsedURI(%q).Host = %q, want %q", tt.uri, u.Host, tt.wantHost)
			}
		})
	}
}
