package thig

import (
	"bytes"
	"errors"
	"slices"
	"strings"
	"testing"
)

func testCodec(t testing.TB, domain string, current byte, ids ...byte) *Codec {
	t.Helper()
	keys := map[byte][]byte{}
	for _, id := range ids {
		keys[id] = bytes.Repeat([]byte{id + 1}, KeySize)
	}
	c, err := New(domain, current, keys)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

var path = []string{"<sip:term@pcscf1.home1.net;lr>", "<sip:scscf1.home1.net:5070;lr;transport=tcp>"}

func TestRoundTrip(t *testing.T) {
	c := testCodec(t, "home1.net", 1, 1)
	for _, kind := range []Kind{Via, RecordRoute, Path, ServiceRoute} {
		tok, err := c.Seal(kind, path)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(tok, "home1") || strings.Trim(tok, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") != "" {
			t.Fatalf("token %q shows a name or a character a URI user part must escape", tok)
		}
		got, err := c.Open(kind, tok)
		if err != nil || !slices.Equal(got, path) {
			t.Fatalf("Open(Seal(%v)) = %q, %v", path, got, err)
		}
	}
	a, _ := c.Seal(Path, path)
	b, _ := c.Seal(Path, path)
	if a == b {
		t.Fatal("two seals of the same entries are equal: the nonce is not fresh, sealed entries are linkable")
	}
}

func TestTamperedAndMisusedTokensRefused(t *testing.T) {
	c := testCodec(t, "home1.net", 1, 1)
	tok, _ := c.Seal(Path, path)
	flip := []byte(tok)
	flip[len(flip)/2] ^= 0x01
	if flip[len(flip)/2] == '`' || flip[len(flip)/2] == '.' { // keep it base64url
		flip[len(flip)/2] = 'A'
	}
	other := testCodec(t, "home2.net", 1, 1)
	rotatedAway := testCodec(t, "home1.net", 2, 2)
	for name, open := range map[string]func() ([]string, error){
		"one bit changed":       func() ([]string, error) { return c.Open(Path, string(flip)) },
		"truncated":             func() ([]string, error) { return c.Open(Path, tok[:len(tok)-4]) },
		"as another kind":       func() ([]string, error) { return c.Open(RecordRoute, tok) },
		"at another border":     func() ([]string, error) { return other.Open(Path, tok) },
		"with its key retired":  func() ([]string, error) { return rotatedAway.Open(Path, tok) },
		"not base64url":         func() ([]string, error) { return c.Open(Path, "a+b/c=") },
		"empty":                 func() ([]string, error) { return c.Open(Path, "") },
		"longer than the limit": func() ([]string, error) { return c.Open(Path, strings.Repeat("A", MaxTokenLen+1)) },
	} {
		if got, err := open(); !errors.Is(err, ErrToken) {
			t.Errorf("%s: Open = %q, %v; want ErrToken", name, got, err)
		}
	}
}

func TestKeyRotation(t *testing.T) {
	old := testCodec(t, "home1.net", 1, 1)
	tok, _ := old.Seal(RecordRoute, path)
	both := testCodec(t, "home1.net", 2, 1, 2)
	if got, err := both.Open(RecordRoute, tok); err != nil || !slices.Equal(got, path) {
		t.Fatalf("a token of the retired key: %q, %v; want it opened while the key is configured", got, err)
	}
	fresh, _ := both.Seal(RecordRoute, path)
	if _, err := old.Open(RecordRoute, fresh); !errors.Is(err, ErrToken) {
		t.Fatalf("a codec without key 2 opened a token sealed with it: %v", err)
	}
}

func TestURI(t *testing.T) {
	c := testCodec(t, "home1.net", 1, 1)
	u, err := c.HideURI(Path, path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(u, "@home1.net;lr;tokenized-by=home1.net") || strings.Contains(u, "pcscf1") {
		t.Fatalf("HideURI = %q", u)
	}
	got, ok, err := c.RestoreURI(Path, "<"+u+">")
	if err != nil || !ok || !slices.Equal(got, path) {
		t.Fatalf("RestoreURI = %q, %v, %v", got, ok, err)
	}
	for _, v := range []string{"<sip:icscf.home2.net;lr>", "<sip:x@home2.net;lr;tokenized-by=home2.net>", "not a uri"} {
		if _, ok, err := c.RestoreURI(Path, v); ok || err != nil {
			t.Errorf("RestoreURI(%q) = %v, %v; want it left alone", v, ok, err)
		}
	}
	if _, ok, err := c.RestoreURI(Path, "<sip:forged@home1.net;lr;tokenized-by=home1.net>"); !ok || !errors.Is(err, ErrToken) {
		t.Fatalf("a forged token at our domain: %v, %v; want ErrToken", ok, err)
	}
}

func TestConfigErrors(t *testing.T) {
	k := bytes.Repeat([]byte{1}, KeySize)
	for name, f := range map[string]func() error{
		"empty domain":   func() error { _, err := New("", 1, map[byte][]byte{1: k}); return err },
		"short key":      func() error { _, err := New("d", 1, map[byte][]byte{1: k[:16]}); return err },
		"current absent": func() error { _, err := New("d", 2, map[byte][]byte{1: k}); return err },
	} {
		if f() == nil {
			t.Errorf("%s accepted", name)
		}
	}
	c := testCodec(t, "d", 1, 1)
	if _, err := c.Seal(Via, nil); err == nil {
		t.Error("Seal of no entries accepted")
	}
}

func FuzzOpen(f *testing.F) {
	c := testCodec(f, "home1.net", 1, 1)
	tok, _ := c.Seal(Path, path)
	f.Add(tok)
	f.Add("")
	f.Add("AQ")
	f.Fuzz(func(t *testing.T, s string) {
		_, _ = c.Open(Path, s)
		_, _, _ = c.RestoreURI(Path, "<sip:"+s+"@home1.net;lr;tokenized-by=home1.net>")
	})
}

func BenchmarkSealOpen(b *testing.B) {
	c := testCodec(b, "home1.net", 1, 1)
	b.ReportAllocs()
	for b.Loop() {
		tok, err := c.Seal(RecordRoute, path)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := c.Open(RecordRoute, tok); err != nil {
			b.Fatal(err)
		}
	}
}
