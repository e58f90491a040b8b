package scscf

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/imscore/imscore/services/scscf/registrar"
)

var update = flag.Bool("update", false, "rewrite the golden files")

func TestReginfoGolden(t *testing.T) {
	now := time.Date(2026, 11, 21, 8, 0, 0, 0, time.UTC)
	reg := &registrar.Registration{
		IMPU: "sip:15550000001@ims.mnc001.mcc001.3gppnetwork.org",
		IMPI: "001010000000001@ims.mnc001.mcc001.3gppnetwork.org",
		Identities: []registrar.Identity{
			{URI: "sip:15550000001@ims.mnc001.mcc001.3gppnetwork.org"},
			{URI: "sip:001010000000001@ims.mnc001.mcc001.3gppnetwork.org", Barred: true},
			{URI: "tel:15550000001"},
		},
		Contacts: []registrar.Contact{
			{URI: "sip:ue@127.0.0.1:5070", ID: "1", CallID: "c1@ue", CSeq: 2, Expires: now.Add(600 * time.Second)},
			{URI: "sip:ue@[::1]:5070;transport=tcp", ID: "2", CallID: "c2@ue", CSeq: 9, Expires: now.Add(30 * time.Second)},
		},
	}
	tests := []struct {
		name       string
		version    uint32
		event      string
		terminated bool
		gone       []registrar.Contact
	}{
		{name: "registered", version: 0, event: EventRegistered},
		{name: "refreshed", version: 3, event: EventRefreshed},
		{name: "deactivated", version: 4, event: EventDeactivated, terminated: true},
		{name: "rejected", version: 5, event: EventRejected, terminated: true},
		{name: "one-contact-unregistered", version: 6, event: EventRegistered,
			gone: []registrar.Contact{{URI: "sip:old@127.0.0.1:5080", ID: "3", CallID: "c3@ue", CSeq: 4}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := buildReginfo(reg, tc.version, tc.event, tc.terminated, now, tc.gone, EventUnregistered).Marshal()
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join("testdata", "reginfo", tc.name+".golden.xml")
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update to create)", err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("document differs from %s:\n%s", path, got)
			}
			// What we write we read back, to the same document.
			doc, err := ParseReginfo(got)
			if err != nil {
				t.Fatal(err)
			}
			if doc.Version != tc.version || len(doc.Registrations) != 2 || len(doc.Registrations[0].Contacts) != 2+len(tc.gone) {
				t.Fatalf("parsed back: %+v", doc)
			}
		})
	}
}

func TestParseReginfo(t *testing.T) {
	rfc, err := os.ReadFile(filepath.Join("testdata", "reginfo", "rfc3680-example.xml"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		doc     string
		wantErr bool
	}{
		{name: "RFC 3680 §6 example", doc: string(rfc)},
		{name: "empty full", doc: `<reginfo xmlns="urn:ietf:params:xml:ns:reginfo" version="1" state="full"/>`},
		{name: "bad state", doc: `<reginfo xmlns="urn:ietf:params:xml:ns:reginfo" version="1" state="half"/>`, wantErr: true},
		{name: "wrong namespace", doc: `<reginfo xmlns="urn:x" version="1" state="full"/>`, wantErr: true},
		{name: "registration without aor", doc: `<reginfo xmlns="urn:ietf:params:xml:ns:reginfo" version="1" state="full"><registration id="a" state="active"/></reginfo>`, wantErr: true},
		{name: "contact bad event", doc: `<reginfo xmlns="urn:ietf:params:xml:ns:reginfo" version="1" state="full"><registration aor="sip:a@b" id="a" state="active"><contact id="1" state="active" event="exploded"><uri>sip:x@y</uri></contact></registration></reginfo>`, wantErr: true},
		{name: "not XML", doc: `reginfo`, wantErr: true},
		{name: "negative version", doc: `<reginfo xmlns="urn:ietf:params:xml:ns:reginfo" version="-1" state="full"/>`, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			doc, err := ParseReginfo([]byte(tc.doc))
			if tc.wantErr {
				if !errors.Is(err, ErrReginfo) {
					t.Fatalf("err %v, want ErrReginfo", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tc.name == "RFC 3680 §6 example" {
				c := doc.Registrations[0].Contacts
				if len(c) != 2 || c[1].Event != EventExpired || c[0].URI != "sip:user@pc887.example.com" {
					t.Fatalf("parsed %+v", doc)
				}
			}
		})
	}
}

func FuzzParseReginfo(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "reginfo", "*.xml"))
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		doc, err := ParseReginfo(b)
		if err != nil {
			return
		}
		// A document we accept marshals and parses back to an accepted document.
		out, err := doc.Marshal()
		if err != nil {
			t.Fatalf("marshal accepted document: %v", err)
		}
		if _, err := ParseReginfo(out); err != nil {
			t.Fatalf("re-parse: %v\n%s", err, out)
		}
	})
}
