package e2e

import (
	"encoding/hex"
	"fmt"
	"net/http"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/imscore/imscore/hss/aka"
	"github.com/imscore/imscore/services/presence/pidf"
	"github.com/imscore/imscore/services/presence/rlmi"
	"github.com/imscore/imscore/sip/ue"
)

// xcapPut writes a document through the XDMS as the authentication proxy would (asserted identity).
func xcapPut(t *testing.T, as *PresenceAS, auid, owner, name, ctype, doc string) {
	t.Helper()
	url := fmt.Sprintf("http://%s/xcap-root/%s/users/%s/%s", as.HTTP, auid, owner, name)
	req, _ := http.NewRequest(http.MethodPut, url, strings.NewReader(doc))
	req.Header.Set("Content-Type", ctype)
	req.Header.Set("X-3GPP-Asserted-Identity", `"`+owner+`"`)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 && res.StatusCode != 201 {
		t.Fatalf("PUT %s of %s: %d", auid, owner, res.StatusCode)
	}
}

// waitRLMI reads u's presence NOTIFYs until one with an RLMI body.
func waitRLMI(t *testing.T, u *ue.UE) (*rlmi.List, map[string]rlmi.Part) {
	t.Helper()
	for {
		n := waitNotify(t, u, "active")
		ct := n.GetHeader("Content-Type")
		if ct == nil || !strings.HasPrefix(ct.Value(), rlmi.Multipart) {
			continue
		}
		l, parts, err := rlmi.Parse(ct.Value(), n.Body())
		if err != nil {
			t.Fatalf("RLMI: %v\n%s", err, n.Body())
		}
		return l, parts
	}
}

func rlmiInstance(t *testing.T, l *rlmi.List, uri string) rlmi.Instance {
	t.Helper()
	for _, r := range l.Resources {
		if r.URI == uri && len(r.Instances) == 1 {
			return r.Instances[0]
		}
	}
	t.Fatalf("no resource %s in the RLMI %+v", uri, l)
	return rlmi.Instance{}
}

// TestPresenceListsDevicesVisitors: the presence service through the real core, provisioned with one
// `imsctl presence setup`:
//   - a buddy list (RFC 4662): bob's SUBSCRIBE to the service URI of his rls-services document reaches
//     the RLS through the wildcarded PSI's iFC (I-CSCF LIR, S-CSCF terminating unregistered), and gets
//     the full RLMI state of alice (allowed: her PIDF) and carol (pending), then partial NOTIFYs;
//   - alice's second device publishes: bob's list and carol (a direct watcher) get the composition of
//     both devices' tuples;
//   - a visitor: dave registers through a second P-CSCF of a visited network (P-Visited-Network-ID),
//     and his PUBLISH and SUBSCRIBE reach his home presence server through it.
func TestPresenceListsDevicesVisitors(t *testing.T) {
	alice, bob, carol, dave := NthSubscriber(93), NthSubscriber(94), NthSubscriber(95), NthSubscriber(96)
	c := startCoreWith(t, coreOptions{pcscf: true}, alice, bob, carol)
	// dave may roam to the visited network (TS 29.228 §6.1.1.1).
	const visited = "visited.example.net"
	importSubscriber(t, c.hss, fmt.Sprintf(`{"imsi": %q, "msisdn": %q, "k": %q, "op": %q, "amf": %q, "allowed_visited_networks": [%q]}`,
		dave.IMSI, dave.MSISDN, AKAK, AKAOP, AKAAMF, visited))
	as := StartPresence(t, bins, PresenceOptions{})
	c.hss.UsePresenceIFC(t, bins, "sip:"+as.SIP)
	a, b, cn, d := number(alice), number(bob), number(carol), number(dave)
	const phone, tablet = "urn:uuid:00000000-0000-4000-8000-0000000000b1", "urn:uuid:00000000-0000-4000-8000-0000000000b2"
	ua1, _ := c.newUE(t, alice, func(cfg *ue.Config) { cfg.Instance = phone })
	ua2, _ := c.newUE(t, alice, func(cfg *ue.Config) { cfg.Instance = tablet })
	ub, _ := c.newUE(t, bob)
	uc, _ := c.newUE(t, carol)

	// Alice allows bob and carol; bob's buddy list names alice and carol.
	xcapPut(t, as, "org.openmobilealliance.pres-rules", a, "pres-rules", "application/auth-policy+xml", `<?xml version="1.0" encoding="UTF-8"?>
<cr:ruleset xmlns="urn:ietf:params:xml:ns:pres-rules" xmlns:cr="urn:ietf:params:xml:ns:common-policy">
 <cr:rule id="friends"><cr:conditions><cr:identity><cr:one id="`+b+`"/><cr:one id="`+cn+`"/></cr:identity></cr:conditions>
  <cr:actions><sub-handling>allow</sub-handling></cr:actions></cr:rule>
</cr:ruleset>`)
	xcapPut(t, as, "resource-lists", b, "index", "application/resource-lists+xml", `<?xml version="1.0" encoding="UTF-8"?>
<resource-lists xmlns="urn:ietf:params:xml:ns:resource-lists">
 <list name="friends"><display-name>Friends</display-name><entry uri="`+a+`"/><entry uri="`+cn+`"/></list>
</resource-lists>`)
	list := "sip:rls-" + bob.MSISDN + "@" + Domain // matches the PSI sip:rls-!.*!@Domain
	xcapPut(t, as, "rls-services", b, "index", "application/rls-services+xml", `<?xml version="1.0" encoding="UTF-8"?>
<rls-services xmlns="urn:ietf:params:xml:ns:rls-services">
 <service uri="`+list+`">
  <resource-list>http://`+as.HTTP+`/xcap-root/resource-lists/users/`+b+`/index/~~/resource-lists/list%5b@name=%22friends%22%5d</resource-list>
  <packages><package>presence</package></packages>
 </service>
</rls-services>`)

	etag1, _, err := ua1.Publish(uctx(t), ue.PIDF(a, "open", "phone"), "", time.Hour)
	if err != nil || etag1 == "" {
		t.Fatalf("PUBLISH: %v\n%s", err, as.Logs())
	}
	if _, err := ub.SubscribeList(uctx(t), list, 10*time.Minute); err != nil {
		t.Fatalf("list SUBSCRIBE through the PSI: %v\n%s", err, as.Logs())
	}
	l, parts := waitRLMI(t, ub)
	if !l.FullState || l.URI != list || len(l.Resources) != 2 {
		t.Fatalf("first RLMI: %+v", l)
	}
	in := rlmiInstance(t, l, a)
	if doc, err := pidf.Parse(parts[in.CID].Body); in.State != "active" || err != nil || doc.Elements[0].Note != "phone" {
		t.Fatalf("alice in the list: %+v %v\n%s", in, err, parts[in.CID].Body)
	}
	if in := rlmiInstance(t, l, cn); in.State != "pending" {
		t.Errorf("carol in the list: %+v (no rule of hers: pending)", in)
	}
	if _, err := uc.SubscribePresence(uctx(t), a, 10*time.Minute); err != nil {
		t.Fatalf("carol's SUBSCRIBE: %v", err)
	}
	waitNotify(t, uc, "active")

	// Alice's second device: both get the composition of the two devices.
	if _, _, err := ua2.Publish(uctx(t), []byte(strings.Replace(string(ue.PIDF(a, "closed", "tablet")), `id="ue"`, `id="tablet"`, 1)), "", time.Hour); err != nil {
		t.Fatalf("second device's PUBLISH: %v", err)
	}
	n := waitNotify(t, uc, "active")
	if doc, err := pidf.Parse(n.Body()); err != nil || len(doc.Elements) != 2 {
		t.Fatalf("carol's composed NOTIFY: %v\n%s", err, n.Body())
	}
	l, parts = waitRLMI(t, ub)
	in = rlmiInstance(t, l, a)
	if doc, err := pidf.Parse(parts[in.CID].Body); l.FullState || len(l.Resources) != 1 || err != nil || len(doc.Elements) != 2 {
		t.Fatalf("partial RLMI after the second device: %+v %v", l, err)
	}

	t.Run("visitor through a visited P-CSCF", func(t *testing.T) {
		vp := StartPCSCF(t, bins, PCSCFOptions{ICSCF: c.icscf.SIP, Extra: fmt.Sprintf("visited_network_id: %q\n", visited)})
		roam := &core{entry: vp.SIP}
		// The P-CSCF is a visited network's: a user who may not roam there is refused (HSS UAR,
		// DIAMETER_ERROR_ROAMING_NOT_ALLOWED), so the visitor below really comes from it.
		if u, err := ue.New(ue.Config{IMPI: carol.IMPI(), IMPU: cn, PCSCF: netip.MustParseAddrPort(vp.SIP), Keys: akaKeys(t),
			Timeout: 10 * time.Second}, zaptest.NewLogger(t)); err != nil {
			t.Fatal(err)
		} else if _, err := u.Register(uctx(t)); statusOf(err) != 403 {
			u.Close()
			t.Fatalf("carol, not allowed to roam, registering through the visited P-CSCF: %v, want 403", err)
		} else {
			u.Close()
		}
		ud, _ := roam.newUE(t, dave)
		if _, _, err := ud.Publish(uctx(t), ue.PIDF(d, "open", "abroad"), "", time.Hour); err != nil {
			t.Fatalf("visitor's PUBLISH: %v\n%s", err, as.Logs())
		}
		// Dave watches alice (no rule for him: pending), through the visited P-CSCF both ways.
		if _, err := ud.SubscribePresence(uctx(t), a, 10*time.Minute); err != nil {
			t.Fatalf("visitor's SUBSCRIBE: %v", err)
		}
		waitNotify(t, ud, "pending")
		// Carol (home) watches dave: his home presence server has his PUBLISH from abroad.
		xcapPut(t, as, "pres-rules", d, "index", "application/auth-policy+xml", `<cr:ruleset xmlns="urn:ietf:params:xml:ns:pres-rules" xmlns:cr="urn:ietf:params:xml:ns:common-policy">
 <cr:rule id="all"><cr:actions><sub-handling>allow</sub-handling></cr:actions></cr:rule></cr:ruleset>`)
		if _, err := uc.SubscribePresence(uctx(t), d, 10*time.Minute); err != nil {
			t.Fatalf("SUBSCRIBE to the visitor: %v", err)
		}
		for {
			n := waitNotify(t, uc, "active")
			if doc, err := pidf.Parse(n.Body()); err == nil && doc.Entity == d {
				if doc.Elements[0].Note != "abroad" {
					t.Errorf("visitor's state: %s", n.Body())
				}
				break
			}
		}
	})
	as.CheckNoPanic(t)
}

// importSubscriber provisions one subscriber from its API JSON (imsctl subscriber import).
func importSubscriber(t *testing.T, h *HSS, line string) {
	t.Helper()
	f := t.TempDir() + "/sub.ndjson"
	if err := os.WriteFile(f, []byte(line+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	Imsctl(t, bins, h, "subscriber", "import", f)
}

func akaKeys(t *testing.T) aka.Keys {
	t.Helper()
	k, _ := hex.DecodeString(AKAK)
	op, _ := hex.DecodeString(AKAOP)
	keys, err := aka.NewKeys(k, op, nil, [2]byte{0x30, 0x30})
	if err != nil {
		t.Fatal(err)
	}
	return keys
}

// TestSIPpPresence: SIPp, an independent SIP implementation, as a standard presence client against
// cmd/presence (internal/e2e/sipp/presence_uac.xml): PUBLISH with entity-tags (initial, modify, refresh,
// remove, RFC 3903), SUBSCRIBE and its NOTIFYs with PIDF, unsubscription (RFC 3856, RFC 6665), over UDP
// and TCP.
func TestSIPpPresence(t *testing.T) {
	NeedSIPp(t)
	as := StartPresence(t, bins, PresenceOptions{})
	for i, transport := range []string{"u1", "t1"} {
		t.Run(transport, func(t *testing.T) {
			SIPp{Scenario: "presence_uac.xml", Remote: as.SIP, Transport: transport, Service: fmt.Sprintf("1555000020%d", i),
				Keys: map[string]string{"domain": Domain}, Timeout: 30 * time.Second}.Run(t)
		})
	}
	as.CheckNoPanic(t)
}
