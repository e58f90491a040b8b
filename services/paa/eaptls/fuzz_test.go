package eaptls_test

import (
	"testing"

	"github.com/imscore/imscore/services/paa/eap"
	"github.com/imscore/imscore/services/paa/eaptls"
	"github.com/imscore/imscore/services/paa/paatest"
)

// FuzzServer feeds arbitrary EAP responses to a server past its identity step: a Failure or the next
// request, never a panic or a hang.
func FuzzServer(f *testing.F) {
	ca := paatest.NewCA(f, "operator")
	cfg := ca.ServerTLS("paa")
	f.Add([]byte{0x80, 0, 0, 0, 4})          // L flag, 4 octets announced, none sent
	f.Add([]byte{0x40, 0x16, 0x03, 0x01})    // M flag, a TLS record's start
	f.Add([]byte{0x00, 0x16, 0x03, 0x01, 0}) // a truncated record
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		s := eaptls.NewServer(eaptls.ServerConfig{TLS: cfg})
		defer s.Close()
		req, _ := eap.Parse(s.Start())
		out, _, _ := s.Handle((&eap.Packet{Code: eap.CodeResponse, ID: req.ID, Type: eap.TypeIdentity, Data: []byte("a@b")}).Marshal())
		for range 3 {
			req, err := eap.Parse(out)
			if err != nil || req.Code != eap.CodeRequest {
				return
			}
			out, _, _ = s.Handle((&eap.Packet{Code: eap.CodeResponse, ID: req.ID, Type: eap.TypeTLS, Data: data}).Marshal())
		}
	})
}

// FuzzPeer feeds arbitrary EAP-TLS requests to a peer after its Start: an error or a response, never a
// panic or a hang (the PaC reads them from the network).
func FuzzPeer(f *testing.F) {
	ca := paatest.NewCA(f, "operator")
	cfg := ca.UETLS("a@b", "paa")
	f.Add([]byte{0x80, 0, 0, 0, 4})
	f.Add([]byte{0xc0, 0, 0, 0x10, 0, 0x16, 0x03, 0x03})
	f.Add([]byte{0x00, 0x16, 0x03, 0x03, 0, 2, 2, 40}) // an alert record
	f.Add([]byte{0x20})
	f.Fuzz(func(t *testing.T, data []byte) {
		p := eaptls.NewPeer(eaptls.PeerConfig{Identity: "a@b", TLS: cfg})
		defer p.Close()
		if _, err := p.Handle((&eap.Packet{Code: eap.CodeRequest, ID: 1, Type: eap.TypeTLS, Data: []byte{0x20}}).Marshal()); err != nil {
			t.Fatal(err)
		}
		for id := range uint8(3) {
			if _, err := p.Handle((&eap.Packet{Code: eap.CodeRequest, ID: id + 2, Type: eap.TypeTLS, Data: data}).Marshal()); err != nil {
				return
			}
		}
	})
}
