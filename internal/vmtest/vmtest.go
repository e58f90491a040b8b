// Package vmtest runs Go test binaries inside a small QEMU VM booting Debian's cloud kernel,
// which has the ESP, XFRM and crypto modules that the development and CI kernels lack
// (docs/design.md §5). It downloads the kernel and busybox-static with apt into a cache, builds a
// busybox initramfs with the modules, iproute2's ip and the test binaries, boots it with the
// serial console on our stdout, and reads the outcome from a result line the guest prints.
//
// Software emulation (TCG) is the default; KVM only where it really works. A warm run takes
// about 8 s, most of it the emulated boot.
package vmtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"
)

// Sentinels of Run.
var (
	// ErrTestsFailed: the tests ran and at least one binary failed.
	ErrTestsFailed = errors.New("vmtest: tests failed in the VM")
	// ErrNoResult: the VM ended (crash, panic, timeout) without printing its result line.
	ErrNoResult = errors.New("vmtest: no result line from the VM (kernel crash, guest hang or timeout)")
)

// EnvRequireESP is set to "1" in the guest: tests that need kernel ESP fail there instead of
// skipping (see sip/ipsec/ipsectest).
const EnvRequireESP = "IMSCORE_REQUIRE_ESP"

// Config of a run. The zero value needs only Log and Stdout set, or takes defaults.
type Config struct {
	// CacheDir holds the downloaded packages. Default: $IMSCORE_VMTEST_CACHE, else
	// $XDG_CACHE_HOME/imscore-vmtest, else ~/.cache/imscore-vmtest.
	CacheDir string
	// KernelMeta is the metapackage that names the kernel. Default linux-image-cloud-amd64: it
	// needs no drivers beyond the built-in 8250 serial and has the same IPsec config as the
	// generic kernel at a third of its size.
	KernelMeta string
	// Offline uses only what the cache holds, without asking apt.
	Offline bool
	// Timeout bounds boot, tests and power-off. Default 5 minutes.
	Timeout time.Duration
	// MemoryMB of the guest. Default 512 (128 is enough for sip/ipsec; 96 panics).
	MemoryMB int
	// Accel is auto, kvm or tcg. Default auto: KVM only if usable, see accel.
	Accel string
	// QEMU binary. Default qemu-system-x86_64.
	QEMU string
	// IP is iproute2's ip to copy into the guest with its libraries. Default /usr/sbin/ip;
	// "-" leaves it out.
	IP string
	// Env is added to the guest's environment, after EnvRequireESP=1.
	Env map[string]string
	// KeepDir, if set, keeps the initramfs and /init there for inspection.
	KeepDir string
	// Stdout receives the serial console. Default os.Stdout.
	Stdout io.Writer
	// Log receives progress and timings. Default a no-op logger.
	Log *zap.Logger
}

func (c Config) withDefaults() (Config, error) {
	if c.CacheDir == "" {
		dir, err := DefaultCacheDir()
		if err != nil {
			return c, err
		}
		c.CacheDir = dir
	}
	if c.KernelMeta == "" {
		c.KernelMeta = "linux-image-cloud-amd64"
	}
	if c.Timeout <= 0 {
		c.Timeout = 5 * time.Minute
	}
	if c.MemoryMB <= 0 {
		c.MemoryMB = 512
	}
	if c.QEMU == "" {
		c.QEMU = "qemu-system-x86_64"
	}
	if c.IP == "" {
		c.IP = "/usr/sbin/ip"
	}
	if c.Stdout == nil {
		c.Stdout = os.Stdout
	}
	if c.Log == nil {
		c.Log = zap.NewNop()
	}
	return c, nil
}

// DefaultCacheDir is $IMSCORE_VMTEST_CACHE, else $XDG_CACHE_HOME/imscore-vmtest, else
// ~/.cache/imscore-vmtest.
func DefaultCacheDir() (string, error) {
	if d := os.Getenv("IMSCORE_VMTEST_CACHE"); d != "" {
		return d, nil
	}
	base, err := os.UserCacheDir() // $XDG_CACHE_HOME or ~/.cache
	if err != nil {
		return "", fmt.Errorf("vmtest cache directory: %w", err)
	}
	return filepath.Join(base, "imscore-vmtest"), nil
}

// Result of a run.
type Result struct {
	Assets   Assets
	Accel    string
	Binaries []BinaryResult
	// Counts over all binaries, from their -test.v output (subtests included); a binary that
	// exits non-zero without a FAIL line counts as one failure.
	Passed, Failed, Skipped int
	Status                  string // PASS or FAIL as the guest reported it; empty if no result line
	Prepare                 time.Duration
	Boot                    time.Duration // QEMU start to the guest's /init
	Total                   time.Duration
}

// Run boots the VM, runs the tests in order and returns their outcome: nil error if all passed,
// ErrTestsFailed if some failed, ErrNoResult if the guest never reported, or the setup error.
func Run(ctx context.Context, cfg Config, tests []Test) (Result, error) {
	start := time.Now()
	var res Result
	cfg, err := cfg.withDefaults()
	if err != nil {
		return res, err
	}
	if err := checkTests(tests); err != nil {
		return res, err
	}
	acc, err := accel(cfg.Accel, "/dev/kvm", "/proc/cpuinfo")
	if err != nil {
		return res, err
	}
	res.Accel = acc
	if _, err := exec.LookPath(cfg.QEMU); err != nil {
		return res, fmt.Errorf("vmtest: %s not found (apt-get install --no-install-recommends qemu-system-x86): %w", cfg.QEMU, err)
	}

	f := &fetcher{cache: cfg.CacheDir, offline: cfg.Offline, log: cfg.Log}
	assets, err := f.prepare(ctx, cfg.KernelMeta)
	if err != nil {
		return res, fmt.Errorf("vmtest: %w", err)
	}
	res.Assets = assets
	cfg.Log.Info("kernel", zap.String("package", assets.KernelPackage), zap.String("version", assets.KernelVersion),
		zap.String("release", assets.KernelRelease), zap.String("busybox", assets.BusyboxVersion), zap.String("accel", acc))

	workDir := cfg.KeepDir
	if workDir == "" {
		if workDir, err = os.MkdirTemp("", "imscore-vmtest-"); err != nil {
			return res, err
		}
		defer os.RemoveAll(workDir)
	} else if err := os.MkdirAll(workDir, 0o755); err != nil {
		return res, err
	}
	marker, err := newMarker()
	if err != nil {
		return res, err
	}
	initrd := filepath.Join(workDir, "initrd.cpio")
	if err := buildInitramfs(cfg, assets, marker, tests, initrd, workDir); err != nil {
		return res, fmt.Errorf("vmtest: initramfs: %w", err)
	}
	res.Prepare = time.Since(start)

	err = boot(ctx, cfg, acc, assets.Kernel, initrd, marker, &res)
	res.Total = time.Since(start)
	cfg.Log.Info("timings", zap.Duration("prepare", res.Prepare), zap.Duration("boot_to_init", res.Boot), zap.Duration("total", res.Total))
	return res, err
}

func checkTests(tests []Test) error {
	if len(tests) == 0 {
		return errors.New("vmtest: no tests to run")
	}
	seen := map[string]bool{}
	for _, t := range tests {
		if !testNameRE.MatchString(t.Name) || seen[t.Name] {
			return fmt.Errorf("vmtest: test name %q must be unique and match %s", t.Name, testNameRE)
		}
		seen[t.Name] = true
		if err := checkStatic(t.Binary); err != nil {
			return fmt.Errorf("vmtest: %w", err)
		}
	}
	return nil
}

func newMarker() (string, error) {
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return "IMSCORE-VMTEST-" + hex.EncodeToString(b), nil
}

func buildInitramfs(cfg Config, assets Assets, marker string, tests []Test, out, workDir string) error {
	depFile, err := os.Open(filepath.Join(assets.ModulesDir, "modules.dep"))
	if err != nil {
		return err
	}
	idx, err := parseModulesDep(depFile)
	depFile.Close()
	if err != nil {
		return err
	}
	modules, unknown := idx.closure(append(append([]string{}, defaultLoadModules...), shippedModules...), shippedModuleDirs)
	if len(unknown) > 0 {
		cfg.Log.Debug("modules not in modules.dep (built in, or absent)", zap.Strings("modules", unknown))
	}
	g := guestLayout{assets: assets, modules: modules, loadModules: defaultLoadModules}
	if cfg.IP != "-" {
		libs, err := sharedDeps(cfg.IP)
		switch {
		case errors.Is(err, errStatic):
			g.ip = cfg.IP
		case err != nil:
			cfg.Log.Warn("leaving ip out of the VM", zap.String("ip", cfg.IP), zap.Error(err))
		default:
			g.ip, g.ipLibs = cfg.IP, libs
		}
	}
	env := map[string]string{EnvRequireESP: "1"}
	for k, v := range cfg.Env {
		env[k] = v
	}
	g.initScript = initScript(marker, g.loadModules, env, tests)
	if cfg.KeepDir != "" {
		if err := os.WriteFile(filepath.Join(workDir, "init"), []byte(g.initScript), 0o755); err != nil {
			return err
		}
	}
	fh, err := os.Create(out)
	if err != nil {
		return err
	}
	if err := writeInitramfs(fh, g, tests); err != nil {
		fh.Close()
		return err
	}
	if err := fh.Close(); err != nil {
		return err
	}
	st, err := os.Stat(out)
	if err == nil {
		cfg.Log.Debug("initramfs", zap.Int("modules", len(modules)), zap.Int64("bytes", st.Size()))
	}
	return err
}

// afterResultGrace is how long QEMU may take to power off once the guest has reported.
const afterResultGrace = 15 * time.Second

// boot runs QEMU, streams the console and fills res from the result lines.
func boot(ctx context.Context, cfg Config, acc, kernel, initrd, marker string, res *Result) error {
	ctx, cancel := context.WithTimeoutCause(ctx, cfg.Timeout, fmt.Errorf("vmtest: timeout after %v", cfg.Timeout))
	defer cancel()
	cmd := exec.CommandContext(ctx, cfg.QEMU, qemuArgs(acc, cfg.MemoryMB, kernel, initrd)...)
	cmd.Stdin = nil // /dev/null: the serial console works without a tty, as in CI
	cmd.WaitDelay = 5 * time.Second
	var stderr strings.Builder
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	started := time.Now()
	cfg.Log.Debug("qemu", zap.String("cmd", cfg.QEMU+" "+strings.Join(cmd.Args[1:], " ")))
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("vmtest: start %s: %w", cfg.QEMU, err)
	}

	var once sync.Once
	var graceTimer *time.Timer
	sc := &consoleScanner{marker: marker, out: cfg.Stdout}
	sc.onLine = func(line string) {
		if res.Boot == 0 && strings.HasPrefix(line, "vmtest: /init at") {
			res.Boot = time.Since(started)
		}
		if sc.res.final != nil {
			once.Do(func() { graceTimer = time.AfterFunc(afterResultGrace, cancel) })
		}
	}
	scanErr := sc.scan(stdout) // returns when QEMU closes its stdout, i.e. exits
	waitErr := cmd.Wait()
	if graceTimer != nil {
		graceTimer.Stop()
	}
	if scanErr != nil {
		return fmt.Errorf("vmtest: console: %w", scanErr)
	}

	res.Binaries = sc.res.binaries
	if sc.res.final == nil {
		why := "QEMU exited"
		if cause := context.Cause(ctx); cause != nil {
			why = cause.Error()
		} else if waitErr != nil {
			why = fmt.Sprintf("QEMU: %v", waitErr)
		}
		if s := strings.TrimSpace(stderr.String()); s != "" {
			why += ": " + s
		}
		return fmt.Errorf("%w: %s", ErrNoResult, why)
	}
	atoi := func(k string) int { n, _ := strconv.Atoi(sc.res.final[k]); return n }
	res.Status = sc.res.final["status"]
	res.Passed, res.Failed, res.Skipped = atoi("passed"), atoi("failed"), atoi("skipped")
	if res.Status != "PASS" {
		return fmt.Errorf("%w: %d passed, %d failed", ErrTestsFailed, res.Passed, res.Failed)
	}
	return nil
}
