// Package testpki is a certificate authority for tests: it writes PEM files into a test directory, so that the
// TLS tests of every listener (Diameter, RFC 6733 §13.1; the HTTP API and admin listeners) make their
// certificates in the test rather than check them in.
package testpki

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
	"testing"
	"time"
)

// PKI is a test certificate authority writing PEM files into a test directory.
type PKI struct {
	t    testing.TB
	dir  string
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	// CAFile is the CA certificate, the ca_file of the nodes that trust this PKI.
	CAFile string
}

// New makes a CA called name.
func New(t testing.TB, name string) *PKI {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true,
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	p := &PKI{t: t, dir: t.TempDir(), cert: cert, key: key}
	p.CAFile = p.write(name+"-ca.pem", "CERTIFICATE", der)
	return p
}

func (p *PKI) write(name, typ string, der []byte) string {
	path := filepath.Join(p.dir, name)
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		p.t.Fatal(err)
	}
	return path
}

// Issue signs a certificate for client and server use naming each of names as a subjectAltName (an IP
// address as an IP SAN, anything else as a DNS name: a node's Origin-Host, "localhost") and returns the
// certificate and key files.
func (p *PKI) Issue(names ...string) (certFile, keyFile string) {
	p.t.Helper()
	l := Leaf{CommonName: names[0]}
	for _, n := range names {
		if net.ParseIP(n) != nil {
			l.IPs = append(l.IPs, n)
		} else {
			l.DNSNames = append(l.DNSNames, n)
		}
	}
	der, kder := p.sign(l)
	return p.write(names[0]+".pem", "CERTIFICATE", der), p.write(names[0]+"-key.pem", "EC PRIVATE KEY", kder)
}

// Leaf is what a certificate of IssueLeaf names: a Subject Common Name (empty: none) and subjectAltName DNS
// names, URIs ("sip:home.test", the SIP domain identities of RFC 5922 §7.1) and IP addresses.
type Leaf struct {
	CommonName string
	DNSNames   []string
	URIs       []string
	IPs        []string
}

// IssueLeaf signs a certificate for client and server use naming what l says and returns the certificate and
// key files.
func (p *PKI) IssueLeaf(l Leaf) (certFile, keyFile string) {
	p.t.Helper()
	der, kder := p.sign(l)
	n, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		p.t.Fatal(err)
	}
	base := "leaf-" + n.String()
	return p.write(base+".pem", "CERTIFICATE", der), p.write(base+"-key.pem", "EC PRIVATE KEY", kder)
}

// Renew writes a new certificate for l and its key over certFile and keyFile, each replaced at once by a rename
// as a renewal tool does.
func (p *PKI) Renew(l Leaf, certFile, keyFile string) {
	p.t.Helper()
	der, kder := p.sign(l)
	for _, f := range []struct {
		path, typ string
		der       []byte
	}{{certFile, "CERTIFICATE", der}, {keyFile, "EC PRIVATE KEY", kder}} {
		tmp := f.path + ".renew"
		if err := os.WriteFile(tmp, pem.EncodeToMemory(&pem.Block{Type: f.typ, Bytes: f.der}), 0o600); err != nil {
			p.t.Fatal(err)
		}
		if err := os.Rename(tmp, f.path); err != nil {
			p.t.Fatal(err)
		}
	}
}

// Certificate signs a certificate for l and returns it parsed, without files.
func (p *PKI) Certificate(l Leaf) *x509.Certificate {
	p.t.Helper()
	der, _ := p.sign(l)
	c, err := x509.ParseCertificate(der)
	if err != nil {
		p.t.Fatal(err)
	}
	return c
}

// sign makes the certificate for l: its DER and its key's DER.
func (p *PKI) sign(l Leaf) (der, keyDER []byte) {
	p.t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		p.t.Fatal(err)
	}
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		p.t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: serial, Subject: pkix.Name{CommonName: l.CommonName},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}, DNSNames: l.DNSNames}
	for _, u := range l.URIs {
		pu, err := url.Parse(u)
		if err != nil {
			p.t.Fatal(err)
		}
		tmpl.URIs = append(tmpl.URIs, pu)
	}
	for _, ip := range l.IPs {
		tmpl.IPAddresses = append(tmpl.IPAddresses, net.ParseIP(ip))
	}
	if der, err = x509.CreateCertificate(rand.Reader, tmpl, p.cert, &key.PublicKey, p.key); err != nil {
		p.t.Fatal(err)
	}
	if keyDER, err = x509.MarshalECPrivateKey(key); err != nil {
		p.t.Fatal(err)
	}
	return der, keyDER
}

// Pool is a certificate pool holding the CA, for a client that trusts it.
func (p *PKI) Pool() *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(p.cert)
	return pool
}
