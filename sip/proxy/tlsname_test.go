package proxy

import (
	"errors"
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
