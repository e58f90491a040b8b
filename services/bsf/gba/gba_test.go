package gba

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// Ks_NAF is HMAC-SHA-256(Ks, S) with S built by hand from TS 33.220 Annex B.2/B.3: FC 0x01, "gba-me" (6
// octets), RAND (16), IMPI, NAF_Id, each followed by its two-octet length.
func TestKsNAF(t *testing.T) {
	ks := bytes.Repeat([]byte{0xab}, 32)
	rand, _ := hex.DecodeString("23553cbe9637a89d218ae64dae47bf35")
	impi := "user@ims.example.net"
	naf := NAFID("XDMS.ims.example.net", UaHTTPDigest)
	if want := append([]byte("xdms.ims.example.net"), 1, 0, 0, 0, 2); !bytes.Equal(naf, want) {
		t.Fatalf("NAF_Id %x", naf)
	}
	s, _ := hex.DecodeString("01" + "6762612d6d65" + "0006" + "23553cbe9637a89d218ae64dae47bf35" + "0010")
	s = append(s, impi...)
	s = append(s, 0, byte(len(impi)))
	s = append(s, naf...)
	s = append(s, 0, byte(len(naf)))
	m := hmac.New(sha256.New, ks)
	m.Write(s)
	got, err := KsNAF(ks, rand, impi, naf)
	if err != nil || !bytes.Equal(got, m.Sum(nil)) {
		t.Fatalf("Ks_NAF %x, %v", got, err)
	}
	other, _ := KsNAF(ks, rand, impi, NAFID("other.ims.example.net", UaHTTPDigest))
	if bytes.Equal(got, other) {
		t.Error("two NAFs share a key")
	}
	for _, bad := range []struct {
		ks, rand []byte
		impi     string
		naf      []byte
	}{{ks[:16], rand, impi, naf}, {ks, rand[:8], impi, naf}, {ks, rand, "", naf}, {ks, rand, impi, UaHTTPDigest[:]}} {
		if _, err := KsNAF(bad.ks, bad.rand, bad.impi, bad.naf); err == nil {
			t.Errorf("KsNAF accepted %d/%d/%q/%d", len(bad.ks), len(bad.rand), bad.impi, len(bad.naf))
		}
	}
}

func TestBTIDAndBody(t *testing.T) {
	rand, _ := hex.DecodeString("23553cbe9637a89d218ae64dae47bf35")
	if got := BTID(rand, "bsf.ims.example.net"); got != "I1U8vpY3qJ0hiuZNrke/NQ==@bsf.ims.example.net" {
		t.Errorf("B-TID %s", got)
	}
	info := BootstrappingInfo{BTID: "x@bsf", Lifetime: time.Date(2026, 12, 8, 4, 0, 0, 0, time.UTC)}
	b, err := info.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(b, []byte(`<BootstrappingInfo xmlns="uri:3gpp-gba"><btid>x@bsf</btid><lifetime>2026-12-08T04:00:00Z</lifetime>`)) {
		t.Errorf("body %s", b)
	}
	back, err := ParseBootstrappingInfo(b)
	if err != nil || back.BTID != info.BTID || !back.Lifetime.Equal(info.Lifetime) {
		t.Errorf("parsed %+v, %v", back, err)
	}
	for _, bad := range []string{"", "<x/>", `<BootstrappingInfo xmlns="uri:3gpp-gba"><btid>a@b</btid></BootstrappingInfo>`} {
		if _, err := ParseBootstrappingInfo([]byte(bad)); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
}

// FuzzParse: the Ub body and the GUSS come from the network; no input panics.
func FuzzParse(f *testing.F) {
	f.Add([]byte(`<?xml version="1.0"?><BootstrappingInfo xmlns="uri:3gpp-gba"><btid>a@b</btid><lifetime>2026-12-08T04:00:00Z</lifetime></BootstrappingInfo>`))
	f.Add([]byte(`<guss xmlns="urn:3GPP:ns:PicsGUSS:1.0" id="a"><ussList><uss id="1" type="1"><uids><uid>sip:a@b</uid></uids></uss></ussList></guss>`))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = ParseBootstrappingInfo(b)
		_, _ = ParseGUSS(b)
	})
}

// FuzzNAFAuthorization: any Authorization header a UE sends gets 401 or 503 from the NAF, never a panic and
// never an identity (no nonce of the NAF's is in the input).
func FuzzNAFAuthorization(f *testing.F) {
	f.Add(`Digest username="I1U8vpY3qJ0hiuZNrke/NQ==@bsf.example.net",realm="3GPP-bootstrapping@xdms.example.net",nonce="abc",uri="/x",response="00",qop=auth,nc=00000001,cnonce="c"`)
	f.Add(`Digest username="",realm="",nonce="",uri="",response=""`)
	f.Add("Basic Zm9vOmJhcg==")
	n, err := NewNAF(NAFConfig{FQDN: "xdms.example.net", BSF: "127.0.0.1:1", BSFHost: "bsf.example.net"}, nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, auth string) {
		req := httptest.NewRequest(http.MethodGet, "/x", nil)
		req.Header.Set("Authorization", auth)
		w := httptest.NewRecorder()
		if id := n.Authenticate(w, req, nil); id != nil {
			t.Fatalf("authenticated %+v from %q", id, auth)
		}
		if w.Code != http.StatusUnauthorized && w.Code != http.StatusServiceUnavailable {
			t.Fatalf("status %d for %q", w.Code, auth)
		}
	})
}
