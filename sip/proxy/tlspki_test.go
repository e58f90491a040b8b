package proxy

import (
	"crypto/x509"
	"testing"

	"github.com/imscore/imscore/internal/testpki"
)

// testCA is internal/testpki's CA, made for one test: nothing private is committed.
type testCA struct{ *testpki.PKI }

func newTestCA(t testing.TB, name string) testCA { return testCA{testpki.New(t, name)} }

// leaf names what a test certificate carries.
type leaf struct {
	cn   string
	dns  []string
	uris []string // "sip:home.test"
	ips  []string
}

func (l leaf) pki() testpki.Leaf {
	return testpki.Leaf{CommonName: l.cn, DNSNames: l.dns, URIs: l.uris, IPs: l.ips}
}

// issue writes a certificate and key for l and returns their files.
func (ca testCA) issue(l leaf) (certFile, keyFile string) { return ca.IssueLeaf(l.pki()) }

// issueInto writes a certificate for l over certFile and keyFile (a renewal in place).
func (ca testCA) issueInto(l leaf, certFile, keyFile string) { ca.Renew(l.pki(), certFile, keyFile) }

// parsed returns the certificate l would get, without files.
func (ca testCA) parsed(l leaf) *x509.Certificate { return ca.Certificate(l.pki()) }

// tlsConfig is a TLSConfig for a node with certificate l, trusting ca, listening on 127.0.0.1:0.
func (ca testCA) tlsConfig(l leaf) TLSConfig {
	cert, key := ca.issue(l)
	return TLSConfig{Listen: []Listen{{Addr: "127.0.0.1:0"}}, CertFile: cert, KeyFile: key, CAFile: ca.CAFile}
}
