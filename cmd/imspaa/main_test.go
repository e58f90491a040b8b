package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestFlags(t *testing.T) {
	file := filepath.Join(t.TempDir(), "imspaa.yaml")
	if err := os.WriteFile(file, []byte("session_lifetime: 10m\neap:\n  server: hss\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		args     []string
		code     int
		contains []string
	}{
		{name: "defaults", args: []string{"--dump-config"}, contains: []string{"- :716", "session_lifetime: 1h0m0s",
			"server: local", "min_tls_version: \"1.3\"", "irt: 1s", "mrt: 30s", "mrc: 10", "http_listen: 127.0.0.1:9110"}},
		{name: "file, then flags", args: []string{"--config", file, "--dump-config", "--listen", "127.0.0.1:7160,[::1]:7160"},
			contains: []string{"session_lifetime: 10m0s", "server: hss", "- 127.0.0.1:7160", "- '[::1]:7160'"}},
		{name: "local needs certificates", args: []string{"--http-listen", ""}, code: 2, contains: []string{"eap.cert_file"}},
		{name: "bad TLS version", args: []string{"--min-tls-version", "1.1", "--eap-server", "hss"}, code: 2, contains: []string{"1.2 or 1.3"}},
		{name: "version", args: []string{"--version"}, contains: []string{"imspaa"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := run(tt.args, &out, &errOut)
			all := out.String() + errOut.String()
			if code != tt.code {
				t.Fatalf("exit %d, want %d\n%s", code, tt.code, all)
			}
			for _, c := range tt.contains {
				if !strings.Contains(all, c) {
					t.Errorf("output lacks %q:\n%s", c, all)
				}
			}
		})
	}
}
