package pcscf

import (
	"net"
	"net/netip"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/imscore/imscore/diameter/rx"
	"github.com/imscore/imscore/internal/bsftest"
	"github.com/imscore/imscore/internal/config"
	"github.com/imscore/imscore/internal/pcftest"
	"github.com/imscore/imscore/internal/pcrftest"
	"github.com/imscore/imscore/services/pcscf/qos"
	"github.com/imscore/imscore/services/pcscf/qos/n5"
	"github.com/imscore/imscore/sip/header"
	"github.com/imscore/imscore/sip/ipsec/ipsectest"
)

// TestQoSRules: which UE goes to which policy server.
func TestQoSRules(t *testing.T) {
	rules, err := compileRules([]QoSRule{
		{Access: []string{"3GPP-NR-FDD", "3GPP-NR-TDD"}, Mode: qos.ModeN5},
		{IMPI: `^00101[0-9]{10}@`, IMPU: `^sip:`, Mode: qos.ModeRx},
		{IMPU: `^tel:\+4930`, Mode: qos.ModeOff},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		impu, impi, access string
		want               qos.Mode
	}{
		{"sip:001019999999999@ims.test", "001019999999999@ims.test", "3gpp-nr-tdd", qos.ModeN5},
		{"sip:001019999999999@ims.test", "001019999999999@ims.test", "3GPP-E-UTRAN-FDD", qos.ModeRx},
		{"sip:001019999999999@ims.test", "001019999999999@ims.test", "", qos.ModeRx},
		{"tel:+49301234", "262019999999999@ims.test", "", qos.ModeOff},
		{"sip:262019999999999@ims.test", "262019999999999@ims.test", "3GPP-E-UTRAN-FDD", qos.ModeN5 /* default */},
	} {
		if got := modeFor(rules, qos.ModeN5, tt.impu, tt.impi, tt.access); got != tt.want {
			t.Errorf("modeFor(%s, %s, %q) = %s, want %s", tt.impu, tt.impi, tt.access, got, tt.want)
		}
	}
	for _, bad := range [][]QoSRule{
		{{Mode: qos.ModeN5}},                   // no condition
		{{IMPU: "(", Mode: qos.ModeN5}},        // bad regexp
		{{IMPU: "^sip:", Mode: qos.Mode("x")}}, // bad mode
	} {
		if _, err := compileRules(bad); err == nil {
			t.Errorf("compileRules(%+v) accepted", bad)
		}
	}
	req := sip.NewRequest(sip.INVITE, sip.Uri{Scheme: "sip", Host: "ims.test"})
	req.AppendHeader(sip.NewHeader(header.PAccessNetworkInfo, `3GPP-NR-FDD; nrcgi=0010100000000001`))
	if got := accessType(req); got != "3GPP-NR-FDD" {
		t.Errorf("accessType = %q", got)
	}
	// A rule's mode needs its settings: n5 by rule with only rx configured is refused.
	c := QoSConfig{Config: qos.Config{Mode: qos.ModeRx, PCRFRealm: "epc"}, PCRF: "10.0.0.5:3868", OriginHost: "p", OriginRealm: "r",
		Rules: []QoSRule{{IMPU: "^tel:", Mode: qos.ModeN5}}}
	if err := c.validate(); err == nil {
		t.Error("rules naming n5 without its settings accepted")
	}
	c.PCF, c.NotifyURI, c.NotifyListen = "http://pcf:7777", "http://10.0.0.1:7778/cb", "10.0.0.1:7778"
	if err := c.validate(); err != nil {
		t.Errorf("both modes configured: %v", err)
	}
}

// TestQoSPerUE: one P-CSCF, Rx by default, N5 for alice's IMSI (a qos.rules entry): alice's registration opens an
// application session at the PCF and bob's an Rx session at the PCRF; in a call between them each leg goes to
// its UE's policy server and ends there on BYE.
func TestQoSPerUE(t *testing.T) {
	skipAwayFromSource(t)
	alice, bob := newSubscriber(t, 1), newSubscriber(t, 2)
	core := startFakeCore(t, "127.0.0.1:0", alice, bob)
	pcrf := pcrftest.Start(t, pcrftest.Options{AFHost: "pcscf.ims.test", AFRealm: "ims.test"})
	pcf := pcftest.Start(t, false)
	defer pcf.Check(t)
	notify := freeTCPAddr(t)
	n := startPCSCF(t, "127.0.0.1", core.addr, nil, func(c *Config) {
		c.QoS = QoSConfig{Config: qos.Config{Mode: qos.ModeRx, PCRFRealm: pcrftest.Realm, PCF: pcf.Root,
			NotifyURI: "http://" + notify + "/npcf-callback/v1"},
			PCRF: pcrf.Addr, OriginHost: "pcscf.ims.test", OriginRealm: "ims.test", NotifyListen: notify,
			Rules: []QoSRule{{IMPI: "^" + strings.Split(alice.impi, "@")[0] + "@", Mode: qos.ModeN5}}}
	})
	ua := newUE(t, alice, n.CoreAddr(), "udp", false)
	ub := newUE(t, bob, n.CoreAddr(), "udp", false)
	ctx := ctxT(t)
	if _, err := ua.Register(ctx); err != nil {
		t.Fatalf("register alice: %v", err)
	}
	if _, err := ub.Register(ctx); err != nil {
		t.Fatalf("register bob: %v", err)
	}
	aarOf := func(s subscriber, component uint32) func(rx.Message) bool {
		return func(m rx.Message) bool {
			a, ok := m.(*rx.AAR)
			return ok && len(a.SubscriptionIDs) == 1 && a.SubscriptionIDs[0].Data == s.impu &&
				len(a.MediaComponents) > 0 && a.MediaComponents[0].Number == component
		}
	}
	pcrf.Wait(t, "bob's signalling AAR", aarOf(bob, 0))
	sessions := func(comp string) int {
		k := 0
		for _, s := range pcf.Sessions() {
			if _, ok := s.Context.AscReqData.MedComponents[comp]; ok {
				k++
			}
		}
		return k
	}
	waitFor(t, "alice's signalling application session", func() bool { return sessions("0") == 1 })

	call, err := ua.Invite(ctx, bob.impu)
	if err != nil {
		t.Fatalf("INVITE: %v", err)
	}
	pcrf.Wait(t, "bob's leg AAR", aarOf(bob, 1))
	waitFor(t, "alice's leg application session", func() bool { return sessions("1") == 1 })
	if err := call.Hangup(ctx); err != nil {
		t.Fatalf("BYE: %v", err)
	}
	waitFor(t, "alice's leg deleted", func() bool { return sessions("1") == 0 })
	pcrf.Wait(t, "an STR", func(m rx.Message) bool { _, ok := m.(*rx.STR); return ok })
	for _, m := range pcrf.Requests() {
		if a, ok := m.(*rx.AAR); ok && len(a.SubscriptionIDs) == 1 && a.SubscriptionIDs[0].Data == alice.impu {
			t.Errorf("an AAR for alice, whose rule says n5: %+v", a)
		}
	}
}

// waitFor polls cond (bounded) until it holds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitLong)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("no %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestQoSRulesYAML: the docs/qos.md example decodes (unknown keys refused) and validates.
func TestQoSRulesYAML(t *testing.T) {
	const doc = `
qos:
  mode: rx
  rules:
    - access: [3GPP-NR-FDD, 3GPP-NR-TDD]
      mode: n5
    - impi: '^00101[0-9]{10}@'
      mode: n5
    - impu: '^tel:\+4930'
      mode: "off"
  pcrf: 10.10.0.5:3868
  pcrf_realm: epc.mnc001.mcc001.3gppnetwork.org
  origin_host: pcscf.ims.mnc001.mcc001.3gppnetwork.org
  origin_realm: ims.mnc001.mcc001.3gppnetwork.org
  pcf: http://10.10.0.7:7777
  bsf: http://10.10.0.8:7777
  notify_uri: http://10.10.0.20:7778/npcf-callback/v1
  notify_listen: 10.10.0.20:7778
`
	cfg := DefaultConfig()
	if err := config.Decode([]byte(doc), &cfg); err != nil {
		t.Fatal(err)
	}
	if err := cfg.QoS.validate(); err != nil {
		t.Fatal(err)
	}
	if len(cfg.QoS.Rules) != 3 || cfg.QoS.Rules[2].Mode != qos.ModeOff || cfg.QoS.BSF == "" {
		t.Fatalf("decoded %+v", cfg.QoS)
	}
}

// TestQoSBSF: qos.mode n5 with qos.bsf and no qos.pcf: the registration's application session is created at the
// PCF the BSF names for the UE's address.
func TestQoSBSF(t *testing.T) {
	skipAwayFromSource(t)
	alice := newSubscriber(t, 1)
	core := startFakeCore(t, "127.0.0.1:0", alice)
	pcf := pcftest.Start(t, false)
	defer pcf.Check(t)
	bsf := bsftest.Start(t)
	bsf.LikeOpen5GS = true
	defer bsf.Check(t)
	u, err := url.Parse(pcf.Root)
	if err != nil {
		t.Fatal(err)
	}
	host, port, _ := net.SplitHostPort(u.Host)
	p, _ := strconv.Atoi(port)
	bsf.Bind(t, netip.MustParseAddr("127.0.0.1"), n5.PcfBinding{Ipv4Addr: "127.0.0.1", Dnn: "ims", Snssai: &n5.Snssai{Sst: 1},
		PcfIPEndPoints: []n5.IPEndPoint{{Ipv4Address: host, Port: p}}})
	notify := freeTCPAddr(t)
	n := startPCSCF(t, "127.0.0.1", core.addr, nil, func(c *Config) {
		c.QoS = QoSConfig{Config: qos.Config{Mode: qos.ModeN5, BSF: bsf.Root, NotifyURI: "http://" + notify + "/npcf-callback/v1"},
			NotifyListen: notify}
	})
	ua := newUE(t, alice, n.CoreAddr(), "udp", false)
	if _, err := ua.Register(ctxT(t)); err != nil {
		t.Fatalf("register: %v", err)
	}
	waitFor(t, "the signalling application session at the BSF's PCF", func() bool { return len(pcf.Sessions()) == 1 })
	if q := bsf.Queries(); len(q) == 0 || q[0].Get("ipv4Addr") != "127.0.0.1" {
		t.Errorf("BSF queries %v", q)
	}
}

// freeTCPAddr is a loopback host:port free a moment ago (the N5 callback listener binds it).
func freeTCPAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// skipAwayFromSource skips a test whose test servers (internal/pcftest, internal/bsftest) read the 3GPP OpenAPI
// files from the source tree: inside the IPsec VM only this package's testdata goes along. The host's `make
// test` runs them.
func skipAwayFromSource(t *testing.T) {
	t.Helper()
	if os.Getenv(ipsectest.EnvRequireESP) == "1" {
		t.Skip("inside the VM: the OpenAPI files of internal/pcftest and internal/bsftest are not there")
	}
}
