package e2e

import (
	"os"
	"os/exec"
	"testing"
)

// InCI tells whether the tests run in CI (env CI=true), where every tool is installed and a missing one is a
// failure rather than a reason to skip.
func InCI() bool { return os.Getenv("CI") == "true" }

// Need skips the test (fails it in CI) with reason unless ok.
func Need(t testing.TB, ok bool, reason string) {
	t.Helper()
	if ok {
		return
	}
	if InCI() {
		t.Fatalf("CI=true and %s", reason)
		return
	}
	t.Skip(reason)
}

// NeedBinary is Need for an executable on PATH; it returns its path.
func NeedBinary(t testing.TB, name, install string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	Need(t, err == nil, name+" not installed ("+install+")")
	return p
}
