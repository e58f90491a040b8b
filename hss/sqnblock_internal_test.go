package hss

import (
	"fmt"
	"testing"

	"github.com/imscore/imscore/hss/aka"
)

// The blocks kept are bounded by cx.sqn.block_cache: a new one beyond it drops another (whose SQNs are then
// skipped, never reissued: take finds nothing and the MAR reserves after the store's end).
func TestSQNBlocksBounded(t *testing.T) {
	cfg := aka.DefaultSQNConfig()
	b := newSQNBlocks(16, 3)
	for i := range 10 {
		end, err := aka.SQNAfter(0, 16, cfg)
		if err != nil {
			t.Fatal(err)
		}
		b.put(fmt.Sprint(i), 0x21, end)
		if n := b.len(); n > 3 {
			t.Fatalf("%d blocks kept after %d puts, want at most 3", n, i+1)
		}
	}
	kept := 0
	for i := range 10 {
		if sqns := b.take(fmt.Sprint(i), 16<<5|16, 1, cfg); sqns != nil {
			kept++
			if sqns[0] != 0x42 {
				t.Errorf("identity %d: took %s, want 000000000042", i, sqns[0])
			}
		}
	}
	if kept != 3 {
		t.Errorf("%d blocks gave SQNs, want 3", kept)
	}
}

// take issues from a block only while the store's SQN_HE is its end, and only as many as it holds.
func TestSQNBlockTake(t *testing.T) {
	cfg := aka.DefaultSQNConfig()
	b := newSQNBlocks(4, 10)
	end, _ := aka.SQNAfter(0, 4, cfg) // SEQ 4
	b.put("a", 0x21, end)             // SEQ 1 issued
	if got := b.take("a", uint64(end)+1, 1, cfg); got != nil {
		t.Fatalf("took %v although the store moved on", got)
	}
	b.put("a", 0x21, end)
	if got := b.take("a", uint64(end), 4, cfg); got != nil {
		t.Fatalf("took %v: 4 SQNs from a block with 3 left", got)
	}
	b.put("a", 0x21, end)
	got := b.take("a", uint64(end), 3, cfg)
	if len(got) != 3 || got[2] != end {
		t.Fatalf("took %v, want the 3 left, ending at %s", got, end)
	}
	if b.len() != 0 {
		t.Error("a used-up block is kept")
	}
}
