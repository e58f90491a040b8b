package e2e

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/imscore/imscore/hss/provision"
	"github.com/imscore/imscore/internal/bindtest"
	"github.com/imscore/imscore/internal/tshark"
	"github.com/imscore/imscore/sip/ipsec/ipsectest"
)

// Ports inside every network's namespace (each has its own port space).
const (
	labICSCFPort = 5060
	labSCSCFPort = 6060
	labGWPort    = 5080
)

// labCore is one complete imscore network of TestThreeNetworks.
type labCore struct {
	*labNet
	HSS    *HSS
	SCSCF  *SCSCF
	ICSCFs []*ICSCF
	PCSCF  *PCSCF
}

// labCoreOptions configure startLabCore.
type labCoreOptions struct {
	ICSCFs int // 1 or 2 (two: the SRV set's failover pair, one THIG key set)
	// PCSCFAtBorder puts the P-CSCF on the border with "icscf: dns" and VisitedID: it hosts visitors of the
	// other networks. Otherwise it is a core node sending every REGISTER to the first I-CSCF.
	PCSCFAtBorder bool
	VisitedID     string
	// Partners are further trusted addresses of the I-CSCFs (RFC 3325 §2.3): a roaming partner's P-CSCF.
	Partners []string
	// Others are the other networks' border prefixes (THIG networks).
	Others []string
	// Interconnect is the S-CSCF's extra interconnect YAML (bgcf ...).
	Interconnect string
	// THIGKey is the network's THIG key (64 hex characters).
	THIGKey string
	// Between is how the networks reach each other (transports of the resolvers).
	Between labInterconnect
}

// icscfAddr is the n-th I-CSCF's SIP address.
func (c *labCore) icscfAddr(i int) string {
	return net.JoinHostPort(c.Border(i), strconv.Itoa(labICSCFPort))
}

// startLabCore starts HSS, S-CSCF, I-CSCF(s) and P-CSCF of network l in its namespace.
func startLabCore(t *testing.T, l *labNet, o labCoreOptions) *labCore {
	t.Helper()
	c := &labCore{labNet: l}
	d := l.Domain
	scscfName := fmt.Sprintf("sip:scscf.%s:%d", d, labSCSCFPort)
	hssArgs := []string{"--realm", d, "--origin-host", "hss." + d,
		"--diameter-peer", "scscf:scscf." + d + "@127.0.0.1"}
	for i := range o.ICSCFs {
		hssArgs = append(hssArgs, "--diameter-peer", fmt.Sprintf("icscf:icscf%d.%s@127.0.0.1", i+1, d))
	}
	c.HSS = StartHSS(t, bins, HSSOptions{SCSCFs: []string{scscfName}, NS: l.NS, Args: hssArgs})
	c.HSS.Host = "hss." + d

	// The S-CSCF's trust domain: its core and its I-CSCFs; every request for another network leaves through
	// the first I-CSCF (interconnect.transit), the border, never from the core.
	trusted := []string{"127.0.0.0/8", l.CorePrefix() + "0/24"}
	for i := range o.ICSCFs {
		trusted = append(trusted, l.Border(i))
	}
	dir := t.TempDir()
	scscfCfg := writeFile(t, dir, "scscf.yaml", fmt.Sprintf(`interconnect:
  enabled: true
  dns: {servers: ["%s:53"], transports: %s}
  transit: "sip:%s;lr"
%s`, ipxDNS, o.Between.Transports, c.icscfAddr(0), o.Interconnect))
	scscfSIP := net.JoinHostPort(l.Core(1), strconv.Itoa(labSCSCFPort))
	c.SCSCF = StartSCSCF(t, bins, SCSCFOptions{HSS: c.HSS.Cx, HSSHost: c.HSS.Host, ICSCF: c.icscfAddr(0), NS: l.NS,
		Args: []string{"--config", scscfCfg, "--sip-listen", scscfSIP, "--server-name", scscfName,
			"--domain", d, "--origin-realm", d, "--origin-host", "scscf." + d,
			"--trusted-networks", strings.Join(trusted, ",")}})
	c.SCSCF.SIP, c.SCSCF.Name = scscfSIP, scscfName

	icTrusted := append(append([]string{}, trusted...), o.Partners...)
	for i := range o.ICSCFs {
		cfg := writeFile(t, dir, fmt.Sprintf("icscf%d.yaml", i+1), fmt.Sprintf(`diameter: {origin_realm: %q}
thig:
  keys: {1: %q}
  current_key: 1
  networks: [%s]
interconnect:
  enabled: true
  dns: {servers: ["%s:53"], transports: %s}
  attempt_timeout: 4s
`, d, o.THIGKey, strings.Join(o.Others, ", "), ipxDNS, o.Between.Transports))
		ic := StartICSCF(t, bins, ICSCFOptions{HSS: c.HSS.Cx, SCSCFs: []string{scscfName + "=" + scscfSIP}, NS: l.NS,
			Args: []string{"--config", cfg, "--sip-listen", c.icscfAddr(i), "--domain", d,
				"--origin-host", fmt.Sprintf("icscf%d.%s", i+1, d), "--trusted-networks", strings.Join(icTrusted, ",")}})
		ic.SIP = c.icscfAddr(i)
		c.ICSCFs = append(c.ICSCFs, ic)
	}

	po := PCSCFOptions{NS: l.NS, IP: l.Core(2), ICSCF: c.icscfAddr(0),
		Extra: fmt.Sprintf("trusted_networks: [%s]\nvisited_network_id: %q\n", strings.Join(icTrusted, ", "), d)}
	if o.PCSCFAtBorder {
		po.IP, po.ICSCF = l.Border(0), "dns"
		po.Extra = fmt.Sprintf("trusted_networks: [%s]\nvisited_network_id: %q\ndns: {servers: [\"%s:53\"], transports: %s}\nicscf_attempt_timeout: 4s\n",
			strings.Join(icTrusted, ", "), o.VisitedID, ipxDNS, o.Between.Transports)
	}
	c.PCSCF = StartPCSCF(t, bins, po)
	return c
}

// labUE is a subscriber of one network, attached to some network's P-CSCF through SIPp.
type labUE struct {
	Sub   Subscriber
	Home  *labCore // where it is subscribed
	At    *labCore // whose P-CSCF it registers through
	IP    string   // its access address, in At's namespace
	Port  int
	label string
}

func (u *labUE) impi() string { return u.Sub.IMSI + "@" + u.Home.Domain }

// sipp is a scenario of u against its P-CSCF.
func (u *labUE) sipp(scenario string, keys map[string]string) SIPp {
	k := map[string]string{"domain": u.Home.Domain, "impi": u.impi(), "expires": "600"}
	for a, b := range keys {
		k[a] = b
	}
	return SIPp{Scenario: scenario, Remote: u.At.PCSCF.SIP, Service: u.Sub.MSISDN, Username: u.impi(), Keys: k,
		LocalPort: u.Port, IP: u.IP, NS: u.At.NS, Timeout: 20 * time.Second}
}

// provisionLab adds s to c's HSS (AKA keys of the SIPp scenarios), allowed to roam in visited.
func provisionLab(t *testing.T, c *labCore, s Subscriber, visited ...string) {
	t.Helper()
	cl, err := provision.NewClient(c.HSS.API, c.HSS.HTTPClient(10*time.Second), provision.WithToken(c.HSS.Token))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := cl.CreateSubscriber(ctx, provision.SubscriberRequest{IMSI: s.IMSI, MSISDN: s.MSISDN, K: AKAK, OP: AKAOP,
		AMF: AKAAMF, AllowedVisitedNetworks: visited}); err != nil {
		t.Fatalf("provision %s in %s: %v", s.IMSI, c.Domain, err)
	}
}

// TestThreeNetworks stands up three complete imscore networks, each in a network namespace of its own, joined
// by an IPX namespace where bind9 serves their zones and ENUM (netlab_topo_test.go), and checks interconnect
// and roaming end to end (issue 16, docs/interconnect.md "Three networks"):
//   - home.test: HSS, S-CSCF, two I-CSCFs (THIG, the SRV pair), a core P-CSCF, a SIPp UAS as PSTN gateway;
//   - visited.test: HSS, S-CSCF, I-CSCF, a border P-CSCF finding I-CSCFs by DNS, hosting home's roamer;
//   - third.test: the same, a network home and visited only interconnect with.
//
// SIP between networks is UDP (labUDP); to run it over TLS once the nodes have it, ic becomes a labInterconnect
// for TLS (NAPTR SIPS+D2T, _sips._tcp SRV, resolvers on [tls]) and each network's border nodes get a certificate
// naming its domain (RFC 5922); the checks stay as they are, and a wrong certificate check joins them.
func TestThreeNetworks(t *testing.T) {
	ipsectest.RequireRoot(t)
	NeedSIPp(t)
	for _, name := range []string{"hss", "scscf", "icscf", "pcscf"} {
		Need(t, bins.Has(name), "cmd/"+name+" not in the tree")
	}
	tsharkBin := tshark.Find(t)
	// The nodes' binaries build while the namespaces and bind9 come up, side by side (each is built once per
	// test binary; the first test to need one waits for it).
	var builds sync.WaitGroup
	for _, name := range []string{"hss", "scscf", "icscf", "pcscf"} {
		builds.Go(func() { _, _ = bins.Path(name) })
	}
	defer builds.Wait()

	ic := labUDP
	ipx := newIPX(t)
	home := newLabNet(t, ipx, "home", "home.test", 1, 2, 3, 1)
	visited := newLabNet(t, ipx, "visited", "visited.test", 2, 1, 1, 2)
	third := newLabNet(t, ipx, "third", "third.test", 3, 1, 1, 1)

	h1, roamer, v1, t1 := NthSubscriber(81), NthSubscriber(82), NthSubscriber(83), NthSubscriber(84)
	unknown := "+442079460000" // no ENUM entry: the home BGCF breaks it out
	// ENUM (RFC 6116): third's subscriber's number points into third.test.
	enum := fmt.Sprintf("$ORIGIN e164.arpa.\n%s%s IN NAPTR 10 10 \"u\" \"E2U+sip\" \"!^.*$!sip:%s@third.test!\" .\n",
		soa, enumName("+"+t1.MSISDN), t1.MSISDN)
	bindtest.StartIn(t, bindtest.Place{NS: ipx, IP: ipxDNS.String(), Port: 53},
		bindtest.Zone{Origin: "home.test", Text: sipZone(ic, "home.test", labICSCFPort, home.Border(0), home.Border(1))},
		bindtest.Zone{Origin: "visited.test", Text: sipZone(ic, "visited.test", labICSCFPort, visited.Border(0))},
		bindtest.Zone{Origin: "third.test", Text: sipZone(ic, "third.test", labICSCFPort, third.Border(0))},
		bindtest.Zone{Origin: "e164.arpa", Text: enum})

	builds.Wait()
	// The border link of the home network, seen from the IPX: every packet in or out of it, from before the
	// first node starts.
	capture := tshark.StartCaptureIn(t, tsharkBin, ipx, home.VethIPX, "udp or tcp")

	others := func(me *labNet) []string {
		var out []string
		for _, l := range []*labNet{home, visited, third} {
			if l != me {
				out = append(out, l.Border(0)+"/32")
			}
		}
		return out
	}
	hc := startLabCore(t, home, labCoreOptions{Between: ic, ICSCFs: 2, Others: others(home), THIGKey: strings.Repeat("11", 32),
		Partners: []string{visited.Border(0)}, // the visited P-CSCF registers home's roamers (TS 24.229 §5.3.1.2)
		Interconnect: fmt.Sprintf("  bgcf:\n    routes: [{prefix: \"+44\", gateway: \"sip:%s:%d\", name: pstn-uk}]\n",
			home.Core(3), labGWPort)})
	vc := startLabCore(t, visited, labCoreOptions{Between: ic, ICSCFs: 1, PCSCFAtBorder: true, VisitedID: "visited.test",
		Others: others(visited), THIGKey: strings.Repeat("22", 32),
		Partners: []string{home.Border(0), home.Border(1)}}) // the roamers' home I-CSCFs reach them along their Path
	tc := startLabCore(t, third, labCoreOptions{Between: ic, ICSCFs: 1, PCSCFAtBorder: true, VisitedID: "third.test",
		Others: others(third), THIGKey: strings.Repeat("33", 32)})
	provisionLab(t, hc, h1)
	provisionLab(t, hc, roamer, "visited.test")
	provisionLab(t, vc, v1)
	provisionLab(t, tc, t1)

	ue := func(s Subscriber, subscribed, at *labCore, host int, label string) *labUE {
		return &labUE{Sub: s, Home: subscribed, At: at, IP: at.Access(host), Port: FreePort(t), label: label}
	}
	uH := ue(h1, hc, hc, 10, "home UE")
	uR := ue(roamer, hc, vc, 11, "home's roamer in visited")
	uV := ue(v1, vc, vc, 10, "visited UE")
	uT := ue(t1, tc, tc, 10, "third UE")

	if !t.Run("registration, roaming through the visited P-CSCF", func(t *testing.T) {
		for _, u := range []*labUE{uH, uR, uV, uT} {
			u.sipp("register.xml", nil).Run(t)
		}
	}) {
		t.FailNow()
	}

	calls := []struct{ from, to *labUE }{
		{uR, uH}, {uH, uR}, // roaming: visited→home along the hidden Service-Route, home→visited along the Path
		{uH, uV}, {uV, uH},
		{uH, uT}, {uT, uH},
		{uV, uT}, {uT, uV},
	}
	for _, c := range calls {
		t.Run(fmt.Sprintf("call %s to %s", c.from.label, c.to.label), func(t *testing.T) {
			RunPair(t, c.to.sipp("call_uas.xml", nil),
				c.from.sipp("call_uac.xml", map[string]string{"callee": c.to.Sub.MSISDN, "callee_domain": c.to.Home.Domain}))
		})
		t.Run(fmt.Sprintf("MESSAGE %s to %s", c.from.label, c.to.label), func(t *testing.T) {
			RunPair(t, c.to.sipp("message_uas.xml", nil),
				c.from.sipp("message_uac.xml", map[string]string{"callee": c.to.Sub.MSISDN, "callee_domain": c.to.Home.Domain}))
		})
	}
	t.Run("tel number resolved by ENUM to the third network", func(t *testing.T) {
		RunPair(t, uT.sipp("call_uas.xml", nil), uH.sipp("call_tel_uac.xml", map[string]string{"callee": "+" + t1.MSISDN}))
	})
	t.Run("number without ENUM entry broken out to the PSTN gateway", func(t *testing.T) {
		gw := SIPp{Scenario: "call_uas.xml", Remote: hc.SCSCF.SIP, Service: "pstn", LocalPort: labGWPort, IP: home.Core(3),
			NS: home.NS, Keys: map[string]string{"domain": home.Domain}, Timeout: 20 * time.Second}
		RunPair(t, gw, uH.sipp("call_tel_uac.xml", map[string]string{"callee": unknown}))
	})
	t.Run("first I-CSCF in SRV order down", func(t *testing.T) {
		hc.ICSCFs[0].Kill()
		second := hc.ICSCFs[1]
		// Visited→home by DNS: home.test's SRV lists icscf1 first; the visited P-CSCF fails over to icscf2.
		reg := uR.sipp("register.xml", nil).Run(t)
		// And visited's I-CSCF, the exit towards home, does the same for a MESSAGE.
		uas := uH.sipp("message_uas.xml", nil).Start(t)
		uas.WaitBound(5 * time.Second)
		msg := uV.sipp("message_uac.xml", map[string]string{"callee": uH.Sub.MSISDN, "callee_domain": home.Domain}).Run(t)
		uas.MustPass()
		// The roamer's own requests follow its hidden Service-Route, sip:TOKEN@home.test: the visited P-CSCF
		// resolves home.test, whose first I-CSCF is gone.
		RunPair(t, uH.sipp("message_uas.xml", nil),
			uR.sipp("message_uac.xml", map[string]string{"callee": uH.Sub.MSISDN}))
		for what, callID := range map[string]string{"REGISTER": sippCallID(reg), "MESSAGE": sippCallID(msg)} {
			if callID == "" || !strings.Contains(second.Logs(), callID) {
				t.Errorf("the %s (Call-ID %q) did not pass the second I-CSCF", what, callID)
			}
		}
	})

	// Topology hiding: nothing that crossed home's border names a home core node (address or name).
	path := capture.Stop(t)
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(raw, []byte("tokenized-by=home.test")) {
		t.Errorf("no THIG token in the capture of the border: is it capturing? (%d bytes)", len(raw))
	}
	for _, secret := range []string{home.CorePrefix(), "scscf.home.test", "hss.home.test", "127.0.0.1"} {
		if i := bytes.Index(raw, []byte(secret)); i >= 0 {
			lo, hi := max(0, i-300), min(len(raw), i+200)
			t.Errorf("the home network's border link carried %q:\n%q", secret, raw[lo:hi])
		}
	}
}

// sippCallID is the Call-ID of the first message SIPp logged.
func sippCallID(r SIPpResult) string {
	for _, line := range strings.Split(r.Messages, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "Call-ID:"); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}
