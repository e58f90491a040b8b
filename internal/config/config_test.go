package config

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

type testConfig struct {
	Listen string `yaml:"listen"`
	Realm  string `yaml:"realm"`
	Peers  int    `yaml:"peers"`
}

func newFlags(cfg *testConfig) *flag.FlagSet {
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.SetOutput(&bytes.Buffer{})
	fs.StringVar(&cfg.Listen, "listen", cfg.Listen, "listen address")
	fs.StringVar(&cfg.Realm, "realm", cfg.Realm, "realm")
	fs.IntVar(&cfg.Peers, "peers", cfg.Peers, "peers")
	return fs
}

func writeFile(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "c.yaml")
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadPrecedence(t *testing.T) {
	file := writeFile(t, "listen: 10.0.0.1:1\nrealm: file.realm\n")
	tests := []struct {
		name string
		args []string
		want testConfig
	}{
		{"defaults only", nil, testConfig{"127.0.0.1:1", "default.realm", 1}},
		{"file over defaults", []string{"--config", file}, testConfig{"10.0.0.1:1", "file.realm", 1}},
		{"flag over file", []string{"--config", file, "--realm", "flag.realm"}, testConfig{"10.0.0.1:1", "flag.realm", 1}},
		{"flag before config flag still wins", []string{"--peers", "3", "--realm", "x", "--config", file}, testConfig{"10.0.0.1:1", "x", 3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig{"127.0.0.1:1", "default.realm", 1}
			if err := Load(newFlags(&cfg), tt.args, &cfg); err != nil {
				t.Fatal(err)
			}
			if cfg != tt.want {
				t.Fatalf("got %+v, want %+v", cfg, tt.want)
			}
		})
	}
}

func TestLoadRejectsUnknownKey(t *testing.T) {
	file := writeFile(t, "listen: x\nrelam: typo\n")
	cfg := testConfig{}
	err := Load(newFlags(&cfg), []string{"--config", file}, &cfg)
	if err == nil || !strings.Contains(err.Error(), "relam") {
		t.Fatalf("want error naming the unknown key, got %v", err)
	}
}

func TestLoadMissingFile(t *testing.T) {
	cfg := testConfig{}
	err := Load(newFlags(&cfg), []string{"--config", "/nonexistent/x.yaml"}, &cfg)
	if err == nil || !strings.Contains(err.Error(), "read config file") {
		t.Fatalf("want read error, got %v", err)
	}
}

func TestDumpRoundTrip(t *testing.T) {
	in := testConfig{"a:1", "r", 7}
	var buf bytes.Buffer
	if err := Dump(&buf, in); err != nil {
		t.Fatal(err)
	}
	var out testConfig
	if err := Decode(buf.Bytes(), &out); err != nil {
		t.Fatal(err)
	}
	if in != out {
		t.Fatalf("round trip: got %+v want %+v", out, in)
	}
}

// A list flag given over a file's list replaces it, and parsing twice (Load) gives the same list.
func TestListValue(t *testing.T) {
	var cfg struct {
		Nets []string `yaml:"nets"`
	}
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.SetOutput(&bytes.Buffer{})
	fs.Var(ListValue(func(l []string) { cfg.Nets = l }), "nets", "networks")
	file := writeFile(t, "nets: [192.0.2.0/24]\n")
	if err := Load(fs, []string{"--config", file, "--nets", " 10.0.0.0/8,, ::1/128 "}, &cfg); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(cfg.Nets, "|"); got != "10.0.0.0/8|::1/128" {
		t.Fatalf("nets %q, want the flag's two items", got)
	}
}
