package e2e

import (
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/imscore/imscore/storage/postgres/pgtest"
)

// core is the I-CSCF and S-CSCF binaries around an HSS, with provisioned subscribers, and optionally a P-CSCF.
type core struct {
	hss   *HSS
	icscf *ICSCF
	scscf *SCSCF
	pcscf *PCSCF
	entry string // where UEs send: the P-CSCF when there is one, else the I-CSCF
}

// coreOptions select the store and the entry point.
type coreOptions struct {
	dsn   string // HSS and S-CSCF store; "": SQLite files
	pcscf bool   // UEs go through cmd/pcscf (no sec-agree)
	// pcscfExtra is YAML appended to the P-CSCF's configuration.
	pcscfExtra string
	// hssExtra is YAML appended to the HSS's configuration; scscfArgs are further S-CSCF flags.
	hssExtra  string
	scscfArgs []string
}

// startCore starts HSS, S-CSCF and I-CSCF with a SQLite store (dsn "") or the given one, and provisions subs.
func startCore(t *testing.T, dsn string, subs ...Subscriber) *core {
	t.Helper()
	return startCoreWith(t, coreOptions{dsn: dsn}, subs...)
}

func startCoreWith(t *testing.T, o coreOptions, subs ...Subscriber) *core {
	t.Helper()
	dsn := o.dsn
	Need(t, bins.Has("scscf") && bins.Has("hss") && bins.Has("imsctl"), "cmd/hss, cmd/scscf or cmd/imsctl not in the tree yet")
	// The S-CSCF's name carries its port: choose it first so that the HSS can be seeded with it.
	c := &core{}
	scscfPort := FreePort(t)
	name := fmt.Sprintf("sip:scscf.%s:%d", Domain, scscfPort)
	c.hss = StartHSS(t, bins, HSSOptions{DB: dsn, SCSCFs: []string{name}, Extra: o.hssExtra})
	for _, s := range subs {
		c.hss.Provision(t, bins, s)
	}
	icscfPort := FreePort(t)
	c.scscf = StartSCSCF(t, bins, SCSCFOptions{HSS: c.hss.Cx, HSSHost: c.hss.Host, ICSCF: Addr(icscfPort), DB: dsn,
		Args: append([]string{"--sip-listen", Addr(scscfPort), "--server-name", name}, o.scscfArgs...)})
	c.scscf.Name, c.scscf.SIP = name, Addr(scscfPort)
	c.icscf = StartICSCF(t, bins, ICSCFOptions{HSS: c.hss.Cx, SCSCFs: []string{name + "=" + c.scscf.SIP},
		Args: []string{"--sip-listen", Addr(icscfPort)}})
	c.icscf.SIP = Addr(icscfPort)
	c.entry = c.icscf.SIP
	if o.pcscf {
		Need(t, bins.Has("pcscf"), "cmd/pcscf not in the tree yet")
		c.pcscf = StartPCSCF(t, bins, PCSCFOptions{ICSCF: c.icscf.SIP, Extra: o.pcscfExtra})
		c.entry = c.pcscf.SIP
	}
	return c
}

func (c *core) sipp(scenario string, s Subscriber, extra map[string]string) SIPp {
	keys := map[string]string{"domain": Domain, "impi": s.IMPI(), "expires": "600"}
	for k, v := range extra {
		keys[k] = v
	}
	return SIPp{Scenario: scenario, Remote: c.entry, Service: s.MSISDN, Username: s.IMPI(), Keys: keys,
		Timeout: 20 * time.Second}
}

// SIPp registers with AKAv1-MD5 through the I-CSCF to the S-CSCF, against the project's HSS.
func TestSIPpRegistration(t *testing.T) {
	NeedSIPp(t)
	alice := NthSubscriber(11)
	c := startCore(t, "", alice)
	tests := []struct {
		name, scenario, transport string
	}{
		{"register, re-register, de-register (UDP)", "register_aka.xml", "u1"},
		{"register, re-register, de-register (TCP)", "register_aka.xml", "t1"},
		{"wrong response gets 403", "register_wrong_res.xml", "u1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := c.sipp(tt.scenario, alice, nil)
			s.Transport = tt.transport
			s.Run(t)
		})
	}
}

// registerAt registers s with SIPp bound to port, so that a scenario run on the same port afterwards is the
// registered contact.
func (c *core) registerAt(t *testing.T, s Subscriber, port int) {
	t.Helper()
	r := c.sipp("register.xml", s, nil)
	r.LocalPort = port
	r.Run(t)
}

// Two registered users exchange a page-mode MESSAGE (RFC 3428) through I-CSCF (LIR) and S-CSCF.
func TestSIPpMessage(t *testing.T) {
	NeedSIPp(t)
	alice, bob := NthSubscriber(21), NthSubscriber(22)
	c := startCore(t, "", alice, bob)
	alicePort, bobPort := FreePort(t), FreePort(t)
	c.registerAt(t, bob, bobPort)
	c.registerAt(t, alice, alicePort)

	uas := c.sipp("message_uas.xml", bob, nil)
	uas.LocalPort = bobPort
	uac := c.sipp("message_uac.xml", alice, map[string]string{"callee": bob.MSISDN})
	uac.LocalPort = alicePort
	RunPair(t, uas, uac)
	c.icscfRouted(t, "MESSAGE")
}

// icscfRouted checks, from the I-CSCF's metrics, that it located the callee with an LIR and forwarded method.
func (c *core) icscfRouted(t *testing.T, method string) {
	t.Helper()
	m := Metrics(t, c.icscf.HTTP)
	for _, want := range []string{`icscf_cx_answers_total{command="LIR",result="2001"}`,
		`icscf_sip_requests_total{direction="out",method="` + method + `"}`} {
		if !strings.Contains(m, want) {
			t.Errorf("I-CSCF metrics lack %s", want)
		}
	}
}

// A call between two registered users: INVITE/180/200/ACK, then BYE/200.
func TestSIPpCall(t *testing.T) {
	NeedSIPp(t)
	alice, bob := NthSubscriber(31), NthSubscriber(32)
	c := startCore(t, "", alice, bob)
	alicePort, bobPort := FreePort(t), FreePort(t)
	c.registerAt(t, bob, bobPort)
	c.registerAt(t, alice, alicePort)

	uas := c.sipp("call_uas.xml", bob, nil)
	uas.LocalPort = bobPort
	uac := c.sipp("call_uac.xml", alice, map[string]string{"callee": bob.MSISDN})
	uac.LocalPort = alicePort
	RunPair(t, uas, uac)
	c.icscfRouted(t, "INVITE")
}

// A UE subscribed to its reg event learns of a network-initiated de-registration (HSS RTR → S-CSCF NOTIFY).
func TestSIPpRegEventNetworkDeregistration(t *testing.T) {
	NeedSIPp(t)
	alice := NthSubscriber(41)
	c := startCore(t, "", alice)
	port := FreePort(t)
	c.registerAt(t, alice, port)

	sub := c.sipp("subscribe_reg.xml", alice, nil)
	sub.LocalPort = port
	run := sub.Start(t)
	run.WaitLog("subscribed", 10*time.Second)
	c.hss.Deregister(t, bins, alice)
	run.MustPass()
}

// The whole path a UE without IPsec takes: SIPp → P-CSCF → I-CSCF → S-CSCF (originating, Service-Route) →
// I-CSCF (LIR) → S-CSCF (terminating) → P-CSCF (Path) → SIPp.
func TestSIPpThroughPCSCF(t *testing.T) {
	NeedSIPp(t)
	alice, bob := NthSubscriber(51), NthSubscriber(52)
	c := startCoreWith(t, coreOptions{pcscf: true}, alice, bob)

	t.Run("register, re-register, de-register", func(t *testing.T) {
		c.sipp("register_aka.xml", alice, nil).Run(t)
	})
	t.Run("register, re-register, de-register over TCP", func(t *testing.T) {
		s := c.sipp("register_aka.xml", alice, nil)
		s.Transport = "t1"
		s.Run(t)
	})
	alicePort, bobPort := FreePort(t), FreePort(t)
	c.registerAt(t, bob, bobPort)
	c.registerAt(t, alice, alicePort)
	t.Run("MESSAGE", func(t *testing.T) {
		uas := c.sipp("message_uas.xml", bob, nil)
		uas.LocalPort = bobPort
		uac := c.sipp("message_uac.xml", alice, map[string]string{"callee": bob.MSISDN})
		uac.LocalPort = alicePort
		RunPair(t, uas, uac)
	})
	t.Run("call", func(t *testing.T) {
		uas := c.sipp("call_uas.xml", bob, nil)
		uas.LocalPort = bobPort
		uac := c.sipp("call_uac.xml", alice, map[string]string{"callee": bob.MSISDN})
		uac.LocalPort = alicePort
		RunPair(t, uas, uac)
	})
	t.Run("reg event and network de-registration", func(t *testing.T) {
		sub := c.sipp("subscribe_reg.xml", alice, nil)
		sub.LocalPort = alicePort
		run := sub.Start(t)
		run.WaitLog("subscribed", 10*time.Second)
		c.hss.Deregister(t, bins, alice)
		run.MustPass()
	})
}

// The same registration with the HSS and the S-CSCF registrar on PostgreSQL.
func TestSIPpRegistrationPostgreSQL(t *testing.T) {
	NeedSIPp(t)
	dsn := pgtest.Start(t)
	alice := NthSubscriber(61)
	c := startCore(t, dsn, alice)
	c.sipp("register_aka.xml", alice, nil).Run(t)
}

// TS 24.229 §5.3.1.3 with real processes: the first S-CSCF is frozen (SIGSTOP: its sockets stay open and
// nothing answers), the I-CSCF gives up on it after --attempt-timeout, asks the HSS again with
// REGISTRATION_AND_CAPABILITIES and registers the UE at the second one.
func TestSIPpRegisterFailsOverToSecondSCSCF(t *testing.T) {
	NeedSIPp(t)
	Need(t, bins.Has("scscf"), "cmd/scscf not in the tree yet")
	alice := NthSubscriber(71)
	portA, portB, icscfPort := FreePort(t), FreePort(t), FreePort(t)
	nameA := fmt.Sprintf("sip:scscf-a.%s:%d", Domain, portA)
	nameB := fmt.Sprintf("sip:scscf-b.%s:%d", Domain, portB)
	h := StartHSS(t, bins, HSSOptions{SCSCFs: []string{nameA, nameB}})
	h.Provision(t, bins, alice)
	opts := func(port int, name string) SCSCFOptions {
		return SCSCFOptions{HSS: h.Cx, HSSHost: h.Host, ICSCF: Addr(icscfPort),
			Args: []string{"--sip-listen", Addr(port), "--server-name", name}}
	}
	a := StartSCSCF(t, bins, opts(portA, nameA))
	StartSCSCF(t, bins, opts(portB, nameB))
	ic := StartICSCF(t, bins, ICSCFOptions{HSS: h.Cx,
		SCSCFs: []string{nameA + "=" + Addr(portA), nameB + "=" + Addr(portB)},
		Args:   []string{"--sip-listen", Addr(icscfPort), "--attempt-timeout", "1s"}})
	ic.SIP = Addr(icscfPort)

	a.Signal(syscall.SIGSTOP)
	t.Cleanup(func() { a.Signal(syscall.SIGCONT) }) // runs before a's Stop
	c := &core{hss: h, icscf: ic, entry: ic.SIP}
	s := c.sipp("register.xml", alice, nil)
	s.Timeout = 30 * time.Second
	s.Run(t)

	m := Metrics(t, ic.HTTP)
	if !strings.Contains(m, "icscf_scscf_failover_total") || strings.Contains(m, "icscf_scscf_failover_total 0") {
		t.Errorf("no failover counted:\n%s", grepLines(m, "icscf_"))
	}
	if reg := Imsctl(t, bins, h, "registration", "show", "--imsi", alice.IMSI); !strings.Contains(reg, "scscf-b") {
		t.Errorf("registration not at the second S-CSCF:\n%s", reg)
	}
}

func grepLines(text, substr string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.Contains(l, substr) && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
