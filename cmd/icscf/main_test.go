package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestFlags(t *testing.T) {
	file := filepath.Join(t.TempDir(), "icscf.yaml")
	if err := os.WriteFile(file, []byte("domain: file.example\nscscfs:\n  - {name: 'sip:from-file.example', address: '127.0.0.1:7000'}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		args     []string
		code     int
		contains []string
		absent   []string
	}{
		{name: "defaults", args: []string{"--dump-config"}, contains: []string{
			"addr: 127.0.0.1:4060", "- 127.0.0.1:3868", "listen: \"\"" /* the Diameter listener is off by default */, "name: sip:scscf.ims.mnc001.mcc001.3gppnetwork.org:6060",
			"address: 127.0.0.1:6060", "http_listen: 127.0.0.1:9102", "origin_host: icscf.ims.mnc001.mcc001.3gppnetwork.org",
			"trusted_networks:\n  - 127.0.0.0/8\n  - ::1/128"}},
		{name: "trusted networks", args: []string{"--dump-config", "--trusted-networks", "10.0.0.0/8, 192.0.2.7"},
			contains: []string{"trusted_networks:\n  - 10.0.0.0/8\n  - 192.0.2.7"}, absent: []string{"127.0.0.0/8"}},
		{name: "bad trusted network refused at start", args: []string{"--trusted-networks", "core.example.org", "--http-listen", ""},
			code: 2, contains: []string{"trusted_networks[0]"}},
		{name: "flags", args: []string{"--dump-config", "--sip-listen", "127.0.0.1:14060", "--hss", "127.0.0.1:1,127.0.0.1:2",
			"--scscf", "s1.example:6060=127.0.0.1:16060", "--scscf", "sip:s2.example=127.0.0.1:26060", "--attempt-timeout", "2s"},
			contains: []string{"addr: 127.0.0.1:14060", "- 127.0.0.1:1", "- 127.0.0.1:2", "name: sip:s1.example:6060",
				"address: 127.0.0.1:16060", "name: sip:s2.example", "attempt_timeout: 2s"},
			absent: []string{"127.0.0.1:6060"}},
		{name: "file, then flags over it", args: []string{"--config", file, "--dump-config", "--scscf", "sip:flag.example=127.0.0.1:8000"},
			contains: []string{"domain: file.example", "name: sip:flag.example"}, absent: []string{"from-file"}},
		{name: "file alone", args: []string{"--config", file, "--dump-config"},
			contains: []string{"domain: file.example", "name: sip:from-file.example"}},
		{name: "bad scscf", args: []string{"--dump-config", "--scscf", "=127.0.0.1:1"}, code: 2, contains: []string{"--scscf"}},
		{name: "unknown flag", args: []string{"--nope"}, code: 2, contains: []string{"nope"}},
		{name: "version", args: []string{"--version"}, contains: []string{"icscf"}},
		{name: "invalid config refused at start", args: []string{"--hss", "nocolon", "--http-listen", ""}, code: 2,
			contains: []string{"diameter.hss[0]"}},
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
