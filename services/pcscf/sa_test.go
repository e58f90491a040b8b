package pcscf

import (
	"errors"
	"net/netip"
	"testing"
)

// TestAllocator: a port pair is never given twice to live SA sets towards one UE address, may
// be shared by different addresses, comes back on release; SPIs are never given twice.
func TestAllocator(t *testing.T) {
	cfg := DefaultConfig()
	cfg.ClientPorts, cfg.ServerPorts = PortRange{First: 5100, Count: 2}, PortRange{First: 6100, Count: 2}
	cfg.SPIFirst, cfg.SPICount = 1000, 16
	a := newAllocator(cfg)
	ue1, ue2 := netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2")
	spis := map[uint32]bool{}
	take := func(ue netip.Addr) (uint16, uint16, uint32, uint32) {
		t.Helper()
		pc, ps, sc, ss, err := a.alloc(ue)
		if err != nil {
			t.Fatalf("alloc %v: %v", ue, err)
		}
		if ps-pc != 1000 {
			t.Errorf("pair %d/%d not from the same slot", pc, ps)
		}
		for _, s := range []uint32{sc, ss} {
			if spis[s] {
				t.Errorf("SPI %d given twice", s)
			}
			spis[s] = true
		}
		return pc, ps, sc, ss
	}
	pc1, _, sc1, ss1 := take(ue1)
	pc2, _, _, _ := take(ue1)
	if pc1 == pc2 {
		t.Errorf("two live sets towards %v share port-c %d", ue1, pc1)
	}
	if _, _, _, _, err := a.alloc(ue1); !errors.Is(err, ErrPoolExhausted) {
		t.Errorf("third set towards %v: %v, want ErrPoolExhausted", ue1, err)
	}
	take(ue2) // another address may share a pair
	a.release(ue1, pc1, sc1, ss1)
	delete(spis, sc1)
	delete(spis, ss1)
	if pc, _, _, _ := take(ue1); pc != pc1 {
		t.Errorf("released pair not reused: got %d, want %d", pc, pc1)
	}
}
