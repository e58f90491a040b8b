// Package bindtest runs Debian's bind9 (named) as the authoritative DNS server of zones a test writes, on a
// loopback port: resolver, P-CSCF, S-CSCF and two-network tests then run against the DNS server operators
// actually deploy. The test is skipped when named is not installed (apt-get install bind9), and fails when
// CI=true, as internal/e2e.NeedBinary does (this package cannot import e2e, whose tests use it).
package bindtest

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// Zone is one primary zone: its origin ("example.com") and its master-file text (RFC 1035 §5; $ORIGIN is the
// origin, so relative names work).
type Zone struct {
	Origin string
	Text   string
}

// File reads a zone's text from a file (a package's testdata).
func File(t testing.TB, origin, path string) Zone {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return Zone{Origin: origin, Text: string(b)}
}

// Start runs named serving zones on 127.0.0.1 and returns its address ("127.0.0.1:port") once it answers the
// first zone's SOA. named is stopped when the test ends.
func Start(t testing.TB, zones ...Zone) string {
	t.Helper()
	return StartIn(t, Place{}, zones...)
}

// Namespace is a network namespace a test created (sip/ipsec/ipsectest.NS is one): Do runs fn on an OS thread
// inside it; a process started by fn belongs to it.
type Namespace interface {
	Do(fn func() error) error
}

// Place is where named runs: in NS (nil: the test's own namespace) on IP ("": 127.0.0.1) and Port (0: a free
// one; only a namespace of the test's own has port 53 free for sure).
type Place struct {
	NS   Namespace
	IP   string
	Port int
}

// StartIn is Start at p: in a namespace of the test, named can serve several networks' nodes on the address
// their resolv.conf-less configuration names (dns.servers), as an operator's or an IPX's DNS does.
func StartIn(t testing.TB, p Place, zones ...Zone) string {
	t.Helper()
	if len(zones) == 0 {
		t.Fatal("bindtest: no zone")
	}
	named, err := exec.LookPath("named")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true and named not installed (apt-get install bind9)")
		}
		t.Skip("named not installed (apt-get install bind9)")
	}
	dir := t.TempDir()
	ip, port := p.IP, p.Port
	if ip == "" {
		ip = "127.0.0.1"
	}
	if port == 0 {
		port = freePort(t)
	}
	var conf strings.Builder
	fmt.Fprintf(&conf, `options {
	directory "%[1]s";
	pid-file "%[1]s/named.pid";
	listen-on port %[2]d { %[3]s; };
	listen-on-v6 { none; };
	recursion no;
	dnssec-validation no;
	notify no;
};
`, dir, port, ip)
	for i, z := range zones {
		file := fmt.Sprintf("zone%d.db", i)
		if err := os.WriteFile(filepath.Join(dir, file), []byte(z.Text), 0o644); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&conf, "zone %q { type primary; file %q; };\n", strings.TrimSuffix(z.Origin, "."), file)
	}
	confPath := filepath.Join(dir, "named.conf")
	if err := os.WriteFile(confPath, []byte(conf.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, named, "-g", "-c", confPath, "-n", "1")
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	start := cmd.Start
	if p.NS != nil {
		start = func() error { return p.NS.Do(cmd.Start) }
	}
	if err := start(); err != nil {
		cancel()
		t.Fatalf("start named: %v", err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	addr := net.JoinHostPort(ip, fmt.Sprint(port))
	c := &dns.Client{Timeout: 200 * time.Millisecond}
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(zones[0].Origin), dns.TypeSOA)
	answers := func() bool {
		in, _, err := c.Exchange(m, addr)
		return err == nil && in.Rcode == dns.RcodeSuccess && len(in.Answer) > 0
	}
	for deadline := time.Now().Add(20 * time.Second); ; {
		ok := false
		if p.NS != nil {
			// The query's socket must be the namespace's too.
			_ = p.NS.Do(func() error { ok = answers(); return nil })
		} else {
			ok = answers()
		}
		if ok {
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

// freePort is a loopback port free for UDP and TCP at the time of asking (named binds both).
func freePort(t testing.TB) int {
	t.Helper()
	for range 50 {
		u, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		port := u.LocalAddr().(*net.UDPAddr).Port
		l, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port})
		_ = u.Close()
		if err == nil {
			_ = l.Close()
			return port
		}
	}
	t.Fatal("no free port for named")
	return 0
}
