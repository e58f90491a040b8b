package ipsec

import (
	"bytes"
	"encoding/hex"
	"errors"
	"testing"
)

// CK and IK of TS 35.208 test set 1 (f3 and f4 outputs, Milenage with
// K=465b5ce8b199b49faa5f0a2ee238a6bc, RAND=23553cbe9637a89d218ae64dae47bf35).
var (
	testCK = mustKey("b40ba9a3c58b2a05bbf0d987b21bf8cb")
	testIK = mustKey("f769bcd751044604127672711c6d3441")
)

func mustKey(s string) [16]byte {
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != 16 {
		panic("bad test key " + s)
	}
	return [16]byte(b)
}

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatalf("bad hex %q: %v", s, err)
	}
	return b
}

// The expected keys are written out by hand from TS 33.203 Annex I, not computed.
func TestIntegrityKey(t *testing.T) {
	tests := []struct {
		name string
		alg  IntegrityAlg
		ik   [16]byte
		want string
	}{
		{"hmac-sha-1-96 pads IK with 32 zero bits", HMACSHA196, testIK, "f769bcd751044604127672711c6d3441" + "00000000"},
		{"hmac-md5-96 uses IK as is", HMACMD596, testIK, "f769bcd751044604127672711c6d3441"},
		{"hmac-sha-1-96 all-ones IK", HMACSHA196, mustKey("ffffffffffffffffffffffffffffffff"), "ffffffffffffffffffffffffffffffff00000000"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := IntegrityKey(tc.alg, tc.ik)
			if err != nil {
				t.Fatal(err)
			}
			if want := unhex(t, tc.want); !bytes.Equal(got, want) {
				t.Fatalf("IK_ESP = %x, want %x", got, want)
			}
		})
	}
}

func TestEncryptionKey(t *testing.T) {
	tests := []struct {
		name string
		alg  EncryptionAlg
		ck   [16]byte
		want string
	}{
		{"aes-cbc uses CK as is", EncryptionAESCBC, testCK, "b40ba9a3c58b2a05bbf0d987b21bf8cb"},
		{"des-ede3-cbc is CK1||CK2||CK1", EncryptionDES3, testCK, "b40ba9a3c58b2a05" + "bbf0d987b21bf8cb" + "b40ba9a3c58b2a05"},
		{"des-ede3-cbc counting bytes", EncryptionDES3, mustKey("000102030405060708090a0b0c0d0e0f"), "0001020304050607" + "08090a0b0c0d0e0f" + "0001020304050607"},
		{"null has no key", EncryptionNull, testCK, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := EncryptionKey(tc.alg, tc.ck)
			if err != nil {
				t.Fatal(err)
			}
			if want := unhex(t, tc.want); !bytes.Equal(got, want) {
				t.Fatalf("CK_ESP = %x, want %x", got, want)
			}
		})
	}
}

func TestUnknownAlgorithms(t *testing.T) {
	tests := []struct {
		name string
		algs Algorithms
	}{
		{"hmac-sha-256 is not an IMS-AKA alg", Algorithms{"hmac-sha-256-128", EncryptionAESCBC}},
		{"empty alg", Algorithms{"", EncryptionNull}},
		{"aes-gcm is not an IMS-AKA ealg", Algorithms{HMACSHA196, "aes-gcm"}},
		{"empty ealg (a parser must map an absent ealg to null)", Algorithms{HMACSHA196, ""}},
		{"names are case-sensitive here", Algorithms{"HMAC-SHA-1-96", EncryptionNull}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.algs.Validate(); !errors.Is(err, ErrUnknownAlgorithm) {
				t.Fatalf("Validate(%v) = %v, want ErrUnknownAlgorithm", tc.algs, err)
			}
			if _, err := deriveKeys(Pair{Algs: tc.algs}); !errors.Is(err, ErrUnknownAlgorithm) {
				t.Fatalf("deriveKeys(%v) = %v, want ErrUnknownAlgorithm", tc.algs, err)
			}
		})
	}
}

func TestKernelNames(t *testing.T) {
	tests := []struct {
		algs                        Algorithms
		auth, crypt                 string
		authKeyBytes, cryptKeyBytes int
	}{
		{Algorithms{HMACSHA196, EncryptionAESCBC}, "hmac(sha1)", "cbc(aes)", 20, 16},
		{Algorithms{HMACSHA196, EncryptionDES3}, "hmac(sha1)", "cbc(des3_ede)", 20, 24},
		{Algorithms{HMACSHA196, EncryptionNull}, "hmac(sha1)", "ecb(cipher_null)", 20, 0},
		{Algorithms{HMACMD596, EncryptionAESCBC}, "hmac(md5)", "cbc(aes)", 16, 16},
		{Algorithms{HMACMD596, EncryptionDES3}, "hmac(md5)", "cbc(des3_ede)", 16, 24},
		{Algorithms{HMACMD596, EncryptionNull}, "hmac(md5)", "ecb(cipher_null)", 16, 0},
	}
	if len(tests) != len(AllAlgorithms()) {
		t.Fatalf("table has %d rows, AllAlgorithms %d", len(tests), len(AllAlgorithms()))
	}
	for _, tc := range tests {
		t.Run(tc.algs.String(), func(t *testing.T) {
			k, err := deriveKeys(Pair{Algs: tc.algs, IK: testIK, CK: testCK})
			if err != nil {
				t.Fatal(err)
			}
			if k.authName != tc.auth || k.cryptName != tc.crypt {
				t.Fatalf("names %q %q, want %q %q", k.authName, k.cryptName, tc.auth, tc.crypt)
			}
			if len(k.auth) != tc.authKeyBytes || len(k.crypt) != tc.cryptKeyBytes {
				t.Fatalf("key sizes %d %d, want %d %d", len(k.auth), len(k.crypt), tc.authKeyBytes, tc.cryptKeyBytes)
			}
		})
	}
}
