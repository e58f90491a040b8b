package proxy

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"
)

// testCA is a certificate authority made for one test (crypto/x509): nothing private is committed.
type testCA struct {
	t      testing.TB
	dir    string
	cert   *x509.Certificate
	key    *ecdsa.PrivateKey
	CAFile string
}

var testSerial atomic.Int64

func newTestCA(t testing.TB, name string) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(testSerial.Add(1)),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	ca := &testCA{t: t, dir: t.TempDir(), cert: cert, key: key}
	ca.CAFile = filepath.Join(ca.dir, "test-only-ca.pem")
	writePEM(t, ca.CAFile, "CERTIFICATE", der)
	return ca
}

// leaf names what a test certificate carries.
type leaf struct {
	cn   string
	dns  []string
	uris []string // "sip:home.test"
	ips  []string
}

// issue writes a certificate and key for l into files (test-only names) and returns their paths.
func (ca *testCA) issue(l leaf) (certFile, keyFile string) {
	ca.t.Helper()
	n := testSerial.Add(1)
	certFile = filepath.Join(ca.dir, "test-only-"+big.NewInt(n).String()+".pem")
	keyFile = filepath.Join(ca.dir, "test-only-"+big.NewInt(n).String()+".key.pem")
	ca.issueInto(l, certFile, keyFile)
	return certFile, keyFile
}

// issueInto writes a certificate for l over certFile and keyFile (a renewal in place).
func (ca *testCA) issueInto(l leaf, certFile, keyFile string) {
	ca.t.Helper()
	der, key := ca.sign(l)
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		ca.t.Fatal(err)
	}
	writePEM(ca.t, certFile, "CERTIFICATE", der)
	writePEM(ca.t, keyFile, "EC PRIVATE KEY", kb)
}

func (ca *testCA) sign(l leaf) ([]byte, *ecdsa.PrivateKey) {
	ca.t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		ca.t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(testSerial.Add(1)),
		Subject:      pkix.Name{CommonName: l.cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		DNSNames:     l.dns,
	}
	for _, u := range l.uris {
		pu, err := url.Parse(u)
		if err != nil {
			ca.t.Fatal(err)
		}
		tmpl.URIs = append(tmpl.URIs, pu)
	}
	for _, ip := range l.ips {
		tmpl.IPAddresses = append(tmpl.IPAddresses, net.ParseIP(ip))
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		ca.t.Fatal(err)
	}
	return der, key
}

// parsed returns the certificate l would get, without files.
func (ca *testCA) parsed(l leaf) *x509.Certificate {
	ca.t.Helper()
	der, _ := ca.sign(l)
	c, err := x509.ParseCertificate(der)
	if err != nil {
		ca.t.Fatal(err)
	}
	return c
}

// tlsConfig is a TLSConfig for a node with certificate l, trusting ca, listening on 127.0.0.1:0.
func (ca *testCA) tlsConfig(l leaf) TLSConfig {
	cert, key := ca.issue(l)
	return TLSConfig{Listen: []Listen{{Addr: "127.0.0.1:0"}}, CertFile: cert, KeyFile: key, CAFile: ca.CAFile}
}

func writePEM(t testing.TB, path, typ string, der []byte) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil { // replaced at once, as a renewal tool does
		t.Fatal(err)
	}
}
