package eapapp

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/imscore/imscore/internal/tshark"
)

// TestTsharkDecodes has Wireshark's Diameter dissector judge a DER, its DEA, an STR and its STA: no
// malformed packet, every AVP named.
func TestTsharkDecodes(t *testing.T) {
	bin := tshark.Find(t)
	d := newDict(t)
	der := sampleDER()
	dea := NewDEA(der, "hss", "ims")
	dea.ResultCode, dea.UserName, dea.EAPPayload = ResultSuccess, "a@ims", []byte{3, 7, 0, 4}
	dea.EAPMasterSessionKy, dea.SessionTimeout = make([]byte, 64), time.Hour
	str := &STR{SessionID: der.SessionID, OriginHost: "paa", OriginRealm: "ims", DestinationRealm: "ims", TerminationCause: TerminationLogout}
	sta := &STA{SessionID: der.SessionID, ResultCode: ResultSuccess, OriginHost: "hss", OriginRealm: "ims"}
	var segs []tshark.Segment
	for i, m := range []interface {
		Marshal(*dictParser) (*diamMessage, error)
	}{der, dea, str, sta} {
		msg, err := m.Marshal(d)
		if err != nil {
			t.Fatal(err)
		}
		msg.Header.HopByHopID, msg.Header.EndToEndID = uint32(i/2+1), uint32(i/2+1)
		b, err := msg.Serialize()
		if err != nil {
			t.Fatal(err)
		}
		segs = append(segs, tshark.Segment{Payload: b, FromClient: i%2 == 0})
	}
	path := filepath.Join(t.TempDir(), "eap.pcap")
	if err := tshark.WritePcap(path, tshark.Conversation{ClientPort: 40000, ServerPort: 3868}, segs); err != nil {
		t.Fatal(err)
	}
	out := tshark.DecodeDiameter(t, bin, path, 3868)
	for _, want := range []string{"Diameter-EAP", "EAP-Payload", "EAP-Master-Session-Key", "Session-Termination",
		"Extensible Authentication Protocol"} {
		if !strings.Contains(out, want) {
			t.Errorf("tshark output lacks %q", want)
		}
	}
}
