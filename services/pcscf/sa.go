package pcscf

import (
	"context"
	"fmt"
	"net/netip"
	"sync"
	"time"

	"github.com/imscore/imscore/sip/ipsec"
)

// SAManager is what the P-CSCF needs from sip/ipsec: *ipsec.Manager implements it for the kernel,
// and tests on a host without ESP pass a fake.
type SAManager interface {
	Install(ctx context.Context, side ipsec.Side, p ipsec.Pair, lifetime time.Duration, opts ...ipsec.InstallOption) error
	Remove(p ipsec.Pair) error
	UpdateLifetime(ctx context.Context, p ipsec.Pair, lifetime time.Duration) error
	Flush(f ipsec.Filter) (ipsec.Flushed, error)
	Counters(p ipsec.Pair) (map[uint32]ipsec.Stats, error)
}

var _ SAManager = (*ipsec.Manager)(nil)

// allocator hands out the P-CSCF's protected ports and SPIs (TS 33.203 §7.1: port_pc, port_ps,
// spi_pc, spi_ps are chosen by the P-CSCF). A port pair is never given to two live SA sets with
// the same UE address, and an SPI never to two live SA sets at all (the SA of a set is
// identified by destination and SPI, RFC 4301 §4.1, and all of our inbound SAs share our address).
type allocator struct {
	mu         sync.Mutex
	client     PortRange
	server     PortRange
	spiFirst   uint32
	spiCount   uint32
	nextSPI    uint32
	nextPort   uint16
	spisInUse  map[uint32]bool
	portsInUse map[portUse]int
}

type portUse struct {
	ue   netip.Addr
	slot uint16 // index into the ranges: client First+slot, server First+slot
}

func newAllocator(c Config) *allocator {
	return &allocator{
		client: c.ClientPorts, server: c.ServerPorts,
		spiFirst: c.SPIFirst, spiCount: c.SPICount,
		spisInUse:  make(map[uint32]bool),
		portsInUse: make(map[portUse]int),
	}
}

// slots is the number of port pairs: the shorter of the two ranges.
func (a *allocator) slots() uint16 { return min(a.client.Count, a.server.Count) }

// alloc returns a fresh (portC, portS, spiC, spiS) for an SA set towards ue.
func (a *allocator) alloc(ue netip.Addr) (portC, portS uint16, spiC, spiS uint32, err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	ue = ue.Unmap()
	n := a.slots()
	slot, found := uint16(0), false
	for i := range n {
		s := (a.nextPort + i) % n
		if a.portsInUse[portUse{ue, s}] == 0 {
			slot, found = s, true
			break
		}
	}
	if !found {
		return 0, 0, 0, 0, fmt.Errorf("%w: all %d protected port pairs are in use towards %v", ErrPoolExhausted, n, ue)
	}
	a.nextPort = (slot + 1) % n
	var spis [2]uint32
	for k := range spis {
		got := false
		for range a.spiCount {
			v := a.spiFirst + a.nextSPI%a.spiCount
			a.nextSPI++
			if !a.spisInUse[v] {
				a.spisInUse[v] = true
				spis[k], got = v, true
				break
			}
		}
		if !got {
			if k == 1 {
				delete(a.spisInUse, spis[0])
			}
			return 0, 0, 0, 0, fmt.Errorf("%w: no free SPI", ErrPoolExhausted)
		}
	}
	a.portsInUse[portUse{ue, slot}]++
	return a.client.First + slot, a.server.First + slot, spis[0], spis[1], nil
}

// reserve marks what a restored SA set uses, so that new allocations avoid it.
func (a *allocator) reserve(ue netip.Addr, portC uint16, spiC, spiS uint32) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.spisInUse[spiC], a.spisInUse[spiS] = true, true
	a.portsInUse[portUse{ue.Unmap(), portC - a.client.First}]++
}

// release gives back what alloc or reserve handed out.
func (a *allocator) release(ue netip.Addr, portC uint16, spiC, spiS uint32) {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.spisInUse, spiC)
	delete(a.spisInUse, spiS)
	k := portUse{ue.Unmap(), portC - a.client.First}
	if a.portsInUse[k] <= 1 {
		delete(a.portsInUse, k)
	} else {
		a.portsInUse[k]--
	}
}
