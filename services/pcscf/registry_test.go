package pcscf

import (
	"fmt"
	"net/netip"
	"testing"
	"time"
)

// registerAt puts a registration without sec-agree from src into r.
func registerAt(r *registry, impu string, src netip.AddrPort, associated ...string) {
	r.update(keyOf(impu, "c"), impu, func(reg *Registration) bool {
		reg.Transport, reg.Source, reg.Expires = "UDP", src, time.Now().Add(time.Hour)
		reg.Associated = associated
		return true
	})
}

// Many UEs without sec-agree behind one address and port (a NAT, one SIPp process): the identity picks the
// registration; an address and port alone are enough only when one UE is there; another port is never it.
func TestBySource(t *testing.T) {
	r := newRegistry()
	shared := netip.MustParseAddrPort("192.0.2.10:5060")
	for i := range 100 {
		registerAt(r, fmt.Sprintf("sip:user%d@ims.example", i), shared, fmt.Sprintf("tel:+1555%04d", i))
	}
	alone := netip.MustParseAddrPort("192.0.2.20:5060")
	registerAt(r, "sip:alone@ims.example", alone)
	now := time.Now()
	tests := []struct {
		name     string
		src      netip.AddrPort
		identity string
		want     string // IMPU, "" for none
	}{
		{"by IMPU", shared, "sip:user42@ims.example", "sip:user42@ims.example"},
		{"by associated identity, any case", shared, "TEL:+15550007", "sip:user7@ims.example"},
		{"unknown identity among many", shared, "sip:nobody@ims.example", ""},
		{"no identity among many", shared, "", ""},
		{"another port", netip.MustParseAddrPort("192.0.2.10:5070"), "sip:user42@ims.example", ""},
		// TS 24.229 §5.2.6.3.1: the registered address and port, over TCP too (another process at the address
		// must not send as the UE).
		{"another port, the only UE at its address", netip.MustParseAddrPort("192.0.2.20:40000"), "sip:alone@ims.example", ""},
		{"the only UE at its address", alone, "", "sip:alone@ims.example"},
		{"the only UE, another identity", alone, "sip:other@ims.example", "sip:alone@ims.example"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			reg, ok := r.bySource(tc.src, tc.identity, now)
			if got := map[bool]string{true: reg.IMPU}[ok]; got != tc.want {
				t.Errorf("bySource = %q (%v), want %q", reg.IMPU, ok, tc.want)
			}
		})
	}
	// A de-registered UE is found no more, by either index.
	r.update(keyOf("sip:user42@ims.example", "c"), "", func(*Registration) bool { return false })
	if reg, ok := r.bySource(shared, "sip:user42@ims.example", now); ok {
		t.Errorf("removed registration still found: %+v", reg)
	}
	if reg, ok := r.bySource(shared, "tel:+15550042", now); ok {
		t.Errorf("removed registration still found by its associated identity: %+v", reg)
	}
}

// BenchmarkBySource: 10,000 UEs behind one address, each request found by its identity.
func BenchmarkBySource(b *testing.B) {
	r := newRegistry()
	shared := netip.MustParseAddrPort("192.0.2.10:5060")
	const n = 10000
	for i := range n {
		registerAt(r, fmt.Sprintf("sip:user%d@ims.example", i), shared)
	}
	now := time.Now()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, ok := r.bySource(shared, fmt.Sprintf("sip:user%d@ims.example", i%n), now); !ok {
			b.Fatal("not found")
		}
	}
}
