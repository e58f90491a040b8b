package resolve

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/imscore/imscore/internal/e2e"
)

// startNamed runs Debian's bind9 as the authoritative server of the test zones on a loopback port: the
// resolver's cases then run against the DNS server operators actually deploy.
func startNamed(t *testing.T) string {
	t.Helper()
	named := e2e.NeedBinary(t, "named", "apt-get install bind9")
	dir := t.TempDir()
	for _, z := range []string{"example.com.zone", "e164.arpa.zone"} {
		b, err := os.ReadFile(filepath.Join("testdata", z))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, z), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	port := e2e.FreePort(t)
	conf := fmt.Sprintf(`options {
	directory "%[1]s";
	pid-file "%[1]s/named.pid";
	listen-on port %[2]d { 127.0.0.1; };
	listen-on-v6 { none; };
	recursion no;
	dnssec-validation no;
	notify no;
};
zone "example.com" { type primary; file "example.com.zone"; };
zone "e164.arpa" { type primary; file "e164.arpa.zone"; };
`, dir, port)
	confPath := filepath.Join(dir, "named.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, named, "-g", "-c", confPath, "-n", "1")
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("start named: %v", err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	c := &dns.Client{Timeout: 200 * time.Millisecond}
	m := new(dns.Msg)
	m.SetQuestion("example.com.", dns.TypeSOA)
	for deadline := time.Now().Add(20 * time.Second); ; {
		if in, _, err := c.Exchange(m, addr); err == nil && in.Rcode == dns.RcodeSuccess && len(in.Answer) > 0 {
			return addr
		}
		select {
		case <-done:
			t.Fatalf("named exited:\n%s", out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("named did not answer within 20 s:\n%s", out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestBind9 runs the RFC 3263 and ENUM cases against bind9 serving the same zones.
func TestBind9(t *testing.T) {
	addr := startNamed(t)
	t.Run("RFC3263", func(t *testing.T) { runResolveCases(t, addr) })
	t.Run("ENUM", func(t *testing.T) { runENUMCases(t, addr) })
}
