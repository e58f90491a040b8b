package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestFlags(t *testing.T) {
	file := filepath.Join(t.TempDir(), "imsagw.yaml")
	if err := os.WriteFile(file, []byte("access_address: 127.0.0.2\niq:\n  peers: [127.0.0.5]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		args     []string
		code     int
		contains []string
		absent   []string
	}{
		{name: "defaults", args: []string{"--dump-config"}, contains: []string{"listen: 127.0.0.1:2944", "- 127.0.0.1",
			"access_address: 127.0.0.1", "core_address: 127.0.0.1", "access_realm: access", "core_realm: core",
			"max_contexts: 10000", "setup_timeout: 5m0s", "idle_timeout: 1h0m0s", "config_hold: 5s", "http_listen: 127.0.0.1:9106"}},
		{name: "flags", args: []string{"--dump-config", "--iq-listen", "127.0.0.1:12944", "--iq-peers", "10.0.0.1, 10.0.0.2",
			"--core-address", "10.1.1.1", "--idle-timeout", "2m"},
			contains: []string{"listen: 127.0.0.1:12944", "- 10.0.0.1", "- 10.0.0.2", "core_address: 10.1.1.1", "idle_timeout: 2m0s"}},
		{name: "file, then flags over it", args: []string{"--config", file, "--dump-config", "--iq-peers", "10.9.9.9"},
			contains: []string{"access_address: 127.0.0.2", "- 10.9.9.9"}, absent: []string{"127.0.0.5"}},
		{name: "version", args: []string{"--version"}, contains: []string{"imsagw"}},
		{name: "unknown flag", args: []string{"--nope"}, code: 2, contains: []string{"nope"}},
		{name: "invalid config refused at start", args: []string{"--iq-peers", "p-cscf.example", "--http-listen", ""},
			code: 2, contains: []string{"iq.peers"}},
		{name: "cert without key", args: []string{"--tls-cert", "x.pem", "--http-listen", ""}, code: 2, contains: []string{"tls.cert_file"}},
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
			for _, a := range tt.absent {
				if strings.Contains(all, a) {
					t.Errorf("output has %q:\n%s", a, all)
				}
			}
		})
	}
}
