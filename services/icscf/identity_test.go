package icscf

import (
	"errors"
	"testing"

	"github.com/emiago/sipgo/sip"

	"github.com/imscore/imscore/sip/identity/identitytest"
)

func parseRequest(t *testing.T, text string) *sip.Request {
	t.Helper()
	m, err := sip.ParseMessage([]byte(text))
	if err != nil {
		t.Fatalf("parse: %v\n%s", err, text)
	}
	req, ok := m.(*sip.Request)
	if !ok {
		t.Fatal("not a request")
	}
	return req
}

func register(extra string) string {
	return "REGISTER sip:" + testDomain + " SIP/2.0\r\n" +
		"Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK1\r\n" +
		"From: <" + testIMPU + ">;tag=1\r\nTo: <" + testIMPU + ">\r\nCall-ID: c1\r\nCSeq: 1 REGISTER\r\n" +
		extra + "Content-Length: 0\r\n\r\n"
}

// TestPublicIdentity: the I-CSCF asks the HSS about the key package identity gives, the same vectors the
// S-CSCF's and P-CSCF's tests run (tel:+1-555-0100 is tel:+15550100 at every node).
func TestPublicIdentity(t *testing.T) {
	if _, err := publicIdentity(nil); !errors.Is(err, ErrNoIdentity) {
		t.Fatalf("publicIdentity(nil) = %v, want ErrNoIdentity", err)
	}
	for _, v := range identitytest.Vectors() {
		t.Run(v.Name, func(t *testing.T) {
			var u sip.Uri
			if err := sip.ParseUri(v.URI, &u); err != nil {
				if v.Key != "" {
					t.Fatal(err)
				}
				return
			}
			got, err := publicIdentity(&u)
			if v.Key == "" {
				if !errors.Is(err, ErrNoIdentity) {
					t.Fatalf("publicIdentity(%q) = %q, %v; want ErrNoIdentity", v.URI, got, err)
				}
				return
			}
			if err != nil || got != v.Key {
				t.Fatalf("publicIdentity(%q) = %q, %v; want %q", v.URI, got, err, v.Key)
			}
		})
	}
}

func TestPrivateIdentity(t *testing.T) {
	tests := []struct {
		name, extra, impu, want string
	}{
		{name: "authorization username", impu: testIMPU,
			extra: `Authorization: Digest username="x@` + testDomain + `",realm="r",nonce="",uri="sip:r",response=""` + "\r\n",
			want:  "x@" + testDomain},
		{name: "derived from sip IMPU (TS 23.003 §13.3)", impu: testIMPU, want: testIMPI},
		{name: "derived from tel IMPU", impu: "tel:+15551234", want: "+15551234@" + testDomain},
		{name: "unparseable authorization falls back", impu: testIMPU, extra: "Authorization: Basic abc\r\n", want: testIMPI},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := parseRequest(t, register(tt.extra))
			if got := privateIdentity(req, tt.impu, testDomain); got != tt.want {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestIsDeregistration(t *testing.T) {
	tests := []struct {
		name, extra string
		want        bool
	}{
		{name: "no expires", extra: "Contact: <sip:ue@127.0.0.1>\r\n", want: false},
		{name: "Expires 600", extra: "Contact: <sip:ue@127.0.0.1>\r\nExpires: 600\r\n", want: false},
		{name: "Expires 0", extra: "Contact: <sip:ue@127.0.0.1>\r\nExpires: 0\r\n", want: true},
		{name: "contact expires 0", extra: "Contact: <sip:ue@127.0.0.1>;expires=0\r\nExpires: 600\r\n", want: true},
		{name: "one contact kept", extra: "Contact: <sip:ue@127.0.0.1>;expires=0, <sip:ue2@127.0.0.1>;expires=60\r\n", want: false},
		{name: "star", extra: "Contact: *\r\nExpires: 0\r\n", want: true},
		{name: "no contact, Expires 0", extra: "Expires: 0\r\n", want: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := isDeregistration(parseRequest(t, register(tt.extra))); got != tt.want {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestVisitedNetwork(t *testing.T) {
	tests := []struct{ name, extra, want string }{
		{name: "absent: home domain", want: testDomain},
		{name: "token", extra: "P-Visited-Network-ID: other.net\r\n", want: "other.net"},
		{name: "quoted, first of two", extra: "P-Visited-Network-ID: \"Visited Network 1\", other.net\r\n", want: "Visited Network 1"},
		{name: "malformed: home domain", extra: "P-Visited-Network-ID: \"unterminated\r\n", want: testDomain},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := visitedNetwork(parseRequest(t, register(tt.extra)), testDomain); got != tt.want {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
}
