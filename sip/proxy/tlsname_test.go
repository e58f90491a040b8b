package proxy

import (
	"errors"
	"flag"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// TestSIPDomainIdentities runs RFC 5922 §7.1 and §7.2 over certificates of each shape.
func TestSIPDomainIdentities(t *testing.T) {
	ca := newTestCA(t, "names CA")
	tests := []struct {
		name string
		leaf leaf
		want []string
	}{
		{name: "sip URIs win over DNS names", leaf: leaf{cn: "x.test", uris: []string{"sip:Home.Test", "sip:alt.test;transport=tls"},
			dns: []string{"icscf.home.test"}}, want: []string{"home.test", "alt.test"}},
		{name: "DNS names when no sip URI", leaf: leaf{cn: "x.test", dns: []string{"icscf.home.test", "home.test."}},
			want: []string{"icscf.home.test", "home.test"}},
		{name: "a sip URI with a user part is no domain identity", leaf: leaf{uris: []string{"sip:alice@home.test"},
			dns: []string{"home.test"}}, want: []string{"home.test"}},
		{name: "other URI schemes are ignored", leaf: leaf{uris: []string{"sips:home.test", "https://home.test/"},
			dns: []string{"dns.test"}}, want: []string{"dns.test"}},
		{name: "wildcards are never identities", leaf: leaf{dns: []string{"*.home.test"}}, want: nil},
		{name: "the CN only without any subjectAltName", leaf: leaf{cn: "home.test"}, want: []string{"home.test"}},
		{name: "no CN fallback beside a subjectAltName", leaf: leaf{cn: "home.test", ips: []string{"127.0.0.1"}}, want: nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := SIPDomainIdentities(ca.parsed(tc.leaf)); !slices.Equal(got, tc.want) {
				t.Errorf("identities %v, want %v", got, tc.want)
			}
		})
	}
}

// TestMatchPeer: exact, case-insensitive domains; addresses only against iPAddress entries.
func TestMatchPeer(t *testing.T) {
	ca := newTestCA(t, "names CA")
	c := ca.parsed(leaf{uris: []string{"sip:home.test"}, dns: []string{"icscf.home.test"}, ips: []string{"192.0.2.1"}})
	for _, ok := range []string{"home.test", "HOME.test", "home.test.", "192.0.2.1"} {
		if err := matchPeer(c, ok); err != nil {
			t.Errorf("matchPeer(%q): %v", ok, err)
		}
	}
	// icscf.home.test is a DNS name, which RFC 5922 §7.1 sets aside when sip URIs exist.
	for _, bad := range []string{"icscf.home.test", "sub.home.test", "test", "192.0.2.2", "::1"} {
		var ne *NameError
		if err := matchPeer(c, bad); !errors.As(err, &ne) {
			t.Errorf("matchPeer(%q): %v, want a NameError", bad, err)
		}
	}
}

// FuzzSIPURIDomain: any subjectAltName URI a peer's certificate carries gives a plain lower-case domain or
// nothing, never a wildcard, user part or parameter.
func FuzzSIPURIDomain(f *testing.F) {
	for _, s := range []string{"home.test", "Home.Test;transport=tls", "alice@home.test", "home.test:5061",
		"[2001:db8::1]", "//home.test", "*.home.test", "home..test", "home.test?x=y", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, opaque string) {
		d, ok := sipURIDomain(opaque)
		if !ok {
			return
		}
		if d == "" || d != strings.ToLower(d) || strings.ContainsAny(d, "*@;:?[] ") {
			t.Fatalf("sipURIDomain(%q) = %q", opaque, d)
		}
	})
}

// TestTLSConfigValidate: one precise error per bad field; nothing configured is valid (TLS off).
func TestTLSConfigValidate(t *testing.T) {
	good := TLSConfig{CertFile: "c.pem", KeyFile: "k.pem", CAFile: "ca.pem", Listen: []Listen{{Addr: "127.0.0.1:5061"}}}
	if err := (TLSConfig{}).Validate(); err != nil {
		t.Errorf("empty: %v", err)
	}
	if err := good.Validate(); err != nil {
		t.Errorf("good: %v", err)
	}
	for name, tc := range map[string]struct {
		mutate func(*TLSConfig)
		want   string
	}{
		"no key":             {func(c *TLSConfig) { c.KeyFile = "" }, "tls.cert_file and tls.key_file"},
		"no ca":              {func(c *TLSConfig) { c.CAFile = "" }, "tls.ca_file"},
		"half a client cert": {func(c *TLSConfig) { c.ClientCertFile = "x.pem" }, "tls.client_cert_file"},
		"bad verify":         {func(c *TLSConfig) { c.Verify = "none" }, `tls.verify "none"`},
		"bad listen":         {func(c *TLSConfig) { c.Listen = []Listen{{Addr: "localhost"}} }, "tls.listen[0].addr"},
		"wildcard":           {func(c *TLSConfig) { c.Listen = []Listen{{Addr: "0.0.0.0:5061"}} }, "tls.listen[0].advertise"},
		"negative":           {func(c *TLSConfig) { c.MaxHandshakes = -1 }, "must not be negative"},
	} {
		c := good
		tc.mutate(&c)
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error naming %s", name, err, tc.want)
		}
	}
	if _, err := New(Config{Listen: []Listen{{Addr: "127.0.0.1:0"}}, Router: RouterFunc(nil),
		TLS: TLSConfig{CertFile: "/nonexistent.pem", KeyFile: "/nonexistent.key", CAFile: "/nonexistent-ca.pem"}}, nil); err == nil {
		t.Error("New with missing TLS files: no error")
	}
}

// TestTLSFlags: the -sip-tls-* flags fill the configuration.
func TestTLSFlags(t *testing.T) {
	var c TLSConfig
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	TLSFlags(fs, &c)
	if err := fs.Parse([]string{"-sip-tls-listen", "127.0.0.1:5061, [::1]:5061", "-sip-tls-cert", "c.pem",
		"-sip-tls-key", "k.pem", "-sip-tls-ca", "ca.pem", "-sip-tls-verify", "Server"}); err != nil {
		t.Fatal(err)
	}
	want := TLSConfig{Listen: []Listen{{Addr: "127.0.0.1:5061"}, {Addr: "[::1]:5061"}}, CertFile: "c.pem", KeyFile: "k.pem",
		CAFile: "ca.pem", Verify: VerifyServer}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("flags gave %+v, want %+v", c, want)
	}
	if got := c.WithDefaults(); got.HandshakeTimeout != DefaultTLSHandshakeTimeout || got.MaxHandshakes != DefaultTLSMaxHandshakes ||
		got.ReloadInterval != DefaultTLSReloadInterval || got.Verify != VerifyServer {
		t.Errorf("defaults %+v", got)
	}
}
