//go:build linux

package deploy

import (
	"bufio"
	"context"
	"debug/elf"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// EnvDocker, set to 1, runs TestComposeStack (CI sets it; it needs root, dockerd from Debian's docker.io and
// docker-compose, and about two minutes).
const EnvDocker = "IMSCORE_DOCKER"

// The test's subscribers (README's demo keys) and the address the compose stack publishes its ports on: not
// 127.0.0.1, so that the stack does not take 127.0.0.1:5060 or :8080 from a test running beside it.
const (
	stackK       = "465b5ce8b199b49faa5f0a2ee238a6bc"
	stackOP      = "cdc202d5123e20f62b6d676ac72cb318"
	stackDomain  = "ims.mnc001.mcc001.3gppnetwork.org"
	stackPublish = "127.0.0.22"
	stackImage   = "imscore:compose-test"
	stackProject = "imscoretest"
)

// buildContext builds the image's binaries as `make build` does (CGO_ENABLED=0, -trimpath) and imsue, into
// ctxDir/bin, and copies what the Dockerfile needs beside them: the Dockerfile, .dockerignore, deploy/image.
func buildContext(t *testing.T, ctx context.Context, goBin, ctxDir string) {
	t.Helper()
	pkgs := []string{"./cmd/imsue"}
	for _, b := range imageBinaries(t) {
		pkgs = append(pkgs, "./cmd/"+b)
	}
	start := time.Now()
	build := exec.CommandContext(ctx, goBin, append([]string{"build", "-trimpath", "-o", filepath.Join(ctxDir, "bin") + "/"}, pkgs...)...)
	build.Dir = repoRoot
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build %v: %v\n%s", pkgs, err, out)
	}
	t.Logf("built %v in %v", pkgs, time.Since(start).Round(time.Second))
	for _, f := range []string{"Dockerfile", ".dockerignore"} {
		copyFile(t, filepath.Join(repoRoot, f), filepath.Join(ctxDir, f))
	}
	src := filepath.Join(repoRoot, "deploy", "image")
	err := filepath.WalkDir(src, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(repoRoot, p)
		if e.IsDir() {
			return os.MkdirAll(filepath.Join(ctxDir, rel), 0o755)
		}
		copyFile(t, p, filepath.Join(ctxDir, rel))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// checkStatic fails for a binary that needs a dynamic loader: it would not start in the FROM scratch image.
func checkStatic(t *testing.T, dir string, bins []string) {
	t.Helper()
	for _, b := range bins {
		f, err := elf.Open(filepath.Join(dir, b))
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range f.Progs {
			if p.Type == elf.PT_INTERP {
				t.Errorf("%s is dynamically linked: it cannot run in the scratch image (build with CGO_ENABLED=0)", b)
			}
		}
		f.Close()
	}
}

// composeStack drives docker-compose.yml with the test's override file against the test's dockerd.
type composeStack struct {
	t      *testing.T
	ctx    context.Context
	bin    string   // docker-compose
	docker string   // docker
	env    []string // DOCKER_HOST, IMSCORE_IMAGE, IMSCORE_PUBLISH_IP
	args   []string // --project-directory, -p, -f …
}

func (s *composeStack) compose(args ...string) (string, error) {
	return run(s.ctx, s.env, s.bin, append(append([]string(nil), s.args...), args...)...)
}

func (s *composeStack) must(args ...string) string {
	s.t.Helper()
	out, err := s.compose(args...)
	if err != nil {
		s.t.Fatal(err)
	}
	return out
}

// waitHealthy waits until each service's container reports healthy (its `imsctl health` of /readyz passed).
func (s *composeStack) waitHealthy(services ...string) {
	s.t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for _, svc := range services {
		for {
			status := "no container"
			if id := strings.TrimSpace(s.must("ps", "-q", svc)); id != "" {
				out, err := run(s.ctx, s.env, s.docker, "inspect", "-f", "{{.State.Status}} {{.State.Health.Status}}", id)
				if err != nil {
					s.t.Fatal(err)
				}
				status = strings.TrimSpace(out)
			}
			if status == "running healthy" {
				break
			}
			if time.Now().After(deadline) {
				s.t.Fatalf("%s is %q, not healthy, after 2 minutes", svc, status)
			}
			time.Sleep(time.Second)
		}
	}
}

// ue is a registered imsue process, its log in a file.
type ue struct {
	cmd    *exec.Cmd
	log    string
	exited chan error
}

// startUE runs `imsue register` (no refresh: the registration must outlive the restarts as it is) and waits
// until it is registered.
func startUE(t *testing.T, ctx context.Context, imsue, log string, args ...string) *ue {
	t.Helper()
	f, err := os.Create(log)
	if err != nil {
		t.Fatal(err)
	}
	u := &ue{cmd: exec.Command(imsue, append([]string{"register", "--refresh=false"}, args...)...), log: log, exited: make(chan error, 1)}
	u.cmd.Stdout, u.cmd.Stderr = f, f
	u.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := u.cmd.Start(); err != nil {
		f.Close()
		t.Fatal(err)
	}
	go func() { u.exited <- u.cmd.Wait(); f.Close() }()
	t.Cleanup(func() {
		_ = u.cmd.Process.Signal(os.Interrupt) // de-registers
		select {
		case <-u.exited:
		case <-time.After(20 * time.Second):
			_ = u.cmd.Process.Kill()
			<-u.exited
		}
		if t.Failed() {
			t.Logf("callee imsue log:\n%s", tail(log, 40))
		}
	})
	deadline := time.Now().Add(time.Minute)
	for !strings.Contains(tail(log, 100), "registered; Ctrl-C de-registers") {
		select {
		case err := <-u.exited:
			u.exited <- err
			t.Fatalf("imsue register exited: %v\n%s", err, tail(log, 40))
		case <-ctx.Done():
			t.Fatal(ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("imsue register: not registered after a minute\n%s", tail(log, 40))
		}
	}
	return u
}

// registrations counts the REGISTER transactions that ended registered in the UE's log.
func (u *ue) registrations(t *testing.T) int {
	t.Helper()
	f, err := os.Open(u.log)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	n := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if strings.Contains(sc.Text(), "\tregistered\t") {
			n++
		}
	}
	return n
}

// TestComposeStack runs docker-compose.yml for real, as CI does with IMSCORE_DOCKER=1: a dockerd of its own, the
// image built from `make build`-style binaries with no registry, `docker-compose up -d`, every node healthy, two
// subscribers provisioned with imsctl through the published API, the callee registered with imsue from the host,
// a call; then the P-CSCF restarted and the S-CSCF's container recreated (its store on its volume), and a second
// call to the callee that has not registered again; then `docker-compose down -v`. Logs of every container are
// printed when it fails.
func TestComposeStack(t *testing.T) {
	if os.Getenv(EnvDocker) != "1" {
		t.Skipf("%s=1 runs the compose stack (CI sets it; needs root, docker.io and docker-compose)", EnvDocker)
	}
	if os.Geteuid() != 0 {
		t.Fatalf("%s=1: dockerd needs root", EnvDocker)
	}
	look := func(name string) string {
		p, err := exec.LookPath(name)
		if err != nil {
			t.Fatalf("%s=1: %v (CI installs docker.io and docker-compose)", EnvDocker, err)
		}
		return p
	}
	dockerdBin, docker, composeBin, goBin := look("dockerd"), look("docker"), look("docker-compose"), look("go")
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()

	// A short directory (containerd's socket lives under it), removed after dockerd has stopped.
	dir, err := os.MkdirTemp("/tmp", "imsdk")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := os.RemoveAll(dir); err != nil {
			t.Errorf("removing %s (a mount dockerd left?): %v", dir, err)
		}
	})
	ctxDir := filepath.Join(dir, "context")
	buildContext(t, ctx, goBin, ctxDir)
	bins := filepath.Join(ctxDir, "bin")
	checkStatic(t, bins, imageBinaries(t))
	imsctl, imsue := filepath.Join(bins, "imsctl"), filepath.Join(bins, "imsue")

	d := startDockerd(t, ctx, dockerdBin, docker, dir)
	env := []string{"DOCKER_HOST=" + d.host, "IMSCORE_IMAGE=" + stackImage, "IMSCORE_PUBLISH_IP=" + stackPublish}
	start := time.Now()
	if _, err := run(ctx, env, docker, "build", "-q", "-t", stackImage, ctxDir); err != nil {
		t.Fatal(err)
	}
	t.Logf("image built in %v", time.Since(start).Round(time.Second))

	// The API token, as docs/operations.md makes one (token create, chmod 644 for the HSS's user), in a tokens
	// file of the test's mounted over the shipped empty one.
	tokens, token := filepath.Join(dir, "api-tokens.yaml"), filepath.Join(dir, "imsctl.token")
	if _, err := run(ctx, nil, imsctl, "token", "create", "--tokens-file", tokens, "--name", "compose-test",
		"--scopes", "admin", "--out", token); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(tokens, 0o644); err != nil {
		t.Fatal(err)
	}
	override := filepath.Join(dir, "docker-compose.test.yml")
	if err := os.WriteFile(override, []byte(fmt.Sprintf("version: \"3.8\"\nservices:\n  hss:\n    volumes:\n      - %s:/etc/imscore/api-tokens.yaml:ro\n",
		tokens)), 0o644); err != nil {
		t.Fatal(err)
	}
	root, err := filepath.Abs(repoRoot)
	if err != nil {
		t.Fatal(err)
	}
	s := &composeStack{t: t, ctx: ctx, bin: composeBin, docker: docker, env: env,
		args: []string{"--ansi", "never", "--project-directory", root, "-p", stackProject, "-f", filepath.Join(root, "docker-compose.yml"), "-f", override}}
	t.Cleanup(func() {
		// A context of its own: the test's may have expired.
		dctx, dcancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer dcancel()
		s.ctx = dctx
		if t.Failed() {
			ps, _ := s.compose("ps")
			logs, _ := s.compose("logs", "--no-color", "--tail", "150")
			t.Logf("docker-compose ps:\n%s\ndocker-compose logs:\n%s", ps, logs)
		}
		if _, err := s.compose("down", "-v", "--timeout", "10"); err != nil {
			t.Error(err)
		}
	})

	c := readCompose(t)
	dep := loadDeployment(t, "compose")
	services := []string{"hss", "scscf", "icscf", "pcscf", "presence"}
	start = time.Now()
	s.must("up", "-d", "--no-build")
	s.waitHealthy(services...)
	t.Logf("stack up and healthy in %v", time.Since(start).Round(time.Second))

	// Provisioning through the published API port.
	_, apiPort := hostPort(t, "hss api.listen", dep.hss.API.Listen)
	apiEnv := []string{"IMSCTL_API=http://" + stackPublish + ":" + apiPort, "IMSCTL_TOKEN_FILE=" + token}
	caller, callee := "001010000000901", "001010000000902"
	for i, imsi := range []string{caller, callee} {
		if _, err := run(ctx, apiEnv, imsctl, "subscriber", "add", "--imsi", imsi, "--msisdn", fmt.Sprintf("1555000090%d", i+1),
			"--k", stackK, "--op", stackOP); err != nil {
			t.Fatal(err)
		}
	}

	// UEs on the Docker host reach the P-CSCF at its fixed address from the bridge's gateway (the network's
	// first address), as docker-compose.yml says.
	var subnet netip.Prefix
	if cfgs := c.Networks["ims"].IPAM.Config; len(cfgs) == 1 {
		subnet = netip.MustParsePrefix(cfgs[0].Subnet)
	}
	gateway := subnet.Masked().Addr().Next().String()
	ueArgs := func(imsi string, i int) []string {
		return []string{"--impi", imsi + "@" + stackDomain, "--impu", fmt.Sprintf("sip:1555000090%d@%s", i, stackDomain),
			"--k", stackK, "--op", stackOP, "--pcscf", dep.pcscf.Listen[0], "--local", gateway}
	}
	u := startUE(t, ctx, imsue, filepath.Join(dir, "callee.log"), ueArgs(callee, 2)...)
	call := func(when string) {
		t.Helper()
		cctx, ccancel := context.WithTimeout(ctx, 90*time.Second)
		defer ccancel()
		// imsue logs to stderr.
		out, err := exec.CommandContext(cctx, imsue, append([]string{"call", "--to", "sip:15550000902@" + stackDomain, "--hold", "1s"},
			ueArgs(caller, 1)...)...).CombinedOutput()
		if err != nil || !strings.Contains(string(out), "call ended") {
			t.Fatalf("call %s: %v\n%s", when, err, out)
		}
	}
	call("through the stack")

	// The P-CSCF restarted (its SQLite state on pcscf-state), the S-CSCF's container replaced by a new one (its
	// registrar's SQLite store on scscf-data): the callee's registration must survive both.
	start = time.Now()
	s.must("restart", "--timeout", "10", "pcscf")
	s.must("up", "-d", "--no-build", "--no-deps", "--force-recreate", "scscf")
	s.waitHealthy("scscf", "pcscf")
	t.Logf("pcscf restarted, scscf recreated, healthy again in %v", time.Since(start).Round(time.Second))
	select {
	case err := <-u.exited:
		u.exited <- err
		t.Fatalf("the callee's imsue exited: %v", err)
	default:
	}
	call("after the restart, to the callee registered before it")
	if n := u.registrations(t); n != 1 {
		t.Fatalf("the callee registered %d times, want once: the call must reach the registration made before the restart", n)
	}
}
