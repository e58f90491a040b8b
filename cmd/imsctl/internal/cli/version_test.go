package cli

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/imscore/imscore/internal/version"
)

func TestVersion(t *testing.T) {
	want := "imsctl " + version.String() + "\n"
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantOut  string
	}{
		{"flag", []string{"--version"}, ExitOK, want},
		{"flag after a global option", []string{"--api", "http://127.0.0.1:1", "--version"}, ExitOK, want},
		{"command", []string{"version"}, ExitOK, want},
		{"command refuses arguments", []string{"version", "extra"}, ExitUsage, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			// No API is running: printing the version must not need one.
			code := Main(context.Background(), tt.args, Env{Stdout: &out, Stderr: &errOut})
			if code != tt.wantCode || out.String() != tt.wantOut {
				t.Fatalf("imsctl %s: exit %d, stdout %q, stderr %q; want exit %d, stdout %q",
					strings.Join(tt.args, " "), code, out.String(), errOut.String(), tt.wantCode, tt.wantOut)
			}
		})
	}
}

// TestVersionInUsage: the help lists both spellings, so an operator finds them.
func TestVersionInUsage(t *testing.T) {
	var out bytes.Buffer
	if code := Main(context.Background(), []string{"help"}, Env{Stdout: &out, Stderr: &bytes.Buffer{}}); code != ExitOK {
		t.Fatalf("help: exit %d", code)
	}
	for _, s := range []string{"imsctl --version", "\n  version "} {
		if !strings.Contains(out.String(), s) {
			t.Errorf("usage lacks %q:\n%s", s, out.String())
		}
	}
}
