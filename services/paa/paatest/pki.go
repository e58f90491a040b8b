// Package paatest is test support for the access side: an operator CA that issues EAP-TLS server
// certificates and UE certificates naming an IMPI (rfc822Name subjectAltName, RFC 5216 §5.2).
package paatest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// CA is an operator CA for tests.
type CA struct {
	t    testing.TB
	dir  string
	Cert *x509.Certificate
	key  *ecdsa.PrivateKey
	Pool *x509.CertPool
	// File is the CA certificate in PEM.
	File string
}

// NewCA makes a CA called name.
func NewCA(t testing.TB, name string) *CA {
	t.Helper()
	key := newKey(t)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour), IsCA: true,
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	ca := &CA{t: t, dir: t.TempDir(), Cert: cert, key: key, Pool: x509.NewCertPool()}
	ca.Pool.AddCert(cert)
	ca.File = ca.write(name+"-ca.pem", "CERTIFICATE", der)
	return ca
}

func newKey(t testing.TB) *ecdsa.PrivateKey {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

func (ca *CA) write(name, typ string, der []byte) string {
	path := filepath.Join(ca.dir, name)
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		ca.t.Fatal(err)
	}
	return path
}

// Pair is an issued certificate: in memory and as PEM files.
type Pair struct {
	Cert              tls.Certificate
	CertFile, KeyFile string
}

func (ca *CA) issue(tmpl *x509.Certificate, name string) Pair {
	ca.t.Helper()
	key := newKey(ca.t)
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl.SerialNumber = serial
	tmpl.NotBefore, tmpl.NotAfter = time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour)
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, &key.PublicKey, ca.key)
	if err != nil {
		ca.t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		ca.t.Fatal(err)
	}
	return Pair{Cert: tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key},
		CertFile: ca.write(name+".pem", "CERTIFICATE", der), KeyFile: ca.write(name+"-key.pem", "PRIVATE KEY", kder)}
}

// Server issues an EAP-TLS server certificate for the DNS name name.
func (ca *CA) Server(name string) Pair {
	return ca.issue(&x509.Certificate{Subject: pkix.Name{CommonName: name}, DNSNames: []string{name},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}, name)
}

// UE issues a UE certificate naming impi as its rfc822Name subjectAltName.
func (ca *CA) UE(impi string) Pair {
	return ca.issue(&x509.Certificate{Subject: pkix.Name{CommonName: impi}, EmailAddresses: []string{impi},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}, "ue-"+impi)
}

// ServerTLS is the tls.Config of an EAP-TLS server named name that trusts UEs of this CA.
func (ca *CA) ServerTLS(name string) *tls.Config {
	return &tls.Config{Certificates: []tls.Certificate{ca.Server(name).Cert}, ClientCAs: ca.Pool}
}

// UETLS is the tls.Config of a UE with impi's certificate that trusts the server name of this CA.
func (ca *CA) UETLS(impi, server string) *tls.Config {
	return &tls.Config{Certificates: []tls.Certificate{ca.UE(impi).Cert}, RootCAs: ca.Pool, ServerName: server}
}
