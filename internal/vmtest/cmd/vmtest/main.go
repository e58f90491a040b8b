// Command vmtest builds the tests of Go packages as static binaries and runs them inside a
// QEMU VM whose kernel has ESP (internal/vmtest):
//
//	vmtest [flags] [--] ./sip/ipsec [./other/pkg ...] [-- test binary flags]
//
// Exit status: 0 all passed, 1 tests failed, 2 usage or setup error, 3 no result line from
// the VM (kernel crash, guest hang or timeout). Use it through scripts/vmtest.sh: "go run"
// replaces every non-zero status with 1.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/imscore/imscore/internal/logging"
	"github.com/imscore/imscore/internal/vmtest"
	"go.uber.org/zap"
)

// Exit statuses.
const (
	exitPass     = 0
	exitFail     = 1
	exitSetup    = 2
	exitNoResult = 3
)

func main() { os.Exit(run()) }

func run() int {
	fs := flag.NewFlagSet("vmtest", flag.ContinueOnError)
	cfg := vmtest.Config{}
	fs.StringVar(&cfg.CacheDir, "cache", "", "package cache directory (default $IMSCORE_VMTEST_CACHE or $XDG_CACHE_HOME/imscore-vmtest)")
	fs.StringVar(&cfg.KernelMeta, "kernel", "linux-image-cloud-amd64", "Debian kernel metapackage")
	fs.BoolVar(&cfg.Offline, "offline", false, "use only cached packages")
	fs.DurationVar(&cfg.Timeout, "timeout", 5*time.Minute, "bound on boot, tests and power-off")
	fs.IntVar(&cfg.MemoryMB, "mem", 512, "guest memory in MB")
	fs.StringVar(&cfg.Accel, "accel", "auto", "auto, kvm or tcg")
	fs.StringVar(&cfg.KeepDir, "keep", "", "keep the initramfs and /init in this directory")
	runRE := fs.String("run", "", "passed to every test binary as -test.run")
	verbose := fs.Bool("debug", false, "debug logging")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: vmtest [flags] [--] package... [-- test binary flags]\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(os.Args[1:]); err != nil {
		return exitSetup
	}
	pkgs, testArgs := splitArgs(fs.Args())
	if len(pkgs) == 0 {
		fs.Usage()
		return exitSetup
	}
	logCfg := logging.Default()
	if *verbose {
		logCfg.Level = "debug"
	}
	log, err := logging.New(logCfg, "vmtest")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return exitSetup
	}
	defer func() { _ = log.Sync() }()
	cfg.Log = log

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	binDir, err := os.MkdirTemp("", "imscore-vmtest-bin-")
	if err != nil {
		log.Error("temp dir", zap.Error(err))
		return exitSetup
	}
	defer os.RemoveAll(binDir)

	args := []string{"-test.v"}
	if *runRE != "" {
		args = append(args, "-test.run="+*runRE)
	}
	if !hasFlag(testArgs, "test.timeout") {
		// Let a hung test panic with its goroutines printed before the VM is killed.
		args = append(args, fmt.Sprintf("-test.timeout=%v", max(cfg.Timeout-30*time.Second, cfg.Timeout/2)))
	}
	args = append(args, testArgs...)

	built := time.Now()
	tests, err := buildTests(ctx, pkgs, binDir, args)
	if err != nil {
		log.Error("build", zap.Error(err))
		return exitSetup
	}
	log.Info("test binaries built", zap.Int("count", len(tests)), zap.Duration("took", time.Since(built)))

	res, err := vmtest.Run(ctx, cfg, tests)
	switch {
	case err == nil:
		log.Info("all passed in the VM", zap.Int("passed", res.Passed), zap.Int("skipped", res.Skipped),
			zap.String("kernel", res.Assets.KernelPackage+" "+res.Assets.KernelVersion), zap.Duration("total", res.Total))
		return exitPass
	case errors.Is(err, vmtest.ErrTestsFailed):
		log.Error("tests failed in the VM", zap.Int("passed", res.Passed), zap.Int("failed", res.Failed))
		return exitFail
	case errors.Is(err, vmtest.ErrNoResult):
		log.Error("no result from the VM", zap.Error(err))
		return exitNoResult
	default:
		log.Error("vmtest", zap.Error(err))
		return exitSetup
	}
}

// splitArgs separates packages from the test binary flags after a second "--".
func splitArgs(args []string) (pkgs, testArgs []string) {
	for i, a := range args {
		if a == "--" {
			return args[:i], args[i+1:]
		}
	}
	return args, nil
}

func hasFlag(args []string, name string) bool {
	for _, a := range args {
		a = strings.TrimLeft(a, "-")
		if a == name || strings.HasPrefix(a, name+"=") {
			return true
		}
	}
	return false
}

// buildTests lists the packages and builds a static test binary for each that has tests.
func buildTests(ctx context.Context, pkgs []string, dir string, args []string) ([]vmtest.Test, error) {
	root, err := goOutput(ctx, "env", "GOMOD")
	if err != nil {
		return nil, err
	}
	modRoot := filepath.Dir(strings.TrimSpace(root))
	listed, err := goOutput(ctx, append([]string{"list", "-f", "{{.ImportPath}}\t{{.Dir}}\t{{len .TestGoFiles}}\t{{len .XTestGoFiles}}"}, pkgs...)...)
	if err != nil {
		return nil, err
	}
	var tests []vmtest.Test
	for _, line := range strings.Split(strings.TrimSpace(listed), "\n") {
		f := strings.Split(line, "\t")
		if len(f) != 4 {
			return nil, fmt.Errorf("go list: unexpected line %q", line)
		}
		importPath, pkgDir := f[0], f[1]
		if f[2] == "0" && f[3] == "0" {
			continue // no tests
		}
		rel, err := filepath.Rel(modRoot, pkgDir)
		if err != nil || strings.HasPrefix(rel, "..") {
			rel = importPath
		}
		name := strings.NewReplacer("/", "_", ".", "_").Replace(filepath.ToSlash(rel))
		bin := filepath.Join(dir, name+".test")
		cmd := exec.CommandContext(ctx, "go", "test", "-c", "-trimpath", "-o", bin, importPath)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64")
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			return nil, fmt.Errorf("go test -c %s: %w", importPath, err)
		}
		tests = append(tests, vmtest.Test{Name: name, Binary: bin, Dir: pkgDir, Args: args})
	}
	if len(tests) == 0 {
		return nil, fmt.Errorf("no test files in %s", strings.Join(pkgs, " "))
	}
	return tests, nil
}

func goOutput(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "go", args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("go %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return string(out), nil
}
