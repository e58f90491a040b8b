package pcscf

// The whole core in the VM: the test binary runs itself three more times, as the HSS, S-CSCF and
// I-CSCF, started from a thread inside the P-CSCF's network namespace so that the nodes live there
// entirely (a child inherits its parent thread's namespaces) on that namespace's loopback with
// their default ports. UE simulators in their own namespaces then register with sec-agree and
// kernel SAs through P-CSCF → I-CSCF → S-CSCF → HSS, exchange MESSAGEs and a call over their SAs,
// and de-register. Runs in the VM (make test-ipsec); skips on a kernel without ESP.

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/imscore/imscore/hss"
	"github.com/imscore/imscore/hss/hsscx"
	"github.com/imscore/imscore/hss/hsstest"
	"github.com/imscore/imscore/internal/config"
	"github.com/imscore/imscore/services/icscf"
	"github.com/imscore/imscore/services/scscf"
	"github.com/imscore/imscore/sip/ipsec"
	"github.com/imscore/imscore/sip/ipsec/ipsectest"
	"github.com/imscore/imscore/sip/trust"
	"github.com/imscore/imscore/sip/ue"
	"github.com/imscore/imscore/storage"
)

// The test binary runs as a core node when these are set (see TestMain).
const (
	envTestNode   = "IMSCORE_PCSCF_TEST_NODE"   // hss, scscf or icscf
	envTestConfig = "IMSCORE_PCSCF_TEST_CONFIG" // YAML over the node's defaults
)

func TestMain(m *testing.M) {
	if node := os.Getenv(envTestNode); node != "" {
		os.Exit(runTestNode(node, os.Getenv(envTestConfig)))
	}
	os.Exit(m.Run())
}

// runTestNode runs one core node until SIGTERM, as its cmd/ main would.
func runTestNode(node, yaml string) int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	log, _ := zap.NewDevelopment()
	log = log.Named(node)
	var err error
	switch node {
	case "hss":
		cfg := hss.DefaultConfig()
		if err = config.Decode([]byte(yaml), &cfg); err == nil {
			err = hsscx.Run(ctx, cfg, log)
		}
	case "scscf":
		cfg := scscf.DefaultConfig()
		if err = config.Decode([]byte(yaml), &cfg); err == nil {
			err = scscf.Run(ctx, cfg, log)
		}
	case "icscf":
		cfg := icscf.DefaultConfig()
		if err = config.Decode([]byte(yaml), &cfg); err == nil {
			err = icscf.Run(ctx, cfg, log)
		}
	default:
		err = fmt.Errorf("unknown node %q", node)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", node, err)
		return 1
	}
	return 0
}

func TestKernelIPsecRealCore(t *testing.T) {
	ipsectest.RequireRoot(t)
	link := ipsectest.NewLink(t)
	pcMgr := pcscfManager(t, link)

	dir := t.TempDir()
	alice, bob := newSubscriber(t, 1), newSubscriber(t, 2)
	provisionCore(t, filepath.Join(dir, "hss.db"), alice, bob)
	startCoreNodes(t, link, dir)

	pcAddr := link.PCSCF4
	ue2 := addUENamespace(t, link.PCSCF, false, pcAddr)
	for _, transport := range []string{"udp", "tcp"} {
		for i, algs := range []ipsec.Algorithms{
			{Integrity: ipsec.HMACSHA196, Encryption: ipsec.EncryptionAESCBC},
			{Integrity: ipsec.HMACMD596, Encryption: ipsec.EncryptionDES3},
			{Integrity: ipsec.HMACSHA196, Encryption: ipsec.EncryptionNull},
			{Integrity: ipsec.HMACMD596, Encryption: ipsec.EncryptionAESCBC},
		} {
			t.Run(transport+"/"+strings.ReplaceAll(algs.String(), "/", "+"), func(t *testing.T) {
				// Distinct reqid ranges per case: a case's SAs must never be mistaken for another's.
				runRealCore(t, link, ue2, pcMgr, transport, algs, uint32(i)<<12, alice, bob)
			})
		}
	}
}

func runRealCore(t *testing.T, link *ipsectest.Link, ue2 ueNS, pcMgr *ipsec.Manager, transport string, algs ipsec.Algorithms,
	reqOffset uint32, alice, bob subscriber) {
	pcAddr := link.PCSCF4
	n := startPCSCFInNamespace(t, link)

	mkUE := func(sub subscriber, ns *ipsectest.NS, local netip.Addr, reqBase uint32) *ue.UE {
		mgr, err := ipsec.NewManager(ns.Handle, ipsec.Config{ReqIDBase: reqBase, ReqIDCount: 0x100}, testLogger(t))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(mgr.Close)
		return newUE(t, sub, netip.AddrPortFrom(pcAddr, 5060), transport, true, func(c *ue.Config) {
			c.Local = local
			c.InNamespace = ns.Do
			c.SAs = mgr
			c.Offer = []ipsec.Algorithms{algs}
			c.Timeout = 20 * time.Second // software crypto under TCG, and four nodes on one vCPU
		})
	}
	ua := mkUE(alice, link.UE, link.UE4, 0x56000000+reqOffset)
	ub := mkUE(bob, ue2.ns, ue2.addr, 0x56100000+reqOffset)
	// One generous deadline for the whole case: a hang guard, not a speed assertion.
	tctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	for _, u := range []*ue.UE{ua, ub} {
		reg, err := u.Register(tctx)
		if err != nil {
			t.Fatalf("register through the real core: %v", err)
		}
		if !reg.SecAgree || reg.Algorithms != algs {
			t.Fatalf("registration: sec-agree %v with %v, want %v", reg.SecAgree, reg.Algorithms, algs)
		}
	}
	// MESSAGE both ways, addressed by MSISDN as a user would (the IMSI identity is barred).
	for _, c := range []struct {
		from, to *ue.UE
		target   string
	}{{ua, ub, msisdnURI(bob)}, {ub, ua, msisdnURI(alice)}} {
		text := "over ESP through the core to " + c.target
		if _, err := c.from.Message(tctx, c.target, text); err != nil {
			t.Fatalf("MESSAGE to %s: %v", c.target, err)
		}
		select {
		case got := <-c.to.Incoming():
			if string(got.Body()) != text {
				t.Fatalf("got %q", got.Body())
			}
		case <-tctx.Done():
			t.Fatalf("%s got nothing", c.target)
		}
	}
	call, err := ua.Invite(tctx, msisdnURI(bob))
	if err != nil {
		t.Fatalf("INVITE: %v", err)
	}
	if err := call.Hangup(tctx); err != nil {
		t.Fatalf("BYE: %v", err)
	}
	// A 2 kB INVITE from each UE through the real core (issue 11).
	largeInvitesFromUE(t, tctx, []largeLeg{{ua, ub, msisdnURI(bob)}, {ub, ua, msisdnURI(alice)}}, 2048)

	// Every one of each UE's four SAs at the P-CSCF carried bytes, none failed integrity.
	for _, sub := range []subscriber{alice, bob} {
		reg, ok := n.Registration(sub.impu)
		if !ok || len(reg.SAs) != 1 {
			t.Fatalf("P-CSCF registration of %s: %+v", sub.impu, reg)
		}
		pair := reg.SAs[0].Pair
		counters, err := pcMgr.Counters(pair)
		if err != nil {
			t.Fatalf("counters: %v", err)
		}
		for _, f := range pair.Flows() {
			st := counters[f.SPI]
			if st.Bytes == 0 {
				t.Errorf("%s: SA %v (spi %#x) carried no bytes", sub.impu, f.ID, f.SPI)
			}
			if st.IntegrityFailed != 0 {
				t.Errorf("%s: SA %v: %d integrity failures", sub.impu, f.ID, st.IntegrityFailed)
			}
		}
	}

	for _, u := range []*ue.UE{ua, ub} {
		if err := u.Deregister(tctx); err != nil {
			t.Fatalf("de-register: %v", err)
		}
	}
	// The SAs go shortly after the final response left through them (DeregDelay).
	deadline := time.Now().Add(20 * time.Second)
	for {
		sas, err := pcMgr.List()
		if err != nil {
			t.Fatal(err)
		}
		if len(sas) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d SAs left at the P-CSCF after de-registration", len(sas))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func msisdnURI(s subscriber) string {
	imsi := strings.TrimSuffix(strings.TrimPrefix(s.impu, "sip:"), "@"+domain)
	return "sip:" + realCoreMSISDN(imsi) + "@" + domain
}

// realCoreMSISDN is the MSISDN provisioned for a test IMSI: 1555 and its last seven digits.
func realCoreMSISDN(imsi string) string { return "1555" + imsi[len(imsi)-7:] }

// provisionCore creates the HSS store with the test subscribers (keys of TS 35.208 set 1, as
// newSubscriber uses) and an empty default profile: no network needed before the HSS runs.
func provisionCore(t *testing.T, path string, subs ...subscriber) {
	t.Helper()
	ctx := context.Background()
	db, err := storage.OpenAndMigrate(ctx, "sqlite://"+path, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var store hss.Store = db
	if err := store.CreateServiceProfile(ctx, hss.ServiceProfile{ID: hsstest.DefaultProfileID}); err != nil {
		t.Fatal(err)
	}
	for _, s := range subs {
		imsi := strings.TrimSuffix(s.impi, "@"+domain)
		if err := store.CreateSubscriber(ctx, hsstest.Subscriber(imsi, realCoreMSISDN(imsi))); err != nil {
			t.Fatalf("provision %s: %v", imsi, err)
		}
	}
}

// startCoreNodes starts the HSS (on dir/hss.db), the S-CSCF and the I-CSCF in the P-CSCF's namespace on loopback,
// in imsrun's order, each ready before the next.
func startCoreNodes(t *testing.T, link *ipsectest.Link, dir string) {
	startCoreNode(t, link.PCSCF, "hss", "store: {dsn: "+filepath.Join(dir, "hss.db")+"}\n", "127.0.0.1:3868")
	// The P-CSCF listens on link.PCSCF4, so its requests reach the I- and S-CSCF from that address: it is part of
	// their trust domain (sip/trust), beside loopback.
	trusted := "trusted_networks: [127.0.0.0/8, '::1/128', " + link.PCSCF4.String() + "/32]\n"
	startCoreNode(t, link.PCSCF, "scscf", "db: sqlite://"+filepath.Join(dir, "scscf.db")+"\n"+trusted, "127.0.0.1:6060")
	startCoreNode(t, link.PCSCF, "icscf", trusted, "127.0.0.1:4060")
}

// startCoreNode forks the test binary as node from a thread inside ns, waits until ready accepts
// TCP there, and stops it with SIGTERM (clean exit required) at cleanup.
func startCoreNode(t *testing.T, ns *ipsectest.NS, node, yaml, ready string) {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(self, "-test.run=^$")
	cmd.Env = append(os.Environ(), envTestNode+"="+node, envTestConfig+"="+yaml)
	logs := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	// The fork happens on this locked thread, so the child is born in ns.
	if err := ns.Do(cmd.Start); err != nil {
		t.Fatalf("start %s: %v", node, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-exited:
			if err != nil {
				t.Errorf("%s exited with %v after SIGTERM\n%s", node, err, logs.String())
			}
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			t.Errorf("%s did not stop after SIGTERM", node)
		}
		if t.Failed() {
			t.Logf("%s log:\n%s", node, logs.String())
		}
	})
	deadline := time.Now().Add(60 * time.Second)
	for {
		err := ns.Do(func() error {
			c, err := net.DialTimeout("tcp", ready, time.Second)
			if err == nil {
				c.Close()
			}
			return err
		})
		if err == nil {
			return
		}
		select {
		case werr := <-exited:
			t.Fatalf("%s exited during start-up: %v\n%s", node, werr, logs.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not serving on %s: %v\n%s", node, ready, err, logs.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// lockedBuffer collects a child's output for the failure log.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// startPCSCFInNamespace runs a P-CSCF with IPsec required in the P-CSCF namespace of link, on
// link.PCSCF4:5060, towards the I-CSCF on 127.0.0.1:4060 in the same namespace, until the test ends.
func startPCSCFInNamespace(t *testing.T, link *ipsectest.Link) *Node {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Listen = []string{netip.AddrPortFrom(link.PCSCF4, 5060).String()}
	cfg.ICSCF = "127.0.0.1:4060"
	cfg.HTTP = ""
	cfg.StateFile = filepath.Join(t.TempDir(), "pcscf-state.json")
	cfg.DeregDelay = 100 * time.Millisecond
	cfg.IPsec = IPsecRequired
	cfg.InNamespace = link.PCSCF.Do // our port-c → the UE's port-s connections start in the namespace
	// The core nodes share the P-CSCF's namespace on loopback; what they send to our address over TCP has that
	// address as its source (the kernel's choice). The UEs, on their own veths, stay the access side.
	cfg.TrustedNetworks = append(trust.DefaultNetworks(), link.PCSCF4.String())
	var n *Node
	if err := link.PCSCF.Do(func() error {
		var err error
		n, err = New(cfg, testLogger(t).Named("pcscf"))
		return err
	}); err != nil {
		t.Fatalf("pcscf: %v", err)
	}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- n.Run(ctx) }()
	t.Cleanup(func() { stop(); <-done })
	<-n.Ready()
	return n
}
