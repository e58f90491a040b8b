package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Timeouts of the process lifecycle.
const (
	DefaultReadyTimeout = 15 * time.Second
	DefaultStopTimeout  = 10 * time.Second
)

// Process is one node running as a child process. Its stdout and stderr are kept in memory and copied into the
// test log when the test fails. Stop (also run at test cleanup) sends SIGTERM and fails the test unless the
// process exits with status 0 within DefaultStopTimeout.
type Process struct {
	Name string
	Dir  string // its own temporary directory (working directory, database files)

	t    testing.TB
	ns   Namespace // nil: the test's own network namespace
	cmd  *exec.Cmd
	logs *lockedBuffer
	done chan struct{}
	err  error // exit error, valid after done

	started  time.Time
	stopOnce sync.Once
}

type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) reset() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.Reset()
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Namespace is a network namespace a test created (sip/ipsec/ipsectest.NS is one): Do runs fn on an OS thread
// inside it. Sockets fn opens and processes fn starts belong to the namespace for good.
type Namespace interface {
	Do(fn func() error) error
}

// inNamespace runs fn in ns, or right here when ns is nil.
func inNamespace(ns Namespace, fn func() error) error {
	if ns == nil {
		return fn()
	}
	return ns.Do(fn)
}

// StartProcess runs bin with args in a fresh temporary directory.
func StartProcess(t testing.TB, name, bin string, args ...string) *Process {
	t.Helper()
	return StartProcessIn(t, nil, name, bin, args...)
}

// StartProcessIn is StartProcess in the network namespace ns (nil: the test's own). A node in a namespace of
// its own with nothing but loopback can reach nothing outside it, whatever a test makes it route to, and
// its name lookups fail at once.
func StartProcessIn(t testing.TB, ns Namespace, name, bin string, args ...string) *Process {
	t.Helper()
	p := &Process{Name: name, Dir: t.TempDir(), t: t, ns: ns, logs: &lockedBuffer{}, done: make(chan struct{}),
		started: time.Now()}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Dir = p.Dir
	p.cmd.Stdout = p.logs
	p.cmd.Stderr = p.logs
	// The child inherits the network namespace of the thread that forks it (Do locks the thread).
	if err := inNamespace(ns, p.cmd.Start); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.Stop()
		if t.Failed() {
			t.Logf("---- %s (%s) log ----\n%s---- end of %s log ----", name, p.cmd.String(), p.logs.String(), name)
		}
	})
	return p
}

// Logs returns what the process wrote so far.
func (p *Process) Logs() string { return p.logs.String() }

// Exited tells whether the process has ended.
func (p *Process) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Stop sends SIGTERM and waits for a clean exit (status 0); a process that ignores it is killed and the test
// fails. Safe to call twice.
func (p *Process) Stop() {
	p.stopOnce.Do(func() {
		if p.Exited() {
			p.t.Errorf("%s exited before the test stopped it: %v", p.Name, p.err)
			return
		}
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		stopping := time.Now()
		select {
		case <-p.done:
			if p.err != nil {
				p.t.Errorf("%s did not exit cleanly after SIGTERM: %v", p.Name, p.err)
			}
			p.t.Logf("%s stopped in %v", p.Name, time.Since(stopping).Round(time.Millisecond))
		case <-time.After(DefaultStopTimeout):
			_ = p.cmd.Process.Kill()
			<-p.done
			p.t.Errorf("%s still running %v after SIGTERM: killed", p.Name, DefaultStopTimeout)
		}
	})
}

// Kill ends the process with SIGKILL, as a crash does, and waits for it to be gone; Stop does nothing
// afterwards.
func (p *Process) Kill() {
	p.stopOnce.Do(func() {
		_ = p.cmd.Process.Kill()
		<-p.done
		p.t.Logf("%s killed (SIGKILL)", p.Name)
	})
}

// WaitHTTP waits until GET url answers 200, failing the test after DefaultReadyTimeout or if the process exits.
func (p *Process) WaitHTTP(url string) {
	p.t.Helper()
	client := p.HTTPClient(time.Second)
	p.waitFor("GET "+url+" = 200", func() bool {
		res, err := client.Get(url)
		if err != nil {
			return false
		}
		_ = res.Body.Close()
		return res.StatusCode == http.StatusOK
	})
}

// WaitTCP waits until addr accepts TCP connections.
func (p *Process) WaitTCP(addr string) {
	p.t.Helper()
	p.waitFor("tcp "+addr+" open", func() bool {
		c, err := dialIn(p.ns, "tcp", addr, 200*time.Millisecond)
		if err != nil {
			return false
		}
		_ = c.Close()
		return true
	})
}

// HTTPClient is an HTTP client whose connections are made in the process's network namespace.
func (p *Process) HTTPClient(timeout time.Duration) *http.Client {
	if p.ns == nil {
		return &http.Client{Timeout: timeout}
	}
	tr := &http.Transport{DisableKeepAlives: true, DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		wait := timeout
		if d, ok := ctx.Deadline(); ok {
			wait = time.Until(d)
		}
		return dialIn(p.ns, network, addr, wait)
	}}
	return &http.Client{Timeout: timeout, Transport: tr}
}

// dialIn connects to addr from inside ns (nil: here).
func dialIn(ns Namespace, network, addr string, timeout time.Duration) (net.Conn, error) {
	var c net.Conn
	err := inNamespace(ns, func() (err error) {
		c, err = net.DialTimeout(network, addr, timeout)
		return err
	})
	return c, err
}

// LimitFiles lowers the process's RLIMIT_NOFILE (soft and hard) to n with prlimit(2): a node then meets its
// file-descriptor limit after n connections rather than after the tens of thousands a test could not open.
func (p *Process) LimitFiles(n uint64) {
	p.t.Helper()
	lim := unix.Rlimit{Cur: n, Max: n}
	if err := unix.Prlimit(p.cmd.Process.Pid, unix.RLIMIT_NOFILE, &lim, nil); err != nil {
		p.t.Fatalf("prlimit %s nofile=%d: %v", p.Name, n, err)
	}
}

// Running tells whether the process is still running; a test that attacked a node checks it before its
// cleanup stops the node (which would report an early exit too, but without saying what caused it).
func (p *Process) Running() bool { return !p.Exited() }

// CheckNoPanic fails the test when the process's log shows a recovered panic or a Go runtime crash: a node may
// refuse what a peer sends, never panic on it.
func (p *Process) CheckNoPanic(t testing.TB) {
	t.Helper()
	for _, line := range strings.Split(p.Logs(), "\n") {
		if strings.Contains(line, "panic") || strings.HasPrefix(line, "fatal error:") {
			t.Errorf("%s logged a panic: %s", p.Name, line)
			return
		}
	}
}

// WaitLog waits until the process has written s to its log.
func (p *Process) WaitLog(s string) {
	p.t.Helper()
	p.waitFor("log line "+s, func() bool { return bytes.Contains([]byte(p.logs.String()), []byte(s)) })
}

func (p *Process) waitFor(what string, ok func() bool) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), DefaultReadyTimeout)
	defer cancel()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		if ok() {
			p.t.Logf("%s ready in %v (%s)", p.Name, time.Since(p.started).Round(time.Millisecond), what)
			return
		}
		select {
		case <-p.done:
			p.t.Fatalf("%s exited while waiting for %s: %v", p.Name, what, p.err)
		case <-ctx.Done():
			p.t.Fatalf("%s not ready after %v: %s", p.Name, DefaultReadyTimeout, what)
		case <-tick.C:
		}
	}
}

// Run runs a short command (imsctl) to completion within timeout and returns its combined output.
func Run(ctx context.Context, timeout time.Duration, bin string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	out, err := cmd.CombinedOutput()
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return string(out), fmt.Errorf("%s: timed out after %v", cmd, timeout)
	}
	if err != nil {
		return string(out), fmt.Errorf("%s: %w", cmd, err)
	}
	return string(out), nil
}

// Metrics returns the Prometheus text of http://addr/metrics.
func Metrics(t testing.TB, addr string) string {
	t.Helper()
	res, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var b bytes.Buffer
	if _, err := b.ReadFrom(res.Body); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// Signal sends sig to the process: SIGSTOP black-holes a node (its sockets stay open, nothing answers),
// SIGCONT resumes it. A test that stops a node must resume it before cleanup, or Stop's SIGTERM waits.
func (p *Process) Signal(sig os.Signal) {
	p.t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		p.t.Fatalf("signal %s to %s: %v", sig, p.Name, err)
	}
}
