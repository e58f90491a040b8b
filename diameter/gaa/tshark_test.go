package gaa

import (
	"encoding/xml"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/imscore/imscore/internal/tshark"
)

// TestTshark writes every fixture into a pcap and has tshark dissect it: the right command and application,
// as many AVPs as we encoded, no malformed packet, no expert error, no unknown AVP.
func TestTshark(t *testing.T) {
	bin := tshark.Find(t)
	var segs []tshark.Segment
	var names, apps []string
	var avps []int
	for i, s := range samples() {
		b := encode(t, s.msg)
		id := uint32(i/2 + 1)
		b[12], b[13], b[14], b[15] = 0, 0, 0x10, byte(id)
		b[16], b[17], b[18], b[19] = 0, 0, 0x20, byte(id)
		segs = append(segs, tshark.Segment{Payload: b, FromClient: s.request})
		names = append(names, strconv.Itoa(int(s.cmd)))
		apps = append(apps, map[uint32]string{AppZh: "3GPP Zh (16777221)", AppZn: "3GPP Zn (16777220)"}[s.app])
		avps = append(avps, countAVPs(b[20:]))
	}
	pcap := filepath.Join(t.TempDir(), "gaa.pcap")
	if err := tshark.WritePcap(pcap, tshark.Conversation{ClientPort: 40002, ServerPort: 3868}, segs); err != nil {
		t.Fatal(err)
	}
	verbose := tshark.Run(t, bin, "-r", pcap, "-o", "diameter.tcp.port:3868", "-V")
	if strings.Contains(strings.ToLower(verbose), "malformed") {
		t.Errorf("tshark reports a malformed packet:\n%s", tshark.Around(verbose, "alformed"))
	}
	if strings.Contains(verbose, "Severity level: Error") || strings.Contains(verbose, "Severity level: Warning") {
		t.Errorf("tshark reports an expert warning or error:\n%s", tshark.Around(verbose, "Severity level:"))
	}
	if strings.Contains(verbose, "Unknown(") {
		t.Errorf("tshark does not know an AVP:\n%s", tshark.Around(verbose, "Unknown("))
	}
	frames := regexp.MustCompile(`(?m)^Frame \d+:`).Split(verbose, -1)[1:]
	if len(frames) != len(names) {
		t.Fatalf("tshark shows %d frames, want %d", len(frames), len(names))
	}
	avpLine := regexp.MustCompile(`(?m)^\s*AVP: `)
	for i, f := range frames {
		if !strings.Contains(f, "("+names[i]+")") || !strings.Contains(f, "Command Code: ") {
			t.Errorf("frame %d: not command %s:\n%s", i+1, names[i], tshark.Around(f, "Command Code"))
		}
		if !strings.Contains(f, "ApplicationId: "+apps[i]) {
			t.Errorf("frame %d: not shown as %s:\n%s", i+1, apps[i], tshark.Around(f, "ApplicationId"))
		}
		if got := len(avpLine.FindAllString(f, -1)); got != avps[i] {
			t.Errorf("frame %d: tshark shows %d AVPs, we encoded %d", i+1, got, avps[i])
		}
	}
	for _, want := range []string{"Transaction-Identifier", "ME-Key-Material", "Key-ExpiryTime", "GBA-UserSecSettings",
		"SIP-Auth-Data-Item", "Confidentiality-Key", "Integrity-Key", "SIP-Authorization", "Experimental-Result-Code", "5401"} {
		if !strings.Contains(verbose, want) {
			t.Errorf("tshark does not show %q", want)
		}
	}
}

// countAVPs counts the AVPs of body, nested ones included, as tshark prints one line each.
func countAVPs(body []byte) int {
	n := 0
	var r reader
	var walk func(b []byte)
	walk = func(b []byte) {
		r.walk(b, func(f field) {
			n++
			switch f.key() {
			case avpKey{AVPSIPAuthDataItem, Vendor3GPP}, avpKey{AVPVendorSpecificApplicationID, 0}, avpKey{AVPExperimentalResult, 0}:
				walk(f.data)
			}
		})
	}
	walk(body)
	return n
}

// TestDictionaryMatchesWireshark checks our AVP table against Wireshark's: code, vendor and a compatible type.
func TestDictionaryMatchesWireshark(t *testing.T) {
	type wsAVP struct {
		Name     string `xml:"name,attr"`
		Code     uint32 `xml:"code,attr"`
		VendorID string `xml:"vendor-id,attr"`
		Type     struct {
			Name string `xml:"type-name,attr"`
		} `xml:"type"`
		Grouped *struct{} `xml:"grouped"`
	}
	byKey := map[avpKey]wsAVP{}
	for _, file := range []string{"dictionary.xml", "TGPP.xml"} {
		raw, err := os.ReadFile(filepath.Join("/usr/share/wireshark/diameter", file))
		if err != nil {
			t.Skipf("Wireshark dictionary: %v", err)
		}
		for _, m := range regexp.MustCompile(`(?s)<avp [^>]*>.*?</avp>`).FindAllString(string(raw), -1) {
			var a wsAVP
			if xml.Unmarshal([]byte(m), &a) != nil || a.VendorID != "TGPP" {
				continue
			}
			if _, dup := byKey[avpKey{AVPCode(a.Code), Vendor3GPP}]; !dup {
				byKey[avpKey{AVPCode(a.Code), Vendor3GPP}] = a
			}
		}
	}
	compatible := map[avpType][]string{tOctets: {"OctetString", "OctetStringOrUTF8", "UTF8String"},
		tUTF8: {"UTF8String", "OctetStringOrUTF8"}, tU32: {"Unsigned32"}, tEnum: {"Enumerated"}, tTime: {"Time"}}
	for _, d := range gaaAVPs {
		w, ok := byKey[d.key]
		if !ok {
			t.Errorf("%s (%d): not in Wireshark's dictionary", d.name, d.key.code)
			continue
		}
		if d.typ == tGrouped != (w.Grouped != nil) {
			t.Errorf("%s: grouped %t, Wireshark %t", d.name, d.typ == tGrouped, w.Grouped != nil)
		}
		if d.typ != tGrouped {
			okType := false
			for _, c := range compatible[d.typ] {
				okType = okType || c == w.Type.Name
			}
			if !okType {
				t.Errorf("%s: type %s, Wireshark %s", d.name, d.typ, w.Type.Name)
			}
		}
	}
}
