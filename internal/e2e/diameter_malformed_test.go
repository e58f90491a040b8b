package e2e

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fiorix/go-diameter/v4/diam"
	"github.com/fiorix/go-diameter/v4/diam/avp"
	"github.com/fiorix/go-diameter/v4/diam/datatype"

	"github.com/imscore/imscore/diameter/cx"
)

// Identities the probes claim: each node's configured peer by default (the HSS accepts the project's I-CSCF,
// a CSCF its HSS), so that a node that accepts only configured peers (RFC 6733 §5.3, §6.1) still lets the probe
// past the CER and the malformed messages reach its decoder. While a probe claims an identity, its real holder
// is not connected to the node (see startDiameterNodes): two connections with one peer are not kept (§5.6.4).
// If the harness configures the nodes with other peers, these are the constants to change.
const (
	probeAtHSS   = "icscf." + Domain // DefaultHSSHost's configured I-CSCF
	probeAtCSCFs = DefaultHSSHost    // the HSS the CSCFs are configured with
)

// The Diameter malformed-message suite: the real HSS, I-CSCF and S-CSCF binaries, each sent header, framing and
// AVP errors over a raw TCP connection after (or instead of) a capabilities exchange. Each gets the answer RFC 6733
// §7 prescribes (Result-Code, E bit, Failed-AVP) or a closed connection where framing is lost or the
// connection never opened (§5.6), and after every case the node still serves: the connection (when kept)
// answers a DWR, and at the end a fresh, well-behaved peer is served, the process runs and logged no panic.
// diameter/peer/badinput_test.go covers the library; this covers the processes as deployed.
func TestDiameterMalformed(t *testing.T) {
	nodes := startDiameterNodes(t)
	for _, n := range nodes {
		t.Run(n.name, func(t *testing.T) {
			for _, c := range diameterCases {
				t.Run(c.name, func(t *testing.T) {
					p := DialDiameter(t, nil, n.addr, n.host)
					if !c.beforeCER {
						p.Open()
					}
					c.run(t, p, n)
				})
			}
			// A well-behaved peer afterwards: capabilities exchange, watchdog, and the node's own request.
			p := DialDiameter(t, nil, n.addr, n.host)
			p.Open()
			p.CheckAlive()
			req := n.request(p)
			p.Write(req)
			ans := p.Answer(5 * time.Second)
			if hbh := binary.BigEndian.Uint32(req[12:16]); ans.Header.HopByHopID != hbh {
				t.Fatalf("answer to another request:\n%s", ans)
			}
			t.Logf("%s still serving: %s answered %s", n.name, cx.Command(ans.Header.CommandCode), resultOf(ans))
			if !n.proc.Running() {
				t.Fatalf("%s is no longer running", n.name)
			}
			n.proc.CheckNoPanic(t)
		})
	}
}

// diameterNode is one node under test: where its Diameter listener is, which identity the probe claims there,
// and a valid request of a command the node serves (or, for the I-CSCF, the Cx request it gets most often).
type diameterNode struct {
	name    string
	proc    *Process
	addr    string
	host    string
	request func(p *DiameterProbe) []byte
}

// startDiameterNodes starts an HSS on its own (no CSCF connected, so the probe may be its I-CSCF), and an
// S-CSCF and an I-CSCF with their Diameter listeners on, against a second HSS that is stopped once both are
// up (so the probe may be their HSS; they keep redialling it, which does not matter here).
func startDiameterNodes(t *testing.T) []diameterNode {
	t.Helper()
	Need(t, bins.Has("hss") && bins.Has("scscf") && bins.Has("icscf"), "cmd/hss, cmd/scscf or cmd/icscf not in the tree")
	alone := StartHSS(t, bins, HSSOptions{})
	theirs := StartHSS(t, bins, HSSOptions{})
	scscfCx, icscfCx := Addr(FreePort(t)), Addr(FreePort(t))
	sc := StartSCSCF(t, bins, SCSCFOptions{HSS: theirs.Cx, HSSHost: theirs.Host, ICSCF: "",
		Args: append(cscfListener(t, "scscf", scscfCx), "--log-level", "info")})
	ic := StartICSCF(t, bins, ICSCFOptions{HSS: theirs.Cx, SCSCFs: []string{sc.Name + "=" + sc.SIP},
		Args: append(cscfListener(t, "icscf", icscfCx), "--log-level", "info")})
	theirs.Stop()
	uar := func(p *DiameterProbe) []byte {
		m, err := (&cx.UAR{SessionID: p.Host + ";e2e;" + fmt.Sprint(time.Now().UnixNano()), OriginHost: p.Host,
			OriginRealm: p.Realm, DestinationRealm: Domain, UserName: "e2e-nobody@" + Domain,
			PublicIdentity: "sip:e2e-nobody@" + Domain, VisitedNetworkIdentifier: []byte(Domain)}).Marshal(p.Dict)
		if err != nil {
			p.t.Fatal(err)
		}
		return p.Frame(m)
	}
	rtr := func(p *DiameterProbe) []byte {
		m, err := (&cx.RTR{SessionID: p.Host + ";e2e;" + fmt.Sprint(time.Now().UnixNano()), OriginHost: p.Host,
			OriginRealm: p.Realm, DestinationHost: "scscf." + Domain, DestinationRealm: Domain,
			UserName: "e2e-nobody@" + Domain, DeregistrationReason: cx.DeregistrationReason{Code: cx.ReasonPermanentTermination}}).Marshal(p.Dict)
		if err != nil {
			p.t.Fatal(err)
		}
		return p.Frame(m)
	}
	return []diameterNode{
		{name: "hss", proc: alone.Process, addr: alone.Cx, host: probeAtHSS, request: uar},
		{name: "scscf", proc: sc.Process, addr: scscfCx, host: probeAtCSCFs, request: rtr},
		{name: "icscf", proc: ic.Process, addr: icscfCx, host: probeAtCSCFs, request: uar},
	}
}

// cscfListener are the flags that open the Diameter listener of cmd/<name> (an S-CSCF or I-CSCF) on listen to
// the probe. A node that takes only configured peers on it (diameter.peers) gets a configuration file naming the
// probe's identity from loopback in the HSS role; one without the setting accepts any peer.
func cscfListener(t *testing.T, name, listen string) []string {
	t.Helper()
	args := []string{"--diameter-listen", listen}
	if !strings.Contains(bins.DumpConfig(t, name), "\n  peers:") {
		return args
	}
	path := filepath.Join(t.TempDir(), name+".yaml")
	cfg := fmt.Sprintf("diameter:\n  peers:\n    - origin_host: %q\n      origin_realm: %q\n      sources: [\"127.0.0.1\"]\n"+
		"      roles: [\"hss\"]\n", probeAtCSCFs, Domain)
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return append(args, "--config", path)
}

// diameterCase is one malformed input. beforeCER cases run on a connection that has not exchanged capabilities;
// the others on one the probe opened.
type diameterCase struct {
	name      string
	beforeCER bool
	run       func(t *testing.T, p *DiameterProbe, n diameterNode)
}

// wantAnswer reads the answer to req and checks it: the request's identifiers and command (RFC 6733 §6.2), the
// Result-Code, the E bit (set for protocol errors, 3xxx, §7.1.3), and when failed is not nil a Failed-AVP
// holding it (§7.5). Then the connection must still answer a DWR.
func wantAnswer(t *testing.T, p *DiameterProbe, req []byte, code uint32, failed []byte) {
	t.Helper()
	m, frame, err := p.Read(5 * time.Second)
	if err != nil || m == nil {
		t.Fatalf("want Result-Code %d, got no answer (%v)", code, err)
	}
	if rc := ResultCode(m); rc != code {
		t.Fatalf("Result-Code %d, want %d:\n%s", rc, code, m)
	}
	if m.Header.CommandFlags&diameterFlagRequest != 0 {
		t.Fatalf("a request where the answer was due:\n%s", m)
	}
	if hbh, e2e := binary.BigEndian.Uint32(req[12:16]), binary.BigEndian.Uint32(req[16:20]); m.Header.HopByHopID != hbh || m.Header.EndToEndID != e2e {
		t.Fatalf("answer identifiers %d/%d, want the request's %d/%d", m.Header.HopByHopID, m.Header.EndToEndID, hbh, e2e)
	}
	if wantE := code >= 3000 && code < 4000; (m.Header.CommandFlags&diameterFlagError != 0) != wantE {
		t.Fatalf("E bit %v for Result-Code %d (RFC 6733 §7.1.3: set exactly on protocol errors)", !wantE, code)
	}
	if failed != nil {
		fa, err := m.FindAVP(avp.FailedAVP, 0)
		if err != nil || fa == nil {
			t.Fatalf("no Failed-AVP (RFC 6733 §7.5):\n%s", m)
		}
		if !bytes.Contains(frame, failed) {
			t.Fatalf("Failed-AVP does not hold the offending AVP % x:\n%s", failed, m)
		}
	}
	p.CheckAlive()
}

// unknownMandatory is an AVP no Cx dictionary knows, flagged Mandatory (RFC 6733 §4.1: the receiver must
// refuse the message with DIAMETER_AVP_UNSUPPORTED).
var unknownMandatory = DiameterAVP(4242, avp.Mbit, 0, []byte("e2e!"))

var diameterCases = []diameterCase{
	{name: "version 2", run: func(t *testing.T, p *DiameterProbe, n diameterNode) {
		req := n.request(p)
		req[0] = 2
		p.Write(req)
		wantAnswer(t, p, req, 5011, nil) // DIAMETER_UNSUPPORTED_VERSION, RFC 6733 §7.1.5
	}},
	{name: "reserved header bits", run: func(t *testing.T, p *DiameterProbe, n diameterNode) {
		req := n.request(p)
		req[4] |= 0x0f
		p.Write(req)
		wantAnswer(t, p, req, 3008, nil) // DIAMETER_INVALID_HDR_BITS, §7.1.3
	}},
	{name: "E bit on a request", run: func(t *testing.T, p *DiameterProbe, n diameterNode) {
		req := n.request(p)
		req[4] |= diameterFlagError
		p.Write(req)
		wantAnswer(t, p, req, 3008, nil) // §3: "MUST NOT be set in request messages"
	}},
	{name: "unknown command", run: func(t *testing.T, p *DiameterProbe, n diameterNode) {
		req := n.request(p)
		req[5], req[6], req[7] = 0, 0x03, 0xe7 // 999
		p.Write(req)
		wantAnswer(t, p, req, 3001, nil) // DIAMETER_COMMAND_UNSUPPORTED, §7.1.3
	}},
	{name: "application not advertised", run: func(t *testing.T, p *DiameterProbe, n diameterNode) {
		req := n.request(p)
		binary.BigEndian.PutUint32(req[8:12], 4) // Diameter Credit-Control
		p.Write(req)
		wantAnswer(t, p, req, 3007, nil) // DIAMETER_APPLICATION_UNSUPPORTED, §7.1.3
	}},
	{name: "reserved AVP bits", run: func(t *testing.T, p *DiameterProbe, n diameterNode) {
		req := n.request(p)
		req[DiameterHeaderLength+4] |= 0x01 // the first AVP, Session-Id
		p.Write(req)
		wantAnswer(t, p, req, 3009, nil) // DIAMETER_INVALID_AVP_BITS, §7.1.3
	}},
	{name: "unknown mandatory AVP", run: func(t *testing.T, p *DiameterProbe, n diameterNode) {
		req := AppendDiameterAVPs(n.request(p), unknownMandatory)
		p.Write(req)
		wantAnswer(t, p, req, 5001, unknownMandatory) // DIAMETER_AVP_UNSUPPORTED with the AVP, §7.1.5
	}},
	{name: "AVP length past the message", run: func(t *testing.T, p *DiameterProbe, n diameterNode) {
		bad := DiameterAVP(avp.RouteRecord, avp.Mbit, 0, []byte("e2e.example"))
		bad[5], bad[6], bad[7] = 0, 0x01, 0x00 // 256 octets claimed, 19 there
		req := AppendDiameterAVPs(n.request(p), bad)
		p.Write(req)
		// DIAMETER_INVALID_AVP_LENGTH, §7.1.5: Failed-AVP "the offending AVP header and a zero filled payload".
		wantAnswer(t, p, req, 5014, bad[:4])
	}},
	{name: "AVP length shorter than its header", run: func(t *testing.T, p *DiameterProbe, n diameterNode) {
		bad := DiameterAVP(avp.RouteRecord, avp.Mbit, 0, []byte("e2e."))
		bad[7] = 4
		req := AppendDiameterAVPs(n.request(p), bad)
		p.Write(req)
		wantAnswer(t, p, req, 5014, bad[:4])
	}},
	{name: "grouped AVP overrun", run: func(t *testing.T, p *DiameterProbe, n diameterNode) {
		// A Proxy-Info (RFC 6733 §6.7.2) whose Proxy-Host claims more octets than the group holds.
		inner := DiameterAVP(avp.ProxyHost, avp.Mbit, 0, []byte("relay.e2e.example"))
		inner[7] += 32
		state := DiameterAVP(avp.ProxyState, avp.Mbit, 0, []byte("s"))
		group := DiameterAVP(avp.ProxyInfo, avp.Mbit, 0, append(inner, state...))
		req := AppendDiameterAVPs(n.request(p), group)
		p.Write(req)
		wantAnswer(t, p, req, 5014, group[:4])
	}},
	{name: "Unsigned32 of 3 octets", run: func(t *testing.T, p *DiameterProbe, n diameterNode) {
		bad := DiameterAVP(avp.OriginStateID, avp.Mbit, 0, []byte{0, 0, 1})
		req := AppendDiameterAVPs(n.request(p), bad)
		p.Write(req)
		wantAnswer(t, p, req, 5014, bad[:8])
	}},
	{name: "undefined enumerated value", run: func(t *testing.T, p *DiameterProbe, n diameterNode) {
		req := n.request(p)
		// Auth-Session-State (RFC 6733 §8.11) is 0 or 1: make it 7.
		m, err := diam.ReadMessage(bytes.NewReader(req), p.Dict)
		if err != nil {
			t.Fatal(err)
		}
		a, err := m.FindAVP(avp.AuthSessionState, 0)
		if err != nil || a == nil {
			t.Fatalf("no Auth-Session-State in %s", m)
		}
		a.Data = datatype.Enumerated(7)
		req = p.Frame(m)
		p.Write(req)
		if n.name == "icscf" {
			// The I-CSCF serves no Cx request: the command is refused before its AVPs are looked at.
			wantAnswer(t, p, req, 3001, nil)
			return
		}
		wantAnswer(t, p, req, 5004, DiameterAVP(avp.AuthSessionState, avp.Mbit, 0, []byte{0, 0, 0, 7}))
	}},
	{name: "length not a multiple of 4", run: func(t *testing.T, p *DiameterProbe, n diameterNode) {
		req := append(n.request(p), 0xee)
		SetDiameterLength(req, len(req))
		p.Write(req)
		wantAnswer(t, p, req, 5015, nil) // DIAMETER_INVALID_MESSAGE_LENGTH, §7.1.5
	}},
	{name: "length 0", run: func(t *testing.T, p *DiameterProbe, n diameterNode) {
		req := n.request(p)
		SetDiameterLength(req, 0)
		p.Write(req)
		// No way to find the next message: 5015 from the header, then the connection closes.
		expectRefusedAndClosed(t, p, req, 5015)
	}},
	{name: "maximal length", run: func(t *testing.T, p *DiameterProbe, n diameterNode) {
		req := n.request(p)
		SetDiameterLength(req, 1<<24-4) // 16 MiB: past any sane maximum, not to be buffered
		p.Write(req)
		expectRefusedAndClosed(t, p, req, 5015)
	}},
	{name: "truncated header", run: func(t *testing.T, p *DiameterProbe, n diameterNode) {
		p.Write(n.request(p)[:10])
		p.CloseWrite()
		p.ExpectClosed(5 * time.Second)
	}},
	{name: "length beyond the frame", run: func(t *testing.T, p *DiameterProbe, n diameterNode) {
		req := n.request(p)
		SetDiameterLength(req, len(req)+64)
		p.Write(req)
		p.CloseWrite()
		p.ExpectClosed(5 * time.Second)
	}},
	{name: "slow writes", run: func(t *testing.T, p *DiameterProbe, n diameterNode) {
		// A peer on a slow link: the request arrives a few octets at a time and is served as any other.
		req := n.request(p)
		p.WriteSlowly(req, 3, 2*time.Millisecond)
		ans := p.Answer(5 * time.Second)
		if ans.Header.HopByHopID != binary.BigEndian.Uint32(req[12:16]) || ResultCode(ans) == 0 && len(ans.AVP) == 0 {
			t.Fatalf("slowly written request answered with:\n%s", ans)
		}
		p.CheckAlive()
	}},
	{name: "second CER", run: func(t *testing.T, p *DiameterProbe, n diameterNode) {
		p.Write(p.CER())
		cea := p.Answer(5 * time.Second)
		if cea.Header.CommandCode != cmdCER || ResultCode(cea) == 2001 {
			t.Fatalf("a CER on an open connection was accepted again:\n%s", cea)
		}
		p.CheckAlive()
	}},
	{name: "request before CER", beforeCER: true, run: func(t *testing.T, p *DiameterProbe, n diameterNode) {
		// RFC 6733 §5.6: a responder's connection opens with a CER and nothing else.
		p.Write(n.request(p))
		p.ExpectClosed(5 * time.Second)
	}},
	{name: "DWR before CER", beforeCER: true, run: func(t *testing.T, p *DiameterProbe, n diameterNode) {
		p.Write(p.DWR())
		p.ExpectClosed(5 * time.Second)
	}},
	{name: "not Diameter", beforeCER: true, run: func(t *testing.T, p *DiameterProbe, n diameterNode) {
		p.Write([]byte("GET / HTTP/1.1\r\nHost: hss\r\n\r\n"))
		p.ExpectClosed(5 * time.Second)
	}},
}

// expectRefusedAndClosed: a request whose Message Length cannot be used is answered from its header with code
// when it is a request (RFC 6733 §7.1.5 names 5015), then the connection closes: framing is lost.
func expectRefusedAndClosed(t *testing.T, p *DiameterProbe, req []byte, code uint32) {
	t.Helper()
	m, _, err := p.Read(5 * time.Second)
	if err == nil && m != nil {
		if rc := ResultCode(m); rc != code || m.Header.HopByHopID != binary.BigEndian.Uint32(req[12:16]) {
			t.Fatalf("Result-Code %d, want %d:\n%s", rc, code, m)
		}
	}
	p.ExpectClosed(5 * time.Second)
}

// resultOf names the Result-Code or the Experimental-Result-Code (TS 29.229 §6.2) of an answer.
func resultOf(m *diam.Message) string {
	if rc := ResultCode(m); rc != 0 {
		return fmt.Sprintf("Result-Code %d", rc)
	}
	if a, err := m.FindAVP(avp.ExperimentalResultCode, 0); err == nil && a != nil {
		return fmt.Sprintf("Experimental-Result-Code %v", a.Data)
	}
	return "no result"
}
