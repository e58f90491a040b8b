package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/imscore/imscore/internal/config"
	"github.com/imscore/imscore/internal/httpauth"
	"github.com/imscore/imscore/internal/version"
)

func noEnv(string) string { return "" }

// `account add` stores a hashed password read from stdin, with the role, in a 0600 file the HSS and the
// console both read; a short password, an unknown role or a second account of the same name are refused.
func TestAccountAdd(t *testing.T) {
	path := filepath.Join(t.TempDir(), "api-tokens.yaml")
	var out, errb bytes.Buffer
	code := run(context.Background(), []string{"account", "add", "--accounts-file", path, "--name", "alice", "--role", "operator"},
		strings.NewReader("a long enough password\n"), &out, &errb, noEnv)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	b, _ := os.ReadFile(path)
	if strings.Contains(string(b), "a long enough password") || !strings.Contains(string(b), "pbkdf2-sha256$") {
		t.Errorf("file:\n%s", b)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v", fi.Mode().Perm())
	}
	ts, err := httpauth.LoadTokens(path)
	if err != nil {
		t.Fatal(err)
	}
	if p, ok := ts.Login("alice", "a long enough password"); !ok || !p.Has(httpauth.ScopeProvision) || p.Has(httpauth.ScopeAdmin) {
		t.Errorf("login: %+v %v", p, ok)
	}
	for name, c := range map[string]struct {
		args  []string
		stdin string
		code  int
	}{
		"short password": {[]string{"--name", "bob", "--role", "admin"}, "short\n", 1},
		"unknown role":   {[]string{"--name", "bob", "--role", "root"}, "a long enough password\n", 2},
		"no name":        {[]string{"--role", "admin"}, "a long enough password\n", 2},
		"twice":          {[]string{"--name", "alice", "--role", "admin"}, "a long enough password\n", 1},
	} {
		args := append([]string{"account", "add", "--accounts-file", path}, c.args...)
		if got := run(context.Background(), args, strings.NewReader(c.stdin), &out, &errb, noEnv); got != c.code {
			t.Errorf("%s: exit %d, want %d", name, got, c.code)
		}
	}
}

// The console refuses to start without its accounts file or its token, and on bad flags.
func TestServeRefuses(t *testing.T) {
	dir := t.TempDir()
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"--accounts-file", filepath.Join(dir, "missing.yaml")}, nil, &out, &errb, noEnv); code != 1 {
		t.Errorf("missing accounts file: exit %d", code)
	}
	path := filepath.Join(dir, "api-tokens.yaml")
	if _, err := httpauth.AddToken(path, "console", []httpauth.Scope{httpauth.ScopeAdmin}); err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir) // no ./var/imsctl.token here
	errb.Reset()
	if code := run(context.Background(), []string{"--accounts-file", path}, nil, &out, &errb, noEnv); code != 1 || !strings.Contains(errb.String(), "no API token") {
		t.Errorf("no token: exit %d: %s", code, errb.String())
	}
	for _, args := range [][]string{{"--node", "hss"}, {"--node", "hss=ftp://x"}, {"--tls-cert", "c.pem"}, {"extra"}} {
		if code := run(context.Background(), args, nil, &out, &errb, noEnv); code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
}

// --version, and --config under flags: the file's keys apply, a flag wins, an unknown key is refused;
// --dump-config prints the result.
func TestConfigAndVersion(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"--version"}, nil, &out, &errb, noEnv); code != 0 ||
		out.String() != "imsconsole "+version.String()+"\n" {
		t.Errorf("--version: exit %d, %q", code, out.String())
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "console.yaml")
	if err := os.WriteFile(file, []byte("listen: 127.0.0.1:18081\nsession_ttl: 5m\nnodes: [\"hss=http://10.0.0.1:8080\"]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if code := run(context.Background(), []string{"--config", file, "--session-ttl", "7m", "--dump-config"}, nil, &out, &errb, noEnv); code != 0 {
		t.Fatalf("--dump-config: exit %d: %s", code, errb.String())
	}
	var got Config
	if err := config.Decode(out.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if got.Listen != "127.0.0.1:18081" || got.SessionTTL != 7*time.Minute || len(got.Nodes) != 1 || got.AccountsFile != DefaultAccountsFile {
		t.Errorf("effective configuration %+v", got)
	}
	out.Reset()
	if code := run(context.Background(), []string{"--config", file, "--node", "pcscf=http://10.0.0.2:9101", "--dump-config"}, nil, &out, &errb, noEnv); code != 0 ||
		!strings.Contains(out.String(), "pcscf=http://10.0.0.2:9101") || strings.Contains(out.String(), "10.0.0.1") {
		t.Errorf("--node replaces the file's nodes: exit %d\n%s", code, out.String())
	}
	if err := os.WriteFile(file, []byte("listne: x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	errb.Reset()
	if code := run(context.Background(), []string{"--config", file}, nil, &out, &errb, noEnv); code != 2 || !strings.Contains(errb.String(), "listne") {
		t.Errorf("unknown key: exit %d: %s", code, errb.String())
	}
}
