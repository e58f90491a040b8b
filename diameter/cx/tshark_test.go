package cx

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/fiorix/go-diameter/v4/diam"
	"github.com/fiorix/go-diameter/v4/diam/avp"
	"github.com/fiorix/go-diameter/v4/diam/datatype"
	"github.com/imscore/imscore/diameter"
	"github.com/imscore/imscore/internal/tshark"
)

// tsharkMessages returns every fixture without its test-only stray AVPs, plus an error answer
// with a Failed-AVP and an 'E'-bit answer, each request/answer pair with its identifiers set as
// the peer layer would.
func tsharkMessages(t *testing.T) []Message {
	t.Helper()
	var out []Message
	for _, s := range allSamples() {
		m := s.msg
		switch x := m.(type) {
		case *UAR:
			x.Unknown = nil
		case *SAA:
			x.Unknown = nil
		}
		out = append(out, m)
	}
	req := sampleMAR()
	missing := NewMAA(req)
	missing.OriginHost, missing.OriginRealm = testHSS, testRealm
	missing.SetError(&diameter.Error{Code: diameter.MissingAVP, FailedAVPs: []*diam.AVP{
		diam.NewAVP(uint32(AVPPublicIdentity), avp.Vbit|avp.Mbit, Vendor3GPP, datatype.UTF8String(""))}})
	protocol := NewMAA(req)
	protocol.OriginHost, protocol.OriginRealm = testDRA, testRealm
	protocol.SetResultCode(diameter.UnableToDeliver)
	return append(out, req, missing, req, protocol)
}

// TestTshark writes every Cx message we encode into a pcap and has tshark dissect it: no
// malformed packet, the right command names, and no unknown AVP except those the installed
// Wireshark dictionary does not define yet.
func TestTshark(t *testing.T) {
	tsharkBin := tshark.Find(t)
	requireFile(t, wiresharkTGPP)
	d := newTestDictionary(t)

	// Cx AVPs the installed Wireshark lacks (Wireshark 4.0 stops at 658).
	wsKnown := map[uint32]bool{}
	for _, w := range wiresharkApp(t, wiresharkTGPP, "16777216") {
		if w.VendorID == "TGPP" {
			wsKnown[w.Code] = true
		}
	}
	notInWireshark := func(a *diam.AVP) bool {
		return a.VendorID == Vendor3GPP && a.Code >= 600 && a.Code <= 699 && !wsKnown[a.Code]
	}

	var packets []tshark.Segment
	type expect struct {
		summary string // "Multimedia-Auth Request(303)"
		avps    int    // AVP lines tshark should print
		flags   string // tshark's flags column: "RP--", "-P--", "-PE-"
	}
	var want []expect
	var allowedUnknown = map[uint32]bool{}
	msgs := tsharkMessages(t)
	for i, m := range msgs {
		msg, err := m.Marshal(d)
		if err != nil {
			t.Fatalf("%T: %v", m, err)
		}
		// The peer layer's job: identifiers; an answer echoes its request's (RFC 6733 §6.2).
		id := uint32(i/2 + 1)
		msg.Header.HopByHopID, msg.Header.EndToEndID = 0x1000+id, 0x2000+id
		b, err := msg.Serialize()
		if err != nil {
			t.Fatal(err)
		}
		packets = append(packets, tshark.Segment{Payload: b, FromClient: m.IsRequest() == (m.Command() != CmdRegistrationTermination && m.Command() != CmdPushProfile)})
		kind := "Answer"
		if m.IsRequest() {
			kind = "Request"
		}
		flags := "-P--"
		if msg.Header.CommandFlags&diam.RequestFlag != 0 {
			flags = "RP--"
		}
		if msg.Header.CommandFlags&diam.ErrorFlag != 0 {
			flags = "-PE-"
		}
		n := 0
		var count func(avps []*diam.AVP)
		count = func(avps []*diam.AVP) {
			for _, a := range avps {
				n++
				if notInWireshark(a) {
					allowedUnknown[a.Code] = true
					continue // tshark cannot look inside what it does not know
				}
				if g, ok := a.Data.(*diam.GroupedAVP); ok {
					count(g.AVP)
				}
			}
		}
		count(msg.AVP)
		want = append(want, expect{fmt.Sprintf("%s %s(%d)", m.Command(), kind, m.Command()), n, flags})
	}
	pcap := filepath.Join(t.TempDir(), "cx.pcap")
	if err := tshark.WritePcap(pcap, tshark.Conversation{ClientPort: 40000, ServerPort: 3868}, packets); err != nil {
		t.Fatal(err)
	}
	if os.Getenv("CX_KEEP_PCAP") != "" {
		_ = os.WriteFile(os.Getenv("CX_KEEP_PCAP"), mustRead(t, pcap), 0o644)
	}

	// diameter.tcp.port is the Decode-As port preference of Wireshark's Diameter dissector.
	run := func(args ...string) string {
		cmd := exec.Command(tsharkBin, append([]string{"-r", pcap, "-o", "diameter.tcp.port:3868"}, args...)...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("tshark %v: %v\n%s", args, err, out)
		}
		return string(out)
	}

	summary := run()
	var lines []string
	for _, l := range strings.Split(summary, "\n") {
		if strings.Contains(l, "DIAMETER") {
			lines = append(lines, l)
		}
	}
	if len(lines) != len(want) {
		t.Fatalf("tshark shows %d Diameter packets, want %d:\n%s", len(lines), len(want), summary)
	}
	for i, l := range lines {
		if !strings.Contains(l, "cmd="+want[i].summary+" flags="+want[i].flags) || !strings.Contains(l, "appl=3GPP Cx(16777216)") {
			t.Errorf("packet %d: %q, want cmd=%s flags=%s appl=3GPP Cx(16777216)", i+1, l, want[i].summary, want[i].flags)
		}
	}

	verbose := run("-V")
	if strings.Contains(strings.ToLower(verbose), "malformed") {
		t.Errorf("tshark reports a malformed packet:\n%s", grepContext(verbose, "alformed"))
	}
	if strings.Contains(verbose, "Severity level: Error") {
		t.Errorf("tshark reports an error:\n%s", grepContext(verbose, "Severity level: Error"))
	}
	unknownRE := regexp.MustCompile(`AVP: Unknown\((\d+)\)`)
	for _, m := range unknownRE.FindAllStringSubmatch(verbose, -1) {
		code, _ := strconv.Atoi(m[1])
		if !allowedUnknown[uint32(code)] {
			t.Errorf("tshark does not know AVP %d, which its dictionary should define:\n%s", code, grepContext(verbose, m[0]))
		}
	}
	// The S-CSCF restoration AVPs (TS 23.380; TS 29.229 §6.3.46–§6.3.52, §6.3.56, §6.3.62): Wireshark
	// names each by the code we send, with 'V' set and 'M' clear as Table 6.3.1 has it.
	for _, r := range []struct {
		name string
		code AVPCode
	}{
		{"SCSCF-Restoration-Info", AVPSCSCFRestorationInfo}, {"Restoration-Info", AVPRestorationInfo},
		{"Path", AVPPath}, {"Contact", AVPContact}, {"Subscription-Info", AVPSubscriptionInfo},
		{"Call-ID-SIP-Header", AVPCallIDSIPHeader}, {"From-SIP-Header", AVPFromSIPHeader},
		{"To-SIP-Header", AVPToSIPHeader}, {"Record-Route", AVPRecordRoute},
		{"Initial-CSeq-Sequence-Number", AVPInitialCSeqSequenceNumber},
		{"Multiple-Registration-Indication", AVPMultipleRegistrationIndication},
		{"Session-Priority", AVPSessionPriority},
	} {
		re := regexp.MustCompile(`AVP: ` + regexp.QuoteMeta(r.name) + `\(` + strconv.Itoa(int(r.code)) + `\) l=\d+ f=V-- vnd=TGPP`)
		if !re.MatchString(verbose) {
			t.Errorf("tshark does not show %s(%d) with flags V--", r.name, r.code)
		}
	}
	var missing []uint32
	for c := range allowedUnknown {
		missing = append(missing, c)
	}
	t.Logf("AVPs this Wireshark's dictionary lacks (newer than its TGPP.xml), shown as Unknown: %v", missing)

	// Per packet: the number of AVP lines tshark printed equals what we encoded.
	frames := regexp.MustCompile(`(?m)^Frame \d+:`).Split(verbose, -1)[1:]
	if len(frames) != len(want) {
		t.Fatalf("tshark -V shows %d frames, want %d", len(frames), len(want))
	}
	avpLine := regexp.MustCompile(`(?m)^\s*AVP: `)
	for i, f := range frames {
		if got := len(avpLine.FindAllString(f, -1)); got != want[i].avps {
			t.Errorf("packet %d (%s): tshark shows %d AVPs, we encoded %d", i+1, want[i].summary, got, want[i].avps)
		}
		if !strings.Contains(f, "Command Code: "+strings.SplitN(want[i].summary, " ", 2)[0]) {
			t.Errorf("packet %d: no %q command line", i+1, want[i].summary)
		}
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// grepContext returns the lines around the first occurrence of s, for failure messages.
func grepContext(text, s string) string {
	lines := strings.Split(text, "\n")
	for i, l := range lines {
		if strings.Contains(l, s) {
			lo, hi := max(0, i-8), min(len(lines), i+4)
			return strings.Join(lines[lo:hi], "\n")
		}
	}
	return ""
}
