package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestFlagsAndConfigFile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "scscf.yaml")
	if err := os.WriteFile(file, []byte("sip:\n  listen: 127.0.0.1:7060\ndb: memory\nregistration:\n  max_expires: 2h\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		args     []string
		code     int
		contains []string
	}{
		{name: "defaults", args: []string{"--dump-config"}, code: 0,
			contains: []string{"listen: 127.0.0.1:6060", "hss: 127.0.0.1:3868", "http_listen: 127.0.0.1:9103",
				"server_name: sip:scscf.ims.mnc001.mcc001.3gppnetwork.org:6060", "db: sqlite://var/scscf.db", "listen: \"\"", /* the Diameter listener is off by default */
				"trusted_networks:\n  - 127.0.0.0/8\n  - ::1/128"}},
		{name: "trusted networks", args: []string{"--trusted-networks", "10.0.0.0/8, 192.0.2.7", "--dump-config"}, code: 0,
			contains: []string{"trusted_networks:\n  - 10.0.0.0/8\n  - 192.0.2.7"}},
		{name: "bad trusted network", args: []string{"--trusted-networks", "core.example.org", "--db", "memory"}, code: 2,
			contains: []string{"trusted_networks[0]"}},
		{name: "file then flags", args: []string{"--config", file, "--hss", "127.0.0.1:13868", "--dump-config"}, code: 0,
			contains: []string{"listen: 127.0.0.1:7060", "hss: 127.0.0.1:13868", "db: memory", "max_expires: 2h0m0s"}},
		{name: "version", args: []string{"--version"}, code: 0, contains: []string{"scscf 0.1.0"}},
		{name: "bad listen", args: []string{"--sip-listen", "nowhere", "--db", "memory"}, code: 2, contains: []string{"sip.listen"}},
		{name: "unknown flag", args: []string{"--nope"}, code: 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			if code := run(tc.args, &out, &errOut); code != tc.code {
				t.Fatalf("exit %d, want %d; stderr %s", code, tc.code, errOut.String())
			}
			all := out.String() + errOut.String()
			for _, c := range tc.contains {
				if !strings.Contains(all, c) {
					t.Fatalf("output lacks %q:\n%s", c, all)
				}
			}
		})
	}
}
