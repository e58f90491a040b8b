package pidf_test

import (
	"testing"

	"github.com/imscore/imscore/services/presence/pidf"
	"github.com/imscore/imscore/services/presence/xsdtest"
)

// TestSchemaServedDocuments: what the presence server sends — the composition of several devices'
// publications (with the data model and RPID), the neutral document — validates against PIDF
// (RFC 3863), the data model (RFC 4479) and RPID (RFC 4480) with xmllint; so do the RFC examples it
// accepts.
func TestSchemaServedDocuments(t *testing.T) {
	for _, f := range []string{"rfc3863.xml", "rfc4480.xml"} {
		xsdtest.Valid(t, xsdtest.Presence, mustRead(t, f))
	}
	const ns = `xmlns="urn:ietf:params:xml:ns:pidf" xmlns:dm="urn:ietf:params:xml:ns:pidf:data-model" xmlns:rpid="urn:ietf:params:xml:ns:pidf:rpid" entity="sip:a@x"`
	phone, err := pidf.Parse([]byte(`<presence ` + ns + `><tuple id="phone"><status><basic>open</basic></status><note>phone</note></tuple>` +
		`<note>global</note><dm:person id="p"><rpid:activities><rpid:busy/></rpid:activities><dm:note>busy</dm:note></dm:person>` +
		`<dm:device id="d1"><dm:deviceID>urn:uuid:00000000-0000-4000-8000-000000000001</dm:deviceID></dm:device></presence>`))
	if err != nil {
		t.Fatal(err)
	}
	rfc, err := pidf.Parse(mustRead(t, "rfc4480.xml"))
	if err != nil {
		t.Fatal(err)
	}
	xsdtest.Valid(t, xsdtest.Presence, pidf.Compose("sip:a@x", []*pidf.Document{phone, rfc}))
	xsdtest.Valid(t, xsdtest.Presence, pidf.Compose("sip:a@x", nil))
	xsdtest.Valid(t, xsdtest.Presence, pidf.Neutral("sip:a@x"))
}

// TestSchemaAccepted: every PIDF document Parse accepts validates against the schemas (Parse is
// stricter or equal, never looser); the documents it refuses here are refused by xmllint too.
func TestSchemaAccepted(t *testing.T) {
	const head = `<presence xmlns="urn:ietf:params:xml:ns:pidf" xmlns:dm="urn:ietf:params:xml:ns:pidf:data-model" xmlns:rpid="urn:ietf:params:xml:ns:pidf:rpid" entity="sip:a@x">`
	for _, doc := range []string{
		head + `</presence>`,
		head + `<tuple id="a"><status/></tuple></presence>`,
		head + `<tuple id="a"><status><basic>closed</basic></status><contact priority="1.0">sip:a@x</contact><timestamp>2026-12-07T10:00:00Z</timestamp></tuple></presence>`,
		head + `<tuple id="a"><status><basic>open</basic></status><note>x</note><note xml:lang="fr">y</note></tuple><note>z</note></presence>`,
		head + `<dm:person id="p"><rpid:mood><rpid:happy/></rpid:mood></dm:person><dm:device id="d"><dm:deviceID>mac:1</dm:deviceID></dm:device></presence>`,
		head + `<tuple id="a"><status><basic>maybe</basic></status></tuple></presence>`,
		head + `<tuple id="a"><status/></tuple><tuple id="a"><status/></tuple></presence>`,
		head + `<tuple id="a"><status/><timestamp>yesterday</timestamp></tuple></presence>`,
		head + `<dm:device id="d"/></presence>`,
		head + `<dm:person id="1x"/></presence>`,
		head + `<status/></presence>`,
		`<presence xmlns="urn:ietf:params:xml:ns:pidf"/>`,
	} {
		_, perr := pidf.Parse([]byte(doc))
		ok, msg := xsdtest.Check(t, xsdtest.Presence, []byte(doc))
		if perr == nil && !ok {
			t.Errorf("Parse accepts a document the schema refuses:\n%s\n%s", doc, msg)
		}
		if perr != nil && ok {
			t.Logf("Parse refuses a schema-valid document (stricter, allowed): %v\n%s", perr, doc)
		}
	}
	// The validator itself refuses what the schema forbids.
	if ok, _ := xsdtest.Check(t, xsdtest.Presence, []byte(`<presence xmlns="urn:ietf:params:xml:ns:pidf"/>`)); ok {
		t.Fatal("xmllint accepts a presence without entity: the schema is not applied")
	}
}
