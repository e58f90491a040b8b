package pcscf

import (
	"strings"
	"testing"

	"github.com/emiago/sipgo/sip"

	"github.com/imscore/imscore/services/pcscf/qos"
	"github.com/imscore/imscore/sip/header"
	"github.com/imscore/imscore/sip/proxy"
)

// TestQoSConfig: the qos section's checks and the DSCP default.
func TestQoSConfig(t *testing.T) {
	zero, bad := 0, 64
	for _, tt := range []struct {
		name string
		c    QoSConfig
		ok   bool
		dscp uint8
	}{
		{"off", QoSConfig{}, true, 26},
		{"dscp off", QoSConfig{DSCPSIP: &zero}, true, 0},
		{"dscp out of range", QoSConfig{DSCPSIP: &bad}, false, 0},
		{"rx without pcrf", QoSConfig{Config: qos.Config{Mode: qos.ModeRx, PCRFRealm: "epc"}, OriginHost: "p", OriginRealm: "r"}, false, 26},
		{"rx", QoSConfig{Config: qos.Config{Mode: qos.ModeRx, PCRFRealm: "epc"}, PCRF: "10.0.0.5:3868", OriginHost: "p", OriginRealm: "r"}, true, 26},
		{"rx without identity", QoSConfig{Config: qos.Config{Mode: qos.ModeRx, PCRFRealm: "epc"}, PCRF: "10.0.0.5:3868"}, false, 26},
		{"n5", QoSConfig{Config: qos.Config{Mode: qos.ModeN5, PCF: "http://pcf:7777", NotifyURI: "http://10.0.0.1:7778/cb"}, NotifyListen: "10.0.0.1:7778"}, true, 26},
		{"n5 without listener", QoSConfig{Config: qos.Config{Mode: qos.ModeN5, PCF: "http://pcf:7777", NotifyURI: "http://10.0.0.1:7778/cb"}}, false, 26},
		{"n5 with a bad pcf", QoSConfig{Config: qos.Config{Mode: qos.ModeN5, PCF: "pcf:7777", NotifyURI: "http://10.0.0.1:7778/cb"}, NotifyListen: "10.0.0.1:7778"}, false, 26},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.c.validate(); (err == nil) != tt.ok {
				t.Fatalf("validate = %v, want ok=%t", err, tt.ok)
			}
			if tt.ok && tt.c.sipDSCP() != tt.dscp {
				t.Fatalf("dscp %d, want %d", tt.c.sipDSCP(), tt.dscp)
			}
		})
	}
}

// TestQoSHelpers: what the hook reads from SIP messages and the BYE it builds for a release.
func TestQoSHelpers(t *testing.T) {
	req := sip.NewRequest(sip.INVITE, sip.Uri{Scheme: "sip", User: "bob", Host: "ims.test"})
	req.AppendHeader(sip.NewHeader("Content-Type", "application/SDP; charset=utf-8"))
	req.SetBody([]byte("v=0\r\n"))
	if b := sdpBody(req); string(b) != "v=0\r\n" {
		t.Fatalf("sdpBody %q", b)
	}
	other := sip.NewRequest(sip.MESSAGE, sip.Uri{Scheme: "sip", Host: "ims.test"})
	other.AppendHeader(sip.NewHeader("Content-Type", "text/plain"))
	other.SetBody([]byte("hello"))
	if sdpBody(other) != nil {
		t.Fatal("a text/plain body taken for SDP")
	}
	d := proxy.Decision{AddHeaders: []sip.Header{sip.NewHeader(header.PChargingVector, `icid-value="abc123";icid-generated-at=10.0.0.1`)}}
	if got := icidOf(req, &d); got != "abc123" {
		t.Fatalf("icid %q", got)
	}
	var hop sip.Uri
	if err := sip.ParseUri("sip:scscf.ims.test:6060;lr", &hop); err != nil {
		t.Fatal(err)
	}
	route := []sip.Uri{hop}
	bye := byeRequest(sip.Uri{Scheme: "sip", User: "bob", Host: "10.0.0.9", Port: 5060}, "cid-1",
		sip.Uri{Scheme: "sip", User: "alice", Host: "ims.test"}, "ta", sip.Uri{Scheme: "sip", User: "bob", Host: "ims.test"}, "tb",
		7, `SIP;cause=503;text="bearer lost"`, route)
	s := bye.String()
	for _, want := range []string{"BYE sip:bob@10.0.0.9:5060 SIP/2.0", "<sip:alice@ims.test>;tag=ta", "<sip:bob@ims.test>;tag=tb",
		"CSeq: 7 BYE", "Call-ID: cid-1", "Route: <sip:scscf.ims.test:6060;lr>", `Reason: SIP;cause=503;text="bearer lost"`} {
		if !strings.Contains(s, want) {
			t.Errorf("BYE lacks %q:\n%s", want, s)
		}
	}
	if k := qosKey(keyOf("sip:alice@ims.test", "c1")); !strings.Contains(k, "\n") {
		t.Fatalf("qosKey %q", k)
	}
}

// TestQoSDeregisterContact: the Contact of the de-REGISTER sent after signalling loss names the binding as the
// S-CSCF matches it (instance and reg-id, or the contact URI), and the home domain comes from the IMPI.
func TestQoSDeregisterContact(t *testing.T) {
	for _, tt := range []struct {
		reg  Registration
		want string
	}{
		{Registration{Contact: `<urn:uuid:00000000-0000-1000-8000-000a95a0e128>;reg-id=1`, ContactHost: "10.45.0.7", ContactPort: 5060},
			`<sip:10.45.0.7:5060>;+sip.instance="<urn:uuid:00000000-0000-1000-8000-000a95a0e128>";reg-id=1`},
		{Registration{Contact: `<urn:uuid:00000000-0000-1000-8000-000a95a0e128>`, ContactHost: "2001:db8::7", ContactPort: 5060},
			`<sip:[2001:db8::7]:5060>;+sip.instance="<urn:uuid:00000000-0000-1000-8000-000a95a0e128>"`},
		{Registration{Contact: "001010000000001@10.45.0.7:5060", ContactHost: "10.45.0.7", ContactPort: 5060},
			"<sip:001010000000001@10.45.0.7:5060>"},
		{Registration{Contact: "@10.45.0.7:5070", ContactHost: "10.45.0.7", ContactPort: 5070}, "<sip:10.45.0.7:5070>"},
	} {
		got, err := contactOf(tt.reg)
		if err != nil || got != tt.want {
			t.Errorf("contactOf(%q) = %q, %v; want %q", tt.reg.Contact, got, err, tt.want)
		}
	}
	if _, err := contactOf(Registration{Contact: "x@:0"}); err == nil {
		t.Error("a binding without a contact address gave a Contact")
	}
	for _, tt := range []struct{ impi, impu, want string }{
		{"001010000000001@ims.mnc001.mcc001.3gppnetwork.org", "tel:+15550001", "ims.mnc001.mcc001.3gppnetwork.org"},
		{"alice", "sip:alice@ims.test", "ims.test"},
		{"alice", "tel:+15550001", ""},
	} {
		if got := homeDomain(Registration{IMPI: tt.impi, IMPU: tt.impu}); got != tt.want {
			t.Errorf("homeDomain(%s, %s) = %q, want %q", tt.impi, tt.impu, got, tt.want)
		}
	}
}
