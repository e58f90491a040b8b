package pana

import (
	"bytes"
	"encoding/hex"
	"errors"
	"io"
	"strings"
	"testing"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// vectors are PANA messages laid out field by field from RFC 5191 §6 and §8.
var vectors = []struct {
	name string
	hex  string
	msg  Message
}{
	{"PCI", `
		0000 0010   # Reserved, Message Length 16
		0000 0001   # Flags none, Message Type 1 (PCI)
		00000000    # Session Identifier 0 (RFC 5191 §6.2)
		00000000    # Sequence Number 0 (RFC 5191 §5.1)`,
		Message{Type: TypeClientInitiation}},
	{"initial PAR", `
		0000 0038   # Message Length 56
		c000 0002   # R|S, PANA-Auth
		0a0b0c0d    # Session Identifier
		11223344    # Sequence Number (the PAA's ISN)
		0006 0000 0004 0000  00000005  # PRF-Algorithm: PRF_HMAC_SHA2_256
		0003 0000 0004 0000  0000000c  # Integrity-Algorithm: AUTH_HMAC_SHA2_256_128
		0002 0000 0005 0000  0101000501 000000  # EAP-Payload: EAP-Request/Identity, 3 octets padding`,
		Message{Flags: FlagRequest | FlagStart, Type: TypeAuth, SessionID: 0x0a0b0c0d, Seq: 0x11223344,
			AVPs: []AVP{{Code: CodePRFAlgorithm, Value: []byte{0, 0, 0, 5}},
				{Code: CodeIntegrityAlgorithm, Value: []byte{0, 0, 0, 12}},
				{Code: CodeEAPPayload, Value: []byte{1, 1, 0, 5, 1}}}}},
	{"PTR", `
		0000 001c   # Message Length 28
		8000 0003   # R, PANA-Termination
		0a0b0c0d 11223345
		0009 0000 0004 0000  00000001  # Termination-Cause: LOGOUT`,
		Message{Flags: FlagRequest, Type: TypeTermination, SessionID: 0x0a0b0c0d, Seq: 0x11223345,
			AVPs: []AVP{{Code: CodeTerminationCause, Value: []byte{0, 0, 0, 1}}}}},
	{"PNA ping with a vendor AVP", `
		0000 0020   # Message Length 32
		0800 0004   # P, PANA-Notification answer
		0a0b0c0d 00000007
		0100 8000 0002 0000  00007a69 abcd 0000  # vendor AVP 256 of vendor 31337, 2 octets, padded`,
		Message{Flags: FlagPing, Type: TypeNotification, SessionID: 0x0a0b0c0d, Seq: 7,
			AVPs: []AVP{{Code: 256, Flags: AVPFlagVendor, VendorID: 31337, Value: []byte{0xab, 0xcd}}}}},
}

func stripComments(s string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if i := strings.Index(l, "#"); i >= 0 {
			l = l[:i]
		}
		out = append(out, l)
	}
	return strings.Join(out, " ")
}

func TestVectors(t *testing.T) {
	for _, v := range vectors {
		t.Run(v.name, func(t *testing.T) {
			wire := unhex(t, stripComments(v.hex))
			got, err := v.msg.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, wire) {
				t.Fatalf("marshal\n got %x\nwant %x", got, wire)
			}
			m, err := Parse(wire)
			if err != nil {
				t.Fatal(err)
			}
			again, err := m.Marshal()
			if err != nil || !bytes.Equal(again, wire) {
				t.Fatalf("parse/marshal round trip: %x, %v", again, err)
			}
			if m.Name() == "" || m.Flags != v.msg.Flags || m.Type != v.msg.Type || len(m.AVPs) != len(v.msg.AVPs) {
				t.Fatalf("parsed %+v", m)
			}
		})
	}
}

func TestParseBad(t *testing.T) {
	for _, c := range []struct {
		name string
		hex  string
		want error
	}{
		{"short header", "0000 0010 0000 0001", io.ErrUnexpectedEOF},
		{"length below header", "0000 000f 0000 0001 00000000 00000000", ErrBadLength},
		{"length beyond datagram", "0000 0014 0000 0001 00000000 00000000", ErrBadLength},
		{"short AVP header", "0000 0014 0000 0001 00000000 00000000 00010000", io.ErrUnexpectedEOF},
		{"AVP value beyond message", "0000 0018 0000 0001 00000000 00000000 0001 0000 0004 0000", ErrBadLength},
		{"short vendor header", "0000 001a 0000 0001 00000000 00000000 0001 8000 0000 0000 0000", io.ErrUnexpectedEOF},
	} {
		t.Run(c.name, func(t *testing.T) {
			if _, err := Parse(unhex(t, c.hex)); !errors.Is(err, c.want) {
				t.Fatalf("err %v, want %v", err, c.want)
			}
		})
	}
}

func TestSignVerify(t *testing.T) {
	for _, alg := range []struct {
		p PRF
		i Integrity
	}{{PRFHMACSHA1, AuthHMACSHA1160}, {PRFHMACSHA2256, AuthHMACSHA2256128}} {
		key, err := AuthKey(alg.p, alg.i, KeyInput{MSK: bytes.Repeat([]byte{7}, 64), IPAR: []byte("par"),
			IPAN: []byte("pan"), PaCNonce: []byte("pacnonce"), PAANonce: []byte("paanonce"), KeyID: 1})
		if err != nil {
			t.Fatal(err)
		}
		m := &Message{Flags: FlagRequest | FlagComplete, Type: TypeAuth, SessionID: 9, Seq: 3}
		m.AddUint32(CodeResultCode, ResultSuccess)
		m.AddUint32(CodeKeyID, 1)
		m.Add(CodeEAPPayload, []byte{3, 5, 0, 4, 0xff}) // odd length: padding before AUTH
		raw, err := Sign(m, alg.i, key)
		if err != nil {
			t.Fatal(err)
		}
		p, err := Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		if err := Verify(raw, p, alg.i, key); err != nil {
			t.Fatalf("%d: %v", alg.i, err)
		}
		raw[27] ^= 1 // a flipped bit in the Result-Code value
		p, _ = Parse(raw)
		if err := Verify(raw, p, alg.i, key); !errors.Is(err, ErrAuth) {
			t.Fatalf("tampered message verified: %v", err)
		}
		raw[27] ^= 1
		wrong := append([]byte(nil), key...)
		wrong[0] ^= 1
		if err := Verify(raw, p, alg.i, wrong); !errors.Is(err, ErrAuth) {
			t.Fatalf("wrong key verified: %v", err)
		}
	}
}

// TestPRFPlus checks prf+ (RFC 7296 §2.13) against its definition written out for two blocks.
func TestPRFPlus(t *testing.T) {
	h, _ := PRFHMACSHA1.hash()
	out := prfPlus(h, []byte("key"), []byte("seed"), 30)
	t1 := hmacSum(h, []byte("key"), []byte("seed\x01"))
	t2 := hmacSum(h, []byte("key"), append(append(append([]byte{}, t1...), "seed"...), 2))
	if want := append(t1, t2...)[:30]; !bytes.Equal(out, want) {
		t.Fatalf("prf+ %x, want %x", out, want)
	}
}

func FuzzParse(f *testing.F) {
	for _, v := range vectors {
		f.Add(unhex(f, stripComments(v.hex)))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Parse(b)
		if err != nil {
			return
		}
		out, err := m.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Parse(out); err != nil {
			t.Fatalf("re-encoded message does not parse: %v", err)
		}
		_ = Verify(b, m, AuthHMACSHA1160, []byte("k"))
	})
}
