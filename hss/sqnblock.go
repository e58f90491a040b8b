package hss

import (
	"sync"

	"github.com/imscore/imscore/hss/aka"
)

// SQN blocks (TS 33.102 Annex C.1 generation, C.2 USIM checks): a MAR takes its SQNs from a range this HSS
// reserved in the store earlier, so most MARs write nothing. The store's SQN_HE is the END of the newest
// reservation by any HSS,
// so neither a restarted HSS nor a second replica on the same store ever issues an SQN twice: they start
// after that end, skipping what was reserved and not issued. A skip is what Annex C.2.1 tolerates (the USIM
// accepts SEQ − SEQ_MS ≤ Δ, Δ = 2^28 by Annex C.3, and a block is at most Δ); Annex C.2.2 (SEQ > SEQ_MS(IND),
// and SEQ_MS − SEQ < L) only matters for vectors used out of order, and DefaultSQNBlock = 16 = a/2 = L/2
// keeps every SQN of the block before the newest one acceptable (no two SQNs of two adjacent blocks share
// an IND, and none is L or more below the other block's).
//
// A block is used only while the SQN_HE this MAR read from the store is still the block's end: when another
// replica reserved after it, a resync moved SQN_HE, or provisioning reset the SQN (a new SIM), the block is
// dropped and a new one reserved after the store's value, so replicas taking turns issue increasing SQNs.

// DefaultSQNBlock is cx.sqn.block, the SQNs reserved per store write (see above for why 16).
const DefaultSQNBlock = 16

// MaxSQNBlock bounds cx.sqn.block: a crash skips at most this many SEQ values per subscriber.
const MaxSQNBlock = 1 << 16

// DefaultSQNBlockCache is cx.sqn.block_cache, the private identities whose unused block is kept in memory.
const DefaultSQNBlockCache = 100000

// sqnBlocks holds the reserved, not yet issued SQNs of each private identity. Safe for concurrent use; no
// lock is held across store I/O.
type sqnBlocks struct {
	size   uint64 // SQNs reserved per store write
	max    int    // identities kept; beyond it an arbitrary block is dropped (its SQNs are skipped)
	mu     sync.Mutex
	blocks map[string]sqnBlock
}

// sqnBlock is one reservation: SQNs after last up to end are free to issue.
type sqnBlock struct {
	last aka.SQN // the last SQN issued from the block
	end  aka.SQN // the last SQN reserved, which the store holds as SQN_HE
}

func newSQNBlocks(size uint64, max int) *sqnBlocks {
	return &sqnBlocks{size: size, max: max, blocks: make(map[string]sqnBlock)}
}

// take issues n SQNs from impi's block, or returns nil when there is no block, it holds fewer than n, or
// stored (SQN_HE as this MAR read it) is no longer its end.
func (b *sqnBlocks) take(impi string, stored uint64, n int, cfg aka.SQNConfig) []aka.SQN {
	b.mu.Lock()
	defer b.mu.Unlock()
	blk, ok := b.blocks[impi]
	if !ok {
		return nil
	}
	if uint64(blk.end) != stored || cfg.SEQ(blk.end)-cfg.SEQ(blk.last) < uint64(n) {
		delete(b.blocks, impi)
		return nil
	}
	sqns, err := aka.NextSQNs(blk.last, n, cfg)
	if err != nil {
		delete(b.blocks, impi)
		return nil
	}
	blk.last = sqns[n-1]
	if blk.last == blk.end {
		delete(b.blocks, impi)
	} else {
		b.blocks[impi] = blk
	}
	return sqns
}

// put keeps a block just reserved, of which last is the last SQN already issued.
func (b *sqnBlocks) put(impi string, last, end aka.SQN) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if last == end {
		delete(b.blocks, impi)
		return
	}
	if _, ok := b.blocks[impi]; !ok && len(b.blocks) >= b.max {
		for k := range b.blocks { // an arbitrary one: its remaining SQNs are skipped, as after a restart
			delete(b.blocks, k)
			break
		}
	}
	b.blocks[impi] = sqnBlock{last: last, end: end}
}

// drop forgets impi's block (a resynchronisation, TS 33.102 §6.3.5).
func (b *sqnBlocks) drop(impi string) {
	b.mu.Lock()
	delete(b.blocks, impi)
	b.mu.Unlock()
}

// len is the number of identities holding a block.
func (b *sqnBlocks) len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.blocks)
}
