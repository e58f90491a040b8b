package eaptls_test

import (
	"bytes"
	"crypto/tls"
	"errors"
	"testing"

	"github.com/imscore/imscore/services/paa/eap"
	"github.com/imscore/imscore/services/paa/eaptls"
	"github.com/imscore/imscore/services/paa/paatest"
)

const impi = "001010000000001@ims.mnc001.mcc001.3gppnetwork.org"

// exchange runs peer against server to the end and returns both results, the packets and the server's error.
func exchange(t *testing.T, s *eaptls.Server, p *eaptls.Peer) (sr, pr *eaptls.Result, packets int, serr error) {
	t.Helper()
	req := s.Start()
	for packets = 1; packets < 100; packets++ {
		resp, err := p.Handle(req)
		if err != nil {
			if serr == nil {
				t.Logf("peer: %v", err)
			}
			return sr, nil, packets, serr
		}
		if resp == nil {
			pr, err = p.Result()
			if err != nil {
				t.Fatal(err)
			}
			return sr, pr, packets, serr
		}
		req, sr, serr = s.Handle(resp)
		if pk, _ := eap.Parse(req); pk != nil && pk.Code == eap.CodeFailure {
			if _, err := p.Handle(req); !errors.Is(err, eaptls.ErrRejected) {
				t.Fatalf("peer took Failure as %v", err)
			}
			return nil, nil, packets, serr
		}
	}
	t.Fatal("no end after 100 packets")
	return
}

func TestEAPTLS(t *testing.T) {
	ca := paatest.NewCA(t, "operator")
	for _, c := range []struct {
		name     string
		version  uint16
		fragment int
	}{{"TLS 1.3", tls.VersionTLS13, 0}, {"TLS 1.2 with EMS", tls.VersionTLS12, 0}, {"TLS 1.3 in 100-octet fragments", tls.VersionTLS13, 100}} {
		t.Run(c.name, func(t *testing.T) {
			st := ca.ServerTLS("paa.example.net")
			st.MinVersion, st.MaxVersion = c.version, c.version
			s := eaptls.NewServer(eaptls.ServerConfig{TLS: st, Fragment: c.fragment})
			defer s.Close()
			ut := ca.UETLS(impi, "paa.example.net")
			ut.MinVersion = c.version
			p := eaptls.NewPeer(eaptls.PeerConfig{Identity: impi, TLS: ut, Fragment: c.fragment})
			defer p.Close()
			sr, pr, n, err := exchange(t, s, p)
			if err != nil || sr == nil || pr == nil {
				t.Fatalf("server %v %v, peer %v", sr, err, pr)
			}
			if sr.IMPI != impi || sr.TLSVersion != c.version || len(sr.Token) != eaptls.TokenLen || len(sr.MSK) != 64 {
				t.Fatalf("server result %+v", sr)
			}
			if !bytes.Equal(sr.Token, pr.Token) || !bytes.Equal(sr.MSK, pr.MSK) || !bytes.Equal(sr.EMSK, pr.EMSK) {
				t.Fatal("server and peer keys differ")
			}
			if bytes.Equal(sr.Token, sr.MSK[:eaptls.TokenLen]) {
				t.Fatal("token equals the MSK")
			}
			if c.fragment > 0 && n < 10 {
				t.Fatalf("%d packets with 100-octet fragments", n)
			}
		})
	}
}

// TestEAPTLSAnonymousIdentity: an anonymous NAI of the IMPI's realm hides the IMPI from the EAP identity;
// the server learns it from the certificate (RFC 9190 §2.1.8).
func TestEAPTLSAnonymousIdentity(t *testing.T) {
	ca := paatest.NewCA(t, "operator")
	for _, id := range []string{"anonymous@ims.mnc001.mcc001.3gppnetwork.org", "@ims.mnc001.mcc001.3gppnetwork.org"} {
		s := eaptls.NewServer(eaptls.ServerConfig{TLS: ca.ServerTLS("paa")})
		p := eaptls.NewPeer(eaptls.PeerConfig{Identity: id, TLS: ca.UETLS(impi, "paa")})
		sr, pr, _, err := exchange(t, s, p)
		s.Close()
		p.Close()
		if err != nil || sr == nil || pr == nil || sr.IMPI != impi || pr.IMPI != impi || !bytes.Equal(sr.Token, pr.Token) {
			t.Fatalf("%s: server %+v, peer %+v, %v", id, sr, pr, err)
		}
	}
}

func TestEAPTLSRefused(t *testing.T) {
	ca := paatest.NewCA(t, "operator")
	other := paatest.NewCA(t, "someone else")
	for _, c := range []struct {
		name string
		peer eaptls.PeerConfig
		want error
	}{
		{"certificate of another CA", eaptls.PeerConfig{Identity: impi, TLS: &tls.Config{RootCAs: ca.Pool, ServerName: "paa",
			Certificates: []tls.Certificate{other.UE(impi).Cert}}}, eaptls.ErrRejected},
		{"identity other than the certificate's", eaptls.PeerConfig{Identity: "someone@else", TLS: ca.UETLS(impi, "paa")}, eaptls.ErrIdentity},
		{"anonymous identity of another realm", eaptls.PeerConfig{Identity: "anonymous@else", TLS: ca.UETLS(impi, "paa")}, eaptls.ErrIdentity},
		{"no client certificate", eaptls.PeerConfig{Identity: impi, TLS: &tls.Config{RootCAs: ca.Pool, ServerName: "paa"}}, eaptls.ErrRejected},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := eaptls.NewServer(eaptls.ServerConfig{TLS: ca.ServerTLS("paa")})
			defer s.Close()
			p := eaptls.NewPeer(c.peer)
			defer p.Close()
			sr, pr, _, err := exchange(t, s, p)
			if sr != nil || pr != nil || !errors.Is(err, c.want) {
				t.Fatalf("server %v, peer %v, err %v; want %v", sr, pr, err, c.want)
			}
		})
	}
}
