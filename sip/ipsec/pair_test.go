package ipsec

import (
	"errors"
	"net/netip"
	"testing"
)

// testPair uses the port and SPI numbers of a typical Kamailio/docker_open5gs capture: P-CSCF
// protected ports 5100 (client) / 6100 (server), UE ports and SPIs as a handset picks them.
func testPair(ue, pcscf string) Pair {
	return Pair{
		UE:    Endpoint{Addr: netip.MustParseAddr(ue), PortC: 31800, PortS: 31900, SPIC: 0x1001, SPIS: 0x1002},
		PCSCF: Endpoint{Addr: netip.MustParseAddr(pcscf), PortC: 5100, PortS: 6100, SPIC: 0x2001, SPIS: 0x2002},
		Algs:  Algorithms{HMACSHA196, EncryptionAESCBC},
		IK:    testIK,
		CK:    testCK,
		Proto: ProtoAny,
	}
}

// TestFlows pins the direction and SPI of each SA to the table of TS 33.203 §7.1.
func TestFlows(t *testing.T) {
	p := testPair("10.0.0.1", "10.0.0.2")
	ap := netip.MustParseAddrPort
	want := [4]struct {
		id       FlowID
		src, dst string
		spi      uint32
		ueDir    string
		pcscfDir string
	}{
		{FlowUEClientToPCSCFServer, "10.0.0.1:31800", "10.0.0.2:6100", 0x2002, "out", "in"}, // SPI = P-CSCF spi-s
		{FlowPCSCFServerToUEClient, "10.0.0.2:6100", "10.0.0.1:31800", 0x1001, "in", "out"}, // SPI = UE spi-c
		{FlowPCSCFClientToUEServer, "10.0.0.2:5100", "10.0.0.1:31900", 0x1002, "in", "out"}, // SPI = UE spi-s
		{FlowUEServerToPCSCFClient, "10.0.0.1:31900", "10.0.0.2:5100", 0x2001, "out", "in"}, // SPI = P-CSCF spi-c
	}
	for i, f := range p.Flows() {
		w := want[i]
		t.Run(w.id.String(), func(t *testing.T) {
			if f.ID != w.id || f.Src != ap(w.src) || f.Dst != ap(w.dst) || f.SPI != w.spi {
				t.Fatalf("flow %d = %v %v->%v spi 0x%x, want %v %s->%s spi 0x%x", i, f.ID, f.Src, f.Dst, f.SPI, w.id, w.src, w.dst, w.spi)
			}
			if got := dirName(policyDir(f, SideUE)); got != w.ueDir {
				t.Errorf("UE side dir %s, want %s", got, w.ueDir)
			}
			if got := dirName(policyDir(f, SidePCSCF)); got != w.pcscfDir {
				t.Errorf("P-CSCF side dir %s, want %s", got, w.pcscfDir)
			}
		})
	}
}

// The SA arriving at a port always carries the SPI its receiver chose for that port.
func TestFlowsSPIBelongsToReceiverPort(t *testing.T) {
	p := testPair("2001:db8::1", "2001:db8::2")
	spiAt := map[netip.AddrPort]uint32{
		netip.AddrPortFrom(p.UE.Addr, p.UE.PortC):       p.UE.SPIC,
		netip.AddrPortFrom(p.UE.Addr, p.UE.PortS):       p.UE.SPIS,
		netip.AddrPortFrom(p.PCSCF.Addr, p.PCSCF.PortC): p.PCSCF.SPIC,
		netip.AddrPortFrom(p.PCSCF.Addr, p.PCSCF.PortS): p.PCSCF.SPIS,
	}
	for _, f := range p.Flows() {
		if want := spiAt[f.Dst]; f.SPI != want {
			t.Errorf("%v arrives at %v with spi 0x%x, want 0x%x", f.ID, f.Dst, f.SPI, want)
		}
	}
}

func TestPairValidate(t *testing.T) {
	tests := []struct {
		name   string
		modify func(*Pair)
		want   error // nil: valid
	}{
		{"valid IPv4", func(*Pair) {}, nil},
		{"valid IPv6", func(p *Pair) {
			p.UE.Addr, p.PCSCF.Addr = netip.MustParseAddr("fd00::1"), netip.MustParseAddr("fd00::2")
		}, nil},
		{"IPv4-mapped IPv6 counts as IPv4", func(p *Pair) { p.UE.Addr = netip.MustParseAddr("::ffff:10.0.0.1") }, nil},
		{"UDP only", func(p *Pair) { p.Proto = ProtoUDP }, nil},
		{"same address, four SPIs", func(p *Pair) { p.PCSCF.Addr = p.UE.Addr }, nil},
		{"missing UE address", func(p *Pair) { p.UE.Addr = netip.Addr{} }, ErrInvalidPair},
		{"mixed families", func(p *Pair) { p.PCSCF.Addr = netip.MustParseAddr("fd00::2") }, ErrInvalidPair},
		{"zoned address", func(p *Pair) {
			p.UE.Addr, p.PCSCF.Addr = netip.MustParseAddr("fe80::1%eth0"), netip.MustParseAddr("fe80::2%eth0")
		}, ErrInvalidPair},
		{"unknown transport", func(p *Pair) { p.Proto = 132 }, ErrInvalidPair},
		{"zero port", func(p *Pair) { p.PCSCF.PortS = 0 }, ErrInvalidPair},
		{"reserved SPI", func(p *Pair) { p.UE.SPIC = 255 }, ErrInvalidPair},
		{"zero SPI", func(p *Pair) { p.PCSCF.SPIS = 0 }, ErrInvalidPair},
		{"UE spi-c = spi-s", func(p *Pair) { p.UE.SPIS = p.UE.SPIC }, ErrInvalidPair},
		{"same address, SPI shared across ends", func(p *Pair) {
			p.PCSCF.Addr = p.UE.Addr
			p.PCSCF.SPIC = p.UE.SPIC
		}, ErrInvalidPair},
		{"both ends reuse one port for c and s", func(p *Pair) {
			p.UE.PortS = p.UE.PortC
			p.PCSCF.PortS = p.PCSCF.PortC
		}, ErrInvalidPair},
		{"unknown alg", func(p *Pair) { p.Algs.Integrity = "hmac-sha-256-128" }, ErrUnknownAlgorithm},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := testPair("10.0.0.1", "10.0.0.2")
			tc.modify(&p)
			err := p.Validate()
			if tc.want == nil && err != nil {
				t.Fatalf("Validate() = %v, want nil", err)
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("Validate() = %v, want %v", err, tc.want)
			}
		})
	}
}
