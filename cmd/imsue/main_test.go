package main

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/imscore/imscore/internal/version"
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
	if code := run([]string{"register", "--k", "465b5ce8b199b49faa5f0a2ee238a6bc", "--opc", "cd63cb71954a9f4e48a5994e37a02baf", "--reg-id", "0"}); code != 2 {
		t.Errorf("--reg-id 0: exit %d, want 2", code)
	}
}

// TestVersion: imsue version, --version and load --version print the nodes' version line.
func TestVersion(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := runLoad(context.Background(), []string{"--version"}, &out, &errOut); code != 0 {
		t.Fatalf("load --version: exit %d: %s", code, errOut.String())
	}
	if want := "imsue " + version.String() + "\n"; out.String() != want {
		t.Errorf("load --version printed %q, want %q", out.String(), want)
	}
	for _, args := range [][]string{{"version"}, {"--version"}} {
		if code := run(args); code != 0 {
			t.Errorf("%v: exit %d", args, code)
		}
	}
}

// TestLoadUsage: bad flags and values are usage errors (exit 2) before any network use.
func TestLoadUsage(t *testing.T) {
	const k, opc = "465b5ce8b199b49faa5f0a2ee238a6bc", "cd63cb71954a9f4e48a5994e37a02baf"
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"unknown flag", []string{"--dance"}},
		{"no keys", []string{"--rate", "1"}},
		{"bad scenario", []string{"--k", k, "--opc", opc, "--scenario", "dance"}},
		{"bad mix", []string{"--k", k, "--opc", opc, "--scenario", "mix", "--mix", "call=x"}},
		{"zero rate", []string{"--k", k, "--opc", opc, "--rate", "0"}},
		{"bad IMSI", []string{"--k", k, "--opc", opc, "--first-imsi", "123"}},
		{"bad AMF", []string{"--k", k, "--opc", opc, "--amf", "80"}},
		{"step factor 1", []string{"--k", k, "--opc", opc, "--step-up", "--step-factor", "1"}},
		{"message with one UE", []string{"--k", k, "--opc", opc, "--scenario", "message", "--ues", "1"}},
		{"extra argument", []string{"--k", k, "--opc", opc, "now"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			if code := runLoad(context.Background(), tc.args, &out, &errOut); code != 2 {
				t.Errorf("exit %d, want 2; stderr %s", code, errOut.String())
			}
		})
	}
}
