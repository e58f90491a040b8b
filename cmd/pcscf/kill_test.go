package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"go.uber.org/zap"

	"github.com/imscore/imscore/internal/e2e"
	"github.com/imscore/imscore/services/pcscf/bindings"
	"github.com/imscore/imscore/storage"
)

// killWindow is the test's db_flush_interval, the loss window of a crash.
const killWindow = 200 * time.Millisecond

// TestKill9KeepsBindings: the cmd/pcscf binary, UEs without sec-agree registering through it to a stub registrar,
// is killed with SIGKILL while a second batch registers (bounded: 300 UEs). Every binding that was registered
// longer than the loss window (db_flush_interval) before the kill is in the store, and the restarted process
// serves those UEs (their MESSAGEs are routed, not refused 403).
func TestKill9KeepsBindings(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	b, err := e2e.NewBuilder(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	bin := b.MustPath(t, "pcscf")
	registrar := startStubRegistrar(t)
	dir := t.TempDir()
	sipAddr, httpAddr := e2e.Addr(e2e.FreePort(t)), e2e.Addr(e2e.FreePort(t))
	cfg := fmt.Sprintf(`listen: [%q]
icscf: %q
ipsec: "off"
client_ports: {first: %d, count: 1}
server_ports: {first: %d, count: 1}
state_file: %q
db_flush_interval: %s
node_id: kill-test
http: %q
sip: {limits: {max_connections_per_source: 100000}}
`, sipAddr, registrar.LocalAddr().String(), e2e.FreePort(t), e2e.FreePort(t), filepath.Join(dir, "pcscf-state.json"),
		killWindow, httpAddr)
	cfgPath := filepath.Join(dir, "pcscf.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	start := func() *exec.Cmd {
		t.Helper()
		cmd := exec.Command(bin, "--config", cfgPath)
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			if res, err := http.Get("http://" + httpAddr + "/readyz"); err == nil {
				res.Body.Close()
				if res.StatusCode == 200 {
					return cmd
				}
			}
			if time.Now().After(deadline) {
				t.Fatal("pcscf not ready")
			}
		}
	}
	pcscf := start()
	pc := netip(t, sipAddr)

	const before, during = 100, 200
	ues := make([]*net.UDPConn, before+during)
	for i := range ues {
		c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		ues[i] = c
	}
	for i := range before {
		if code := exchange(ues[i], pc, register(i, ues[i])); code != 200 {
			t.Fatalf("REGISTER %d: %d", i, code)
		}
	}
	time.Sleep(5 * killWindow) // the first batch is now older than the loss window
	var done atomic.Int32
	go func() {
		for i := before; i < before+during; i++ {
			if exchange(ues[i], pc, register(i, ues[i])) != 200 {
				return // the process is gone
			}
			done.Add(1)
		}
	}()
	for deadline := time.Now().Add(30 * time.Second); done.Load() < during/4 && time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
	}
	if err := pcscf.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = pcscf.Wait()
	t.Logf("killed with %d of the second batch registered", done.Load())

	db, err := storage.OpenAndMigrate(context.Background(), "sqlite://"+filepath.Join(dir, "pcscf.db"), zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	rows, err := db.(bindings.Store).LoadBindings(context.Background(), "kill-test")
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, r := range rows {
		have[r.IMPU] = true
	}
	for i := range before {
		if !have[impu(i)] {
			t.Errorf("binding of %s, registered %v before the kill, lost", impu(i), 5*killWindow)
		}
	}
	start()
	for i := 0; i < before; i += 10 {
		if code := exchange(ues[i], pc, message(i, ues[i])); code != 200 {
			t.Errorf("MESSAGE from UE %d after the restart: %d, want 200", i, code)
		}
	}
}

func impu(i int) string { return fmt.Sprintf("sip:kill%d@ims.example", i) }

func register(i int, c *net.UDPConn) string {
	local := c.LocalAddr().String()
	return fmt.Sprintf("REGISTER sip:ims.example SIP/2.0\r\nVia: SIP/2.0/UDP %s;branch=z9hG4bK-r%d;rport\r\nMax-Forwards: 70\r\n"+
		"From: <%s>;tag=f%d\r\nTo: <%s>\r\nCall-ID: reg-%d\r\nCSeq: 1 REGISTER\r\nContact: <sip:kill%d@%s>\r\nExpires: 600\r\n"+
		"Content-Length: 0\r\n\r\n", local, i, impu(i), i, impu(i), i, i, local)
}

func message(i int, c *net.UDPConn) string {
	local := c.LocalAddr().String()
	return fmt.Sprintf("MESSAGE sip:peer@ims.example SIP/2.0\r\nVia: SIP/2.0/UDP %s;branch=z9hG4bK-m%d;rport\r\nMax-Forwards: 70\r\n"+
		"From: <%s>;tag=m%d\r\nTo: <sip:peer@ims.example>\r\nCall-ID: msg-%d\r\nCSeq: 1 MESSAGE\r\nContent-Length: 0\r\n\r\n",
		local, i, impu(i), i, i)
}

// exchange sends text to to and returns the status of the final response, 0 when none came (bounded).
func exchange(c *net.UDPConn, to *net.UDPAddr, text string) int {
	buf := make([]byte, 65535)
	for try := 0; try < 3; try++ {
		if _, err := c.WriteToUDP([]byte(text), to); err != nil {
			return 0
		}
		_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
		for {
			n, _, err := c.ReadFromUDP(buf)
			if err != nil {
				break
			}
			m, err := sip.ParseMessage(buf[:n])
			if res, ok := m.(*sip.Response); err == nil && ok && res.StatusCode >= 200 {
				return res.StatusCode
			}
		}
	}
	return 0
}

func netip(t *testing.T, addr string) *net.UDPAddr {
	a, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// startStubRegistrar answers every REGISTER 200 (the contact, a Service-Route back to itself, the IMPU as
// P-Associated-URI) and every other request 200: an I-CSCF and S-CSCF that trust everyone.
func startStubRegistrar(t *testing.T) *net.UDPConn {
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	self := c.LocalAddr().String()
	go func() {
		buf := make([]byte, 65535)
		for {
			n, from, err := c.ReadFromUDP(buf)
			if err != nil {
				return
			}
			m, err := sip.ParseMessage(buf[:n])
			req, ok := m.(*sip.Request)
			if err != nil || !ok {
				continue
			}
			res := sip.NewResponseFromRequest(req, 200, "OK", nil)
			if req.Method == sip.REGISTER {
				if ct := req.Contact(); ct != nil {
					res.AppendHeader(sip.NewHeader("Contact", "<"+ct.Address.String()+">;expires=600"))
				}
				res.AppendHeader(sip.NewHeader("Service-Route", "<sip:orig@"+self+";lr>"))
				res.AppendHeader(sip.NewHeader("P-Associated-URI", "<"+strings.Trim(req.To().Address.String(), "<>")+">"))
			}
			_, _ = c.WriteToUDP([]byte(res.String()), from)
		}
	}()
	return c
}
