package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// fakeSIPp puts a script named sipp first on PATH. It appends its arguments to calls.log and then runs body.
func fakeSIPp(t *testing.T, body string) string {
	t.Helper()
	dir := t.TempDir()
	log := filepath.Join(dir, "calls.log")
	script := "#!/bin/sh\necho \"$@\" >> " + log + "\n" + body + "\n"
	if err := os.WriteFile(filepath.Join(dir, "sipp"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
	return log
}

func calls(t *testing.T, log string) []string {
	t.Helper()
	b, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSpace(string(b)), "\n")
}

func TestSIPpRunner(t *testing.T) {
	tests := []struct {
		name      string
		body      string
		wantCode  int
		wantCalls int
	}{
		{name: "success", body: "exit 0", wantCode: 0, wantCalls: 1},
		{name: "scenario failure is not retried", body: "echo 'call failed'; exit 1", wantCode: 1, wantCalls: 1},
		{name: "load flake retried until it passes",
			body:     `n=$(wc -l < "$0.count" 2>/dev/null || echo 0); echo x >> "$0.count"; if [ "$n" -lt 2 ]; then echo "Syntax error or invalid [keyword] in scenario while parsing ''"; exit 255; fi; exit 0`,
			wantCode: 0, wantCalls: 3},
		{name: "load flake retried a bounded number of times",
			body:     `echo "Syntax error or invalid [keyword] in scenario while parsing ''"; exit 255`,
			wantCode: 255, wantCalls: 1 + maxParseRetries},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			log := fakeSIPp(t, tt.body)
			res := SIPp{Scenario: "register.xml", Remote: "127.0.0.1:9", Service: "1555", Username: "u@d",
				Keys: map[string]string{"b": "2", "a": "1"}, Timeout: 5 * time.Second}.Start(t).Wait()
			if res.ExitCode != tt.wantCode {
				t.Fatalf("exit %d, want %d (%s)", res.ExitCode, tt.wantCode, res.Output)
			}
			c := calls(t, log)
			if len(c) != tt.wantCalls {
				t.Fatalf("%d runs, want %d: %q", len(c), tt.wantCalls, c)
			}
			// The arguments SIPp gets: scenario path, remote, a bound port, sorted keys, -au and -s.
			for _, want := range []string{"127.0.0.1:9 -sf ", "/internal/e2e/sipp/register.xml", "-m 1", "-timeout 5s",
				"-timeout_error", "-p ", "-key a 1 -key b 2", "-au u@d", "-s 1555", "-nostdin"} {
				if !strings.Contains(c[0], want) {
					t.Errorf("arguments %q lack %q", c[0], want)
				}
			}
		})
	}
}
