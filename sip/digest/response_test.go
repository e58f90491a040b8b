package digest

import (
	"bytes"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
)

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatalf("bad hex %q: %v", s, err)
	}
	return b
}

// Published request-digests, computed elsewhere.
func TestResponseVectors(t *testing.T) {
	tests := []struct {
		name     string
		cred     Credentials
		method   string
		password string
		body     string
		want     string
	}{
		{
			name: "RFC 2617 §3.5 (Mufasa)",
			cred: Credentials{Username: "Mufasa", Realm: "testrealm@host.com", Nonce: "dcd98b7102dd2f0e8b11d0f600bfb0c093",
				URI: "/dir/index.html", QOP: QOPAuth, NC: "00000001", CNonce: "0a4f113b"},
			method: "GET", password: "Circle Of Life", want: "6629fae49393a05397450978507c4ef1",
		},
		{
			name: "RFC 7616 §3.9.1, MD5",
			cred: Credentials{Username: "Mufasa", Realm: "http-auth@example.org", Nonce: "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v",
				URI: "/dir/index.html", QOP: QOPAuth, NC: "00000001", CNonce: "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ", Algorithm: AlgMD5},
			method: "GET", password: "Circle of Life", want: "8ca523f5e9506fed4657c9700eebdbec",
		},
		{
			name: "auth-int over a SIP body (SIPp's unit test, computed with Python hashlib)",
			cred: Credentials{Username: "Mufasa", Realm: "http-auth@example.org", Nonce: "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v",
				URI: "sip:bob@example.org", QOP: QOPAuthInt, NC: "00000002", CNonce: "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ", Algorithm: AlgMD5},
			method: "INVITE", password: "Circle of Life", body: "v=0\r\n", want: "3dbb0971468cf612bdccd7dff696c5e6",
		},
		{
			name: "no qop, RFC 2069 form (SIPp's unit test)",
			cred: Credentials{Username: "testuser", Realm: "testrealm@host.com", Nonce: "dcd98b7102dd2f0e8b11d0f600bfb0c093",
				URI: "sip:sip:example.com", Algorithm: AlgMD5},
			method: "REGISTER", password: "secret", body: "hello world", want: "db94e01e92f2b09a52a234eeca8b90f7",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Response(tt.cred, tt.method, []byte(tt.password), []byte(tt.body))
			if err != nil {
				t.Fatalf("Response: %v", err)
			}
			if got != tt.want {
				t.Fatalf("Response = %s, want %s", got, tt.want)
			}
			cred := tt.cred
			cred.Response = tt.want
			if !Verify(cred, tt.method, []byte(tt.password), []byte(tt.body)) {
				t.Errorf("Verify rejects the published response")
			}
			cred.Response = strings.ToUpper(tt.want)
			if !Verify(cred, tt.method, []byte(tt.password), []byte(tt.body)) {
				t.Errorf("Verify rejects the response in upper-case hex")
			}
			if Verify(cred, tt.method, []byte(tt.password+"x"), []byte(tt.body)) {
				t.Errorf("Verify accepts a wrong password")
			}
			if Verify(cred, "BYE", []byte(tt.password), []byte(tt.body)) {
				t.Errorf("Verify accepts another method")
			}
			ha1 := HA1(tt.cred.Username, tt.cred.Realm, []byte(tt.password))
			if !VerifyHA1(cred, tt.method, strings.ToUpper(ha1), []byte(tt.body)) {
				t.Errorf("VerifyHA1 rejects the published response")
			}
		})
	}
}

// testAlgorithm is the 3GPP test algorithm of TS 34.108 §8.1.2 (XOR), which test equipment and
// test SIMs run instead of Milenage: XDOUT = K ⊕ RAND, RES = XDOUT, AK = XDOUT[3:9],
// MAC = XDOUT[0:8] ⊕ (SQN ‖ AMF).
func testAlgorithm(k, rand, sqn, amf []byte) (res, autn []byte) {
	xdout := make([]byte, 16)
	for i := range xdout {
		xdout[i] = k[i] ^ rand[i]
	}
	cdout := append(append([]byte(nil), sqn...), amf...)
	autn = make([]byte, 0, 16)
	for i := 0; i < 6; i++ {
		autn = append(autn, sqn[i]^xdout[3+i])
	}
	autn = append(autn, amf...)
	for i := 0; i < 8; i++ {
		autn = append(autn, xdout[i]^cdout[i])
	}
	return xdout, autn
}

// TestAKAv1CapturedVectors checks responses recorded from an Anritsu MD8475A and from an iPhone
// registering with a test SIM (TS 34.108 test algorithm, RES of 16 bytes), as published with
// frankurcrazy/helloworld ims/akav1-md5.
func TestAKAv1CapturedVectors(t *testing.T) {
	k := mustHex(t, "000102030405060708090a0b0c0d0e0f")
	zero6, zero2 := make([]byte, 6), make([]byte, 2)
	tests := []struct {
		name, rand, user, realm, cnonce, want string
	}{
		{name: "Anritsu MD8475A", rand: "00000000000000000000000000000000", user: "466058041131504@ims.mnc005.mcc466.3gppnetwork.org",
			realm: "ims.mnc005.mcc466.3gppnetwork.org", cnonce: "YD05duxy", want: "c76c2c281a21c0d6131e667d61a6bdf5"},
		{name: "iPhone", rand: "000102030405060708090a0b0c0d0e0f", user: "450050020150513@ims.mnc005.mcc450.3gppnetwork.org",
			realm: "ims.mnc005.mcc450.3gppnetwork.org", cnonce: "v0KBLdbU", want: "c0c4c5a9cfc885bb697aa61a2a2c5466"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rand := mustHex(t, tt.rand)
			res, autn := testAlgorithm(k, rand, zero6, zero2)
			cred := Credentials{Username: tt.user, Realm: tt.realm, Nonce: AKANonce(rand, autn, nil), URI: "sip:" + tt.realm,
				Algorithm: AlgAKAv1MD5, QOP: QOPAuth, NC: "00000001", CNonce: tt.cnonce}
			got, err := Response(cred, "REGISTER", AKAv1Password(res), nil)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Fatalf("Response = %s, want %s", got, tt.want)
			}
			cred.Response = got
			if !Verify(cred, "REGISTER", AKAv1Password(res), nil) {
				t.Errorf("Verify with XRES fails")
			}
		})
	}
}

// TestAKAResync: with auts present the response is computed with an empty password, whatever
// password is passed (RFC 3310 §3.4).
func TestAKAResync(t *testing.T) {
	res := mustHex(t, "a54211d5e3ba50bf") // TS 35.208 test set 1
	for _, alg := range []string{AlgAKAv1MD5, AlgAKAv2MD5} {
		t.Run(alg, func(t *testing.T) {
			cred := Credentials{Username: "u@ims.example", Realm: "ims.example", Nonce: "bm9uY2U=", URI: "sip:ims.example",
				Algorithm: alg, QOP: QOPAuth, NC: "00000001", CNonce: "c"}
			withRES, _ := Response(cred, "REGISTER", res, nil)
			empty, _ := Response(cred, "REGISTER", nil, nil)
			if withRES == empty {
				t.Fatalf("without auts the password must count")
			}
			cred.AUTS = "AAAAAAAAAAAAAAAAAAA="
			got, err := Response(cred, "REGISTER", res, nil)
			if err != nil || got != empty {
				t.Fatalf("with auts Response = %s, %v; want the empty-password response %s", got, err, empty)
			}
			cred.Response = got
			if !Verify(cred, "REGISTER", nil, nil) || !Verify(cred, "REGISTER", res, nil) {
				t.Errorf("Verify of a resync response")
			}
			cred.Algorithm = AlgMD5 // the rule is AKA's only
			if md5, _ := Response(cred, "REGISTER", res, nil); md5 == empty {
				t.Errorf("MD5 with auts must still use the password")
			}
		})
	}
}

func TestSessAndHA1(t *testing.T) {
	cred := Credentials{Username: "alice", Realm: "ims.example", Nonce: "n0nce", URI: "sip:ims.example", QOP: QOPAuth, NC: "0000000a", CNonce: "cn"}
	pw := []byte("secret")
	for _, alg := range []string{AlgMD5, AlgMD5Sess, "md5-SESS", "AKAv1-MD5-sess", ""} {
		t.Run("algorithm "+alg, func(t *testing.T) {
			cred.Algorithm = alg
			a, err := Response(cred, "REGISTER", pw, nil)
			if err != nil {
				t.Fatal(err)
			}
			b, err := ResponseHA1(cred, "REGISTER", HA1(cred.Username, cred.Realm, pw), nil)
			if err != nil || a != b {
				t.Fatalf("Response %s and ResponseHA1 %s differ (%v)", a, b, err)
			}
		})
	}
	cred.Algorithm = AlgMD5
	plain, _ := Response(cred, "REGISTER", pw, nil)
	cred.Algorithm = AlgMD5Sess
	sess, _ := Response(cred, "REGISTER", pw, nil)
	if plain == sess {
		t.Errorf("MD5-sess must differ from MD5")
	}
	if got := HA1("Mufasa", "testrealm@host.com", []byte("Circle Of Life")); got != "939e7578ed9e3c518a452acee763bce9" {
		t.Errorf("HA1 = %s, want RFC 2617 §3.5's 939e7578ed9e3c518a452acee763bce9", got)
	}
}

func TestResponseErrors(t *testing.T) {
	base := Credentials{Username: "u", Realm: "r", Nonce: "n", URI: "sip:r", QOP: QOPAuth, NC: "00000001", CNonce: "c"}
	tests := []struct {
		name   string
		mutate func(*Credentials)
		is     error
	}{
		{name: "SHA-256 not supported here", mutate: func(c *Credentials) { c.Algorithm = "SHA-256" }, is: ErrUnsupportedAlgorithm},
		{name: "AKAv3", mutate: func(c *Credentials) { c.Algorithm = "AKAv3-MD5" }, is: ErrUnsupportedAlgorithm},
		{name: "AKA without hash", mutate: func(c *Credentials) { c.Algorithm = "AKAv1" }, is: ErrUnsupportedAlgorithm},
		{name: "AKA with an empty hash", mutate: func(c *Credentials) { c.Algorithm = "AKAv1-" }, is: ErrUnsupportedAlgorithm},
		{name: "auth-conf", mutate: func(c *Credentials) { c.QOP = "auth-conf" }, is: ErrUnsupportedQOP},
		{name: "qop without cnonce", mutate: func(c *Credentials) { c.CNonce = "" }, is: ErrMissingDirective},
		{name: "nc too short", mutate: func(c *Credentials) { c.NC = "1" }, is: ErrMissingDirective},
		{name: "nc not hex", mutate: func(c *Credentials) { c.NC = "0000000g" }, is: ErrMissingDirective},
		{name: "-sess without cnonce", mutate: func(c *Credentials) { c.QOP, c.CNonce, c.Algorithm = "", "", AlgMD5Sess }, is: ErrMissingDirective},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := base
			tt.mutate(&c)
			if _, err := Response(c, "REGISTER", []byte("p"), nil); !errors.Is(err, tt.is) {
				t.Errorf("Response error = %v, want %v", err, tt.is)
			}
			if _, err := ResponseHA1(c, "REGISTER", "00", nil); !errors.Is(err, tt.is) {
				t.Errorf("ResponseHA1 error = %v, want %v", err, tt.is)
			}
			c.Response = strings.Repeat("0", 32)
			if Verify(c, "REGISTER", []byte("p"), nil) || VerifyHA1(c, "REGISTER", "00", nil) {
				t.Errorf("Verify must fail when the response cannot be computed")
			}
		})
	}
	c := base
	c.Response = "short"
	if Verify(c, "REGISTER", []byte("p"), nil) {
		t.Errorf("Verify accepts a response of the wrong length")
	}
}

func TestRspAuth(t *testing.T) {
	cred := Credentials{Username: "Mufasa", Realm: "testrealm@host.com", Nonce: "dcd98b7102dd2f0e8b11d0f600bfb0c093",
		URI: "/dir/index.html", QOP: QOPAuth, NC: "00000001", CNonce: "0a4f113b"}
	got, err := RspAuth(cred, []byte("Circle Of Life"), nil)
	if err != nil {
		t.Fatal(err)
	}
	// RFC 2617 §3.2.3: as the response, with A2 = ":" digest-uri, i.e. what Response gives for an
	// empty method.
	want, _ := Response(cred, "", []byte("Circle Of Life"), nil)
	if got != want {
		t.Errorf("RspAuth = %s, want %s", got, want)
	}
	req, _ := Response(cred, "GET", []byte("Circle Of Life"), nil)
	if got == req {
		t.Errorf("RspAuth must differ from the request digest")
	}
}

func TestAKAv2Password(t *testing.T) {
	res := mustHex(t, "a54211d5e3ba50bf")                // TS 35.208 test set 1 RES
	ik := mustHex(t, "f769bcd751044604127672711c6d3441") // IK
	ck := mustHex(t, "b40ba9a3c58b2a05bbf0d987b21bf8cb") // CK
	pw := AKAv2Password(res, ik, ck)
	if len(pw) != 24 || !bytes.HasSuffix(pw, []byte("==")) {
		t.Fatalf("AKAv2 password %q is not base64 of 16 bytes", pw)
	}
	// Key and message must not be swapped, nor the password be RES.
	if bytes.Equal(pw, AKAv2Password(ik, res, ck)) || bytes.Equal(pw, AKAv1Password(res)) {
		t.Errorf("AKAv2Password does not depend on the order of RES, IK, CK")
	}
	// An independent HMAC-MD5 (openssl or Python) gives the same: see TestAKAv2PasswordIndependent.
}
