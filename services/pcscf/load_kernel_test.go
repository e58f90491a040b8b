package pcscf

// The load generator (sip/ue/load, imsue load --ipsec) through the whole core with kernel SAs:
// the HSS, S-CSCF and I-CSCF run as children of the test binary in the P-CSCF's namespace (as in
// TestKernelIPsecRealCore), the P-CSCF requires IPsec, and a pool of UEs shares the "ue"
// namespace and its address, each UE with its own protected ports and SAs installed through one
// shared ipsec.Manager there. Runs in the VM (make test-ipsec); skips on a kernel without ESP.

import (
	"context"
	"fmt"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/imscore/imscore/hss"
	"github.com/imscore/imscore/hss/hsstest"
	"github.com/imscore/imscore/sip/ipsec"
	"github.com/imscore/imscore/sip/ipsec/ipsectest"
	"github.com/imscore/imscore/sip/ue"
	"github.com/imscore/imscore/sip/ue/load"
	"github.com/imscore/imscore/storage"
)

func TestKernelIPsecLoad(t *testing.T) {
	ipsectest.RequireRoot(t)
	link := ipsectest.NewLink(t)
	pcMgr := pcscfManager(t, link)

	const ues, firstIMSI = 4, "001010000900000"
	dir := t.TempDir()
	provisionLoadUEs(t, filepath.Join(dir, "hss.db"), firstIMSI, ues)
	startCoreNodes(t, link, dir)

	pcAddr := link.PCSCF4
	n := startPCSCFInNamespace(t, link)

	// One Manager for the whole pool: every UE's SAs in the UE namespace, reqids from its range.
	ueMgr, err := ipsec.NewManager(link.UE.Handle, ipsec.Config{ReqIDBase: 0x57000000, ReqIDCount: 0x1000}, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ueMgr.Close)
	keys := newSubscriber(t, 1).keys // TS 35.208 set 1, as hsstest provisions
	loadCfg := func(sc load.Scenario, rate float64, d time.Duration) load.Config {
		return load.Config{
			UE: ue.Config{PCSCF: netip.AddrPortFrom(pcAddr, 5060), Transport: "udp", Local: link.UE4, Keys: keys,
				SecAgree: true, SAs: ueMgr, InNamespace: link.UE.Do,
				Timeout: 20 * time.Second}, // software crypto under TCG, and four nodes on one vCPU
			UEs: ues, FirstIMSI: firstIMSI, Domain: domain, Scenario: sc, Rate: rate, Duration: d,
			// Failures must be none: any one fails the step.
			MaxFailureRatio: 1e-9, Version: "vm-test",
		}
	}
	// A hang guard for each run, not a speed assertion.
	runCtx := func() context.Context {
		c, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		t.Cleanup(cancel)
		return c
	}

	t.Run("register", func(t *testing.T) {
		// 8 registrations of 4 UEs: each registers, is de-registered and registers again with
		// fresh SAs. A registration takes about a second in the VM (TCG, one vCPU for four
		// nodes): a UE is needed again 4 s after its first, time for both.
		eng, err := load.New(loadCfg(load.ScenarioRegister, 1, 8*time.Second), testLogger(t).Named("load"))
		if err != nil {
			t.Fatal(err)
		}
		rep, err := eng.Run(runCtx())
		left := eng.Close()
		checkLoadReport(t, rep, err, 8)
		if left != 0 {
			t.Errorf("%d UEs left registered", left)
		}
		waitNoSAs(t, pcMgr, ueMgr)
	})

	t.Run("message", func(t *testing.T) {
		eng, err := load.New(loadCfg(load.ScenarioMessage, 2, 4*time.Second), testLogger(t).Named("load"))
		if err != nil {
			t.Fatal(err)
		}
		rep, err := eng.Run(runCtx())
		if checkLoadReport(t, rep, err, 8); rep != nil && rep.Setup != nil && rep.Setup.Registered != ues {
			t.Errorf("setup %+v: want %d registered", rep.Setup, ues)
		}
		// The traffic went through each UE's SAs at the P-CSCF: its requests and their answers
		// (flows 1 and 2) for every UE, and for the MESSAGEs' callees the requests to the UE and
		// their answers (flows 3 and 4); no packet failed integrity.
		var toUE uint64
		for i, impu := range eng.IMPUs() {
			reg, ok := n.Registration(impu)
			if !ok || len(reg.SAs) != 1 {
				t.Fatalf("P-CSCF registration of %s: %+v", impu, reg)
			}
			pair := reg.SAs[0].Pair
			if ur := eng.Registration(i); ur == nil || ur.Pair.UE.SPIC != pair.UE.SPIC {
				t.Errorf("%s: the UE's current SAs are not the P-CSCF's %+v", impu, pair.UE)
			}
			counters, err := pcMgr.Counters(pair)
			if err != nil {
				t.Fatalf("counters: %v", err)
			}
			f := pair.Flows()
			for _, fl := range f {
				if st := counters[fl.SPI]; st.IntegrityFailed != 0 {
					t.Errorf("%s: SA %v: %d integrity failures", impu, fl.ID, st.IntegrityFailed)
				}
			}
			for _, fl := range f[:2] {
				if counters[fl.SPI].Bytes == 0 {
					t.Errorf("%s: SA %v (spi %#x) carried no bytes", impu, fl.ID, fl.SPI)
				}
			}
			in, back := counters[f[2].SPI].Packets, counters[f[3].SPI].Packets
			if (in == 0) != (back == 0) {
				t.Errorf("%s: %d packets to the UE's port-s, %d answered from it", impu, in, back)
			}
			toUE += in
		}
		if toUE == 0 {
			t.Error("no request reached a UE through its SAs")
		}
		if left := eng.Close(); left != 0 {
			t.Errorf("%d UEs left registered", left)
		}
		waitNoSAs(t, pcMgr, ueMgr)
	})
}

// checkLoadReport: one step with want operations, all of them successful, latencies ordered.
func checkLoadReport(t *testing.T, rep *load.Report, err error, want int) {
	t.Helper()
	if err != nil {
		t.Fatalf("load run: %v", err)
	}
	var text strings.Builder
	_ = rep.WriteText(&text)
	t.Logf("report:\n%s", text.String())
	if !rep.IPsec || len(rep.Steps) != 1 {
		t.Fatalf("report: ipsec %v, %d steps", rep.IPsec, len(rep.Steps))
	}
	st := rep.Steps[0]
	if st.Attempts != want || st.Successes != want || st.Failures != 0 || !rep.Passed() {
		t.Errorf("attempts %d successes %d failures %d %v; want %d without failure", st.Attempts, st.Successes,
			st.Failures, st.FailuresByCause, want)
	}
	if l := st.LatencyMS; !(l.P50 > 0 && l.P50 <= l.P95 && l.P95 <= l.P99 && l.P99 <= l.Max) {
		t.Errorf("latency %+v", l)
	}
}

// waitNoSAs waits until neither side has SAs left (the P-CSCF removes its own DeregDelay after
// the de-registrations' answers).
func waitNoSAs(t *testing.T, mgrs ...*ipsec.Manager) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for _, m := range mgrs {
		for {
			sas, err := m.List()
			if err != nil {
				t.Fatal(err)
			}
			if len(sas) == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d SAs left after the UEs de-registered", len(sas))
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
}

// provisionLoadUEs creates count subscribers from first (keys of TS 35.208 set 1) whose IMSI
// identity is not barred: the load UEs register it and address each other by it.
func provisionLoadUEs(t *testing.T, path, first string, count int) {
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
	for i := range count {
		imsi, err := load.IMSI(first, i)
		if err != nil {
			t.Fatal(err)
		}
		sub := hsstest.Subscriber(imsi, fmt.Sprintf("1556%07d", i))
		for j := range sub.Public {
			sub.Public[j].Barred = false
		}
		if err := store.CreateSubscriber(ctx, sub); err != nil {
			t.Fatalf("provision %s: %v", imsi, err)
		}
	}
}
