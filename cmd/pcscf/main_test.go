package main

import (
	"bytes"
	"io"
	"os"
	"strings"
	"testing"
)

// captureStdout runs fn with os.Stdout redirected and returns what it printed.
func captureStdout(t *testing.T, fn func() int) (string, int) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	old := os.Stdout
	os.Stdout = w
	code := fn()
	os.Stdout = old
	_ = w.Close()
	var b bytes.Buffer
	_, _ = io.Copy(&b, r)
	return b.String(), code
}

// TestFlags: defaults with no arguments (127.0.0.1:5060, I-CSCF 127.0.0.1:4060, ipsec auto),
// flags override them, bad values are refused before anything listens.
func TestFlags(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		code int
		want []string
	}{
		{"defaults", []string{"--dump-config"}, 0, []string{"- 127.0.0.1:5060", "icscf: 127.0.0.1:4060", "ipsec: auto", "http: 127.0.0.1:9101"}},
		{"flags win", []string{"--dump-config", "--sip-listen", "[::1]:5070", "--icscf", "127.0.0.1:4070", "--ipsec", "off"},
			0, []string{"- '[::1]:5070'", "icscf: 127.0.0.1:4070", "ipsec: \"off\""}},
		{"version", []string{"--version"}, 0, []string{"pcscf "}},
		{"unknown flag", []string{"--nope"}, 2, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, code := captureStdout(t, func() int { return run(tc.args) })
			if code != tc.code {
				t.Fatalf("exit %d, want %d; output:\n%s", code, tc.code, out)
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
		})
	}
}
