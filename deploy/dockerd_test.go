//go:build linux

package deploy

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// dockerd is a Docker engine of the test's own: its data root, exec root, socket and log under dir, started from
// the root network namespace (where the test runs) and stopped at the end of the test.
type dockerd struct {
	host string // DOCKER_HOST, unix://…
	log  string // the daemon's log file
}

// hostNet is what dockerd changes in the root network namespace and leaves behind when it stops: the IPv4
// forwarding switch and the policy of iptables' FORWARD chain (set to DROP when dockerd turned forwarding on).
type hostNet struct {
	ipForward     string
	forwardPolicy string
}

const ipForwardPath = "/proc/sys/net/ipv4/ip_forward"

func readHostNet(t *testing.T, iptables string) hostNet {
	t.Helper()
	b, err := os.ReadFile(ipForwardPath)
	if err != nil {
		t.Fatal(err)
	}
	h := hostNet{ipForward: strings.TrimSpace(string(b))}
	out, err := exec.Command(iptables, "-S", "FORWARD").Output()
	if err != nil {
		t.Fatalf("iptables -S FORWARD: %v", err)
	}
	for _, l := range strings.Split(string(out), "\n") {
		if p, ok := strings.CutPrefix(l, "-P FORWARD "); ok {
			h.forwardPolicy = strings.TrimSpace(p)
		}
	}
	return h
}

// restore puts the forwarding switch and the FORWARD policy back as they were before dockerd started; dockerd's
// own chains stay (empty once its networks are gone; a later dockerd reuses them).
func (h hostNet) restore(t *testing.T, iptables string) {
	t.Helper()
	if err := os.WriteFile(ipForwardPath, []byte(h.ipForward+"\n"), 0o644); err != nil {
		t.Errorf("restoring %s: %v", ipForwardPath, err)
	}
	if h.forwardPolicy != "" {
		if out, err := exec.Command(iptables, "-P", "FORWARD", h.forwardPolicy).CombinedOutput(); err != nil {
			t.Errorf("iptables -P FORWARD %s: %v\n%s", h.forwardPolicy, err, out)
		}
	}
}

// startDockerd starts dockerd with everything it keeps under dir and waits until it answers on its socket. The
// cleanup stops it (SIGTERM: it stops its containers and its containerd), waits for it and restores hostNet.
// Call it before registering anything that needs the daemon in its own cleanup (cleanups run last first).
func startDockerd(t *testing.T, ctx context.Context, bin, docker, dir string) *dockerd {
	t.Helper()
	iptables, err := exec.LookPath("iptables")
	if err != nil {
		t.Fatalf("iptables (dockerd needs it for the bridge network and published ports): %v", err)
	}
	before := readHostNet(t, iptables)
	d := &dockerd{host: "unix://" + filepath.Join(dir, "docker.sock"), log: filepath.Join(dir, "dockerd.log")}
	logf, err := os.Create(d.log)
	if err != nil {
		t.Fatal(err)
	}
	// --bridge=none: no docker0 (the compose network is a bridge of its own). The exec root holds containerd's
	// socket, whose path must stay under the 108 bytes of a Unix socket address: dir is short (/tmp/…).
	// --iptables=false, --ip6tables=false, --ip-forward=false: the daemon leaves the host's firewall and
	// forwarding alone. It runs beside the other packages' tests, whose network namespaces route through this
	// host (sip/ipsec failed while a dockerd had set the FORWARD policy to DROP); the stack needs none of it: the
	// host reaches the containers on their bridge, and docker-proxy serves the published ports.
	cmd := exec.Command(bin, "--data-root", filepath.Join(dir, "data"), "--exec-root", filepath.Join(dir, "exec"),
		"--pidfile", filepath.Join(dir, "dockerd.pid"), "--host", d.host, "--bridge", "none", "--log-level", "warn",
		"--iptables=false", "--ip6tables=false", "--ip-forward=false")
	cmd.Stdout, cmd.Stderr = logf, logf
	// Its own process group; SIGTERM to it if the test binary dies first.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		logf.Close()
		t.Fatalf("dockerd: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		defer logf.Close()
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(60 * time.Second):
			t.Errorf("dockerd did not stop within 60 s of SIGTERM: killed")
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-exited
		}
		before.restore(t, iptables)
		if t.Failed() {
			t.Logf("dockerd log (%s):\n%s", d.log, tail(d.log, 60))
		}
	})
	// Ready when `docker version` reaches the server.
	deadline := time.Now().Add(90 * time.Second)
	for {
		select {
		case err := <-exited:
			exited <- err // for the cleanup
			t.Fatalf("dockerd exited: %v\n%s", err, tail(d.log, 40))
		default:
		}
		c := exec.CommandContext(ctx, docker, "version", "--format", "{{.Server.Version}}")
		c.Env = append(os.Environ(), "DOCKER_HOST="+d.host)
		if out, err := c.Output(); err == nil {
			t.Logf("dockerd %s on %s", strings.TrimSpace(string(out)), d.host)
			return d
		}
		if time.Now().After(deadline) {
			t.Fatalf("dockerd does not answer on %s after 90 s\n%s", d.host, tail(d.log, 40))
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// tail returns the last n lines of a file, or why it cannot.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := bytes.Split(bytes.TrimRight(b, "\n"), []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return string(bytes.Join(lines, []byte("\n")))
}

// run runs a command with env added to the test's environment and returns its standard output; a failure is an
// error with both outputs.
func run(ctx context.Context, env []string, name string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("%s %s: %w\n%s%s", filepath.Base(name), strings.Join(args, " "), err, &stdout, &stderr)
	}
	return stdout.String(), nil
}
