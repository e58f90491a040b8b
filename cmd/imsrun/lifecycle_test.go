package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The test binary plays two parts when re-executed with IMSRUN_TEST_MAIN=1: imsrun itself (as imsrun.test)
// and, through symlinks named after each node (hss, scscf, …), a fake node that serves /readyz on the address after --fake-listen, writes its pid into
// --pid-file and exits on SIGTERM.
func TestMain(m *testing.M) {
	switch {
	case os.Getenv("IMSRUN_TEST_MAIN") == "1" && filepath.Base(os.Args[0]) != "imsrun.test":
		// A node started by imsrun: its argv[0] is the symlink's name (hss, scscf, …).
		fakeNode(os.Args[1:])
		os.Exit(0)
	case os.Getenv("IMSRUN_TEST_MAIN") == "1":
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func fakeNode(args []string) {
	var listen, pidFile string
	for _, a := range args {
		if v, ok := strings.CutPrefix(a, "--fake-listen="); ok {
			listen = v
		}
		if v, ok := strings.CutPrefix(a, "--pid-file="); ok {
			pidFile = v
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	l, err := net.Listen("tcp", listen)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	_ = os.WriteFile(pidFile, []byte(strconv.Itoa(os.Getpid())), 0o644)
	srv := &http.Server{Handler: http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})}
	go func() { _ = srv.Serve(l) }()
	<-ctx.Done()
	_ = srv.Close()
}

type fakeCore struct {
	cmd   *exec.Cmd
	pids  map[string]string // node → pid file
	lines chan string
}

// startFakeCore runs imsrun (the test binary as main) over a fake node for each of its nodes on free ports, and waits for
// "the core is up".
func startFakeCore(t *testing.T) *fakeCore {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "bin")
	if err := os.Mkdir(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	fc := &fakeCore{pids: map[string]string{}, lines: make(chan string, 256)}
	args := []string{"--bin", bin, "--demo=false", "--tokens-file", filepath.Join(dir, "tokens.yaml"),
		"--token-file", filepath.Join(dir, "token")}
	defaults, err := parseOptions(nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	for _, node := range defaults.nodes {
		n := node.name
		if err := os.Symlink(exe, filepath.Join(bin, n)); err != nil {
			t.Fatal(err)
		}
		port := freePort(t)
		fc.pids[n] = filepath.Join(dir, n+".pid")
		args = append(args, "--"+n+"-ready=http://127.0.0.1:"+port+"/readyz", "--"+n+"-ports=tcp:127.0.0.1:"+port,
			"--"+n+"-arg=--fake-listen=127.0.0.1:"+port, "--"+n+"-arg=--pid-file="+fc.pids[n])
	}
	fc.cmd = exec.Command(exe, args...)
	// imsrun passes its environment on to the nodes: IMSRUN_NODE_ENV tells the nodes to play fake ones.
	fc.cmd.Env = append(os.Environ(), "IMSRUN_TEST_MAIN=1")
	pr, pw := io.Pipe()
	fc.cmd.Stdout, fc.cmd.Stderr = pw, pw
	if err := fc.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = fc.cmd.Process.Kill()
		_ = fc.cmd.Wait()
		pw.Close()
	})
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			fc.lines <- sc.Text()
		}
		close(fc.lines)
	}()
	deadline := time.After(60 * time.Second)
	for {
		select {
		case l, ok := <-fc.lines:
			if !ok {
				t.Fatal("imsrun exited before the core was up")
			}
			if strings.Contains(l, "the core is up") {
				go func() {
					for range fc.lines {
					}
				}()
				return fc
			}
		case <-deadline:
			t.Fatal("the fake core did not come up within 60 s")
		}
	}
}

func (fc *fakeCore) nodePIDs(t *testing.T) []int {
	var out []int
	for n, f := range fc.pids {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatalf("%s pid file: %v", n, err)
		}
		pid, _ := strconv.Atoi(string(b))
		out = append(out, pid)
	}
	return out
}

func waitGone(t *testing.T, pids []int, within time.Duration, why string) {
	t.Helper()
	deadline := time.Now().Add(within)
	for _, pid := range pids {
		for syscall.Kill(pid, 0) == nil {
			if b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); strings.Contains(string(b), ") Z ") {
				break // a zombie has exited; its parent has not reaped it yet
			}
			if time.Now().After(deadline) {
				t.Fatalf("node pid %d still runs %v after %s", pid, within, why)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}

// Closing the terminal sends imsrun SIGHUP: every node it started stops.
func TestSIGHUPStopsEveryNode(t *testing.T) {
	fc := startFakeCore(t)
	pids := fc.nodePIDs(t)
	if err := fc.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitGone(t, pids, 20*time.Second, "imsrun got SIGHUP")
}

// imsrun killed with SIGKILL cannot stop anything itself: the kernel's parent-death signal does.
func TestKilledImsrunLeavesNoOrphan(t *testing.T) {
	fc := startFakeCore(t)
	pids := fc.nodePIDs(t)
	if err := fc.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	waitGone(t, pids, 20*time.Second, "imsrun was killed with SIGKILL")
}
