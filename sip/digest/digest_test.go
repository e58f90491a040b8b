package digest

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/imscore/imscore/sip/header"
)

func TestParseChallenge(t *testing.T) {
	tests := []struct {
		name  string
		value string
		want  Challenge
	}{
		{
			name: "RFC 3310 §4 example, folded over lines",
			value: "Digest\r\n realm=\"RoamingUsers@mobile.biz\",\r\n nonce=\"CjPk9mRqNuT25eRkajM09uTl9nM09uTl9nMz5OX25PZz==\",\r\n" +
				" qop=\"auth,auth-int\",\r\n opaque=\"5ccc069c403ebaf9f0171e9517f40e41\",\r\n algorithm=AKAv1-MD5",
			want: Challenge{Realm: "RoamingUsers@mobile.biz", Nonce: "CjPk9mRqNuT25eRkajM09uTl9nM09uTl9nMz5OX25PZz==",
				QOP: "auth,auth-int", Opaque: "5ccc069c403ebaf9f0171e9517f40e41", Algorithm: AlgAKAv1MD5},
		},
		{
			name: "OpenIMSCore S-CSCF 401 to the P-CSCF, with ck and ik",
			value: `Digest realm="saygreet.com", nonce="WcUFAi5sH1JFNwV2jI46B3MutjWstgAAQ4p1b9RQ1jM=", algorithm=AKAv1-MD5, ` +
				`ck="b17720415b8881fdf83133549529be3d", ik="f2ce9632634d1f9036aee1e8c708ff43", qop="auth,auth-int"`,
			want: Challenge{Realm: "saygreet.com", Nonce: "WcUFAi5sH1JFNwV2jI46B3MutjWstgAAQ4p1b9RQ1jM=", Algorithm: AlgAKAv1MD5,
				CK: "b17720415b8881fdf83133549529be3d", IK: "f2ce9632634d1f9036aee1e8c708ff43", QOP: "auth,auth-int"},
		},
		{
			name:  "Kamailio S-CSCF MD5 challenge",
			value: `Digest realm="ims.mnc011.mcc432.3gppnetwork.org", nonce="9141ed3a3de48a878ba1467f9cfa0a88", algorithm=MD5, qop="auth"`,
			want:  Challenge{Realm: "ims.mnc011.mcc432.3gppnetwork.org", Nonce: "9141ed3a3de48a878ba1467f9cfa0a88", Algorithm: AlgMD5, QOP: QOPAuth},
		},
		{
			name:  "lower-case scheme, stale, domain, unknown directives kept in order",
			value: `digest realm="r",nonce="n",stale=TRUE,domain="sip:a sip:b",charset=UTF-8,x="y z"`,
			want: Challenge{Realm: "r", Nonce: "n", Stale: true, Domain: "sip:a sip:b",
				Params: header.Params{{Name: "charset", Value: "UTF-8"}, {Name: "x", Value: "y z", Quoted: true}}},
		},
		{
			name:  "stale=false, escaped quote in realm, empty list elements",
			value: `Digest realm="a\"b", , nonce="n",stale=false`,
			want:  Challenge{Realm: `a"b`, Nonce: "n"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseChallenge(tt.value)
			if err != nil {
				t.Fatalf("ParseChallenge: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("ParseChallenge =\n %#v\nwant\n %#v", got, tt.want)
			}
			again, err := ParseChallenge(got.String())
			if err != nil || !reflect.DeepEqual(again, got) {
				t.Fatalf("round trip via %s: %#v, %v", got.String(), again, err)
			}
		})
	}
}

func TestChallengeString(t *testing.T) {
	c := Challenge{Realm: "ims.mnc001.mcc001.3gppnetwork.org", Nonce: "I1VT6w6pIrHqxVMdXXgs2Kv7CNbyrjAA2BYW5/pX8Bs=",
		Algorithm: AlgAKAv1MD5, QOP: QOPAuth, CK: "b40ba9a3c58b2a05bbf0d987b21bf8cb", IK: "f769bcd751044604127672711c6d3441"}
	// What the S-CSCF sends the P-CSCF (TS 24.229 §5.4.1.2.1).
	want := `Digest realm="ims.mnc001.mcc001.3gppnetwork.org",nonce="I1VT6w6pIrHqxVMdXXgs2Kv7CNbyrjAA2BYW5/pX8Bs=",algorithm=AKAv1-MD5,qop="auth",ck="b40ba9a3c58b2a05bbf0d987b21bf8cb",ik="f769bcd751044604127672711c6d3441"`
	if got := c.String(); got != want {
		t.Errorf("S-CSCF challenge =\n %s\nwant\n %s", got, want)
	}
	ik, ck, err := c.Keys()
	if err != nil || len(ik) != 16 || len(ck) != 16 || ik[0] != 0xf7 || ck[15] != 0xcb {
		t.Errorf("Keys() = %x, %x, %v", ik, ck, err)
	}
	// What the P-CSCF forwards to the UE once it has taken the keys out (§5.2.2).
	c = c.WithoutKeys()
	want = `Digest realm="ims.mnc001.mcc001.3gppnetwork.org",nonce="I1VT6w6pIrHqxVMdXXgs2Kv7CNbyrjAA2BYW5/pX8Bs=",algorithm=AKAv1-MD5,qop="auth"`
	if got := c.String(); got != want {
		t.Errorf("P-CSCF challenge =\n %s\nwant\n %s", got, want)
	}
	if _, _, err := c.Keys(); !errors.Is(err, ErrMissingKey) {
		t.Errorf("Keys() without keys: %v, want ErrMissingKey", err)
	}
	c.Stale, c.Opaque, c.Algorithm = true, "o", ""
	c.Params = header.Params{{Name: "x", Value: "1"}, {Name: "bad name", Value: "dropped"}, {Name: "flag"}}
	want = `Digest realm="ims.mnc001.mcc001.3gppnetwork.org",nonce="I1VT6w6pIrHqxVMdXXgs2Kv7CNbyrjAA2BYW5/pX8Bs=",qop="auth",opaque="o",stale=TRUE,x=1,flag=""`
	if got := c.String(); got != want {
		t.Errorf("challenge with extras =\n %s\nwant\n %s", got, want)
	}
	for _, bad := range []string{"b40ba9a3c58b2a05bbf0d987b21bf8", "zz0ba9a3c58b2a05bbf0d987b21bf8cb"} {
		if _, _, err := (Challenge{IK: bad, CK: bad}).Keys(); !errors.Is(err, ErrInvalidKey) {
			t.Errorf("Keys(%q) = %v, want ErrInvalidKey", bad, err)
		}
	}
	if got := (Challenge{QOP: "auth, auth-int,,"}).QOPs(); !reflect.DeepEqual(got, []string{"auth", "auth-int"}) {
		t.Errorf("QOPs() = %q", got)
	}
}

func TestParseCredentials(t *testing.T) {
	tests := []struct {
		name  string
		value string
		want  Credentials
	}{
		{
			name: "RFC 3310 §4 example",
			value: "Digest\r\n username=\"jon.dough@mobile.biz\",\r\n realm=\"RoamingUsers@mobile.biz\",\r\n" +
				" nonce=\"CjPk9mRqNuT25eRkajM09uTl9nM09uTl9nMz5OX25PZz==\",\r\n uri=\"sip:home.mobile.biz\",\r\n qop=auth-int,\r\n" +
				" nc=00000001,\r\n cnonce=\"0a4f113b\",\r\n response=\"6629fae49393a05397450978507c4ef1\",\r\n opaque=\"5ccc069c403ebaf9f0171e9517f40e41\"",
			want: Credentials{Username: "jon.dough@mobile.biz", Realm: "RoamingUsers@mobile.biz", Nonce: "CjPk9mRqNuT25eRkajM09uTl9nM09uTl9nMz5OX25PZz==",
				URI: "sip:home.mobile.biz", QOP: QOPAuthInt, NC: "00000001", CNonce: "0a4f113b", Response: "6629fae49393a05397450978507c4ef1",
				Opaque: "5ccc069c403ebaf9f0171e9517f40e41"},
		},
		{
			name: "RFC 3310 §4 resynchronisation with auts",
			value: `Digest username="jon.dough@mobile.biz", realm="RoamingUsers@mobile.biz", nonce="CjPk9mRqNuT25eRkajM09uTl9nM09uTl9nMz5OX25PZz==", ` +
				`uri="sip:home.mobile.biz", qop=auth, nc=00000001, cnonce="0a4f113b", response="4429ffe49393c02397450934607c4ef1", ` +
				`opaque="5ccc069c403ebaf9f0171e9517f40e41", auts="5PYxMuX2NOT2NeQ="`,
			want: Credentials{Username: "jon.dough@mobile.biz", Realm: "RoamingUsers@mobile.biz", Nonce: "CjPk9mRqNuT25eRkajM09uTl9nM09uTl9nMz5OX25PZz==",
				URI: "sip:home.mobile.biz", QOP: QOPAuth, NC: "00000001", CNonce: "0a4f113b", Response: "4429ffe49393c02397450934607c4ef1",
				Opaque: "5ccc069c403ebaf9f0171e9517f40e41", AUTS: "5PYxMuX2NOT2NeQ="},
		},
		{
			name:  "Samsung initial REGISTER: empty nonce and response, uri first",
			value: `Digest uri="sip:ims.mnc001.mcc001.3gppnetwork.org",username="001010000123511@ims.mnc001.mcc001.3gppnetwork.org",response="",realm="ims.mnc001.mcc001.3gppnetwork.org",nonce=""`,
			want: Credentials{URI: "sip:ims.mnc001.mcc001.3gppnetwork.org", Username: "001010000123511@ims.mnc001.mcc001.3gppnetwork.org",
				Realm: "ims.mnc001.mcc001.3gppnetwork.org"},
		},
		{
			name: "Boghe: unquoted integrity-protected, AKAv1 response",
			value: `Digest username="alice@open-ims.test",realm="sip:192.168.100.50:5060",nonce="BVIdbm8dNALdnvgik8oLJ930otiGxgAAMcKkECwT18o=",uri="sip:open-ims.test",` +
				`response="7d2e48a390553e9e05916489f8fad19f",algorithm=AKAv1-MD5,cnonce="73290aaecda7fd255d8b49f06cd33e2e",qop=auth,nc=00000001, integrity-protected=yes`,
			want: Credentials{Username: "alice@open-ims.test", Realm: "sip:192.168.100.50:5060", Nonce: "BVIdbm8dNALdnvgik8oLJ930otiGxgAAMcKkECwT18o=",
				URI: "sip:open-ims.test", Response: "7d2e48a390553e9e05916489f8fad19f", Algorithm: AlgAKAv1MD5, CNonce: "73290aaecda7fd255d8b49f06cd33e2e",
				QOP: QOPAuth, NC: "00000001", IntegrityProtected: IntegrityYes},
		},
		{
			name:  "P-CSCF marked, quoted qop tolerated, unknown directive kept",
			value: `Digest username="u",realm="r",nonce="",uri="sip:r",response="",qop="auth",integrity-protected="ip-assoc-pending",x=1`,
			want: Credentials{Username: "u", Realm: "r", URI: "sip:r", QOP: QOPAuth, IntegrityProtected: IntegrityIPAssocPending,
				Params: header.Params{{Name: "x", Value: "1"}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseCredentials(tt.value)
			if err != nil {
				t.Fatalf("ParseCredentials: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("ParseCredentials =\n %#v\nwant\n %#v", got, tt.want)
			}
			again, err := ParseCredentials(got.String())
			if err != nil || !reflect.DeepEqual(again, got) {
				t.Fatalf("round trip via %s: %#v, %v", got.String(), again, err)
			}
		})
	}
}

func TestCredentialsString(t *testing.T) {
	initial := Credentials{Username: "001010000123511@ims.mnc001.mcc001.3gppnetwork.org", Realm: "ims.mnc001.mcc001.3gppnetwork.org",
		URI: "sip:ims.mnc001.mcc001.3gppnetwork.org", IntegrityProtected: IntegrityNo}
	want := `Digest username="001010000123511@ims.mnc001.mcc001.3gppnetwork.org",realm="ims.mnc001.mcc001.3gppnetwork.org",nonce="",uri="sip:ims.mnc001.mcc001.3gppnetwork.org",response="",integrity-protected="no"`
	if got := initial.String(); got != want {
		t.Errorf("initial REGISTER credentials =\n %s\nwant\n %s", got, want)
	}
	full := Credentials{Username: "u", Realm: "r", Nonce: "n", URI: "sip:r", Response: "0123", Algorithm: AlgAKAv1MD5, CNonce: "c",
		QOP: QOPAuth, NC: "00000001", Opaque: "o", AUTS: "a", IntegrityProtected: IntegrityYes}
	want = `Digest username="u",realm="r",nonce="n",uri="sip:r",response="0123",algorithm=AKAv1-MD5,cnonce="c",qop=auth,nc=00000001,opaque="o",auts="a",integrity-protected="yes"`
	if got := full.String(); got != want {
		t.Errorf("full credentials =\n %s\nwant\n %s", got, want)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name   string
		parse  func(string) error
		hdr    string
		value  string
		param  string
		pos    int
		is     error
		inText string
	}{
		{name: "Basic scheme", parse: challengeErr, hdr: header.WWWAuthenticate, value: `Basic realm="r"`, is: ErrNotDigest},
		{name: "scheme glued to a directive", parse: challengeErr, hdr: header.WWWAuthenticate, value: `Digest,realm="r"`, pos: 6, is: header.ErrSyntax},
		{name: "no directives", parse: credentialsErr, hdr: header.Authorization, value: "Digest   ", pos: 9, is: header.ErrMissing},
		{name: "empty", parse: credentialsErr, hdr: header.Authorization, value: "", is: header.ErrMissing},
		{name: "nonce twice", parse: challengeErr, hdr: header.WWWAuthenticate, value: `Digest nonce="a", realm="r", NONCE="b"`, param: "nonce", pos: 29, is: header.ErrDuplicate},
		{name: "auts twice", parse: credentialsErr, hdr: header.Authorization, value: `Digest auts="a",auts="b"`, param: "auts", pos: 16, is: header.ErrDuplicate},
		{name: "stale neither true nor false", parse: challengeErr, hdr: header.WWWAuthenticate, value: `Digest realm="r",stale=maybe`, param: "stale", pos: 17, is: header.ErrSyntax},
		{name: "directive without =", parse: credentialsErr, hdr: header.Authorization, value: `Digest username`, param: "username", pos: 7, is: header.ErrSyntax},
		{name: "empty value", parse: credentialsErr, hdr: header.Authorization, value: `Digest nc=,qop=auth`, param: "nc", pos: 7, is: header.ErrSyntax},
		{name: "unterminated quote", parse: credentialsErr, hdr: header.Authorization, value: `Digest username="u`, param: "username", pos: 7, is: header.ErrSyntax, inText: "unterminated"},
		{name: "CRLF inside quotes", parse: challengeErr, hdr: header.WWWAuthenticate, value: "Digest realm=\"a\r\nX: y\"", param: "realm", pos: 7, is: header.ErrSyntax},
		{name: "missing comma", parse: credentialsErr, hdr: header.Authorization, value: `Digest username="u" realm="r"`, pos: 20, is: header.ErrSyntax, inText: "expected ','"},
		{name: "garbage name", parse: challengeErr, hdr: header.WWWAuthenticate, value: `Digest "x"="y"`, pos: 7, is: header.ErrSyntax},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.parse(tt.value)
			var pe *header.ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error = %v, want *header.ParseError", err)
			}
			if pe.Header != tt.hdr || pe.Param != tt.param || pe.Pos != tt.pos || !errors.Is(err, tt.is) || !strings.Contains(err.Error(), tt.inText) {
				t.Errorf("error = %q {header %q param %q pos %d}, want header %q param %q pos %d is %v", err, pe.Header, pe.Param, pe.Pos, tt.hdr, tt.param, tt.pos, tt.is)
			}
		})
	}
}

func challengeErr(v string) error   { _, err := ParseChallenge(v); return err }
func credentialsErr(v string) error { _, err := ParseCredentials(v); return err }
