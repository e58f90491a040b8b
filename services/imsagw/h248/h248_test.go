package h248

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

const offerSDP = "v=0\r\no=- 0 0 IN IP4 $\r\ns=-\r\nc=IN IP4 $\r\nt=0 0\r\nm=message $ TCP/MSRP *\r\na=accept-types:message/cpim\r\na=path:msrp://$:$/$;tcp\r\n"

const answerSDP = "v=0\r\no=- 0 0 IN IP4 192.0.2.20\r\ns=-\r\nc=IN IP4 192.0.2.20\r\nt=0 0\r\nm=message 40002 TCP/MSRP *\r\na=accept-types:message/cpim\r\na=path:msrp://192.0.2.20:40002/agw1;tcp\r\n"

func sampleMessages() []*Message {
	return []*Message{
		{Version: Version, MID: "[192.0.2.10]:2944", Body: []*Node{
			Request(1, Choose, Command("Add", Choose, []Stream{{ID: 1, Mode: ModeSendReceive,
				Properties: []*Node{Prop("ipdc/realm", `"access"`)}, Local: offerSDP}})),
		}},
		{Version: Version, MID: "<agw.ims.example.net>:2944", Body: []*Node{
			Reply(1, "17", Assign("Add", "ip/1/access/5", Token("Media", Assign("Stream", "1",
				Octets("Local", answerSDP))))),
		}},
		{Version: Version, MID: "[192.0.2.10]:2944", Body: []*Node{
			Request(2, "17", Command("Modify", "ip/1/access/5", []Stream{{ID: 1, Mode: ModeSendReceive,
				Remote: "v=0\r\nc=IN IP4 192.0.2.99\r\nm=message 7394 TCP/TLS/MSRP *\r\na=x:{curly}\r\n"}})),
			Request(3, "17", Subtract("ip/1/access/5")),
		}},
		{Version: Version, MID: "<agw.ims.example.net>:2944", Body: []*Node{
			ErrorReply(4, 411, `The transaction refers to an unknown ContextId`), Pending(5),
		}},
		{Version: Version, MID: "<agw.ims.example.net>:2944", Body: []*Node{
			Request(6, "17", Notify("ip/1/access/5", 2222, Token("g/cause", Prop("Generalcause", "NR"),
				Prop("Failurecause", `"bearer released"`)))),
		}},
	}
}

func TestRoundTrip(t *testing.T) {
	for i, m := range sampleMessages() {
		b := Encode(m)
		got, err := Parse(b)
		if err != nil {
			t.Fatalf("message %d: Parse(Encode) = %v\n%s", i, err, b)
		}
		if !reflect.DeepEqual(got, m) {
			t.Fatalf("message %d: round trip differs\n%s\ngot %#v\nwant %#v", i, b, got.Body[0], m.Body[0])
		}
	}
}

// TestParseCompactAndComments reads the short tokens, compact spacing and comments of Annex B.
func TestParseCompactAndComments(t *testing.T) {
	const text = "; a comment\r\n!/3 [2001:db8::1]:2944 T=9{C=${A=${M{ST=1{O{MO=SR,ipdc/realm=\"core\"},L{v=0\r\nc=IN IP6 $\r\n}}}}}}"
	m, err := Parse([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	if m.Version != 3 || m.MID != "[2001:db8::1]:2944" {
		t.Fatalf("header: %+v", m)
	}
	ts, err := Transactions(m)
	if err != nil || len(ts) != 1 || ts[0].Kind != KindRequest || ts[0].ID != 9 || ts[0].Actions[0].Context != "$" {
		t.Fatalf("Transactions = %+v, %v", ts, err)
	}
	add := ts[0].Actions[0].Commands[0]
	ss := Streams(add)
	if add.Name != "A" || add.Value != "$" || len(ss) != 1 || ss[0].Mode != "SR" || ss[0].Local != "v=0\r\nc=IN IP6 $\r\n" {
		t.Fatalf("command %+v streams %+v", add, ss)
	}
	if v, ok := ss[0].Properties[0].Name, ss[0].Properties[0].Value == `"core"`; v != "ipdc/realm" || !ok {
		t.Fatalf("property %+v", ss[0].Properties[0])
	}
}

func TestTransactionsErrorReply(t *testing.T) {
	m, err := Parse(Encode(sampleMessages()[3]))
	if err != nil {
		t.Fatal(err)
	}
	ts, err := Transactions(m)
	if err != nil || len(ts) != 2 || ts[0].Error == nil || ts[0].Error.Code != 411 || ts[1].Kind != KindPending || ts[1].ID != 5 {
		t.Fatalf("Transactions = %+v, %v", ts, err)
	}
}

func TestParseErrors(t *testing.T) {
	for name, text := range map[string]string{
		"empty":                 "",
		"no version":            "MEGACO [1.2.3.4]:2944 T=1{C=-{}}",
		"bad version":           "MEGACO/x [1.2.3.4]:2944 T=1{}",
		"authentication header": "AU=1:2:3 MEGACO/3 [1.2.3.4]:2944 T=1{}",
		"unterminated mId":      "MEGACO/3 [1.2.3.4:2944 T=1{}",
		"bad port":              "MEGACO/3 [1.2.3.4]:99999 T=1{}",
		"no body":               "MEGACO/3 [1.2.3.4]:2944",
		"unclosed brace":        "MEGACO/3 [1.2.3.4]:2944 T=1{C=-{A=x}",
		"trailing comma":        "MEGACO/3 [1.2.3.4]:2944 T=1{C=-{A=x,}}",
		"unterminated quote":    "MEGACO/3 [1.2.3.4]:2944 T=1{C=-{A=x{O{ipdc/realm=\"a}}}}",
		"unterminated octets":   "MEGACO/3 [1.2.3.4]:2944 T=1{C=-{A=x{M{L{v=0}",
		"deep":                  "MEGACO/3 [1.2.3.4]:2944 " + strings.Repeat("a{", MaxDepth+2) + strings.Repeat("}", MaxDepth+2),
		"too many elements":     "MEGACO/3 [1.2.3.4]:2944 T=1{" + strings.Repeat("a,", MaxNodes) + "a}",
		"too big":               "MEGACO/3 [1.2.3.4]:2944 T=1{}" + strings.Repeat(" ", MaxMessageSize),
		"garbage":               "MEGACO/3 [1.2.3.4]:2944 T=1{C=-{=}}",
	} {
		if m, err := Parse([]byte(text)); !errors.Is(err, ErrSyntax) {
			t.Errorf("%s: Parse = %+v, %v; want ErrSyntax", name, m, err)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, m := range sampleMessages() {
		f.Add(Encode(m))
	}
	f.Add([]byte("!/3 [2001:db8::1]:2944 T=9{C=${A=${M{ST=1{O{MO=SR},L{v=0}}}}}}"))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Parse(b)
		if err != nil {
			return
		}
		_, _ = Transactions(m)
		// What parses re-encodes to something that parses to the same tree.
		again, err := Parse(Encode(m))
		if err != nil {
			t.Fatalf("re-encoded message does not parse: %v\n%q\n%q", err, b, Encode(m))
		}
		if !reflect.DeepEqual(again, m) {
			t.Fatalf("re-encoding changed the tree\n%q\n%q", b, Encode(m))
		}
	})
}
