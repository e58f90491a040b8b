package eapapp

import (
	"bytes"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/fiorix/go-diameter/v4/diam"
	"github.com/fiorix/go-diameter/v4/diam/datatype"
	"github.com/fiorix/go-diameter/v4/diam/dict"

	"github.com/imscore/imscore/diameter"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	var clean []string
	for _, l := range strings.Split(s, "\n") {
		if i := strings.Index(l, "#"); i >= 0 {
			l = l[:i]
		}
		clean = append(clean, l)
	}
	b, err := hex.DecodeString(strings.Join(strings.Fields(strings.Join(clean, " ")), ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func newDict(t testing.TB) *dict.Parser {
	t.Helper()
	d, err := NewDictionary()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// derVector is a DER laid out from RFC 4072 §3.1 and RFC 6733 §3, §4.1.
const derVector = `
	01 000084            # Version 1, Message Length 132
	c0 00010c            # flags R|P, Command-Code 268 (Diameter-EAP)
	00000005             # Application-Id 5 (Diameter EAP)
	00000001 00000002    # Hop-by-Hop, End-to-End
	00000107 40 00000f 7061613b313b32 00          # Session-Id "paa;1;2"
	00000102 40 00000c 00000005                   # Auth-Application-Id 5
	00000108 40 00000b 706161 00                  # Origin-Host "paa"
	00000128 40 00000b 696d73 00                  # Origin-Realm "ims"
	0000011b 40 00000b 696d73 00                  # Destination-Realm "ims"
	00000112 40 00000c 00000003                   # Auth-Request-Type AUTHORIZE_AUTHENTICATE
	00000001 40 00000d 6140696d73 000000          # User-Name "a@ims"
	000001ce 40 000012 0201000a016140696d73 0000  # EAP-Payload: EAP-Response/Identity "a@ims"`

func sampleDER() *DER {
	return &DER{SessionID: "paa;1;2", OriginHost: "paa", OriginRealm: "ims", DestinationRealm: "ims", UserName: "a@ims",
		EAPPayload: []byte{2, 1, 0, 10, 1, 'a', '@', 'i', 'm', 's'}}
}

func TestDERVector(t *testing.T) {
	d := newDict(t)
	m, err := sampleDER().Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	m.Header.HopByHopID, m.Header.EndToEndID = 1, 2
	got, err := m.Serialize()
	if err != nil {
		t.Fatal(err)
	}
	want := unhex(t, derVector)
	if !bytes.Equal(got, want) {
		t.Fatalf("DER\n got %x\nwant %x", got, want)
	}
	parsed, err := diam.ReadMessage(bytes.NewReader(want), d)
	if err != nil {
		t.Fatal(err)
	}
	var r DER
	if err := r.Unmarshal(parsed); err != nil {
		t.Fatal(err)
	}
	if r.SessionID != "paa;1;2" || r.UserName != "a@ims" || !bytes.Equal(r.EAPPayload, sampleDER().EAPPayload) || len(r.Unknown) != 0 {
		t.Fatalf("decoded %+v", r)
	}
}

func TestDEARoundTrip(t *testing.T) {
	d := newDict(t)
	a := NewDEA(sampleDER(), "hss", "ims")
	a.ResultCode, a.UserName, a.EAPPayload = ResultSuccess, "a@ims", []byte{3, 7, 0, 4}
	a.EAPMasterSessionKy, a.SessionTimeout, a.State = bytes.Repeat([]byte{9}, 64), time.Hour, []byte("st")
	m, err := a.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := m.Serialize()
	if err != nil {
		t.Fatal(err)
	}
	back, err := diam.ReadMessage(bytes.NewReader(raw), d)
	if err != nil {
		t.Fatal(err)
	}
	var got DEA
	if err := got.Unmarshal(back); err != nil {
		t.Fatal(err)
	}
	if got.ResultCode != ResultSuccess || got.SessionTimeout != time.Hour || !bytes.Equal(got.EAPMasterSessionKy, a.EAPMasterSessionKy) ||
		string(got.State) != "st" || got.UserName != "a@ims" || got.SessionID != "paa;1;2" {
		t.Fatalf("decoded %+v", got)
	}
	if msk, _ := back.FindAVP(AVPEAPMasterSessionKey, 0); msk == nil || msk.Flags&0x40 != 0 {
		t.Fatalf("EAP-Master-Session-Key %v: the M bit must not be set (RFC 4072 §6)", msk)
	}
}

func TestSTRRoundTrip(t *testing.T) {
	d := newDict(t)
	m, err := (&STR{SessionID: "s", OriginHost: "paa", OriginRealm: "ims", DestinationRealm: "ims", TerminationCause: TerminationLogout, UserName: "a@ims"}).Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := m.Serialize()
	back, err := diam.ReadMessage(bytes.NewReader(raw), d)
	if err != nil {
		t.Fatal(err)
	}
	var r STR
	if err := r.Unmarshal(back); err != nil || r.TerminationCause != TerminationLogout || r.UserName != "a@ims" {
		t.Fatalf("%+v %v", r, err)
	}
}

func TestDERMissing(t *testing.T) {
	d := newDict(t)
	der := sampleDER()
	der.EAPPayload = nil
	m, _ := der.Marshal(d)
	var r DER
	var de *diameter.Error
	if err := r.Unmarshal(m); !errors.As(err, &de) || de.Code != diameter.MissingAVP {
		t.Fatalf("err %v, want DIAMETER_MISSING_AVP", err)
	}
	var a DEA
	if err := a.Unmarshal(m); !errors.As(err, &de) || de.Code != diameter.UnableToComply {
		t.Fatalf("a DER read as a DEA: %v", err)
	}
}

// FuzzUnmarshal builds messages of any AVPs of this application, with any value types (what the peer
// layer's decoder may hand over, diameter/peer decode.go), and decodes them as each command: an error or a
// struct, never a panic. (The bytes themselves are the peer layer's to decode and fuzz: go-diameter's own
// reader panics on a bad AVP header, which is why the peer layer does not use it.)
func FuzzUnmarshal(f *testing.F) {
	d := newDict(f)
	codes := []uint32{AVPSessionID, AVPOriginHost, AVPOriginRealm, AVPDestinationRealm, AVPDestinationHost, AVPUserName,
		AVPEAPPayload, AVPState, AVPAuthApplicationID, AVPAuthRequestType, AVPResultCode, AVPEAPMasterSessionKey,
		AVPMultiRoundTimeOut, AVPSessionTimeout, AVPErrorMessage, AVPTerminationCause, 999}
	f.Add([]byte{0, 0, 3, 'a', ';', 'b', 6, 2, 4, 2, 1, 0, 5, 1})
	f.Add([]byte{10, 3, 4, 0, 0, 7, 209, 1, 1, 2, 'h', 's'})
	f.Fuzz(func(t *testing.T, b []byte) {
		var avps []*diam.AVP
		for len(b) >= 3 {
			code, typ, n := codes[int(b[0])%len(codes)], b[1]%4, min(int(b[2]), len(b)-3)
			v := b[3 : 3+n]
			b = b[3+n:]
			var data datatype.Type
			switch typ {
			case 0:
				data = datatype.OctetString(v)
			case 1:
				data = datatype.UTF8String(v)
			case 2:
				data = datatype.DiameterIdentity(v)
			default:
				data = datatype.Unsigned32(len(v))
			}
			avps = append(avps, diam.NewAVP(code, 0, 0, data))
		}
		for _, c := range []struct {
			cmd     uint32
			request bool
			into    interface{ Unmarshal(*diam.Message) error }
		}{{CmdDiameterEAP, true, &DER{}}, {CmdDiameterEAP, false, &DEA{}}, {CmdSessionTermination, true, &STR{}},
			{CmdSessionTermination, false, &STA{}}} {
			m, _ := newMessage(c.cmd, c.request, d)
			m.AVP = avps
			if err := c.into.Unmarshal(m); err != nil {
				var de *diameter.Error
				if !errors.As(err, &de) {
					t.Fatalf("%T: %v is not a *diameter.Error", c.into, err)
				}
			}
		}
	})
}
