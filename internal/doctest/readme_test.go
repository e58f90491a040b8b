package doctest_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/imscore/imscore/internal/doctest"
	"github.com/imscore/imscore/internal/e2e"
	"github.com/imscore/imscore/sip/ipsec/ipsectest"
)

// Bounds of the README test (hang guards, not speed checks).
const (
	blockTimeout = 3 * time.Minute  // one block
	readyTimeout = 2 * time.Minute  // the core up
	untilTimeout = time.Minute      // a background block printing its text
	stopTimeout  = 30 * time.Second // a process stopping after SIGINT
)

// binaries are what make build puts in bin/ and the README's commands use.
var binaries = []string{"imsrun", "hss", "icscf", "scscf", "pcscf", "presence", "imsctl", "imsue"}

// TestREADME runs every shell block of README.md as written, in order, with bash -euo pipefail, against the
// core make run starts (bin/imsrun --bin bin), in a fresh directory that plays the checkout (bin/ built
// there, ./var made by imsrun) and in a network namespace of its own, so that the README's default addresses
// (5060, 8080, 9101 …) are free. Blocks marked skip are logged with their reason; background blocks run until
// the end. Afterwards the directory holds only bin/ and var/: no example writes into the checkout.
func TestREADME(t *testing.T) {
	e2e.Need(t, os.Geteuid() == 0, "the README's commands use the default ports: they run in a network namespace of their own (root)")
	bash := e2e.NeedBinary(t, "bash", "apt-get install bash")
	blocks := readmeBlocks(t)
	work := t.TempDir()
	built := build(t, binaries...)
	if err := os.Mkdir(filepath.Join(work, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range binaries { // bin/ as make build leaves it
		if err := os.Symlink(filepath.Join(built, name), filepath.Join(work, "bin", name)); err != nil {
			t.Fatal(err)
		}
	}
	ns := ipsectest.NewNS(t, "readme")
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "TMPDIR=" + t.TempDir(), "LANG=C.UTF-8"}
	start := func(name string, args ...string) *proc {
		t.Helper()
		p := &proc{name: name, cmd: exec.Command(args[0], args[1:]...), done: make(chan struct{})}
		p.cmd.Dir, p.cmd.Env = work, env
		p.cmd.Stdout, p.cmd.Stderr = &p.out, &p.out
		p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if err := ns.Do(p.cmd.Start); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		go func() { p.err = p.cmd.Wait(); close(p.done) }()
		return p
	}

	core := start("imsrun", "bin/imsrun", "--bin", "bin")
	defer func() {
		if err := core.stop(false); err != nil || t.Failed() {
			t.Logf("imsrun (%v):\n%s", err, core.out.String())
		}
	}()
	// imsrun prints this once every node serves and the demo subscribers are provisioned.
	if err := core.waitFor("the core is up:", readyTimeout); err != nil {
		t.Fatalf("imsrun: %v\n%s", err, core.out.String())
	}

	var background []*proc
	defer func() {
		for _, p := range background { // Ctrl-C, as the reader would
			if err := p.stop(true); err != nil {
				t.Errorf("%s did not stop on SIGINT: %v\n%s", p.name, err, p.out.String())
			}
		}
	}()
	for _, b := range blocks {
		name := "README.md:" + strconv.Itoa(b.Line)
		switch b.Mode {
		case doctest.ModeSkip:
			t.Logf("%s skipped: %s", name, b.Reason)
		case doctest.ModeBackground:
			p := start(name, bash, "-euo", "pipefail", "-c", b.Script)
			background = append(background, p)
			if err := p.waitFor(b.Until, untilTimeout); err != nil {
				t.Fatalf("%s: %v\n%s--- output:\n%s", name, err, b.Script, p.out.String())
			}
			t.Logf("%s runs in the background", name)
		default:
			p := start(name, bash, "-euo", "pipefail", "-c", b.Script)
			select {
			case <-p.done:
			case <-time.After(blockTimeout):
				_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
				<-p.done
			}
			if p.err != nil {
				t.Errorf("%s: %v\n%s--- output:\n%s", name, p.err, b.Script, p.out.String())
			} else {
				t.Logf("%s ran:\n%s", name, p.out.String())
			}
		}
	}

	entries, err := os.ReadDir(work)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !slices.Contains([]string{"bin", "var"}, e.Name()) {
			t.Errorf("the README's commands wrote %s into the checkout", e.Name())
		}
	}
}

// proc is a process the test started, its output and its end.
type proc struct {
	name string
	cmd  *exec.Cmd
	out  lockedBuffer
	done chan struct{}
	err  error // set before done is closed
}

// waitFor waits until the output holds text, the process ends (an error), or timeout passes.
func (p *proc) waitFor(text string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	for !strings.Contains(p.out.String(), text) {
		select {
		case <-p.done:
			return errors.New("exited (" + errString(p.err) + ") before printing " + text)
		case <-ctx.Done():
			return errors.New("no " + text + " within " + timeout.String())
		case <-time.After(50 * time.Millisecond):
		}
	}
	return nil
}

// stop sends SIGINT (to the process group when group) and waits; SIGKILL after stopTimeout.
func (p *proc) stop(group bool) error {
	pid := p.cmd.Process.Pid
	if group {
		pid = -pid
	}
	_ = syscall.Kill(pid, syscall.SIGINT)
	select {
	case <-p.done:
		return nil
	case <-time.After(stopTimeout):
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
		return errors.New("killed after " + stopTimeout.String())
	}
}

func errString(err error) string {
	if err == nil {
		return "exit 0"
	}
	return err.Error()
}

// lockedBuffer is a bytes.Buffer written by a process and read by the test.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
