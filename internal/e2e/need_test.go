package e2e

import (
	"fmt"
	"testing"
)

func sprint(a ...any) string                 { return fmt.Sprint(a...) }
func sprintf(format string, a ...any) string { return fmt.Sprintf(format, a...) }

// recordingTB records how Need ended a test instead of ending it.
type recordingTB struct {
	testing.TB
	skipped, failed bool
	msg             string
}

func (r *recordingTB) Helper()                        {}
func (r *recordingTB) Skip(args ...any)               { r.skipped = true; r.msg = sprint(args...) }
func (r *recordingTB) Fatalf(format string, a ...any) { r.failed = true; r.msg = sprintf(format, a...) }

func TestNeed(t *testing.T) {
	tests := []struct {
		name        string
		ci          string
		ok          bool
		wantSkipped bool
		wantFailed  bool
	}{
		{name: "present", ci: "", ok: true},
		{name: "missing: skip", ci: "", ok: false, wantSkipped: true},
		{name: "missing in CI: fail", ci: "true", ok: false, wantFailed: true},
		{name: "CI other than true: skip", ci: "1", ok: false, wantSkipped: true},
		{name: "present in CI", ci: "true", ok: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("CI", tt.ci)
			r := &recordingTB{TB: t}
			Need(r, tt.ok, "sipp not installed")
			if r.skipped != tt.wantSkipped || r.failed != tt.wantFailed {
				t.Fatalf("skipped %v failed %v, want %v %v", r.skipped, r.failed, tt.wantSkipped, tt.wantFailed)
			}
			if (r.skipped || r.failed) && r.msg == "" {
				t.Fatal("no reason given")
			}
		})
	}
}
