package pidf_test

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/imscore/imscore/services/presence/pidf"
)

func mustRead(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseRFCExamples(t *testing.T) {
	d, err := pidf.Parse(mustRead(t, "rfc3863.xml"))
	if err != nil {
		t.Fatal(err)
	}
	if d.Entity != "pres:someone@example.com" || len(d.Elements) != 3 || d.Elements[0].Basic != pidf.Open ||
		d.Elements[0].Note != "Don't Disturb Please!" || d.Elements[2].Kind != pidf.KindNote {
		t.Errorf("RFC 3863 example: %+v", d)
	}
	d, err = pidf.Parse(mustRead(t, "rfc4480.xml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Elements) != 3 || d.Elements[1].Kind != pidf.KindPerson || d.Elements[2].Kind != pidf.KindDevice {
		t.Errorf("RFC 4480 example: %+v", d)
	}
	// The person keeps the rpid prefix the root declared.
	if !strings.Contains(string(d.Elements[1].Raw), `xmlns:rpid="urn:ietf:params:xml:ns:pidf:rpid"`) {
		t.Errorf("person lost its namespaces: %s", d.Elements[1].Raw)
	}
}

func TestParseRejects(t *testing.T) {
	const head = `<presence xmlns="urn:ietf:params:xml:ns:pidf" xmlns:dm="urn:ietf:params:xml:ns:pidf:data-model" entity="sip:a@x">`
	for name, doc := range map[string]string{
		"not xml":         `<presence`,
		"wrong root":      `<presence xmlns="urn:x" entity="sip:a@x"/>`,
		"no entity":       `<presence xmlns="urn:ietf:params:xml:ns:pidf"/>`,
		"no status":       head + `<tuple id="a"/></presence>`,
		"bad basic":       head + `<tuple id="a"><status><basic>maybe</basic></status></tuple></presence>`,
		"no tuple id":     head + `<tuple><status/></tuple></presence>`,
		"duplicate id":    head + `<tuple id="a"><status/></tuple><tuple id="a"><status/></tuple></presence>`,
		"bad timestamp":   head + `<tuple id="a"><status/><timestamp>yesterday</timestamp></tuple></presence>`,
		"device no id":    head + `<dm:device id="d"/></presence>`,
		"person bad id":   head + `<dm:person id="1x"/></presence>`,
		"unknown pidf el": head + `<status/></presence>`,
		"dtd":             `<!DOCTYPE x [<!ENTITY a "b">]>` + head + `</presence>`,
		"trailing text":   head + `</presence>junk`,
	} {
		if _, err := pidf.Parse([]byte(doc)); !errors.Is(err, pidf.ErrInvalid) {
			t.Errorf("%s: err = %v, want ErrInvalid", name, err)
		}
	}
}

// TestCompose: two devices' publications give one document with both tuples, the newest person, and a
// tuple id published by both taken from the newer.
func TestCompose(t *testing.T) {
	const ns = `xmlns="urn:ietf:params:xml:ns:pidf" xmlns:dm="urn:ietf:params:xml:ns:pidf:data-model" xmlns:rpid="urn:ietf:params:xml:ns:pidf:rpid" entity="sip:a@x"`
	phone, _ := pidf.Parse([]byte(`<presence ` + ns + `><tuple id="phone"><status><basic>open</basic></status></tuple>` +
		`<tuple id="shared"><status><basic>open</basic></status></tuple><dm:person id="p"><rpid:activities><rpid:busy/></rpid:activities></dm:person></presence>`))
	pc, _ := pidf.Parse([]byte(`<presence ` + ns + `><tuple id="pc"><status><basic>closed</basic></status><note>away</note></tuple>` +
		`<tuple id="shared"><status><basic>closed</basic></status></tuple><dm:person id="p2"><rpid:activities><rpid:away/></rpid:activities></dm:person></presence>`))
	out := pidf.Compose("sip:a@x", []*pidf.Document{phone, pc})
	d, err := pidf.Parse(out)
	if err != nil {
		t.Fatalf("composed document does not parse: %v\n%s", err, out)
	}
	var tuples []string
	var person string
	for _, e := range d.Elements {
		switch e.Kind {
		case pidf.KindTuple:
			tuples = append(tuples, e.ID+"="+string(e.Basic))
		case pidf.KindPerson:
			person = e.ID
		}
	}
	if strings.Join(tuples, ",") != "phone=open,shared=closed,pc=closed" || person != "p2" {
		t.Errorf("tuples %v person %q\n%s", tuples, person, out)
	}
	if d, err := pidf.Parse(pidf.Neutral("sip:a@x")); err != nil || d.Elements[0].Basic != pidf.Closed {
		t.Errorf("Neutral: %+v %v", d, err)
	}
}

// FuzzParse: no input panics, and what Parse accepts composes into a document Parse accepts again.
func FuzzParse(f *testing.F) {
	f.Add(mustRead(f, "rfc3863.xml"))
	f.Add(mustRead(f, "rfc4480.xml"))
	f.Add(pidf.Neutral("sip:a@x"))
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := pidf.Parse(b)
		if err != nil {
			return
		}
		out := pidf.Compose(d.Entity, []*pidf.Document{d})
		if _, err := pidf.Parse(out); err != nil {
			t.Fatalf("composed from an accepted document: %v\n%s", err, out)
		}
	})
}
