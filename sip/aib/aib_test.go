package aib

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/smallstep/pkcs7"
)

// ca is a throwaway CA issuing user certificates.
type ca struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

func newCA(t testing.TB) *ca {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "operator UE CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return &ca{cert: c, key: key}
}

func (c *ca) pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(c.cert)
	return p
}

func (c *ca) issue(t testing.TB, cn string, uris ...string) (*x509.Certificate, crypto.Signer) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature}
	for _, u := range uris {
		pu, _ := url.Parse(u)
		tmpl.URIs = append(tmpl.URIs, pu)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, c.cert, &key.PublicKey, c.key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return cert, key
}

var req = Request{From: "<sip:alice@ims.example>;tag=abc", CallID: "call-1@ue", CSeq: "1 REGISTER",
	Contact: "<sip:alice@192.0.2.10:5060;transport=udp>;expires=600"}

func TestSignVerifyMatch(t *testing.T) {
	c := newCA(t)
	cert, key := c.issue(t, "alice@ims.example", "sip:alice@ims.example")
	now := time.Now()
	ct, body, err := Sign(req, now, cert, key)
	if err != nil {
		t.Fatal(err)
	}
	if !Is(ct) {
		t.Fatalf("Is(%q) = false", ct)
	}
	v := &Verifier{Roots: c.pool(), Window: time.Minute}
	f, err := v.Verify(ct, body, now)
	if err != nil {
		t.Fatal(err)
	}
	// Proxies may re-encode spacing and display names: still a match.
	reenc := Request{From: `"Alice" <sip:alice@ims.example>; tag=abc`, CallID: "call-1@ue", CSeq: "1  REGISTER",
		Contact: "<sip:alice@192.0.2.10:5060;transport=udp>"}
	if err := f.Match(reenc); err != nil {
		t.Fatalf("Match: %v", err)
	}
	if !f.SignerIs("alice@ims.example") || !f.SignerIs("x", "sip:alice@ims.example") || f.SignerIs("bob@ims.example") {
		t.Fatal("SignerIs wrong")
	}
	for name, r := range map[string]Request{
		"call-id": {From: req.From, CallID: "other", CSeq: req.CSeq, Contact: req.Contact},
		"cseq":    {From: req.From, CallID: req.CallID, CSeq: "2 REGISTER", Contact: req.Contact},
		"from":    {From: "<sip:mallory@ims.example>;tag=abc", CallID: req.CallID, CSeq: req.CSeq, Contact: req.Contact},
		"tag":     {From: "<sip:alice@ims.example>;tag=zzz", CallID: req.CallID, CSeq: req.CSeq, Contact: req.Contact},
		"contact": {From: req.From, CallID: req.CallID, CSeq: req.CSeq, Contact: "<sip:alice@198.51.100.1>"},
	} {
		if err := f.Match(r); !errors.Is(err, ErrMismatch) {
			t.Errorf("%s: Match = %v, want ErrMismatch", name, err)
		}
	}
}

func TestVerifyRefuses(t *testing.T) {
	c := newCA(t)
	cert, key := c.issue(t, "alice@ims.example")
	now := time.Now()
	v := &Verifier{Roots: c.pool(), Window: time.Minute}
	ct, body, err := Sign(req, now, cert, key)
	if err != nil {
		t.Fatal(err)
	}

	// A changed fragment: the signature no longer holds.
	tampered := bytes.Replace(body, []byte("call-1@ue"), []byte("call-2@ue"), 1)
	if _, err := v.Verify(ct, tampered, now); !errors.Is(err, ErrInvalid) || errors.Is(err, ErrUntrusted) {
		t.Errorf("tampered: %v", err)
	}
	// Another CA's user.
	other := newCA(t)
	ocert, okey := other.issue(t, "alice@ims.example")
	_, obody, _ := Sign(req, now, ocert, okey)
	if _, err := v.Verify(ct, obody, now); !errors.Is(err, ErrUntrusted) {
		t.Errorf("untrusted signer: %v", err)
	}
	// Stale and future dates.
	for _, d := range []time.Duration{-2 * time.Minute, 2 * time.Minute} {
		_, sbody, _ := Sign(req, now.Add(d), cert, key)
		if _, err := v.Verify(ct, sbody, now); !errors.Is(err, ErrStale) {
			t.Errorf("date %s: %v", d, err)
		}
	}
	// No roots: refused, never verified without a chain.
	if _, err := (&Verifier{Window: time.Minute}).Verify(ct, body, now); !errors.Is(err, ErrInvalid) {
		t.Errorf("no roots: %v", err)
	}
	// Garbage of every kind.
	for name, b := range map[string][]byte{"empty": nil, "no delimiter": []byte("hello"),
		"one part": []byte("--imscore-aib\r\nContent-Type: message/sipfrag\r\n\r\nFrom: x\r\n--imscore-aib--\r\n"),
		"too big":  bytes.Repeat([]byte("a"), MaxBody+1)} {
		if _, err := v.Verify(ct, b, now); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := v.Verify("text/plain", body, now); !errors.Is(err, ErrInvalid) {
		t.Errorf("text/plain: %v", err)
	}
}

// TestOpaqueSignedData: application/pkcs7-mime with the fragment inside the SignedData verifies too.
func TestOpaqueSignedData(t *testing.T) {
	c := newCA(t)
	cert, key := c.issue(t, "alice@ims.example")
	now := time.Now()
	entity := "Content-Type: message/sipfrag\r\n\r\n" + string(req.fragment(now))
	sd, _ := pkcs7.NewSignedData([]byte(entity))
	if err := sd.AddSigner(cert, key, pkcs7.SignerInfoConfig{}); err != nil {
		t.Fatal(err)
	}
	der, err := sd.Finish()
	if err != nil {
		t.Fatal(err)
	}
	ct := "application/pkcs7-mime; smime-type=signed-data; name=smime.p7m"
	f, err := (&Verifier{Roots: c.pool(), Window: time.Minute}).Verify(ct, der, now)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Match(req); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(f.Headers["Date"], "GMT") {
		t.Fatalf("Date %q", f.Headers["Date"])
	}
}
