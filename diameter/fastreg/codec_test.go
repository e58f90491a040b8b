package fastreg

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fiorix/go-diameter/v4/diam"

	"github.com/imscore/imscore/diameter"
)

var update = flag.Bool("update", false, "rewrite testdata/*.hex from the fixtures")

// sample is one fixture: a message and how to encode it.
type sample struct {
	name    string
	comment string
	encode  func(t testing.TB) []byte
}

var testToken = []byte("0123456789abcdef0123456789abcdef") // 32 bytes, as the exporter gives

func samples() []sample {
	c := common{SessionID: "paa.access.example.net;1700000000;1", OriginHost: "paa.access.example.net", OriginRealm: "access.example.net"}
	tpr := &TPR{common: c, DestinationRealm: "ims.example.net", DestinationHost: "hss.ims.example.net",
		UserName: "alice@ims.example.net", Token: testToken, Lifetime: 3600}
	tdr := &TDR{common: c, DestinationRealm: "ims.example.net", UserName: "alice@ims.example.net"}
	hc := common{SessionID: c.SessionID, OriginHost: "hss.ims.example.net", OriginRealm: "ims.example.net"}
	tpa := &Answer{common: hc, Command: CmdTokenPush, ResultCode: diameter.Success, UserName: "alice@ims.example.net"}
	tda := &Answer{common: hc, Command: CmdTokenDrop, ResultCode: diameter.Success, UserName: "alice@ims.example.net"}
	tpaRefused := &Answer{common: hc, Command: CmdTokenPush, ResultCode: diameter.AuthorizationRejected}
	enc := func(m interface {
		MarshalBinary(d *dictParser) ([]byte, error)
	}) func(t testing.TB) []byte {
		return func(t testing.TB) []byte {
			t.Helper()
			b, err := m.MarshalBinary(testDict(t))
			if err != nil {
				t.Fatal(err)
			}
			return b
		}
	}
	return []sample{
		{"tpr", "TPR: Token-Push-Request, PAA → HSS (docs/fastreg.md)", enc(tpr)},
		{"tpa", "TPA: Token-Push-Answer, success", enc(tpa)},
		{"tpa_refused", "TPA: Token-Push-Answer, DIAMETER_AUTHORIZATION_REJECTED (fast registration off for the IMPI)", enc(tpaRefused)},
		{"tdr", "TDR: Token-Drop-Request, PAA → HSS at PANA termination", enc(tdr)},
		{"tda", "TDA: Token-Drop-Answer, success", enc(tda)},
	}
}

// TestWireVectors: every fixture encodes to its annotated vector byte for byte, and the vector decodes.
func TestWireVectors(t *testing.T) {
	for _, s := range samples() {
		t.Run(s.name, func(t *testing.T) {
			b := s.encode(t)
			path := filepath.Join("testdata", s.name+".hex")
			if *update {
				if err := os.WriteFile(path, []byte(annotate(s.comment, b)), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want := readVector(t, path)
			if !bytes.Equal(b, want) {
				t.Fatalf("encoding differs from %s:\n got %x\nwant %x", path, b, want)
			}
			if err := decodeAny(want); err != nil {
				t.Fatalf("vector does not decode: %v", err)
			}
		})
	}
}

// decodeAny decodes b as whatever it is.
func decodeAny(b []byte) error {
	h, _, err := splitMessage(b)
	if err != nil {
		return err
	}
	switch {
	case h.flags&flagRequest == 0:
		return new(Answer).UnmarshalBinary(b)
	case h.code == CmdTokenPush:
		return new(TPR).UnmarshalBinary(b)
	default:
		return new(TDR).UnmarshalBinary(b)
	}
}

func TestRoundTrip(t *testing.T) {
	d := testDict(t)
	r := &TPR{common: common{SessionID: "s;1;2", OriginHost: "paa.example", OriginRealm: "example"}, DestinationRealm: "ims.example",
		UserName: "bob@ims.example", Token: testToken, Lifetime: 60}
	m, err := r.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	var back TPR
	if err := back.Unmarshal(m); err != nil {
		t.Fatal(err)
	}
	if back.UserName != r.UserName || !bytes.Equal(back.Token, r.Token) || back.Lifetime != 60 || back.SessionID != "s;1;2" ||
		back.DestinationRealm != "ims.example" || back.OriginHost != "paa.example" {
		t.Fatalf("round trip: %+v", back)
	}
	// go-diameter, with our dictionary, reads what we wrote (the dictionary and the codec agree).
	b, _ := m.Serialize()
	gm, err := diam.ReadMessage(bytes.NewReader(b), d)
	if err != nil {
		t.Fatalf("go-diameter cannot read a TPR: %v", err)
	}
	if got := TokenFrom(gm.AVP); !bytes.Equal(got, testToken) {
		t.Fatalf("TokenFrom = %q", got)
	}
	a := &Answer{common: common{SessionID: "s;1;2", OriginHost: "hss.example", OriginRealm: "example"}, Command: CmdTokenDrop,
		ResultCode: diameter.UnableToComply}
	ab, err := a.MarshalBinary(d)
	if err != nil {
		t.Fatal(err)
	}
	var aback Answer
	if err := aback.UnmarshalBinary(ab); err != nil {
		t.Fatal(err)
	}
	var de *diameter.Error
	if err := aback.Err(); !errors.As(err, &de) || de.Code != diameter.UnableToComply || aback.Command != CmdTokenDrop {
		t.Fatalf("answer outcome %v, command %v", err, aback.Command)
	}
}

// TestDecodeErrors: absent and bad AVPs are answered with the Diameter result that names them.
func TestDecodeErrors(t *testing.T) {
	good := samples()[0].encode(t)
	cases := []struct {
		name string
		drop AVPCode
		edit func(b []byte) []byte
		want diameter.ResultCode
	}{
		{"no token", AVPToken, nil, diameter.MissingAVP},
		{"no lifetime", AVPTokenLifetime, nil, diameter.MissingAVP},
		{"no user", avpUserName, nil, diameter.MissingAVP},
		{"no vsai", avpVendorSpecificApplicationID, nil, diameter.MissingAVP},
		{"no session", avpSessionID, nil, diameter.MissingAVP},
		{"short token", 0, func(b []byte) []byte { return replaceAVP(t, b, AVPToken, []byte("short")) }, diameter.InvalidAVPValue},
		{"zero lifetime", 0, func(b []byte) []byte { return replaceAVP(t, b, AVPTokenLifetime, []byte{0, 0, 0, 0}) }, diameter.InvalidAVPValue},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := good
			if c.drop != 0 {
				b = dropAVP(t, b, c.drop)
			}
			if c.edit != nil {
				b = c.edit(b)
			}
			err := new(TPR).UnmarshalBinary(b)
			var de *diameter.Error
			if !errors.As(err, &de) || de.Code != c.want {
				t.Fatalf("got %v, want result %d", err, c.want)
			}
			if len(de.FailedAVPs) != 1 {
				t.Fatalf("Failed-AVP: %d AVPs", len(de.FailedAVPs))
			}
		})
	}
	for _, bad := range [][]byte{nil, good[:19], good[:len(good)-4], append(append([]byte{}, good...), 0, 0, 0, 0)} {
		if err := new(TPR).UnmarshalBinary(bad); !errors.Is(err, ErrMalformed) {
			t.Errorf("%d bytes: %v, want ErrMalformed", len(bad), err)
		}
	}
	// A TDR is no TPR.
	if err := new(TPR).UnmarshalBinary(samples()[3].encode(t)); !errors.Is(err, ErrMalformed) {
		t.Errorf("TDR decoded as TPR: %v", err)
	}
}

func TestMarshalRefuses(t *testing.T) {
	d := testDict(t)
	c := common{SessionID: "s", OriginHost: "h", OriginRealm: "r"}
	for _, r := range []*TPR{
		{common: c, DestinationRealm: "r", UserName: "u", Token: []byte("short"), Lifetime: 1},
		{common: c, DestinationRealm: "r", UserName: "u", Token: testToken},
		{common: c, DestinationRealm: "r", Token: testToken, Lifetime: 1},
		{DestinationRealm: "r", UserName: "u", Token: testToken, Lifetime: 1},
	} {
		if _, err := r.Marshal(d); !errors.Is(err, ErrInvalidField) {
			t.Errorf("%+v: %v, want ErrInvalidField", r, err)
		}
	}
}

// TestForeignVendorAVP100: another vendor's AVP 100 in an MAA is not taken for our token.
func TestForeignVendorAVP100(t *testing.T) {
	foreign := diam.NewAVP(uint32(AVPToken), 0x80, 10415, TokenAVP(testToken).Data)
	if TokenFrom([]*diam.AVP{foreign}) != nil {
		t.Fatal("a 3GPP AVP 100 was read as the token")
	}
	if got := TokenFrom([]*diam.AVP{foreign, TokenAVP(testToken)}); !bytes.Equal(got, testToken) {
		t.Fatalf("TokenFrom = %q", got)
	}
}

// helpers

type dictParser = diamDictParser

func testDict(t testing.TB) *dictParser {
	t.Helper()
	d, err := NewDictionary()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// annotate writes b as one line per AVP with its name, as diameter/rx's vectors are.
func annotate(comment string, b []byte) string {
	var s strings.Builder
	fmt.Fprintf(&s, "# %s\n# Generated from the fixture by `go test -run TestWireVectors -update`; tshark decodes it in TestTshark.\n", comment)
	fmt.Fprintf(&s, "%x  # header: version 1, length %d, flags %#x, command %d, application %d\n", b[:20], len(b), b[4],
		uint32(b[5])<<16|uint32(b[6])<<8|uint32(b[7]), binary.BigEndian.Uint32(b[8:]))
	body := b[20:]
	for len(body) >= 8 {
		n := int(body[5])<<16 | int(body[6])<<8 | int(body[7])
		hl := 8
		if body[4]&0x80 != 0 {
			hl = 12
		}
		p := (n + 3) &^ 3
		code := binary.BigEndian.Uint32(body)
		fmt.Fprintf(&s, "%x %x  # %s (%d), length %d\n", body[:hl], body[hl:p], avpName(code, body[4]&0x80 != 0), code, n)
		body = body[p:]
	}
	return s.String()
}

func avpName(code uint32, vendor bool) string {
	if vendor {
		switch AVPCode(code) {
		case AVPToken:
			return "Token"
		case AVPTokenLifetime:
			return "Token-Lifetime"
		}
	}
	return map[AVPCode]string{avpSessionID: "Session-Id", avpVendorSpecificApplicationID: "Vendor-Specific-Application-Id",
		avpAuthSessionState: "Auth-Session-State", avpOriginHost: "Origin-Host", avpOriginRealm: "Origin-Realm",
		avpDestinationRealm: "Destination-Realm", avpDestinationHost: "Destination-Host", avpUserName: "User-Name",
		avpResultCode: "Result-Code"}[AVPCode(code)]
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
		l, _, _ = strings.Cut(l, "#")
		h.WriteString(strings.Join(strings.Fields(l), ""))
	}
	b, err := hex.DecodeString(h.String())
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return b
}

// rewrite returns b with the AVP code replaced by fn's output (nil drops it), lengths fixed.
func rewrite(t testing.TB, b []byte, code AVPCode, fn func(hdr, data []byte) []byte) []byte {
	t.Helper()
	out := append([]byte{}, b[:20]...)
	if err := walk(b[20:], func(f field) error {
		hl := 8
		if f.flags&0x80 != 0 {
			hl = 12
		}
		hdr := make([]byte, hl)
		binary.BigEndian.PutUint32(hdr, uint32(f.code))
		hdr[4] = f.flags
		if hl == 12 {
			binary.BigEndian.PutUint32(hdr[8:], f.vendor)
		}
		data := f.data
		if f.code == code {
			data = fn(hdr, data)
			if data == nil {
				return nil
			}
		}
		n := hl + len(data)
		hdr[5], hdr[6], hdr[7] = byte(n>>16), byte(n>>8), byte(n)
		out = append(append(out, hdr...), data...)
		for len(out)%4 != 0 {
			out = append(out, 0)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	n := len(out)
	out[1], out[2], out[3] = byte(n>>16), byte(n>>8), byte(n)
	return out
}

func dropAVP(t testing.TB, b []byte, code AVPCode) []byte {
	return rewrite(t, b, code, func(_, _ []byte) []byte { return nil })
}

func replaceAVP(t testing.TB, b []byte, code AVPCode, v []byte) []byte {
	return rewrite(t, b, code, func(_, _ []byte) []byte { return v })
}
