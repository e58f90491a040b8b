package rx

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

// TestTshark writes every fixture into a pcap and has tshark dissect it: the right command and
// application, as many AVPs as we encoded, no malformed packet, no expert error, no unknown AVP.
func TestTshark(t *testing.T) {
	bin := tshark.Find(t)
	var segs []tshark.Segment
	var names []string
	var avps []int
	for i, s := range allSamples() {
		b := encode(t, s.msg)
		// The peer layer's job: identifiers; an answer echoes its request's (RFC 6733 §6.2).
		id := uint32(i/2 + 1)
		b[12], b[13], b[14], b[15] = 0, 0, 0x10, byte(id)
		b[16], b[17], b[18], b[19] = 0, 0, 0x20, byte(id)
		fromAF := s.msg.IsRequest() == (s.msg.Command() == CmdAA || s.msg.Command() == CmdSessionTermination)
		segs = append(segs, tshark.Segment{Payload: b, FromClient: fromAF})
		kind := "Answer"
		if s.msg.IsRequest() {
			kind = "Request"
		}
		names = append(names, s.msg.Command().String()+" "+kind+"("+strconv.Itoa(int(s.msg.Command()))+")")
		avps = append(avps, countAVPs(b[20:]))
	}
	pcap := filepath.Join(t.TempDir(), "rx.pcap")
	if err := tshark.WritePcap(pcap, tshark.Conversation{ClientPort: 40001, ServerPort: 3868}, segs); err != nil {
		t.Fatal(err)
	}
	if p := os.Getenv("RX_KEEP_PCAP"); p != "" {
		raw, _ := os.ReadFile(pcap)
		_ = os.WriteFile(p, raw, 0o644)
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
	var summary []string
	for _, l := range strings.Split(tshark.Run(t, bin, "-r", pcap, "-o", "diameter.tcp.port:3868"), "\n") {
		if strings.Contains(l, "DIAMETER") {
			summary = append(summary, l)
		}
	}
	for i, f := range frames {
		if i >= len(summary) || !strings.Contains(summary[i], "cmd="+names[i]) {
			t.Errorf("frame %d: not %s", i+1, names[i])
		}
		if !strings.Contains(f, "ApplicationId: 3GPP Rx (16777236)") {
			t.Errorf("frame %d: not shown as 3GPP Rx:\n%s", i+1, tshark.Around(f, "ApplicationId"))
		}
		if got := len(avpLine.FindAllString(f, -1)); got != avps[i] {
			t.Errorf("frame %d (%s): tshark shows %d AVPs, we encoded %d", i+1, names[i], got, avps[i])
		}
	}
	for _, want := range []string{"Media-Component-Description", "Media-Sub-Component", "Flow-Description",
		"Flow-Usage: AF_SIGNALLING", "AF-Signalling-Protocol: SIP", "Specific-Action: INDICATION_OF_LOSS_OF_BEARER",
		"Codec-Data", "Subscription-Id-Type: END_USER_SIP_URI", "Framed-IP-Address", "Abort-Cause",
		"Termination-Cause: DIAMETER_LOGOUT", "Rx-Request-Type: INITIAL_REQUEST", "Max-Requested-Bandwidth-UL: 41000",
		"RS-Bandwidth: 600", "Flow-Status: ENABLED-UPLINK"} {
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
			if known, _ := avpRules(f.key()); known && isGrouped(f.key()) {
				walk(f.data)
			}
		})
	}
	walk(body)
	return n
}

func isGrouped(k avpKey) bool {
	for _, d := range rxAVPs {
		if d.key == k {
			return d.typ == tGrouped
		}
	}
	return k.vendor == 0 && (k.code == AVPProxyInfo || k.code == AVPExperimentalResult || k.code == AVPFailedAVP)
}

// TestDictionaryMatchesWireshark checks our AVP table against Wireshark's: code, vendor, the 'M'
// bit, and a compatible type.
func TestDictionaryMatchesWireshark(t *testing.T) {
	type wsAVP struct {
		Name      string `xml:"name,attr"`
		Code      uint32 `xml:"code,attr"`
		Mandatory string `xml:"mandatory,attr"`
		VendorID  string `xml:"vendor-id,attr"`
		Type      struct {
			Name string `xml:"type-name,attr"`
		} `xml:"type"`
		Grouped *struct{} `xml:"grouped"`
	}
	byKey := map[avpKey]wsAVP{}
	for _, file := range []string{"dictionary.xml", "TGPP.xml", "chargecontrol.xml"} {
		raw, err := os.ReadFile(filepath.Join("/usr/share/wireshark/diameter", file))
		if err != nil {
			t.Skipf("Wireshark dictionary: %v", err)
		}
		// dictionary.xml holds entities; the AVP elements are all we read.
		for _, m := range regexp.MustCompile(`(?s)<avp [^>]*>.*?</avp>`).FindAllString(string(raw), -1) {
			var a wsAVP
			if xml.Unmarshal([]byte(m), &a) != nil {
				continue
			}
			vendor := uint32(0)
			if a.VendorID == "TGPP" {
				vendor = Vendor3GPP
			} else if a.VendorID != "" {
				continue
			}
			if _, dup := byKey[avpKey{AVPCode(a.Code), vendor}]; !dup {
				byKey[avpKey{AVPCode(a.Code), vendor}] = a
			}
		}
	}
	compatible := map[avpType][]string{tOctets: {"OctetString", "OctetStringOrUTF8", "UTF8String", "IPAddress"},
		tUTF8: {"UTF8String", "OctetStringOrUTF8"}, tU32: {"Unsigned32"}, tEnum: {"Enumerated"},
		tAddress: {"IPAddress", "Address"}, tIPFilter: {"IPFilterRule"}}
	for _, d := range rxAVPs {
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
		// Wireshark leaves the M column empty for some; where it says must or mustnot, we agree. Supported-
		// Features and its children: TS 29.229 Table 6.3.1 has V with M not set; Wireshark says "must".
		if d.key.code >= AVPSupportedFeatures && d.key.code <= AVPFeatureList {
			continue
		}
		if (w.Mandatory == "must" && !d.m) || (w.Mandatory == "mustnot" && d.m) {
			t.Errorf("%s: M %t, Wireshark %q", d.name, d.m, w.Mandatory)
		}
	}
}
