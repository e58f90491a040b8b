package peer

import (
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/fiorix/go-diameter/v4/diam"
	"github.com/fiorix/go-diameter/v4/diam/datatype"

	"github.com/imscore/imscore/diameter"
	"github.com/imscore/imscore/internal/tshark"
)

// TestTsharkAcceptsWhatWeSend has tshark dissect every kind of message the peer layer writes
// itself: no malformed packet, no error-level expert info, the expected command and flags.
func TestTsharkAcceptsWhatWeSend(t *testing.T) {
	tsharkBin := tshark.Find(t)
	cfg := testConfig(t, "scscf.ims.mnc001.mcc001.3gppnetwork.org")
	cfg.OriginRealm = "ims.mnc001.mcc001.3gppnetwork.org"
	n := newNode(t, cfg, echoHandler())
	local := netip.MustParseAddr("127.0.0.1")
	enc := func(m *diam.Message) []byte {
		b, err := encode(m)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	// A Cx MAR (TS 29.229 §6.1.7, command 303) header: tshark knows Cx, so it checks our
	// error answers in a real application's context.
	mar := frameRaw(flagRequest|flagProxiable, 303, 16777216, 0x1001, 0x2001, sessionAVP("scscf;303;1"),
		identityAVP(avpOriginHost, "icscf.ims.mnc001.mcc001.3gppnetwork.org"))
	marHdr := parseHeader(mar)
	marReq := diam.NewMessage(303, flagRequest|flagProxiable, 16777216, marHdr.hbh, marHdr.e2e, n.cfg.Dictionary)
	marReq.AddAVP(newAVP(avpSessionID, avpFlagMandatory, datatype.UTF8String("scscf;303;1")))
	marReq.AddAVP(newAVP(avpVendorSpecificApplicationID, avpFlagMandatory, &diam.GroupedAVP{AVP: []*diam.AVP{
		newAVP(avpVendorID, avpFlagMandatory, datatype.Unsigned32(10415)),
		newAVP(avpAuthApplicationID, avpFlagMandatory, datatype.Unsigned32(16777216)),
	}}))
	marReq.AddAVP(newAVP(avpAuthSessionState, avpFlagMandatory, datatype.Enumerated(1)))
	cer := n.buildCER(local)
	cer.Header.HopByHopID, cer.Header.EndToEndID = 1, 1
	cerHdr := header{code: cmdCapabilitiesExchange, hbh: 1, e2e: 1, flags: flagRequest}
	dwr := n.buildDWR()
	dpr := frameRaw(flagRequest, cmdDisconnectPeer, 0, 3, 3, identityAVP(avpOriginHost, cfg.OriginHost),
		identityAVP(avpOriginRealm, cfg.OriginRealm), avpRaw(avpDisconnectCause, avpFlagMandatory, 0, u32(uint32(causeRebooting))))
	tests := []struct {
		name   string
		bytes  []byte
		client bool
		flags  string // tshark's diameter.flags: R P E T
		// echoesReservedBit: the Failed-AVP holds the offending AVP as received (RFC 6733
		// §7.5), reserved bit included, which tshark notes as a warning in its "Malformed" group.
		echoesReservedBit bool
	}{
		{"CER", enc(cer), true, "R", false},
		{"CEA success", enc(n.buildCEA(cerHdr, &diameter.Error{Code: diameter.Success}, local)), false, "-", false},
		{"CEA 5010", enc(n.buildCEA(cerHdr, diameter.Errorf(diameter.NoCommonApplication, "no application in common"), local)), false, "-", false},
		{"CEA 4003", enc(n.buildCEA(cerHdr, diameter.Errorf(diameter.ElectionLost, "kept another"), local)), false, "-", false},
		// The refusal of a CER from an unknown peer (RFC 6733 §7.1.3): a protocol error, 'E' set.
		{"CEA 3010", enc(n.buildCEA(cerHdr, diameter.Errorf(diameter.UnknownPeer, "Origin-Host evil.example.org is not a configured peer"), local)), false, "E", false},
		{"DWR", enc(dwr), true, "R", false},
		{"DWA", enc(n.baseAnswer(parseHeader(enc(dwr)), true)), false, "-", false},
		{"DPR", dpr, true, "R", false},
		{"DPA", enc(n.baseAnswer(parseHeader(dpr), false)), false, "-", false},
		{"3001 answer", enc(n.errorAnswer(marHdr, nil, mar, diameter.Errorf(diameter.CommandUnsupported, "command 303 not supported"), "command 303 not supported")), false, "PE", false},
		{"3009 answer with Failed-AVP", enc(n.errorAnswer(marHdr, nil, mar, avpError(diameter.InvalidAVPBits,
			rawAVP(avpOriginHost, avpFlagMandatory|0x01, 0, []byte("x")), "reserved bits"), "reserved bits")), false, "PE", true},
		{"5014 answer with Failed-AVP", enc(n.errorAnswer(marHdr, nil, mar, avpError(diameter.InvalidAVPLength,
			rawAVP(avpOriginStateID, avpFlagMandatory, 0, u32(0)), "length"), "length")), false, "P", false},
		// A request the peer's roles may not send (Config.Permissions): the command's answer shape.
		{"5003 answer", enc(n.errorAnswer(marHdr, marReq, nil, diameter.Errorf(diameter.AuthorizationRejected, "not permitted"), "not permitted")), false, "P", false},
		{"experimental result answer", enc(n.errorAnswer(marHdr, marReq, nil, &diameter.Error{Code: 5001, VendorID: 10415}, "")), false, "P", false},
	}
	var segments []tshark.Segment
	for _, tt := range tests {
		segments = append(segments, tshark.Segment{Payload: tt.bytes, FromClient: tt.client})
	}
	pcap := filepath.Join(t.TempDir(), "peer.pcap")
	if err := tshark.WritePcap(pcap, tshark.Conversation{ClientPort: 40000, ServerPort: 3868}, segments); err != nil {
		t.Fatal(err)
	}

	out, err := exec.Command(tsharkBin, "-r", pcap, "-o", "diameter.tcp.port:3868", "-T", "fields",
		"-e", "diameter.cmd.code", "-e", "diameter.flags.request", "-e", "diameter.flags.proxyable", "-e", "diameter.flags.error",
		"-e", "_ws.malformed", "-e", "_ws.expert.severity").Output()
	if err != nil {
		t.Fatalf("tshark: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != len(tests) {
		t.Fatalf("tshark shows %d packets, want %d:\n%s", len(lines), len(tests), out)
	}
	verbose, _ := exec.Command(tsharkBin, "-r", pcap, "-o", "diameter.tcp.port:3868", "-V").CombinedOutput()
	for i, tt := range tests {
		f := strings.Split(lines[i], "\t")
		if len(f) < 4 || f[0] != strconv.FormatUint(uint64(parseHeader(tt.bytes).code), 10) {
			t.Errorf("%s: tshark fields %q", tt.name, lines[i])
			continue
		}
		flags := ""
		for j, name := range []string{"R", "P", "E"} {
			if f[1+j] == "1" || f[1+j] == "True" {
				flags += name
			}
		}
		want := strings.ReplaceAll(tt.flags, "-", "")
		if flags != want {
			t.Errorf("%s: flags %q, want %q", tt.name, flags, want)
		}
		if len(f) > 4 && f[4] != "" && !tt.echoesReservedBit {
			t.Errorf("%s: tshark says malformed: %q", tt.name, lines[i])
		}
	}
	v := string(verbose)
	if strings.Contains(v, "[Malformed Packet") || strings.Contains(v, "Severity level: Error") {
		t.Errorf("tshark reports a malformed packet or an error")
	}
	if got := strings.Count(v, "[Group: Malformed]"); got != 1 || strings.Count(v, "[Reserved bit set]") != 1 {
		t.Errorf("tshark notes %d problems, want only the echoed reserved bit in the 3009 Failed-AVP", got)
	}
	if t.Failed() || os.Getenv("PEER_TSHARK_VERBOSE") != "" {
		t.Logf("tshark -V:\n%s", verbose)
	}
}
