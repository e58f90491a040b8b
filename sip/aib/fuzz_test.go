package aib

import (
	"testing"
	"time"
)

// FuzzVerify: any body from the network is refused or verified, never a panic; one that verifies was signed
// by the test CA.
func FuzzVerify(f *testing.F) {
	c := newCA(f)
	cert, key := c.issue(f, "alice@ims.example")
	now := time.Date(2026, 12, 8, 3, 0, 0, 0, time.UTC)
	ct, body, err := Sign(req, now, cert, key)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(ct, body)
	f.Add("application/pkcs7-mime; smime-type=signed-data", body[200:])
	f.Add("multipart/signed; boundary=x", []byte("--x\r\nContent-Type: message/sipfrag\r\n\r\nFrom: a\r\n--x\r\n\r\n\r\n--x--"))
	v := &Verifier{Roots: c.pool(), Window: time.Minute}
	f.Fuzz(func(t *testing.T, contentType string, b []byte) {
		fr, err := v.Verify(contentType, b, now)
		if err == nil && !fr.Signer.Equal(cert) {
			t.Fatal("verified with another signer")
		}
		_ = Is(contentType)
	})
}
