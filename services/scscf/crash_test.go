package scscf

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/imscore/imscore/internal/e2e"
	"github.com/imscore/imscore/services/scscf/registrar"
	"github.com/imscore/imscore/sip/digest"
	"github.com/imscore/imscore/storage/postgres/pgtest"
	"github.com/imscore/imscore/storage/sqlite"
)

// crashFlushInterval is the loss window the crashed S-CSCF runs with (store_flush_interval).
const crashFlushInterval = 200 * time.Millisecond

// scscfProcess runs cmd/scscf against the fake HSS on the SQLite file db, SIP on sipAddr.
type scscfProcess struct {
	cmd  *exec.Cmd
	logs *bytes.Buffer
	done chan struct{}
}

func startSCSCFProcess(t *testing.T, bin string, hss *fakeHSS, sipAddr, db string) *scscfProcess {
	t.Helper()
	return startSCSCFProcessAs(t, bin, hss, sipAddr, "sqlite://"+db, testSCSCF)
}

// startSCSCFProcessAs is startSCSCFProcess on the store dsn with the Diameter Origin-Host originHost.
func startSCSCFProcessAs(t *testing.T, bin string, hss *fakeHSS, sipAddr, dsn, originHost string) *scscfProcess {
	t.Helper()
	p := &scscfProcess{logs: &bytes.Buffer{}, done: make(chan struct{})}
	httpAddr := e2e.Addr(e2e.FreePort(t))
	p.cmd = exec.Command(bin, "--sip-listen", sipAddr, "--http-listen", httpAddr, "--diameter-listen", "",
		"--hss", hss.addr, "--hss-host", testHSSHost, "--origin-host", originHost, "--icscf", "none",
		"--db", dsn, "--store-flush-interval", crashFlushInterval.String(), "--log-level", "info")
	p.cmd.Stdout, p.cmd.Stderr = p.logs, p.logs
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		p.kill(syscall.SIGTERM)
		if t.Failed() {
			t.Logf("scscf log:\n%s", p.logs.String())
		}
	})
	// Ready (/readyz): its Cx connection to the HSS is open.
	client := &http.Client{Timeout: time.Second}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		res, err := client.Get("http://" + httpAddr + "/readyz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return p
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the S-CSCF process is not ready: %v", err)
		}
	}
}

// kill sends sig and waits for the exit.
func (p *scscfProcess) kill(sig syscall.Signal) {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(sig)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// The S-CSCF binary killed with SIGKILL while registrations go on loses none that completed more than the
// loss window (store_flush_interval, plus one flush) before the kill: they are in the store, and the
// restarted process serves them (a protected re-registration is accepted without a new challenge, TS 24.229
// §5.4.1.2.1, which it is only for a registered UE).
func TestKilledSCSCFLosesNothingOlderThanTheWindow(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs cmd/scscf")
	}
	b, err := e2e.NewBuilder(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	bin := b.MustPath(t, "scscf")
	hss := startFakeHSS(t)
	db := filepath.Join(t.TempDir(), "scscf.db")
	sipAddr := e2e.Addr(e2e.FreePort(t))
	proc := startSCSCFProcess(t, bin, hss, sipAddr, db)
	target := netip.MustParseAddrPort(sipAddr)

	// A bounded load: UEs register one after another; the process is killed right after the last 200 OK,
	// while more REGISTERs are in flight.
	const ues, inFlight = 40, 10
	type done struct {
		ue *testUE
		at time.Time
	}
	var registeredUEs []done
	for i := range ues {
		if i == ues/2 {
			time.Sleep(3 * crashFlushInterval) // the first half is older than the window at the kill
		}
		sub := hss.addSubscriber(t, fmt.Sprintf("0010100000021%02d", i), fmt.Sprintf("155500021%02d", i))
		u := newUEFor(t, target, sub, "127.0.0.1")
		u.registerFully(600)
		registeredUEs = append(registeredUEs, done{u, time.Now()})
	}
	var wg sync.WaitGroup
	for i := range inFlight {
		sub := hss.addSubscriber(t, fmt.Sprintf("0010100000022%02d", i), fmt.Sprintf("155500022%02d", i))
		u := newUEFor(t, target, sub, "127.0.0.1")
		wg.Add(1)
		go func() { defer wg.Done(); u.sendRegister(600, u.emptyAuth()) }()
	}
	proc.kill(syscall.SIGKILL)
	killed := time.Now()
	wg.Wait()

	// Older than the window plus one flush's time: in the store.
	store, err := sqlite.Open(context.Background(), sqlite.Config{Path: db}, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	var durable []*testUE
	for _, d := range registeredUEs {
		if killed.Sub(d.at) <= 2*crashFlushInterval {
			continue // inside the loss window: may be lost
		}
		durable = append(durable, d.ue)
		if _, err := store.Registration(context.Background(), d.ue.impu); err != nil {
			if errors.Is(err, registrar.ErrNotFound) {
				t.Errorf("%s registered %v before the kill: lost", d.ue.impu, killed.Sub(d.at).Round(time.Millisecond))
				continue
			}
			t.Fatal(err)
		}
	}
	if err := store.Close(); err != nil {
		t.Fatal(err)
	}
	if len(durable) < 5 {
		t.Fatalf("only %d of %d registrations older than the window: the check proves little", len(durable), ues)
	}

	// The restarted process has them in memory.
	startSCSCFProcess(t, bin, hss, sipAddr, db)
	for _, u := range durable {
		u.integrity = digest.IntegrityYes
		if res := u.register(600, u.emptyAuth()); res.StatusCode != 200 {
			t.Fatalf("protected re-REGISTER of %s after the restart: %d, want 200 (still registered)", u.impu, res.StatusCode)
		}
	}
}

// Two S-CSCF processes on one PostgreSQL serve one population: UEs registered at the first are served by the
// second after the first is killed with SIGKILL (the second reads each registration from the store on its
// first request and applies the re-registration by compare-and-set on its version).
func TestPoolOfTwoSCSCFProcessesOnPostgreSQL(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs cmd/scscf")
	}
	b, err := e2e.NewBuilder(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	bin := b.MustPath(t, "scscf")
	dsn := pgtest.Start(t)
	hss := startFakeHSS(t)
	sip1, sip2 := e2e.Addr(e2e.FreePort(t)), e2e.Addr(e2e.FreePort(t))
	first := startSCSCFProcessAs(t, bin, hss, sip1, dsn, testSCSCF)
	startSCSCFProcessAs(t, bin, hss, sip2, dsn, "scscf2.test."+testDomain)

	const ues = 10
	var registeredUEs []*testUE
	for i := range ues {
		sub := hss.addSubscriber(t, fmt.Sprintf("0010100000023%02d", i), fmt.Sprintf("155500023%02d", i))
		u := newUEFor(t, netip.MustParseAddrPort(sip1), sub, "127.0.0.1")
		u.registerFully(600)
		registeredUEs = append(registeredUEs, u)
	}
	first.kill(syscall.SIGKILL)
	for _, u := range registeredUEs {
		u.scscf = netip.MustParseAddrPort(sip2)
		if res := u.register(600, u.emptyAuth()); res.StatusCode != 200 {
			t.Fatalf("protected re-REGISTER of %s at the second S-CSCF: %d, want 200 (registered)", u.impu, res.StatusCode)
		}
	}
	// And a de-registration there ends it.
	if res := registeredUEs[0].register(0, registeredUEs[0].emptyAuth()); res.StatusCode != 200 {
		t.Fatalf("de-REGISTER at the second S-CSCF: %d", res.StatusCode)
	}
}
