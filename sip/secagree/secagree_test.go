package secagree

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/emiago/sipgo/sip"

	"github.com/imscore/imscore/sip/header"
)

func seedLines(tb testing.TB, name string) []string {
	tb.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		tb.Fatalf("read seeds: %v", err)
	}
	var out []string
	for _, l := range strings.Split(string(data), "\n") {
		if l = strings.TrimRight(l, "\r"); l != "" && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return out
}

// samsung is the three-mechanism offer of a Samsung handset, one per ealg.
func samsung(ealg string) Mechanism {
	return Mechanism{Name: MechIPsec3GPP, Prot: ProtESP, Mod: ModTrans, SPIC: 74618, SPIS: 74619, PortC: 8001, PortS: 8000,
		Alg: AlgHMACMD596, EAlg: ealg}
}

func TestParse(t *testing.T) {
	tests := []struct {
		name   string
		value  string
		want   []Mechanism
		format string
	}{
		{
			name:  "Samsung Security-Client: one mechanism per alg/ealg pair",
			value: "ipsec-3gpp;prot=esp;mod=trans;spi-c=74618;spi-s=74619;port-c=8001;port-s=8000;alg=hmac-md5-96;ealg=des-ede3-cbc, ipsec-3gpp;prot=esp;mod=trans;spi-c=74618;spi-s=74619;port-c=8001;port-s=8000;alg=hmac-md5-96;ealg=aes-cbc, ipsec-3gpp;prot=esp;mod=trans;spi-c=74618;spi-s=74619;port-c=8001;port-s=8000;alg=hmac-md5-96;ealg=null",
			want:  []Mechanism{samsung(EAlgDESEDE3), samsung(EAlgAESCBC), samsung(EAlgNull)},
			format: "ipsec-3gpp;alg=hmac-md5-96;ealg=des-ede3-cbc;prot=esp;mod=trans;spi-c=74618;spi-s=74619;port-c=8001;port-s=8000, " +
				"ipsec-3gpp;alg=hmac-md5-96;ealg=aes-cbc;prot=esp;mod=trans;spi-c=74618;spi-s=74619;port-c=8001;port-s=8000, " +
				"ipsec-3gpp;alg=hmac-md5-96;ealg=null;prot=esp;mod=trans;spi-c=74618;spi-s=74619;port-c=8001;port-s=8000",
		},
		{
			name:  "Android UE as Kamailio logs it: no prot, no mod, no space after the comma",
			value: "ipsec-3gpp;alg=hmac-md5-96;ealg=null;spi-c=1236;spi-s=1237;port-c=7004;port-s=7005,ipsec-3gpp;alg=hmac-sha-1-96;ealg=null;spi-c=1236;spi-s=1237;port-c=7004;port-s=7005",
			want: []Mechanism{
				{Name: MechIPsec3GPP, Alg: AlgHMACMD596, EAlg: EAlgNull, SPIC: 1236, SPIS: 1237, PortC: 7004, PortS: 7005},
				{Name: MechIPsec3GPP, Alg: AlgHMACSHA196, EAlg: EAlgNull, SPIC: 1236, SPIS: 1237, PortC: 7004, PortS: 7005},
			},
			format: "ipsec-3gpp;alg=hmac-md5-96;ealg=null;spi-c=1236;spi-s=1237;port-c=7004;port-s=7005, ipsec-3gpp;alg=hmac-sha-1-96;ealg=null;spi-c=1236;spi-s=1237;port-c=7004;port-s=7005",
		},
		{
			name:   "Kamailio P-CSCF Security-Server with q",
			value:  "ipsec-3gpp;q=0.1;prot=esp;mod=trans;spi-c=4096;spi-s=4097;port-c=5100;port-s=6100;alg=hmac-sha-1-96;ealg=aes-cbc",
			want:   []Mechanism{{Name: MechIPsec3GPP, Q: 0.1, HasQ: true, Prot: ProtESP, Mod: ModTrans, SPIC: 4096, SPIS: 4097, PortC: 5100, PortS: 6100, Alg: AlgHMACSHA196, EAlg: EAlgAESCBC}},
			format: "ipsec-3gpp;q=0.1;alg=hmac-sha-1-96;ealg=aes-cbc;prot=esp;mod=trans;spi-c=4096;spi-s=4097;port-c=5100;port-s=6100",
		},
		{
			name:   "OpenIMSCore Security-Server: '; ' separators, q last",
			value:  "ipsec-3gpp; ealg=null; alg=hmac-md5-96; spi-c=5000; spi-s=5001; port-c=5062; port-s=5064; q=0.1",
			want:   []Mechanism{{Name: MechIPsec3GPP, Q: 0.1, HasQ: true, EAlg: EAlgNull, Alg: AlgHMACMD596, SPIC: 5000, SPIS: 5001, PortC: 5062, PortS: 5064}},
			format: "ipsec-3gpp;q=0.1;alg=hmac-md5-96;ealg=null;spi-c=5000;spi-s=5001;port-c=5062;port-s=5064",
		},
		{
			name:   "mechanism-only Security-Server of a 494",
			value:  "ipsec-3gpp;q=0.1",
			want:   []Mechanism{{Name: MechIPsec3GPP, Q: 0.1, HasQ: true}},
			format: "ipsec-3gpp;q=0.1",
		},
		{
			name:  "RFC 3329 examples: several mechanisms, digest parameters kept in order",
			value: `ipsec-ike;q=0.1, tls;q=0.2, digest;d-alg=md5;d-qop=auth-int;d-ver="0123456789abcdef0123456789abcdef";q=0.3, digest-integrity`,
			want: []Mechanism{
				{Name: MechIPsecIKE, Q: 0.1, HasQ: true},
				{Name: MechTLS, Q: 0.2, HasQ: true},
				{Name: MechDigest, Q: 0.3, HasQ: true, Params: header.Params{{Name: "d-alg", Value: "md5"}, {Name: "d-qop", Value: "auth-int"},
					{Name: "d-ver", Value: "0123456789abcdef0123456789abcdef", Quoted: true}}},
				{Name: "digest-integrity"},
			},
			format: `ipsec-ike;q=0.1, tls;q=0.2, digest;q=0.3;d-alg=md5;d-qop=auth-int;d-ver="0123456789abcdef0123456789abcdef", digest-integrity`,
		},
		{
			name:   "q edge values, SPI at the top of its range, case-insensitive parameter names",
			value:  "ipsec-3gpp;Q=1.000;ALG=hmac-sha-1-96;SPI-C=4294967295;spi-s=256;port-c=65535;port-s=1;x-vendor=1",
			want:   []Mechanism{{Name: MechIPsec3GPP, Q: 1, HasQ: true, Alg: AlgHMACSHA196, SPIC: 4294967295, SPIS: 256, PortC: 65535, PortS: 1, Params: header.Params{{Name: "x-vendor", Value: "1"}}}},
			format: "ipsec-3gpp;q=1;alg=hmac-sha-1-96;spi-c=4294967295;spi-s=256;port-c=65535;port-s=1;x-vendor=1",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(tt.value)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.value, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("Parse(%q) =\n %+v\nwant\n %+v", tt.value, got, tt.want)
			}
			if f := Format(got); f != tt.format {
				t.Errorf("Format =\n %s\nwant\n %s", f, tt.format)
			}
			again, err := Parse(Format(got))
			if err != nil || !Equal(again, got) {
				t.Errorf("Format/Parse round trip: %+v, %v", again, err)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name  string
		value string
		param string
		pos   int
		is    error
	}{
		{name: "doubango test value: port-c above 65535", value: "ipsec-3gpp;alg=hmac-md5-96;prot=esp;mod=trans;ealg=aes-cbc;spi-c=5000;spi-s=5001;port-c=78952;port-s=77854", param: ParamPortC, is: ErrInvalidPort},
		{name: "port 0", value: "ipsec-3gpp;port-s=0", param: ParamPortS, is: ErrInvalidPort},
		{name: "negative port", value: "ipsec-3gpp;port-c=-1", param: ParamPortC, is: ErrInvalidPort},
		{name: "SPI 0", value: "ipsec-3gpp;alg=hmac-sha-1-96;spi-c=0;spi-s=2000", param: ParamSPIC, is: ErrInvalidSPI},
		{name: "SPI reserved by RFC 4303", value: "ipsec-3gpp;spi-s=255", param: ParamSPIS, is: ErrInvalidSPI},
		{name: "SPI above 32 bits, in the second mechanism", value: "tls, ipsec-3gpp;spi-s=4294967296", param: ParamSPIS, pos: 5, is: ErrInvalidSPI},
		{name: "SPI not decimal", value: "ipsec-3gpp;spi-c=0x1000", param: ParamSPIC, is: ErrInvalidSPI},
		{name: "SPI of eleven digits", value: "ipsec-3gpp;spi-c=00000001000", param: ParamSPIC, is: ErrInvalidSPI},
		{name: "q above 1", value: "ipsec-3gpp;q=1.5", param: ParamQ, is: ErrInvalidQ},
		{name: "q with four decimals", value: "ipsec-3gpp;q=0.1234", param: ParamQ, is: ErrInvalidQ},
		{name: "q without leading digit", value: "ipsec-3gpp;q=.5", param: ParamQ, is: ErrInvalidQ},
		{name: "alg twice in one mechanism", value: "ipsec-3gpp;alg=hmac-sha-1-96;alg=hmac-md5-96", param: ParamAlg, is: header.ErrDuplicate},
		{name: "spi-c without value", value: "ipsec-3gpp;spi-c;spi-s=1000", param: ParamSPIC, is: header.ErrSyntax},
		{name: "quoted alg", value: `ipsec-3gpp;alg="hmac-sha-1-96"`, param: ParamAlg, is: header.ErrSyntax},
		{name: "quoted mechanism name", value: `"ipsec-3gpp";alg=x`, is: header.ErrSyntax},
		{name: "empty value", value: " ", is: header.ErrMissing},
		{name: "trailing comma", value: "tls,", pos: 4, is: header.ErrSyntax},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(tt.value)
			var pe *header.ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("Parse(%q) error = %v, want *header.ParseError", tt.value, err)
			}
			if pe.Param != tt.param || pe.Pos != tt.pos || !errors.Is(err, tt.is) {
				t.Errorf("Parse(%q) error = %q {param %q pos %d}, want param %q pos %d is %v", tt.value, err, pe.Param, pe.Pos, tt.param, tt.pos, tt.is)
			}
			if tt.param != "" && !strings.Contains(err.Error(), "parameter "+tt.param) {
				t.Errorf("error %q does not name %s", err, tt.param)
			}
		})
	}
}

func TestFromMessage(t *testing.T) {
	raw := strings.Join([]string{
		"REGISTER sip:ims.example SIP/2.0",
		"Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK1",
		"CSeq: 1 REGISTER",
		"Security-Client: ipsec-3gpp;prot=esp;mod=trans;spi-c=74618;spi-s=74619;port-c=8001;port-s=8000;alg=hmac-md5-96;ealg=des-ede3-cbc, ipsec-3gpp;prot=esp;mod=trans;spi-c=74618;spi-s=74619;port-c=8001;port-s=8000;alg=hmac-md5-96;ealg=aes-cbc",
		"security-client: ipsec-3gpp;prot=esp;mod=trans;spi-c=74618;spi-s=74619;port-c=8001;port-s=8000;alg=hmac-md5-96;ealg=null",
		"Security-Verify: ipsec-3gpp;alg=hmac-md5-96;spi-c=0;spi-s=2000",
		"Content-Length: 0", "", ""}, "\r\n")
	msg, err := sip.ParseMessage([]byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	got, err := FromMessage(msg, header.SecurityClient)
	if err != nil {
		t.Fatal(err)
	}
	if want := []Mechanism{samsung(EAlgDESEDE3), samsung(EAlgAESCBC), samsung(EAlgNull)}; !reflect.DeepEqual(got, want) {
		t.Errorf("FromMessage(Security-Client) = %+v, want %+v", got, want)
	}
	_, err = FromMessage(msg, "SECURITY-VERIFY")
	var pe *header.ParseError
	if !errors.As(err, &pe) || pe.Header != header.SecurityVerify || pe.Param != ParamSPIC {
		t.Errorf("FromMessage(Security-Verify) error = %v, want one naming Security-Verify and spi-c", err)
	}
	if none, err := FromMessage(msg, header.SecurityServer); err != nil || len(none) != 0 {
		t.Errorf("FromMessage(absent header) = %v, %v", none, err)
	}
}

func TestEqual(t *testing.T) {
	server := "ipsec-3gpp;q=0.1;alg=hmac-sha-1-96;ealg=aes-cbc;prot=esp;mod=trans;spi-c=4096;spi-s=4097;port-c=5100;port-s=6100"
	tests := []struct {
		name   string
		a, b   string
		expect bool
	}{
		{name: "verbatim echo", a: server, b: server, expect: true},
		{name: "parameters reordered, spaces, case", a: server,
			b: "IPSEC-3GPP; port-s=6100; port-c=5100; spi-s=4097; spi-c=4096; MOD=trans; prot=ESP; ealg=AES-CBC; alg=hmac-sha-1-96; q=0.100", expect: true},
		{name: "leading zeros in numbers", a: "ipsec-3gpp;alg=hmac-sha-1-96;spi-c=4096", b: "ipsec-3gpp;alg=hmac-sha-1-96;spi-c=0004096", expect: true},
		{name: "defaults of ipsec-3gpp: absent ealg, prot, mod", a: "ipsec-3gpp;alg=hmac-md5-96;ealg=null;prot=esp;mod=trans;spi-c=1000",
			b: "ipsec-3gpp;alg=hmac-md5-96;spi-c=1000", expect: true},
		{name: "different SPI", a: server, b: strings.Replace(server, "spi-c=4096", "spi-c=4098", 1), expect: false},
		{name: "different port", a: server, b: strings.Replace(server, "port-s=6100", "port-s=6101", 1), expect: false},
		{name: "downgraded encryption", a: server, b: strings.Replace(server, "ealg=aes-cbc", "ealg=null", 1), expect: false},
		{name: "downgraded integrity", a: server, b: strings.Replace(server, "hmac-sha-1-96", "hmac-md5-96", 1), expect: false},
		{name: "q dropped", a: server, b: strings.Replace(server, "q=0.1;", "", 1), expect: false},
		{name: "q changed", a: server, b: strings.Replace(server, "q=0.1", "q=0.2", 1), expect: false},
		{name: "mechanisms in another order", a: "tls;q=0.2, ipsec-3gpp;q=0.1", b: "ipsec-3gpp;q=0.1, tls;q=0.2", expect: false},
		{name: "mechanism dropped", a: "tls;q=0.2, ipsec-3gpp;q=0.1", b: "tls;q=0.2", expect: false},
		{name: "extension parameter values", a: `digest;d-ver="abc";x=Y`, b: `digest;x=y;d-ver="abc"`, expect: true},
		{name: "quoted values are case-sensitive", a: `digest;d-ver="abc"`, b: `digest;d-ver="ABC"`, expect: false},
		{name: "extra extension parameter", a: "tls", b: "tls;x", expect: false},
		{name: "defaults do not apply to other mechanisms", a: "tls;ealg=null", b: "tls", expect: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := Parse(tt.a)
			if err != nil {
				t.Fatal(err)
			}
			b, err := Parse(tt.b)
			if err != nil {
				t.Fatal(err)
			}
			if got := Equal(a, b); got != tt.expect {
				t.Errorf("Equal(%q, %q) = %v, want %v", tt.a, tt.b, got, tt.expect)
			}
			if got := Equal(b, a); got != tt.expect {
				t.Errorf("Equal is not symmetric for %q, %q", tt.a, tt.b)
			}
		})
	}
}

func TestChoose(t *testing.T) {
	const kamailioAndroid = "ipsec-3gpp;alg=hmac-md5-96;ealg=null;spi-c=1236;spi-s=1237;port-c=7004;port-s=7005,ipsec-3gpp;alg=hmac-sha-1-96;ealg=null;spi-c=1236;spi-s=1237;port-c=7004;port-s=7005"
	full := func(alg, ealg string) string {
		return "ipsec-3gpp;alg=" + alg + ";ealg=" + ealg + ";spi-c=1000;spi-s=1001;port-c=5000;port-s=5001"
	}
	tests := []struct {
		name     string
		offered  string
		prefs    Preference
		wantAlg  string
		wantEAlg string
		wantName string
		wantErr  bool
	}{
		{name: "Samsung: md5 only, aes-cbc preferred", offered: "ipsec-3gpp;prot=esp;mod=trans;spi-c=74618;spi-s=74619;port-c=8001;port-s=8000;alg=hmac-md5-96;ealg=des-ede3-cbc, ipsec-3gpp;prot=esp;mod=trans;spi-c=74618;spi-s=74619;port-c=8001;port-s=8000;alg=hmac-md5-96;ealg=aes-cbc, ipsec-3gpp;prot=esp;mod=trans;spi-c=74618;spi-s=74619;port-c=8001;port-s=8000;alg=hmac-md5-96;ealg=null",
			wantName: MechIPsec3GPP, wantAlg: AlgHMACMD596, wantEAlg: EAlgAESCBC},
		{name: "Android: sha1 beats md5", offered: kamailioAndroid, wantName: MechIPsec3GPP, wantAlg: AlgHMACSHA196, wantEAlg: EAlgNull},
		{name: "integrity ranks before encryption", offered: full(AlgHMACMD596, EAlgAESCBC) + ", " + full(AlgHMACSHA196, EAlgNull),
			wantName: MechIPsec3GPP, wantAlg: AlgHMACSHA196, wantEAlg: EAlgNull},
		{name: "absent ealg is null", offered: "ipsec-3gpp;alg=hmac-sha-1-96;spi-c=1000;spi-s=1001;port-c=5000;port-s=5001",
			wantName: MechIPsec3GPP, wantAlg: AlgHMACSHA196, wantEAlg: ""},
		{name: "configured: no null encryption", offered: kamailioAndroid, prefs: Preference{Encryption: []string{EAlgAESCBC}}, wantErr: true},
		{name: "configured: md5 preferred", offered: kamailioAndroid, prefs: Preference{Integrity: []string{AlgHMACMD596, AlgHMACSHA196}},
			wantName: MechIPsec3GPP, wantAlg: AlgHMACMD596, wantEAlg: EAlgNull},
		{name: "configured: a later-release algorithm", offered: full("aes-gmac", "aes-gcm") + ", " + full(AlgHMACSHA196, EAlgNull),
			prefs:    Preference{Integrity: []string{"aes-gmac", AlgHMACSHA196}, Encryption: []string{"aes-gcm", EAlgNull}},
			wantName: MechIPsec3GPP, wantAlg: "aes-gmac", wantEAlg: "aes-gcm"},
		{name: "incomplete offer skipped: no spi-s", offered: "ipsec-3gpp;alg=hmac-sha-1-96;spi-c=1000;port-c=5000;port-s=5001, " + full(AlgHMACMD596, EAlgNull),
			wantName: MechIPsec3GPP, wantAlg: AlgHMACMD596, wantEAlg: EAlgNull},
		{name: "AH is not used in IMS", offered: full(AlgHMACSHA196, EAlgNull) + ";prot=ah", wantErr: true},
		{name: "tunnel mode not supported", offered: full(AlgHMACSHA196, EAlgNull) + ";mod=tun", wantErr: true},
		{name: "unknown algorithms only", offered: full("hmac-sha-256-128", EAlgNull), wantErr: true},
		{name: "tls only, default policy", offered: "tls;q=0.2", wantErr: true},
		{name: "tls allowed by policy, picked by q", offered: "tls;q=0.2, digest;q=0.5, tls;q=0.9;x=2",
			prefs: Preference{Mechanisms: []string{MechIPsec3GPP, MechTLS}}, wantName: MechTLS},
		{name: "ipsec-3gpp preferred over tls", offered: "tls;q=0.9, " + full(AlgHMACMD596, EAlgNull),
			prefs: Preference{Mechanisms: []string{MechIPsec3GPP, MechTLS}}, wantName: MechIPsec3GPP, wantAlg: AlgHMACMD596, wantEAlg: EAlgNull},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			offered, err := Parse(tt.offered)
			if err != nil {
				t.Fatal(err)
			}
			got, err := Choose(offered, tt.prefs)
			if tt.wantErr {
				if !errors.Is(err, ErrNoAcceptableMechanism) {
					t.Fatalf("Choose = %+v, %v; want ErrNoAcceptableMechanism", got, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Choose: %v", err)
			}
			if got.Name != tt.wantName || got.Alg != tt.wantAlg || got.EAlg != tt.wantEAlg {
				t.Errorf("Choose = %s, want %s alg=%s ealg=%s", got, tt.wantName, tt.wantAlg, tt.wantEAlg)
			}
			if tt.wantName == MechTLS && got.Params.String() != ";x=2" {
				t.Errorf("Choose among tls offers should take the highest q: got %s", got)
			}
			if got.IsIPsec3GPP() && got.CheckIPsec() != nil {
				t.Errorf("Choose returned an incomplete mechanism: %v", got.CheckIPsec())
			}
		})
	}
	if _, err := Choose(nil, DefaultPreference()); !errors.Is(err, ErrNoAcceptableMechanism) {
		t.Errorf("Choose(nothing) error = %v", err)
	}
}

func TestServerMechanism(t *testing.T) {
	offered, err := Parse("ipsec-3gpp;alg=hmac-sha-1-96;spi-c=1236;spi-s=1237;port-c=7004;port-s=7005")
	if err != nil {
		t.Fatal(err)
	}
	chosen, err := Choose(offered, DefaultPreference())
	if err != nil {
		t.Fatal(err)
	}
	server := ServerMechanism(chosen, 4096, 4097, 5100, 6100)
	want := "ipsec-3gpp;q=0.1;alg=hmac-sha-1-96;ealg=null;prot=esp;mod=trans;spi-c=4096;spi-s=4097;port-c=5100;port-s=6100"
	if got := Format([]Mechanism{server}); got != want {
		t.Errorf("Security-Server = %s, want %s", got, want)
	}
	if err := server.CheckIPsec(); err != nil {
		t.Errorf("the server mechanism is incomplete: %v", err)
	}
	// The UE's echo in Security-Verify, parameters reordered, verifies.
	verify, _ := Parse("ipsec-3gpp;alg=hmac-sha-1-96;ealg=null;spi-c=4096;spi-s=4097;port-c=5100;port-s=6100;mod=trans;prot=esp;q=0.1")
	if !Equal([]Mechanism{server}, verify) {
		t.Errorf("Security-Verify echo does not match")
	}
}

func TestCheckIPsec(t *testing.T) {
	ok := Mechanism{Name: MechIPsec3GPP, Alg: AlgHMACSHA196, SPIC: 1000, SPIS: 1001, PortC: 5000, PortS: 5001}
	if err := ok.CheckIPsec(); err != nil {
		t.Fatalf("CheckIPsec(%s) = %v", ok, err)
	}
	tests := []struct {
		name   string
		mutate func(*Mechanism)
		param  string
	}{
		{name: "not ipsec-3gpp", mutate: func(m *Mechanism) { m.Name = MechTLS }, param: "tls"},
		{name: "no alg", mutate: func(m *Mechanism) { m.Alg = "" }, param: ParamAlg},
		{name: "no spi-c", mutate: func(m *Mechanism) { m.SPIC = 0 }, param: ParamSPIC},
		{name: "no spi-s", mutate: func(m *Mechanism) { m.SPIS = 0 }, param: ParamSPIS},
		{name: "no port-c", mutate: func(m *Mechanism) { m.PortC = 0 }, param: ParamPortC},
		{name: "no port-s", mutate: func(m *Mechanism) { m.PortS = 0 }, param: ParamPortS},
		{name: "ah", mutate: func(m *Mechanism) { m.Prot = ProtAH }, param: ParamProt},
		{name: "tunnel", mutate: func(m *Mechanism) { m.Mod = ModTun }, param: ParamMod},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := ok
			tt.mutate(&m)
			err := m.CheckIPsec()
			if !errors.Is(err, ErrIncomplete) || !strings.Contains(err.Error(), tt.param) {
				t.Errorf("CheckIPsec = %v, want ErrIncomplete naming %s", err, tt.param)
			}
		})
	}
}

func TestFormatQ(t *testing.T) {
	tests := []struct {
		q    float64
		want string
	}{{0.1, "0.1"}, {1, "1"}, {0, "0"}, {0.1234, "0.123"}, {2, "1"}, {-1, "0"}}
	for _, tt := range tests {
		if got := (Mechanism{Name: "tls", Q: tt.q, HasQ: true}).String(); got != "tls;q="+tt.want {
			t.Errorf("q=%v written %s, want tls;q=%s", tt.q, got, tt.want)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range seedLines(f, "mechanisms.txt") {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, value string) {
		ms, err := Parse(value)
		if err != nil {
			var pe *header.ParseError
			if !errors.As(err, &pe) || pe.Pos < 0 || pe.Pos > len(value) {
				t.Fatalf("Parse(%q) error %v is not a positioned *header.ParseError", value, err)
			}
			return
		}
		text := Format(ms)
		again, err := Parse(text)
		if err != nil {
			t.Fatalf("Parse(%q) succeeded but its rewrite %q fails: %v", value, text, err)
		}
		if !Equal(ms, again) {
			t.Fatalf("Parse(%q): rewrite %q is not Equal: %+v vs %+v", value, text, ms, again)
		}
		if Format(again) != text {
			t.Fatalf("Parse(%q): writing is not stable", value)
		}
		if m, err := Choose(ms, DefaultPreference()); err == nil && m.CheckIPsec() != nil {
			t.Fatalf("Choose picked an incomplete mechanism from %q", value)
		}
	})
}
