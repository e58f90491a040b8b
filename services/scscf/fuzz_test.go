package scscf

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/emiago/sipgo/sip"

	"github.com/imscore/imscore/sip/identity"
)

// FuzzRequestedContacts feeds the REGISTER binding parser (Contact, Expires) and the identity
// canonicaliser with arbitrary header values: errors are fine, panics are not.
func FuzzRequestedContacts(f *testing.F) {
	seeds, _ := filepath.Glob(filepath.Join("testdata", "contacts", "*.txt"))
	for _, p := range seeds {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(b), "600")
	}
	f.Add(`<sip:ue@127.0.0.1:5070>;expires=600;+sip.instance="<urn:gsma:imei:1>"`, "")
	f.Add(`*`, "0")
	s := &Server{cfg: DefaultConfig()}
	f.Fuzz(func(t *testing.T, contact, expires string) {
		req := sip.NewRequest(sip.REGISTER, sip.Uri{Scheme: "sip", Host: "ims.example"})
		req.AppendHeader(sip.NewHeader("Contact", contact))
		if expires != "" {
			req.AppendHeader(sip.NewHeader("Expires", expires))
		}
		list, _, err := s.requestedContacts(req)
		if err != nil {
			return
		}
		for _, c := range list {
			_ = identity.Key(c.uri)
			_ = sameContact(c.uri, c.uri)
		}
	})
}
