package peer

import (
	"bytes"
	"net/netip"
	"strings"
	"testing"

	"github.com/fiorix/go-diameter/v4/diam"
	"github.com/fiorix/go-diameter/v4/diam/datatype"

	"github.com/imscore/imscore/diameter"
)

func TestCheckRequestHeader(t *testing.T) {
	d := testDict(t)
	supportsEcho := func(app uint32) bool { return app == echoApp }
	good := echoRaw(1, 2, "s;1")
	tests := []struct {
		name   string
		mutate func([]byte) []byte
		want   diameter.ResultCode // 0: decodes
	}{
		{"well-formed", func(b []byte) []byte { return b }, 0},
		// RFC 6733 §3: Version "MUST be set to 1".
		{"version 2", func(b []byte) []byte { b[0] = 2; return b }, diameter.UnsupportedVersion},
		// §3: the length "is always a multiple of 4".
		{"length not multiple of 4", func(b []byte) []byte {
			b = append(b, 0, 0)
			b[3] += 2
			return b
		}, diameter.InvalidMessageLength},
		// §3: reserved bits "MUST be set to zero".
		{"reserved command flag", func(b []byte) []byte { b[4] |= 0x01; return b }, diameter.InvalidHdrBits},
		// §3: 'E' "MUST NOT be set in request messages".
		{"E bit on request", func(b []byte) []byte { b[4] |= flagError; return b }, diameter.InvalidHdrBits},
		{"T bit is fine", func(b []byte) []byte { b[4] |= flagRetransmit; return b }, 0},
		{"application not negotiated", func(b []byte) []byte { copy(b[8:12], u32(otherApp)); return b }, diameter.ApplicationUnsupported},
		{"unknown command", func(b []byte) []byte { b[5], b[6], b[7] = 0, 0x03, 0xe7; return b }, diameter.CommandUnsupported},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			frame := tt.mutate(bytes.Clone(good))
			m, derr := decodeRequest(frame, d, supportsEcho)
			switch {
			case tt.want == 0 && derr != nil:
				t.Fatalf("want success, got %v", derr)
			case tt.want == 0 && m == nil:
				t.Fatal("no message")
			case tt.want != 0 && (derr == nil || derr.Code != tt.want):
				t.Fatalf("want %d, got %v", tt.want, derr)
			}
		})
	}
}

func TestDecodeAVPs(t *testing.T) {
	d := testDict(t)
	counter := func(v []byte) []byte { return avpRaw(avpEchoCount, avpFlagMandatory|avpFlagVendor, echoVendor, v) }
	group := func(inner ...[]byte) []byte {
		return avpRaw(avpEchoGroup, avpFlagMandatory|avpFlagVendor, echoVendor, bytes.Join(inner, nil))
	}
	// Hand-built bad AVP headers: code 9001 with V bit, various lengths.
	badLen := func(length int) []byte {
		return []byte{0, 0, 0x23, 0x29, avpFlagMandatory | avpFlagVendor, byte(length >> 16), byte(length >> 8), byte(length), 0, 0, 0x28, 0xaf}
	}
	deep := counter(u32(7))
	for range maxGroupDepth + 1 {
		deep = group(deep)
	}
	tests := []struct {
		name    string
		body    [][]byte
		request bool
		want    diameter.ResultCode // 0: decodes
		// failed is the expected Failed-AVP content on the wire (one AVP), when want != 0.
		failed []byte
	}{
		{name: "all types", request: true, body: [][]byte{
			counter(u32(42)),
			avpRaw(avpEchoPay, avpFlagMandatory|avpFlagVendor, echoVendor, []byte("abc")), // padded 3 → 4
			avpRaw(avpEchoAddr, avpFlagMandatory|avpFlagVendor, echoVendor, []byte{0, 1, 10, 0, 0, 1}),
			group(counter(u32(1)), group(counter(u32(2)))),
		}},
		{name: "unknown AVP without M is kept", request: true, body: [][]byte{avpRaw(4242, 0, 0, []byte("x"))}},
		{name: "unknown AVP with M in an answer is kept", request: false, body: [][]byte{avpRaw(4242, avpFlagMandatory, 0, []byte("x"))}},
		// An error answer's Failed-AVP holds the offending AVP as received (RFC 6733 §7.5).
		{name: "answer keeps bad AVPs in Failed-AVP", request: false, body: [][]byte{avpRaw(avpFailedAVP, avpFlagMandatory, 0, bytes.Join([][]byte{
			counter([]byte{1, 2}),
			avpRaw(avpEchoCount, avpFlagMandatory|avpFlagVendor|0x04, echoVendor, u32(1)),
			avpRaw(avpEchoAddr, avpFlagMandatory|avpFlagVendor, echoVendor, []byte{0, 0, 1}),
		}, nil))}},
		{name: "answer keeps a broken Grouped value raw", request: false, body: [][]byte{avpRaw(avpFailedAVP, avpFlagMandatory, 0,
			avpRaw(avpEchoGroup, 0xc0|0x10, echoVendor, []byte{0x30, 0x30, 0x30, 0x30, 0x30, 0x30, 0x30, 0x30}))}},
		{name: "answer with broken AVP length is still malformed", request: false, body: [][]byte{badLen(400)},
			want: diameter.InvalidAVPLength, failed: counter(u32(0))},
		// RFC 6733 §4.1 / §7.1.3: reserved AVP flag bits → DIAMETER_INVALID_AVP_BITS.
		{name: "reserved AVP flag", request: true, body: [][]byte{avpRaw(avpEchoCount, avpFlagMandatory|avpFlagVendor|0x01, echoVendor, u32(5))},
			want: diameter.InvalidAVPBits, failed: avpRaw(avpEchoCount, avpFlagMandatory|avpFlagVendor|0x01, echoVendor, u32(5))},
		// §7.1.5 5014, length below the header: header and a zero-filled minimum payload.
		{name: "AVP length below header", request: true, body: [][]byte{badLen(10)},
			want: diameter.InvalidAVPLength, failed: counter(u32(0))},
		{name: "AVP length beyond message", request: true, body: [][]byte{badLen(400)},
			want: diameter.InvalidAVPLength, failed: counter(u32(0))},
		// §7.1.5 5014: an incomplete header is padded with zeros to 8 octets.
		{name: "incomplete AVP header", request: true, body: [][]byte{counter(u32(1)), {0, 0, 0x01, 0x07}},
			want: diameter.InvalidAVPLength, failed: avpRaw(0x107, 0, 0, nil)},
		{name: "V bit without room for Vendor-ID", request: true, body: [][]byte{{0, 0, 0x23, 0x29, 0xc0, 0, 0, 12}},
			want: diameter.InvalidAVPLength, failed: avpRaw(9001, 0xc0, 0, nil)},
		{name: "Unsigned32 of 3 octets", request: true, body: [][]byte{counter([]byte{1, 2, 3})},
			want: diameter.InvalidAVPLength, failed: counter([]byte{1, 2, 3})},
		{name: "IPv4 Address of 5 octets", request: true, body: [][]byte{avpRaw(avpEchoAddr, avpFlagMandatory|avpFlagVendor, echoVendor, []byte{0, 1, 1, 2, 3})},
			want: diameter.InvalidAVPLength, failed: avpRaw(avpEchoAddr, avpFlagMandatory|avpFlagVendor, echoVendor, []byte{0, 1, 1, 2, 3})},
		{name: "reserved AddressType", request: true, body: [][]byte{avpRaw(avpEchoAddr, avpFlagMandatory|avpFlagVendor, echoVendor, []byte{0, 0, 1, 2, 3, 4})},
			want: diameter.InvalidAVPValue, failed: avpRaw(avpEchoAddr, avpFlagMandatory|avpFlagVendor, echoVendor, []byte{0, 0, 1, 2, 3, 4})},
		// §4.1: an unrecognized AVP with 'M' rejects the request (5001, Failed-AVP).
		{name: "unknown AVP with M", request: true, body: [][]byte{avpRaw(4242, avpFlagMandatory, 0, []byte("x"))},
			want: diameter.AVPUnsupported, failed: avpRaw(4242, avpFlagMandatory, 0, []byte("x"))},
		// §7.5: the Failed-AVP holds the enclosing Grouped AVPs with only the offender inside.
		{name: "bad AVP nested two levels", request: true, body: [][]byte{group(counter(u32(1)), group(counter([]byte{9})))},
			want: diameter.InvalidAVPLength, failed: group(group(counter([]byte{9})))},
		{name: "nesting too deep", request: true, body: [][]byte{deep},
			want: diameter.InvalidAVPValue},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			flags := uint8(0)
			if tt.request {
				flags = flagRequest
			}
			frame := frameRaw(flags, cmdEcho, echoApp, 1, 2, tt.body...)
			m, derr := decodeMessage(frame, d)
			if tt.want == 0 {
				if derr != nil {
					t.Fatalf("want success, got %v", derr)
				}
				// Re-encoding what was decoded gives the same bytes: nothing lost, nothing moved.
				out, err := encode(m)
				if err != nil || !bytes.Equal(out, frame) {
					t.Fatalf("round trip (%v):\n got %s\nwant %s", err, hexdump(out), hexdump(frame))
				}
				return
			}
			if derr == nil || derr.Code != tt.want {
				t.Fatalf("want %d, got %v", tt.want, derr)
			}
			if tt.failed == nil {
				return
			}
			if len(derr.FailedAVPs) != 1 {
				t.Fatalf("want one Failed-AVP entry, got %d", len(derr.FailedAVPs))
			}
			got, err := derr.FailedAVPs[0].Serialize()
			if err != nil || !bytes.Equal(got, tt.failed) {
				t.Fatalf("Failed-AVP content (%v):\n got %s\nwant %s", err, hexdump(got), hexdump(tt.failed))
			}
		})
	}
}

func TestDecodeValues(t *testing.T) {
	d := testDict(t)
	frame := echoRaw(7, 8, "s;values",
		avpRaw(avpEchoAddr, avpFlagMandatory|avpFlagVendor, echoVendor, append([]byte{0, 2}, netip.MustParseAddr("2001:db8::1").AsSlice()...)))
	m, derr := decodeMessage(frame, d)
	if derr != nil {
		t.Fatal(derr)
	}
	if m.Header.HopByHopID != 7 || m.Header.EndToEndID != 8 || m.Header.CommandCode != cmdEcho || m.Header.ApplicationID != echoApp {
		t.Fatalf("header: %+v", m.Header)
	}
	if got := sessionIDOf(m); got != "s;values" {
		t.Fatalf("Session-Id %q", got)
	}
	host, _ := avpString(findAVP(m.AVP, avpOriginHost))
	if host != "raw.test.example" {
		t.Fatalf("Origin-Host %q", host)
	}
	addr, ok := m.AVP[len(m.AVP)-1].Data.(datatype.Address)
	if !ok || netip.AddrFrom16([16]byte(addr)).String() != "2001:db8::1" {
		t.Fatalf("Echo-Address %v", m.AVP[len(m.AVP)-1].Data)
	}
}

func TestDecodeZeroIdentifiersKept(t *testing.T) {
	// go-diameter's NewMessage replaces zero identifiers with random ones; the wire value must win.
	m, derr := decodeMessage(frameRaw(0, cmdDeviceWatchdog, 0, 0, 0, identityAVP(avpOriginHost, "a")), testDict(t))
	if derr != nil || m.Header.HopByHopID != 0 || m.Header.EndToEndID != 0 {
		t.Fatalf("identifiers changed: %+v %v", m.Header, derr)
	}
}

func TestRawSessionID(t *testing.T) {
	tests := []struct {
		name  string
		frame []byte
		want  string
	}{
		{"first AVP", echoRaw(1, 1, "a;b;c"), "a;b;c"},
		{"after others", frameRaw(flagRequest, cmdEcho, echoApp, 1, 1, identityAVP(avpOriginHost, "h"), sessionAVP("x;y")), "x;y"},
		{"none", frameRaw(flagRequest, cmdEcho, echoApp, 1, 1, identityAVP(avpOriginHost, "h")), ""},
		{"broken AVP before it", frameRaw(flagRequest, cmdEcho, echoApp, 1, 1, []byte{0, 0, 1, 8, 0, 0, 0, 2}, sessionAVP("x")), ""},
		{"header only", frameRaw(flagRequest, cmdEcho, echoApp, 1, 1), ""},
		{"short", []byte{1, 2, 3}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := rawSessionID(tt.frame); got != tt.want {
				t.Fatalf("got %q want %q", got, tt.want)
			}
		})
	}
}

func TestEncodeRejectsNilValues(t *testing.T) {
	m := diam.NewRequest(cmdDeviceWatchdog, 0, testDict(t))
	m.AVP = append(m.AVP, &diam.AVP{Code: avpOriginHost})
	if _, err := encode(m); err == nil || !strings.Contains(err.Error(), "no value") {
		t.Fatalf("want an error for an AVP without value, got %v", err)
	}
	m.AVP = []*diam.AVP{newAVP(avpFailedAVP, 0, &diam.GroupedAVP{AVP: []*diam.AVP{{Code: 1}}})}
	if _, err := encode(m); err == nil {
		t.Fatal("want an error (recovered panic) for a nested AVP without value")
	}
}
