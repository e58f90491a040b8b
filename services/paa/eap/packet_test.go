package eap

import (
	"bytes"
	"errors"
	"testing"
)

func TestPacket(t *testing.T) {
	for _, c := range []struct {
		p    Packet
		wire []byte
	}{
		{Packet{Code: CodeRequest, ID: 1, Type: TypeIdentity}, []byte{1, 1, 0, 5, 1}},
		{Packet{Code: CodeResponse, ID: 1, Type: TypeIdentity, Data: []byte("a@b")}, []byte{2, 1, 0, 8, 1, 'a', '@', 'b'}},
		{Packet{Code: CodeRequest, ID: 2, Type: TypeTLS, Data: []byte{0x20}}, []byte{1, 2, 0, 6, 13, 0x20}}, // EAP-TLS Start (RFC 5216 §3.1)
		{Packet{Code: CodeSuccess, ID: 3}, []byte{3, 3, 0, 4}},
	} {
		if got := c.p.Marshal(); !bytes.Equal(got, c.wire) {
			t.Errorf("%+v: %x, want %x", c.p, got, c.wire)
		}
		p, err := Parse(c.wire)
		if err != nil || p.Code != c.p.Code || p.ID != c.p.ID || p.Type != c.p.Type || !bytes.Equal(p.Data, c.p.Data) {
			t.Errorf("parse %x: %+v %v", c.wire, p, err)
		}
	}
	for _, bad := range [][]byte{{1, 1, 0}, {1, 1, 0, 9, 1}, {1, 1, 0, 4}, {9, 1, 0, 4}, {1, 1, 0, 3}} {
		if _, err := Parse(bad); err == nil {
			t.Errorf("%x parsed", bad)
		} else if !errors.Is(err, ErrBadPacket) && len(bad) >= 4 {
			t.Errorf("%x: %v", bad, err)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte{1, 1, 0, 5, 1})
	f.Add([]byte{2, 7, 0, 10, 13, 0xc0, 0, 0, 0, 9})
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := Parse(b)
		if err != nil {
			return
		}
		if _, err := Parse(p.Marshal()); err != nil {
			t.Fatal(err)
		}
	})
}
