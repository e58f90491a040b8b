package digest

import (
	"bytes"
	"encoding/hex"
	"errors"
	"testing"

	"github.com/wmnsk/milenage"
)

// TS 35.208 §4.3.1 test set 1.
const (
	ts35208K    = "465b5ce8b199b49faa5f0a2ee238a6bc"
	ts35208RAND = "23553cbe9637a89d218ae64dae47bf35"
	ts35208OP   = "cdc202d5123e20f62b6d676ac72cb318"
	ts35208SQN  = 0xff9bb4d0b607
	ts35208AMF  = 0xb9b9
	// AUTN = SQN⊕AK ‖ AMF ‖ MAC-A with AK = aa689c648370 and MAC-A = 4a9ffac354dfafb3.
	ts35208AUTN = "55f328b43577b9b94a9ffac354dfafb3"
	ts35208RES  = "a54211d5e3ba50bf"
)

func TestAKANonce(t *testing.T) {
	rand := mustHex(t, ts35208RAND)
	m := milenage.New(mustHex(t, ts35208K), mustHex(t, ts35208OP), rand, ts35208SQN, ts35208AMF)
	if err := m.ComputeAll(); err != nil {
		t.Fatal(err)
	}
	autn, err := m.GenerateAUTN()
	if err != nil {
		t.Fatal(err)
	}
	if hex.EncodeToString(autn) != ts35208AUTN {
		t.Fatalf("milenage AUTN = %x, want TS 35.208's %s", autn, ts35208AUTN)
	}
	tests := []struct {
		name       string
		serverData []byte
		wantNonce  string
	}{
		{name: "RAND and AUTN only", wantNonce: "I1U8vpY3qJ0hiuZNrke/NVXzKLQ1d7m5Sp/6w1Tfr7M="},
		{name: "with server data", serverData: []byte{0x01, 0x02, 0x03}, wantNonce: "I1U8vpY3qJ0hiuZNrke/NVXzKLQ1d7m5Sp/6w1Tfr7MBAgM="},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			nonce := AKANonce(rand, autn, tt.serverData)
			if nonce != tt.wantNonce {
				t.Fatalf("AKANonce = %s, want %s", nonce, tt.wantNonce)
			}
			for _, n := range []string{nonce, trimPad(nonce), " " + nonce + " "} {
				r, a, sd, err := ParseAKANonce(n)
				if err != nil {
					t.Fatalf("ParseAKANonce(%q): %v", n, err)
				}
				if !bytes.Equal(r, rand) || !bytes.Equal(a, autn) || !bytes.Equal(sd, tt.serverData) && len(sd)+len(tt.serverData) > 0 {
					t.Fatalf("ParseAKANonce(%q) = %x %x %x", n, r, a, sd)
				}
			}
		})
	}
}

func trimPad(s string) string {
	for len(s) > 0 && s[len(s)-1] == '=' {
		s = s[:len(s)-1]
	}
	return s
}

func TestParseAKANonceErrors(t *testing.T) {
	tests := []struct {
		name  string
		nonce string
	}{
		// The examples of RFC 3310 §3.2 and §4 are illustrations, not base64 of RAND and AUTN.
		{name: "RFC 3310 §3.2 example", nonce: "MzQ0a2xrbGtmbGtsZm9wb2tsc2tqaHJzZXNy9uQyMzMzMzQK="},
		{name: "RFC 3310 §4 example", nonce: "CjPk9mRqNuT25eRkajM09uTl9nM09uTl9nMz5OX25PZz=="},
		{name: "MD5 nonce of Kamailio", nonce: "9141ed3a3de48a878ba1467f9cfa0a88"},
		{name: "empty, as in the first REGISTER", nonce: ""},
		{name: "not base64", nonce: "!!!!"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, _, _, err := ParseAKANonce(tt.nonce); !errors.Is(err, ErrInvalidNonce) {
				t.Errorf("ParseAKANonce(%q) error = %v, want ErrInvalidNonce", tt.nonce, err)
			}
		})
	}
}

func TestParseAUTS(t *testing.T) {
	m := milenage.New(mustHex(t, ts35208K), mustHex(t, ts35208OP), mustHex(t, ts35208RAND), ts35208SQN, ts35208AMF)
	if err := m.ComputeAll(); err != nil {
		t.Fatal(err)
	}
	auts, err := m.GenerateAUTS()
	if err != nil {
		t.Fatal(err)
	}
	enc := EncodeAUTS(auts)
	for _, s := range []string{enc, trimPad(enc)} {
		got, err := ParseAUTS(s)
		if err != nil || !bytes.Equal(got, auts) {
			t.Errorf("ParseAUTS(%q) = %x, %v; want %x", s, got, err, auts)
		}
	}
	for _, bad := range []string{
		"CjkyMzRfOiwg5CfkJ2UK=",  // RFC 3310 §3.4 example: 21 characters, not base64
		"5PYxMuX2NOT2NeQ=",       // RFC 3310 §4 example: 11 bytes
		hex.EncodeToString(auts), // SIPp sends AUTS in hex: not base64 of 14 bytes
		"",
	} {
		if _, err := ParseAUTS(bad); !errors.Is(err, ErrInvalidAUTS) {
			t.Errorf("ParseAUTS(%q) error = %v, want ErrInvalidAUTS", bad, err)
		}
	}
}

func TestAKAv1Password(t *testing.T) {
	res := mustHex(t, ts35208RES)
	pw := AKAv1Password(res)
	if !bytes.Equal(pw, res) {
		t.Fatalf("AKAv1Password = %x, want RES %x", pw, res)
	}
	pw[0] ^= 0xff
	if res[0] != 0xa5 {
		t.Errorf("AKAv1Password shares memory with RES")
	}
}
