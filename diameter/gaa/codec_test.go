package gaa

import (
	"bytes"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/fiorix/go-diameter/v4/diam"
	"github.com/fiorix/go-diameter/v4/diam/dict"

	"github.com/imscore/imscore/diameter"
)

var update = flag.Bool("update", false, "rewrite testdata/*.hex from the fixtures")

// message is what every GAA command struct is.
type message interface {
	AppendBinary([]byte) ([]byte, error)
	UnmarshalBinary([]byte) error
}

type sample struct {
	name    string
	app     uint32
	cmd     Command
	request bool
	msg     message
	fresh   func() message
}

func u32(v uint32) *uint32 { return &v }

// samples are one of each message, filled as the BSF, HSS and NAF fill them (values from TS 35.208 test set 1
// where a key or vector is shown; they are opaque to the codec).
func samples() []sample {
	rand := mustHex("23553cbe9637a89d218ae64dae47bf35")
	autn := mustHex("55f328b43577b9b94a9ffac354dfafb3")
	created := time.Date(2026, 12, 8, 3, 0, 0, 0, time.UTC)
	guss := []byte(`<?xml version="1.0" encoding="UTF-8"?><guss xmlns="urn:3GPP:ns:PicsGUSS:1.0" id="alice@ims.example.net"><bsfInfo><lifeTime>3600</lifeTime></bsfInfo><ussList><uss id="1" type="1"><uids><uid>sip:alice@ims.example.net</uid></uids><flags/></uss></ussList></guss>`)
	return []sample{
		{"mar", AppZh, CmdMultimediaAuth, true, &MAR{SessionID: "bsf.ims.example.net;1765162800;1",
			OriginHost: "bsf.ims.example.net", OriginRealm: "ims.example.net", DestinationRealm: "ims.example.net",
			UserName: "alice@ims.example.net", NumberAuthItems: u32(1), ServerName: "bsf.ims.example.net"},
			func() message { return new(MAR) }},
		{"mar_resync", AppZh, CmdMultimediaAuth, true, &MAR{SessionID: "bsf.ims.example.net;1765162800;2",
			OriginHost: "bsf.ims.example.net", OriginRealm: "ims.example.net", DestinationRealm: "ims.example.net",
			DestinationHost: "hss.ims.example.net", UserName: "alice@ims.example.net", NumberAuthItems: u32(1),
			AuthDataItem: &AuthDataItem{Scheme: "Digest-AKAv1-MD5",
				Authorization: append(append([]byte(nil), rand...), mustHex("01020304050607080910111213ff")...)}},
			func() message { return new(MAR) }},
		{"maa", AppZh, CmdMultimediaAuth, false, &MAA{SessionID: "bsf.ims.example.net;1765162800;1",
			Result: Result{Code: 2001}, OriginHost: "hss.ims.example.net", OriginRealm: "ims.example.net",
			UserName: "alice@ims.example.net", PublicIdentity: "sip:alice@ims.example.net", NumberAuthItems: u32(1),
			AuthDataItem: &AuthDataItem{Scheme: "Digest-AKAv1-MD5", Authenticate: append(append([]byte(nil), rand...), autn...),
				Authorization: mustHex("a54211d5e3ba50bf"), CK: mustHex("b40ba9a3c58b2a05bbf0d987b21bf8cb"),
				IK: mustHex("f769bcd751044604127672711c6d3441")}, GUSS: guss},
			func() message { return new(MAA) }},
		{"maa_unknown", AppZh, CmdMultimediaAuth, false, &MAA{SessionID: "bsf.ims.example.net;1765162800;3",
			Result: Result{Code: ErrorUserUnknown, Vendor: Vendor3GPP}, OriginHost: "hss.ims.example.net", OriginRealm: "ims.example.net"},
			func() message { return new(MAA) }},
		{"bir", AppZn, CmdBootstrappingInfo, true, &BIR{SessionID: "xdms.ims.example.net;1765162800;7",
			OriginHost: "xdms.ims.example.net", OriginRealm: "ims.example.net", DestinationRealm: "ims.example.net",
			TransactionID: "I1U8vpY3qJ0hiuZNrke/NQ==@bsf.ims.example.net",
			NAFID:         append([]byte("xdms.ims.example.net"), 0x01, 0, 0, 0, 0x02)},
			func() message { return new(BIR) }},
		{"bia", AppZn, CmdBootstrappingInfo, false, &BIA{SessionID: "xdms.ims.example.net;1765162800;7",
			Result: Result{Code: 2001}, OriginHost: "bsf.ims.example.net", OriginRealm: "ims.example.net",
			UserName: "alice@ims.example.net", MEKey: bytes.Repeat([]byte{0x5a}, 32), Expiry: created.Add(time.Hour),
			CreatedAt: created, GUSS: guss, GBAType: u32(GBAType3G)},
			func() message { return new(BIA) }},
		{"bia_unknown", AppZn, CmdBootstrappingInfo, false, &BIA{SessionID: "xdms.ims.example.net;1765162800;8",
			Result: Result{Code: ErrorImpiUnknown, Vendor: Vendor3GPP}, OriginHost: "bsf.ims.example.net", OriginRealm: "ims.example.net"},
			func() message { return new(BIA) }},
	}
}

func mustHex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

func newTestDictionary(t testing.TB) *dict.Parser {
	t.Helper()
	d, err := NewDictionary()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func encode(t testing.TB, m message) []byte {
	t.Helper()
	b, err := m.AppendBinary(nil)
	if err != nil {
		t.Fatalf("%T: %v", m, err)
	}
	return b
}

// Every sample encodes, decodes to the same struct, and go-diameter reads the bytes with our dictionary as
// the command and application they are, with every AVP known.
func TestRoundTrip(t *testing.T) {
	d := newTestDictionary(t)
	for _, s := range samples() {
		t.Run(s.name, func(t *testing.T) {
			b := encode(t, s.msg)
			got := s.fresh()
			if err := got.UnmarshalBinary(b); err != nil {
				t.Fatal(err)
			}
			setHeader(got, headerOf(s.msg))
			if !reflect.DeepEqual(got, s.msg) {
				t.Errorf("decoded\n%+v\nwant\n%+v", got, s.msg)
			}
			m, err := diam.ReadMessage(bytes.NewReader(b), d)
			if err != nil {
				t.Fatalf("go-diameter: %v", err)
			}
			if m.Header.ApplicationID != s.app || m.Header.CommandCode != uint32(s.cmd) || m.Header.CommandFlags&diam.RequestFlag != 0 != s.request {
				t.Errorf("go-diameter reads %v", m.Header)
			}
			for _, a := range m.AVP {
				if _, err := d.FindAVPWithVendor(s.app, a.Code, a.VendorID); err != nil {
					t.Errorf("AVP %d vendor %d not in the dictionary", a.Code, a.VendorID)
				}
			}
			again, err := got.AppendBinary(nil)
			if err != nil || !bytes.Equal(again, b) {
				t.Errorf("re-encoding differs: %v", err)
			}
		})
	}
}

func headerOf(m message) Header {
	return reflect.ValueOf(m).Elem().FieldByName("Header").Interface().(Header)
}

func setHeader(m message, h Header) {
	reflect.ValueOf(m).Elem().FieldByName("Header").Set(reflect.ValueOf(h))
}

// The wire vectors in testdata are the bytes the fixtures encode to (regenerate with -update), and decode.
func TestWireVectors(t *testing.T) {
	d := newTestDictionary(t)
	for _, s := range samples() {
		t.Run(s.name, func(t *testing.T) {
			b := encode(t, s.msg)
			path := filepath.Join("testdata", s.name+".hex")
			if *update {
				if err := os.WriteFile(path, []byte(annotate(d, s, b)), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want := readVector(t, path)
			if !bytes.Equal(b, want) {
				t.Fatalf("encoding differs from %s:\n got %x\nwant %x", path, b, want)
			}
			if err := s.fresh().UnmarshalBinary(want); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func readVector(t testing.TB, path string) []byte {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var h strings.Builder
	for _, l := range strings.Split(string(raw), "\n") {
		if i := strings.IndexByte(l, '#'); i >= 0 {
			l = l[:i]
		}
		h.WriteString(strings.Join(strings.Fields(l), ""))
	}
	b, err := hex.DecodeString(h.String())
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return b
}

// annotate writes b as hex with a comment per AVP, nested AVPs indented.
func annotate(d *dict.Parser, s sample, b []byte) string {
	kind := map[bool]string{true: "Request", false: "Answer"}[s.request]
	var out strings.Builder
	fmt.Fprintf(&out, "# %s: %s-%s, TS 29.109 §6.1\n# Generated from the fixture by `go test -run TestWireVectors -update`; tshark decodes it in TestTshark.\n",
		strings.ToUpper(s.name), s.cmd, kind)
	fmt.Fprintf(&out, "%x  # header: version 1, length %d, flags %#02x, command %d, application %d\n", b[:20], len(b), b[4], s.cmd, s.app)
	var walk func(body []byte, indent string)
	walk = func(body []byte, indent string) {
		for len(body) >= 8 {
			flags := body[4]
			n := int(body[5])<<16 | int(body[6])<<8 | int(body[7])
			hdr := 8
			var vendor uint32
			if flags&avpFlagVendor != 0 {
				hdr, vendor = 12, uint32(body[8])<<24|uint32(body[9])<<16|uint32(body[10])<<8|uint32(body[11])
			}
			code := uint32(body[0])<<24 | uint32(body[1])<<16 | uint32(body[2])<<8 | uint32(body[3])
			name, typ := fmt.Sprint(code), ""
			if def, err := d.FindAVPWithVendor(s.app, code, vendor); err == nil {
				name, typ = def.Name, def.Data.TypeName
			}
			padded := (n + 3) &^ 3
			if typ == "Grouped" {
				fmt.Fprintf(&out, "%s%x  # %s (%d), length %d, grouped:\n", indent, body[:hdr], name, code, n)
				walk(body[hdr:n], indent+"    ")
			} else {
				fmt.Fprintf(&out, "%s%x %x  # %s (%d), length %d\n", indent, body[:hdr], body[hdr:padded], name, code, n)
			}
			body = body[padded:]
		}
	}
	walk(b[20:], "")
	return out.String()
}

// Malformed and incomplete requests get the RFC 6733 §7.1.5 outcome their answer needs.
func TestDecodeErrors(t *testing.T) {
	mar := encode(t, samples()[0].msg)
	bir := encode(t, samples()[4].msg)
	cut := func(b []byte, n int) []byte {
		c := append([]byte(nil), b[:n]...)
		c[1], c[2], c[3] = byte(n>>16), byte(n>>8), byte(n)
		return c
	}
	// MAR without its User-Name: rebuild from the struct with the field emptied is refused by the encoder,
	// so drop the AVP from the bytes.
	noUser := dropAVP(t, mar, uint32(AVPUserName))
	noNAF := dropAVP(t, bir, uint32(AVPNAFID))
	dup := appendAVP(bir, bir[20:20+avpLen(bir[20:])])
	unknownM := appendAVP(bir, []byte{0, 0, 0x27, 0x0f, 0xc0, 0, 0, 16, 0, 0, 0x28, 0xaf, 1, 2, 3, 4})
	for _, tc := range []struct {
		name  string
		msg   message
		in    []byte
		code  diameter.ResultCode
		plain error
	}{
		{"short", new(MAR), mar[:10], 0, ErrUnexpectedMessage},
		{"bad length", new(MAR), mar[:len(mar)-4], diameter.InvalidMessageLength, nil},
		{"wrong command", new(BIR), mar, 0, ErrUnexpectedMessage},
		{"answer as request", new(MAA), mar, 0, ErrUnexpectedMessage},
		{"AVP overrun", new(MAR), cut(mar, 36), diameter.InvalidAVPLength, nil},
		{"no User-Name", new(MAR), noUser, diameter.MissingAVP, nil},
		{"no NAF-Id", new(BIR), noNAF, diameter.MissingAVP, nil},
		{"Session-Id twice", new(BIR), dup, diameter.AVPOccursTooManyTimes, nil},
		{"unknown M AVP", new(BIR), unknownM, diameter.AVPUnsupported, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.msg.UnmarshalBinary(tc.in)
			if tc.plain != nil {
				if !errors.Is(err, tc.plain) {
					t.Fatalf("got %v, want %v", err, tc.plain)
				}
				return
			}
			var de *diameter.Error
			if !errors.As(err, &de) || de.Code != tc.code {
				t.Fatalf("got %v, want result %d", err, tc.code)
			}
		})
	}
}

func avpLen(b []byte) int {
	n := int(b[5])<<16 | int(b[6])<<8 | int(b[7])
	return (n + 3) &^ 3
}

func dropAVP(t *testing.T, msg []byte, code uint32) []byte {
	t.Helper()
	out := append([]byte(nil), msg[:20]...)
	for b := msg[20:]; len(b) > 0; {
		n := avpLen(b)
		if uint32(b[0])<<24|uint32(b[1])<<16|uint32(b[2])<<8|uint32(b[3]) != code {
			out = append(out, b[:n]...)
		}
		b = b[n:]
	}
	out[1], out[2], out[3] = byte(len(out)>>16), byte(len(out)>>8), byte(len(out))
	return out
}

func appendAVP(msg, a []byte) []byte {
	out := append(append([]byte(nil), msg...), a...)
	out[1], out[2], out[3] = byte(len(out)>>16), byte(len(out)>>8), byte(len(out))
	return out
}

// The encoder refuses a message it would make invalid.
func TestEncodeErrors(t *testing.T) {
	for _, m := range []message{&MAR{SessionID: "s", OriginHost: "h", OriginRealm: "r", DestinationRealm: "r"},
		&BIR{SessionID: "s", OriginHost: "h", OriginRealm: "r", DestinationRealm: "r", TransactionID: "x"},
		&BIA{SessionID: "s", OriginHost: "h", OriginRealm: "r"}} {
		if _, err := m.AppendBinary(nil); !errors.Is(err, ErrInvalidField) {
			t.Errorf("%T: got %v, want ErrInvalidField", m, err)
		}
	}
}
