package vmtest_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/imscore/imscore/internal/vmtest"
	"go.uber.org/zap/zaptest"
)

// requireTool skips without the tool, or fails with CI=true (CI installs everything).
func requireTool(t *testing.T, name string) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s not found (CI=true, so not skipping)", name)
		}
		t.Skipf("%s not found: %v", name, err)
	}
}

// console collects the serial output, safe to read after Run.
type console struct {
	mu sync.Mutex
	b  strings.Builder
}

func (c *console) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.b.Write(p)
}

func (c *console) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.b.String()
}

// TestRunInVM boots the real VM twice with the guest test binary of testdata/guest: once with a
// passing, a skipping and a failing test, once with a test that crashes the guest kernel.
func TestRunInVM(t *testing.T) {
	if testing.Short() {
		t.Skip("boots a QEMU VM twice (about 10 s under TCG)")
	}
	for _, tool := range []string{"qemu-system-x86_64", "go", "apt-get", "apt-cache", "dpkg-deb"} {
		requireTool(t, tool)
	}
	bin := filepath.Join(t.TempDir(), "guest.test")
	build := exec.Command("go", "test", "-c", "-o", bin, "./testdata/guest")
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the guest test binary: %v\n%s", err, out)
	}
	cfg := func(out *console) vmtest.Config {
		return vmtest.Config{
			Timeout: 3 * time.Minute,
			Env:     map[string]string{"VMTEST_GUEST": "1"},
			Stdout:  out,
			Log:     zaptest.NewLogger(t),
		}
	}

	t.Run("pass skip fail", func(t *testing.T) {
		out := &console{}
		res, err := vmtest.Run(context.Background(), cfg(out), []vmtest.Test{
			{Name: "ok", Binary: bin, Dir: "testdata/guest", Args: []string{"-test.v", "-test.run=^TestGuest(Environment|Skip)$"}},
			{Name: "bad", Binary: bin, Args: []string{"-test.v", "-test.run=^TestGuestFail$"}},
		})
		defer func() {
			if t.Failed() {
				t.Logf("console:\n%s", out)
			}
		}()
		if !errors.Is(err, vmtest.ErrTestsFailed) {
			t.Fatalf("Run = %v, want ErrTestsFailed", err)
		}
		if res.Status != "FAIL" || res.Passed != 1 || res.Failed != 1 || res.Skipped != 1 {
			t.Fatalf("status %s, %d passed, %d failed, %d skipped; want FAIL 1 1 1", res.Status, res.Passed, res.Failed, res.Skipped)
		}
		if len(res.Binaries) != 2 || res.Binaries[0].ExitCode != 0 || res.Binaries[1].ExitCode == 0 {
			t.Fatalf("binaries %+v", res.Binaries)
		}
		if !strings.Contains(out.String(), "\n1 passed, 1 failed\n") {
			t.Fatal("no plain count line on the console")
		}
		if res.Assets.KernelPackage == "" || res.Assets.KernelVersion == "" || res.Boot <= 0 {
			t.Fatalf("result lacks the kernel or timings: %+v", res)
		}
		t.Logf("%s %s, %s: boot to /init %v, total %v", res.Assets.KernelPackage, res.Assets.KernelVersion, res.Accel, res.Boot, res.Total)
	})

	t.Run("kernel panic", func(t *testing.T) {
		out := &console{}
		res, err := vmtest.Run(context.Background(), cfg(out), []vmtest.Test{
			{Name: "panic", Binary: bin, Args: []string{"-test.run=^TestGuestPanicKernel$"}},
		})
		if !errors.Is(err, vmtest.ErrNoResult) || res.Status != "" || !strings.Contains(out.String(), "Kernel panic") {
			t.Fatalf("Run = %v (status %q), want ErrNoResult\nconsole:\n%s", err, res.Status, out)
		}
	})
}
