package e2e

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/imscore/imscore/hss/provision"
	"github.com/imscore/imscore/internal/bindtest"
	"github.com/imscore/imscore/internal/tshark"
)

// visitedNetwork is the P-Visited-Network-ID of the visited network's P-CSCF in TestInterconnectRoaming.
const visitedNetwork = "visited.test"

// TestInterconnectRoaming stands up the home network (HSS, S-CSCF, I-CSCF, P-CSCF as processes, domain
// Domain on 127.0.0.1) and a visited network's P-CSCF on 127.0.0.2, with bind9 serving the home domain's
// NAPTR/SRV/A records and an ENUM tree. It checks (docs/interconnect.md):
//   - roaming registration: a home subscriber registers through the visited P-CSCF, which finds the home
//     I-CSCF by DNS from the Request-URI (TS 24.229 §5.2.2.1); the home HSS checks P-Visited-Network-ID
//     against the subscriber's allowed visited networks (TS 29.228 §6.1.1.1);
//   - a call visited→home (along the Service-Route the border hid: the visited P-CSCF resolves the token's
//     domain to the home I-CSCF) and home→visited (along the Path through the border);
//   - a call to a number ENUM does not know breaks out through the S-CSCF's BGCF table to a SIPp UAS playing
//     the PSTN gateway;
//   - topology hiding: no packet to or from the visited network (captured by tshark on 127.0.0.2) names the home
//     S-CSCF or P-CSCF.
//
// SIP between the networks is plain UDP: TLS (RFC 5922) is not implemented yet (issue 16).
func TestInterconnectRoaming(t *testing.T) {
	NeedSIPp(t)
	for _, name := range []string{"hss", "scscf", "icscf", "pcscf", "imsctl"} {
		Need(t, bins.Has(name), "cmd/"+name+" not in the tree")
	}
	tsharkBin := tshark.Find(t)
	roamer, home, other := NthSubscriber(71), NthSubscriber(72), NthSubscriber(73)
	scscfPort, icscfPort, gwPort := FreePort(t), FreePort(t), FreePort(t)

	soa := "$TTL 300\n@ IN SOA ns hostmaster 1 3600 600 86400 60\n@ IN NS ns\nns IN A 127.0.0.1\n"
	dns := bindtest.Start(t,
		bindtest.Zone{Origin: Domain, Text: "$ORIGIN " + Domain + ".\n" + soa + fmt.Sprintf(
			"@ IN NAPTR 10 50 \"s\" \"SIP+D2U\" \"\" _sip._udp\n_sip._udp IN SRV 10 0 %d icscf\nicscf IN A 127.0.0.1\n", icscfPort)},
		bindtest.Zone{Origin: "e164.arpa", Text: "$ORIGIN e164.arpa.\n" + soa})

	// The home network.
	name := fmt.Sprintf("sip:scscf.%s:%d", Domain, scscfPort)
	hss := StartHSS(t, bins, HSSOptions{SCSCFs: []string{name}})
	for _, s := range []Subscriber{roamer, home, other} {
		hss.Provision(t, bins, s)
	}
	allowRoaming(t, hss, roamer, visitedNetwork)
	dir := t.TempDir()
	scscfCfg := writeFile(t, dir, "scscf.yaml", fmt.Sprintf(`interconnect:
  enabled: true
  dns: {servers: [%q], transports: [udp]}
  bgcf:
    routes: [{prefix: "+44", gateway: "sip:127.0.0.1:%d", name: pstn-uk}]
`, dns, gwPort))
	sc := StartSCSCF(t, bins, SCSCFOptions{HSS: hss.Cx, HSSHost: hss.Host, ICSCF: Addr(icscfPort),
		Args: []string{"--config", scscfCfg, "--sip-listen", Addr(scscfPort), "--server-name", name}})
	sc.SIP, sc.Name = Addr(scscfPort), name
	icscfCfg := writeFile(t, dir, "icscf.yaml", fmt.Sprintf(`thig:
  keys: {1: %q}
  current_key: 1
  networks: [127.0.0.2/32]
`, strings.Repeat("5a", 32)))
	ic := StartICSCF(t, bins, ICSCFOptions{HSS: hss.Cx, SCSCFs: []string{name + "=" + sc.SIP},
		Args: []string{"--config", icscfCfg, "--sip-listen", Addr(icscfPort)}})
	ic.SIP = Addr(icscfPort)
	homeP := StartPCSCF(t, bins, PCSCFOptions{ICSCF: ic.SIP})

	// The visited network's P-CSCF, finding home I-CSCFs by DNS.
	capture := tshark.StartCapture(t, tsharkBin, "lo", "udp and host 127.0.0.2")
	visitedP := StartPCSCF(t, bins, PCSCFOptions{ICSCF: "dns", IP: "127.0.0.2", Extra: fmt.Sprintf(
		"dns: {servers: [%q], transports: [udp]}\nvisited_network_id: %q\n", dns, visitedNetwork)})

	ue := func(entry, scenario string, s Subscriber, port int, keys map[string]string) SIPp {
		k := map[string]string{"domain": Domain, "impi": s.IMPI(), "expires": "600"}
		for a, b := range keys {
			k[a] = b
		}
		return SIPp{Scenario: scenario, Remote: entry, Service: s.MSISDN, Username: s.IMPI(), Keys: k,
			LocalPort: port, Timeout: 20 * time.Second}
	}
	roamerPort, homePort, otherPort := FreePort(t), FreePort(t), FreePort(t)
	t.Run("roaming registration through the visited P-CSCF", func(t *testing.T) {
		ue(visitedP.SIP, "register.xml", roamer, roamerPort, nil).Run(t)
		ue(homeP.SIP, "register.xml", home, homePort, nil).Run(t)
	})
	t.Run("a subscriber without roaming to the visited network is refused", func(t *testing.T) {
		refused := ue(visitedP.SIP, "register.xml", other, otherPort, nil)
		refused.Timeout = 6 * time.Second // the scenario waits for a 401 that does not come
		res := refused.Start(t).Wait()
		if res.ExitCode == 0 {
			t.Fatalf("registration of %s through %s passed; the HSS must refuse it (ROAMING_NOT_ALLOWED)", other.IMSI, visitedNetwork)
		}
		if !strings.Contains(res.Messages, "SIP/2.0 403") {
			t.Errorf("want 403 for the REGISTER:\n%s", res.Report())
		}
	})
	t.Run("call visited to home", func(t *testing.T) {
		RunPair(t, ue(homeP.SIP, "call_uas.xml", home, homePort, nil),
			ue(visitedP.SIP, "call_uac.xml", roamer, roamerPort, map[string]string{"callee": home.MSISDN}))
	})
	t.Run("call home to visited", func(t *testing.T) {
		RunPair(t, ue(visitedP.SIP, "call_uas.xml", roamer, roamerPort, nil),
			ue(homeP.SIP, "call_uac.xml", home, homePort, map[string]string{"callee": roamer.MSISDN}))
	})
	t.Run("a number without ENUM entry breaks out to the PSTN gateway", func(t *testing.T) {
		gw := SIPp{Scenario: "call_uas.xml", Remote: sc.SIP, Service: "pstn", LocalPort: gwPort,
			Keys: map[string]string{"domain": Domain}, Timeout: 20 * time.Second}
		RunPair(t, gw, ue(homeP.SIP, "call_tel_uac.xml", home, homePort, map[string]string{"callee": "+442079460000"}))
	})

	// Topology hiding: what the visited network saw names no home node but the border (the I-CSCF).
	path := capture.Stop(t)
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(raw, []byte("tokenized-by="+Domain)) {
		t.Errorf("no THIG token in the capture of the border: is it capturing? (%d bytes)", len(raw))
	}
	for node, addr := range map[string]string{"S-CSCF": sc.SIP, "home P-CSCF": homeP.SIP} {
		if i := bytes.Index(raw, []byte(addr)); i >= 0 {
			lo, hi := max(0, i-300), min(len(raw), i+200)
			t.Errorf("the visited network saw the home %s's address %s:\n%q", node, addr, raw[lo:hi])
		}
	}
}

// allowRoaming lets s register from the visited network (TS 29.228 §6.1.1.1) through the provisioning API.
func allowRoaming(t *testing.T, h *HSS, s Subscriber, visited string) {
	t.Helper()
	c, err := provision.NewClient(h.API, http.DefaultClient, provision.WithToken(h.Token))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	networks := []string{visited}
	if _, err := c.PatchSubscriber(ctx, s.IMPI(), provision.SubscriberPatch{AllowedVisitedNetworks: &networks}); err != nil {
		t.Fatalf("allow %s to roam in %s: %v", s.IMPI(), visited, err)
	}
}

func writeFile(t *testing.T, dir, name, text string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
