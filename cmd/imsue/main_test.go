package main

import (
	"testing"
	"time"
)

// TestBuildConfig: flags become a ue.Config; bad keys and addresses are refused.
func TestBuildConfig(t *testing.T) {
	const k, opc = "465b5ce8b199b49faa5f0a2ee238a6bc", "cd63cb71954a9f4e48a5994e37a02baf"
	for _, tc := range []struct {
		name                   string
		pcscf, local, k, op, c string
		ok                     bool
	}{
		{"opc", "127.0.0.1:5060", "", k, "", opc, true},
		{"op", "[::1]:5060", "::1", k, opc, "", true},
		{"both op and opc", "127.0.0.1:5060", "", k, opc, opc, false},
		{"short K", "127.0.0.1:5060", "", "00", "", opc, false},
		{"bad hex", "127.0.0.1:5060", "", "zz", "", opc, false},
		{"bad P-CSCF", "pcscf", "", k, "", opc, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := buildConfig("1@d", "", tc.pcscf, tc.local, "udp", tc.k, tc.op, tc.c, true, time.Minute)
			if (err == nil) != tc.ok {
				t.Fatalf("buildConfig: %v, want ok %v", err, tc.ok)
			}
			if tc.ok && (cfg.IMPU != "sip:1@d" || !cfg.SecAgree || cfg.Expires != time.Minute) {
				t.Errorf("config %+v", cfg)
			}
		})
	}
}

// TestRunUsage: no command is a usage error; an unknown one fails before any network use.
func TestRunUsage(t *testing.T) {
	if code := run(nil); code != 2 {
		t.Errorf("no args: exit %d, want 2", code)
	}
	if code := run([]string{"dance", "--k", "465b5ce8b199b49faa5f0a2ee238a6bc", "--opc", "cd63cb71954a9f4e48a5994e37a02baf"}); code != 1 {
		t.Errorf("unknown command: exit %d, want 1", code)
	}
}
