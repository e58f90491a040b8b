package header

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestParseVisitedNetworks(t *testing.T) {
	tests := []struct {
		name   string
		value  string
		want   []VisitedNetwork
		format string
	}{
		{
			name:   "RFC 7315 §4.3 example: token and quoted-string",
			value:  `other.net, "Visited network number 1"`,
			want:   []VisitedNetwork{{ID: "other.net"}, {ID: "Visited network number 1", Quoted: true}},
			format: `other.net, "Visited network number 1"`,
		},
		{
			name:   "home domain as P-CSCF adds it",
			value:  "ims.mnc001.mcc001.3gppnetwork.org",
			want:   []VisitedNetwork{{ID: "ims.mnc001.mcc001.3gppnetwork.org"}},
			format: "ims.mnc001.mcc001.3gppnetwork.org",
		},
		{
			name:   "parameters",
			value:  `"Visited network";x=1 , b.example;y`,
			want:   []VisitedNetwork{{ID: "Visited network", Quoted: true, Params: Params{{Name: "x", Value: "1"}}}, {ID: "b.example", Params: Params{{Name: "y"}}}},
			format: `"Visited network";x=1, b.example;y`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseVisitedNetworks(tt.value)
			if err != nil {
				t.Fatalf("ParseVisitedNetworks(%q): %v", tt.value, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("ParseVisitedNetworks(%q) = %#v, want %#v", tt.value, got, tt.want)
			}
			if f := FormatVisitedNetworks(got); f != tt.format {
				t.Errorf("FormatVisitedNetworks = %s, want %s", f, tt.format)
			}
		})
	}
	for _, bad := range []string{"", "a,,b", `"open`, "a b"} {
		t.Run("invalid "+bad, func(t *testing.T) {
			_, err := ParseVisitedNetworks(bad)
			var pe *ParseError
			if !errors.As(err, &pe) || pe.Header != PVisitedNetworkID {
				t.Errorf("ParseVisitedNetworks(%q) error = %v, want a P-Visited-Network-ID ParseError", bad, err)
			}
		})
	}
}

func TestParseAccessNetworkInfo(t *testing.T) {
	tests := []struct {
		name            string
		value           string
		want            []AccessNetworkInfo
		cellID          string
		networkProvided bool
		format          string
	}{
		{
			name:  "RFC 7315 §5.4 example with network-provided",
			value: "3GPP-UTRAN-TDD; utran-cell-id-3gpp=23456789ABCDE; network-provided",
			want: []AccessNetworkInfo{{AccessType: "3GPP-UTRAN-TDD", Params: Params{
				{Name: "utran-cell-id-3gpp", Value: "23456789ABCDE"}, {Name: "network-provided"}}}},
			cellID: "23456789ABCDE", networkProvided: true,
			format: "3GPP-UTRAN-TDD;utran-cell-id-3gpp=23456789ABCDE;network-provided",
		},
		{
			name:   "LTE handset",
			value:  "3GPP-E-UTRAN-FDD;utran-cell-id-3gpp=0010100010019B01",
			want:   []AccessNetworkInfo{{AccessType: AccessType3GPPEUTRANFDD, Params: Params{{Name: "utran-cell-id-3gpp", Value: "0010100010019B01"}}}},
			cellID: "0010100010019B01",
			format: "3GPP-E-UTRAN-FDD;utran-cell-id-3gpp=0010100010019B01",
		},
		{
			name:   "WLAN node id",
			value:  "IEEE-802.11;i-wlan-node-id=020000000001",
			want:   []AccessNetworkInfo{{AccessType: AccessTypeIEEE80211, Params: Params{{Name: "i-wlan-node-id", Value: "020000000001"}}}},
			format: "IEEE-802.11;i-wlan-node-id=020000000001",
		},
		{
			name:  "GERAN cgi and a list of two",
			value: `3GPP-GERAN;cgi-3gpp=00101000100FE, 3GPP-NR-FDD;utran-cell-id-3gpp=001010000100000001;local-time-zone="UTC+01:00"`,
			want: []AccessNetworkInfo{
				{AccessType: "3GPP-GERAN", Params: Params{{Name: "cgi-3gpp", Value: "00101000100FE"}}},
				{AccessType: AccessType3GPPNRFDD, Params: Params{{Name: "utran-cell-id-3gpp", Value: "001010000100000001"}, {Name: "local-time-zone", Value: "UTC+01:00", Quoted: true}}},
			},
			cellID: "00101000100FE",
			format: `3GPP-GERAN;cgi-3gpp=00101000100FE, 3GPP-NR-FDD;utran-cell-id-3gpp=001010000100000001;local-time-zone="UTC+01:00"`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseAccessNetworkInfo(tt.value)
			if err != nil {
				t.Fatalf("ParseAccessNetworkInfo(%q): %v", tt.value, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("ParseAccessNetworkInfo(%q) = %#v, want %#v", tt.value, got, tt.want)
			}
			if c := got[0].CellID(); c != tt.cellID {
				t.Errorf("CellID() = %q, want %q", c, tt.cellID)
			}
			if np := got[0].NetworkProvided(); np != tt.networkProvided {
				t.Errorf("NetworkProvided() = %v, want %v", np, tt.networkProvided)
			}
			if f := FormatAccessNetworkInfo(got); f != tt.format {
				t.Errorf("FormatAccessNetworkInfo = %s, want %s", f, tt.format)
			}
		})
	}
	for _, bad := range []string{"", `"quoted-type";x=1`, "3GPP-E-UTRAN-FDD;utran-cell-id-3gpp", "a;b=", "a;b=1 c"} {
		t.Run("invalid "+bad, func(t *testing.T) {
			got, err := ParseAccessNetworkInfo(bad)
			if bad == "3GPP-E-UTRAN-FDD;utran-cell-id-3gpp" {
				// A valueless access-info is a generic-param flag: valid, with no cell id.
				if err != nil || got[0].CellID() != "" {
					t.Fatalf("ParseAccessNetworkInfo(%q) = %v, %v; want a flag and no cell id", bad, got, err)
				}
				return
			}
			var pe *ParseError
			if !errors.As(err, &pe) || pe.Header != PAccessNetworkInfo {
				t.Errorf("ParseAccessNetworkInfo(%q) error = %v, want a P-Access-Network-Info ParseError", bad, err)
			}
		})
	}
}

func TestParseChargingVector(t *testing.T) {
	tests := []struct {
		name   string
		value  string
		want   ChargingVector
		format string
	}{
		{
			name:   "RFC 7315 example with spaces",
			value:  "icid-value=1234bc9876e; icid-generated-at=192.0.6.8; orig-ioi=home1.net",
			want:   ChargingVector{ICIDValue: "1234bc9876e", ICIDGeneratedAt: "192.0.6.8", OrigIOI: "home1.net"},
			format: "icid-value=1234bc9876e;icid-generated-at=192.0.6.8;orig-ioi=home1.net",
		},
		{
			name:   "base64 ICID quoted, term-ioi",
			value:  `icid-value="AyretyU0dm+6O2IrT5tAFrbHLso=023551024";orig-ioi=home1.net;term-ioi=home2.net`,
			want:   ChargingVector{ICIDValue: "AyretyU0dm+6O2IrT5tAFrbHLso=023551024", OrigIOI: "home1.net", TermIOI: "home2.net"},
			format: `icid-value="AyretyU0dm+6O2IrT5tAFrbHLso=023551024";orig-ioi=home1.net;term-ioi=home2.net`,
		},
		{
			name:   "base64 ICID unquoted as some vendors send it is accepted and written quoted",
			value:  "icid-value=AyretyU0dm+6O2IrT5tAFrbHLso=023551024",
			want:   ChargingVector{ICIDValue: "AyretyU0dm+6O2IrT5tAFrbHLso=023551024"},
			format: `icid-value="AyretyU0dm+6O2IrT5tAFrbHLso=023551024"`,
		},
		{
			name:   "IPv6 generated-at stays bare",
			value:  "icid-value=3cbf9d6c;icid-generated-at=[2001:db8::1]",
			want:   ChargingVector{ICIDValue: "3cbf9d6c", ICIDGeneratedAt: "[2001:db8::1]"},
			format: "icid-value=3cbf9d6c;icid-generated-at=[2001:db8::1]",
		},
		{
			name:  "transit-ioi, related-icid and a flag stay in Params in order; icid-value not first",
			value: `orig-ioi=a.example;icid-value=ab12;transit-ioi="tr1.example, tr2.example";related-icid=cd34;x`,
			want: ChargingVector{ICIDValue: "ab12", OrigIOI: "a.example", Params: Params{
				{Name: "transit-ioi", Value: "tr1.example, tr2.example", Quoted: true}, {Name: "related-icid", Value: "cd34"}, {Name: "x"}}},
			format: `icid-value=ab12;orig-ioi=a.example;transit-ioi="tr1.example, tr2.example";related-icid=cd34;x`,
		},
		{
			name:   "parameter names are case-insensitive",
			value:  "ICID-Value=1;Orig-IOI=o",
			want:   ChargingVector{ICIDValue: "1", OrigIOI: "o"},
			format: "icid-value=1;orig-ioi=o",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseChargingVector(tt.value)
			if err != nil {
				t.Fatalf("ParseChargingVector(%q): %v", tt.value, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("ParseChargingVector(%q) = %#v, want %#v", tt.value, got, tt.want)
			}
			if f := got.String(); f != tt.format {
				t.Errorf("String() = %s, want %s", f, tt.format)
			}
		})
	}
}

func TestParseChargingVectorErrors(t *testing.T) {
	tests := []struct {
		name  string
		value string
		param string
		pos   int
		is    error
	}{
		{name: "missing icid-value", value: "orig-ioi=home1.net", param: ParamICIDValue, pos: 0, is: ErrMissing},
		{name: "repeated orig-ioi", value: "icid-value=1;orig-ioi=a;orig-ioi=b", param: ParamOrigIOI, pos: 24, is: ErrDuplicate},
		{name: "icid-value without value", value: "icid-value;orig-ioi=a", param: ParamICIDValue, pos: 0, is: ErrSyntax},
		{name: "comma is not a separator here", value: "icid-value=1, orig-ioi=a", pos: 12, is: ErrSyntax},
		{name: "empty", value: " ", pos: 1, is: ErrMissing},
		{name: "unterminated quote", value: `icid-value="abc`, param: ParamICIDValue, pos: 11, is: ErrSyntax},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseChargingVector(tt.value)
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("ParseChargingVector(%q) error = %v, want *ParseError", tt.value, err)
			}
			if pe.Header != PChargingVector || pe.Param != tt.param || pe.Pos != tt.pos || !errors.Is(err, tt.is) {
				t.Errorf("ParseChargingVector(%q) error = %q {param %q pos %d}, want param %q pos %d is %v", tt.value, err, pe.Param, pe.Pos, tt.param, tt.pos, tt.is)
			}
		})
	}
}

func TestParseChargingFunctionAddresses(t *testing.T) {
	tests := []struct {
		name   string
		value  string
		want   ChargingFunctionAddresses
		format string
	}{
		{
			name:   "RFC 7315 example keeps primary and secondary order",
			value:  "ccf=192.1.1.1; ccf=192.1.1.2; ecf=192.1.1.3; ecf=192.1.1.4",
			want:   ChargingFunctionAddresses{CCF: []string{"192.1.1.1", "192.1.1.2"}, ECF: []string{"192.1.1.3", "192.1.1.4"}},
			format: "ccf=192.1.1.1;ccf=192.1.1.2;ecf=192.1.1.3;ecf=192.1.1.4",
		},
		{
			name:   "Diameter URI and IPv6",
			value:  `ccf="aaa://cdf.ims.example:3868";ecf="[5555::b99:c88:d77:e66]"`,
			want:   ChargingFunctionAddresses{CCF: []string{"aaa://cdf.ims.example:3868"}, ECF: []string{"[5555::b99:c88:d77:e66]"}},
			format: `ccf="aaa://cdf.ims.example:3868";ecf=[5555::b99:c88:d77:e66]`,
		},
		{
			name:   "generic parameter, ecf only",
			value:  "ecf=ecf.example;x=1",
			want:   ChargingFunctionAddresses{ECF: []string{"ecf.example"}, Params: Params{{Name: "x", Value: "1"}}},
			format: "ecf=ecf.example;x=1",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseChargingFunctionAddresses(tt.value)
			if err != nil {
				t.Fatalf("ParseChargingFunctionAddresses(%q): %v", tt.value, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("ParseChargingFunctionAddresses(%q) = %#v, want %#v", tt.value, got, tt.want)
			}
			if f := got.String(); f != tt.format {
				t.Errorf("String() = %s, want %s", f, tt.format)
			}
		})
	}
	for _, bad := range []string{"ccf", "ccf=;ecf=a", "", "ccf=a,ccf=b"} {
		t.Run("invalid "+bad, func(t *testing.T) {
			_, err := ParseChargingFunctionAddresses(bad)
			var pe *ParseError
			if !errors.As(err, &pe) || pe.Header != PChargingFunctionAddresses || !strings.HasPrefix(err.Error(), PChargingFunctionAddresses) {
				t.Errorf("ParseChargingFunctionAddresses(%q) error = %v, want a P-Charging-Function-Addresses ParseError", bad, err)
			}
		})
	}
}
