package trust_test

import (
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/emiago/sipgo/sip"

	"github.com/imscore/imscore/sip/header"
	"github.com/imscore/imscore/sip/trust"
)

func TestParseDomainContains(t *testing.T) {
	d, err := trust.ParseDomain([]string{"10.0.0.0/8", " 192.0.2.7 ", "2001:db8::/32", "::ffff:198.51.100.0/120"})
	if err != nil {
		t.Fatal(err)
	}
	for addr, want := range map[string]bool{
		"10.1.2.3":           true,
		"11.0.0.1":           false,
		"192.0.2.7":          true,
		"192.0.2.8":          false,
		"::ffff:10.9.9.9":    true, // an IPv4-mapped source matches its IPv4 entry
		"2001:db8::1":        true,
		"2001:db9::1":        false,
		"198.51.100.20":      true, // an IPv4-mapped prefix is read as IPv4
		"::ffff:198.51.99.1": false,
	} {
		if got := d.Contains(netip.MustParseAddr(addr)); got != want {
			t.Errorf("Contains(%s) = %v, want %v", addr, got, want)
		}
	}
	if got := d.String(); got != "10.0.0.0/8,192.0.2.7/32,2001:db8::/32,198.51.100.0/24" {
		t.Errorf("String() = %q", got)
	}
}

func TestZeroDomainTrustsNoOne(t *testing.T) {
	var d trust.Domain
	if d.Contains(netip.MustParseAddr("127.0.0.1")) {
		t.Error("the zero Domain trusts loopback")
	}
	def, err := trust.ParseDomain(trust.DefaultNetworks())
	if err != nil {
		t.Fatal(err)
	}
	if !def.Contains(netip.MustParseAddr("127.0.0.2")) || !def.Contains(netip.MustParseAddr("::1")) || def.Contains(netip.MustParseAddr("192.0.2.1")) {
		t.Errorf("default domain %s: want loopback only", def)
	}
}

func TestParseDomainErrors(t *testing.T) {
	_, err := trust.ParseDomain([]string{"10.0.0.0/33", "core.example.org", "10.0.0.1"})
	if !errors.Is(err, trust.ErrInvalidNetwork) {
		t.Fatalf("err = %v, want ErrInvalidNetwork", err)
	}
	for _, bad := range []string{"trusted_networks[0]", "trusted_networks[1]"} {
		if !strings.Contains(err.Error(), bad) {
			t.Errorf("error %q does not name %s", err, bad)
		}
	}
}

func TestStrip(t *testing.T) {
	req := sip.NewRequest(sip.INVITE, sip.Uri{Scheme: "sip", User: "bob", Host: "ims.example.org"})
	for _, h := range []sip.Header{
		sip.NewHeader("p-asserted-identity", "<sip:victim@ims.example.org>"),
		sip.NewHeader("P-Asserted-Identity", "<tel:+15550001>"),
		sip.NewHeader("P-Access-Network-Info", "3GPP-E-UTRAN-FDD; utran-cell-id-3gpp=001010001000019B"),
		sip.NewHeader("P-Served-User", "<sip:victim@ims.example.org>;sescase=orig"),
		sip.NewHeader("P-Charging-Vector", "icid-value=1"),
		sip.NewHeader("Subject", "kept"),
	} {
		req.AppendHeader(h)
	}
	got := trust.Strip(req, header.PAccessNetworkInfo)
	want := []string{header.PAssertedIdentity, "P-Served-User", header.PChargingVector}
	if !slices.Equal(got, want) {
		t.Errorf("Strip removed %v, want %v", got, want)
	}
	for _, h := range []string{"P-Asserted-Identity", "P-Served-User", "P-Charging-Vector"} {
		if header.Has(req, h) {
			t.Errorf("%s still present", h)
		}
	}
	if !header.Has(req, "P-Access-Network-Info") || !header.Has(req, "Subject") {
		t.Error("Strip removed a header it had to keep")
	}
	if got := trust.Strip(req); !slices.Equal(got, []string{header.PAccessNetworkInfo}) {
		t.Errorf("second Strip removed %v, want only P-Access-Network-Info", got)
	}
}
