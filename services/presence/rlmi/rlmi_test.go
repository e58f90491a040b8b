package rlmi_test

import (
	"strings"
	"testing"

	"github.com/imscore/imscore/services/presence/rlmi"
	"github.com/imscore/imscore/services/presence/xsdtest"
)

// rfcExample is the NOTIFY body of RFC 4662 §6.5 (first NOTIFY), CRLF line ends, shortened to two
// resources.
const rfcExample = "--50UBfW7LSCVLtggUPe5z\r\n" +
	"Content-Transfer-Encoding: binary\r\n" +
	"Content-ID: <nXYxAE@pres.vancouver.example.com>\r\n" +
	"Content-Type: application/rlmi+xml;charset=\"UTF-8\"\r\n\r\n" +
	"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\r\n" +
	"<list xmlns=\"urn:ietf:params:xml:ns:rlmi\" uri=\"sip:adam-friends@pres.vancouver.example.com\" version=\"1\" fullState=\"true\">\r\n" +
	"  <name xml:lang=\"en\">Buddy List at COM</name>\r\n" +
	"  <resource uri=\"sip:bob@vancouver.example.com\"><name>Bob Smith</name>\r\n" +
	"    <instance id=\"juwigmtboe\" state=\"active\" cid=\"bUZBsM@pres.vancouver.example.com\"/></resource>\r\n" +
	"  <resource uri=\"sip:ed@dallas.example.net\"><name>Ed at NET</name>\r\n" +
	"    <instance id=\"i1\" state=\"pending\"/></resource>\r\n" +
	"</list>\r\n\r\n" +
	"--50UBfW7LSCVLtggUPe5z\r\n" +
	"Content-Transfer-Encoding: binary\r\n" +
	"Content-ID: <bUZBsM@pres.vancouver.example.com>\r\n" +
	"Content-Type: application/pidf+xml;charset=\"UTF-8\"\r\n\r\n" +
	"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\r\n" +
	"<presence xmlns=\"urn:ietf:params:xml:ns:pidf\" entity=\"sip:bob@vancouver.example.com\">\r\n" +
	"  <tuple id=\"9r28r49\"><status><basic>open</basic></status></tuple>\r\n</presence>\r\n\r\n" +
	"--50UBfW7LSCVLtggUPe5z--\r\n"

const rfcType = `multipart/related;type="application/rlmi+xml";start="<nXYxAE@pres.vancouver.example.com>";boundary="50UBfW7LSCVLtggUPe5z"`

func TestParseRFCExample(t *testing.T) {
	l, parts, err := rlmi.Parse(rfcType, []byte(rfcExample))
	if err != nil {
		t.Fatal(err)
	}
	if l.URI != "sip:adam-friends@pres.vancouver.example.com" || l.Version != 1 || !l.FullState || len(l.Resources) != 2 {
		t.Fatalf("%+v", l)
	}
	in := l.Resources[0].Instances[0]
	if in.State != rlmi.StateActive || !strings.Contains(string(parts[in.CID].Body), "sip:bob@vancouver.example.com") ||
		parts[in.CID].ContentType != "application/pidf+xml" {
		t.Fatalf("instance %+v parts %+v", in, parts)
	}
	if l.Resources[1].Instances[0].State != rlmi.StatePending || l.Resources[1].Names[0] != "Ed at NET" {
		t.Errorf("second resource %+v", l.Resources[1])
	}
}

func TestBuildParse(t *testing.T) {
	l := &rlmi.List{URI: "sip:list@x", Version: 3, Resources: []rlmi.Resource{
		{URI: "sip:a@x", Instances: []rlmi.Instance{{ID: "a", State: rlmi.StateActive, CID: "a1@x"}}},
		{URI: "sip:b@x", Instances: []rlmi.Instance{{ID: "b", State: rlmi.StateTerminated, Reason: "rejected"}}},
	}}
	ctype, body, err := rlmi.Build(l, []rlmi.Part{{CID: "a1@x", ContentType: "application/pidf+xml", Body: []byte("<presence/>")}}, "x")
	if err != nil {
		t.Fatal(err)
	}
	got, parts, err := rlmi.Parse(ctype, body)
	if err != nil {
		t.Fatalf("%v\n%s\n%s", err, ctype, body)
	}
	if got.Version != 3 || got.FullState || got.Resources[1].Instances[0].Reason != "rejected" || string(parts["a1@x"].Body) != "<presence/>" {
		t.Errorf("round trip: %+v %+v", got, parts)
	}
}

func TestParseRejects(t *testing.T) {
	for name, tc := range map[string][2]string{
		"not multipart":   {"application/pidf+xml", "<presence/>"},
		"other type":      {`multipart/related;type="text/plain";boundary=b`, "--b\r\n\r\nx\r\n--b--\r\n"},
		"no root":         {`multipart/related;boundary=b`, "--b--\r\n"},
		"root not rlmi":   {`multipart/related;boundary=b`, "--b\r\nContent-Type: text/plain\r\n\r\nx\r\n--b--\r\n"},
		"bad state":       {`multipart/related;boundary=b`, "--b\r\nContent-Type: application/rlmi+xml\r\n\r\n<list xmlns=\"urn:ietf:params:xml:ns:rlmi\" uri=\"sip:l@x\" version=\"0\" fullState=\"true\"><resource uri=\"sip:a@x\"><instance id=\"1\" state=\"weird\"/></resource></list>\r\n--b--\r\n"},
		"not well-formed": {`multipart/related;boundary=b`, "--b\r\nContent-Type: application/rlmi+xml\r\n\r\n<list\r\n--b--\r\n"},
		"truncated":       {`multipart/related;boundary=b`, "--b\r\nContent-Type: application/rlmi+xml\r\n\r\n<list"},
	} {
		if _, _, err := rlmi.Parse(tc[0], []byte(tc[1])); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add(rfcType, []byte(rfcExample))
	f.Add(`multipart/related;boundary=b`, []byte("--b\r\nContent-Type: application/rlmi+xml\r\n\r\n<list/>\r\n--b--\r\n"))
	f.Fuzz(func(t *testing.T, ctype string, body []byte) {
		l, _, err := rlmi.Parse(ctype, body)
		if err == nil && l == nil {
			t.Fatal("nil list without error")
		}
	})
}

// TestSchema: the RLMI of RFC 4662 §6.5's example and of Build validate against RFC 4662's schema.
func TestSchema(t *testing.T) {
	root := rfcExample[strings.Index(rfcExample, "<?xml") : strings.Index(rfcExample, "</list>")+len("</list>")]
	xsdtest.Valid(t, xsdtest.RLMI, []byte(root))
	l := &rlmi.List{URI: "sip:list@x", Version: 7, Names: []string{"Friends"}, Resources: []rlmi.Resource{
		{URI: "sip:a@x", Names: []string{"A"}, Instances: []rlmi.Instance{{ID: "a", State: rlmi.StateTerminated, Reason: "rejected"}}}}}
	_, body, err := rlmi.Build(l, nil, "x")
	if err != nil {
		t.Fatal(err)
	}
	s := string(body)
	xsdtest.Valid(t, xsdtest.RLMI, []byte(s[strings.Index(s, "<?xml"):strings.Index(s, "</list>")+len("</list>")]))
}
