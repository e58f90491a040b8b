package hss_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"

	"github.com/imscore/imscore/diameter/cx"
	"github.com/imscore/imscore/hss"
	"github.com/imscore/imscore/hss/aka"
	"github.com/imscore/imscore/storage"
)

// TestSQNBlocks covers SQNs reserved in blocks (TS 33.102 Annex C.2, hss/sqnblock.go) on each store:
// many registrations in a row write SQN_HE once per block and the USIM accepts every AUTN; after a crash (a
// new Server on the same store, nothing in memory) the rest of the old block is skipped and the USIM still
// accepts every AUTN (Annex C.2.1: within Δ); two replicas taking turns, and two replicas issuing at once,
// never issue one SQN twice; a resynchronisation discards the block and restarts from SQN_MS.
func TestSQNBlocks(t *testing.T) {
	forEachStore(t, func(t *testing.T, db storage.DB) {
		a := newEnv(t, db, nil)
		sub := a.subscriber(nil)
		impi, _, sip, _ := ids(sub)
		usim := newUSIM(t)
		seen := map[aka.SQN]bool{}
		// authenticate runs one MAR at e and the USIM on its vector, as a registration's challenge does.
		authenticate := func(e *env, c *client) aka.SQN {
			t.Helper()
			m := c.mar(impi, sip, cx.SchemeAKAv1MD5, 1, nil)
			wantSuccess(t, m)
			rand, autn := challenge(t, m.SIPAuthDataItems[0])
			res, err := usim.Authenticate(rand, autn)
			if err != nil {
				t.Fatalf("USIM (SQN_MS %s) rejects the AUTN: %v", usim.SQNms(), err)
			}
			if seen[res.SQN] {
				t.Fatalf("SQN %s issued twice", res.SQN)
			}
			seen[res.SQN] = true
			if stored := e.sqn(impi); stored < uint64(res.SQN) {
				t.Fatalf("SQN_HE %s below the issued %s: a restart could issue it again", aka.SQN(stored), res.SQN)
			}
			return res.SQN
		}

		const n = 40
		ca := a.connect(scscfHost)
		t.Run("registrations in a row write once per block", func(t *testing.T) {
			writes, prev := 0, a.sqn(impi)
			for range n {
				authenticate(a, ca)
				if cur := a.sqn(impi); cur != prev {
					writes, prev = writes+1, cur
				}
			}
			if want := (n + hss.DefaultSQNBlock - 1) / hss.DefaultSQNBlock; writes != want {
				t.Errorf("SQN_HE written %d times for %d MARs, want %d (one per block of %d)", writes, n, want, hss.DefaultSQNBlock)
			}
		})

		b := a.replica()
		cb := b.connect(scscfHost)
		t.Run("after a crash the rest of the block is skipped", func(t *testing.T) {
			before := a.sqn(impi)
			first := authenticate(b, cb)
			if uint64(first) <= before {
				t.Errorf("new Server issued %s, not after the stored reservation %s", first, aka.SQN(before))
			}
			for range n {
				authenticate(b, cb)
			}
		})
		t.Run("two replicas taking turns", func(t *testing.T) {
			for i := range n {
				if i%2 == 0 {
					authenticate(a, ca)
				} else {
					authenticate(b, cb)
				}
			}
		})
		t.Run("two replicas at once never issue one SQN twice", func(t *testing.T) {
			var mu sync.Mutex
			var issued []aka.SQN
			var wg sync.WaitGroup
			for _, c := range []*client{ca, cb} {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for range n {
						m := c.mar(impi, sip, cx.SchemeAKAv1MD5, 2, nil)
						if code, _ := m.Result(); code != 2001 {
							t.Errorf("MAR: result %d", code)
							return
						}
						mu.Lock()
						for _, item := range m.SIPAuthDataItems {
							issued = append(issued, decodeSQN(t, item))
						}
						mu.Unlock()
					}
				}()
			}
			wg.Wait()
			slices.Sort(issued)
			for i := 1; i < len(issued); i++ {
				if issued[i] == issued[i-1] {
					t.Fatalf("SQN %s issued twice by the two replicas", issued[i])
				}
			}
			if len(issued) != 4*n {
				t.Fatalf("%d SQNs, want %d", len(issued), 4*n)
			}
		})
		t.Run("a new SIM's SQN reset drops the block", func(t *testing.T) {
			authenticate(a, ca) // a holds a block now
			zero := uint64(0)
			must(t, db.UpdateKeys(context.Background(), impi, hss.KeyUpdate{K: sub.Private.K, OP: sub.Private.OP, AMF: sub.Private.AMF, SQN: &zero}))
			m := ca.mar(impi, sip, cx.SchemeAKAv1MD5, 1, nil)
			wantSuccess(t, m)
			if got := decodeSQN(t, m.SIPAuthDataItems[0]); aka.DefaultSQNConfig().SEQ(got) != 1 {
				t.Errorf("first SQN after the reset %s, want SEQ 1: the old block was used", got)
			}
			usim = newUSIM(t) // the new SIM
			clear(seen)
		})
		t.Run("resync discards the block and restarts from SQN_MS", func(t *testing.T) {
			authenticate(a, ca) // a holds a block now
			ahead := newUSIM(t)
			far := aka.SQN(uint64(a.sqn(impi)) + 1<<30) // beyond Δ: SQN_HE must move to SQN_MS
			must(t, ahead.SetSQNms(far))
			m := ca.mar(impi, sip, cx.SchemeAKAv1MD5, 1, nil)
			wantSuccess(t, m)
			rand, autn := challenge(t, m.SIPAuthDataItems[0])
			_, err := ahead.Authenticate(rand, autn)
			var sf *aka.SyncFailure
			if !errors.As(err, &sf) {
				t.Fatalf("USIM far ahead accepted a vector: %v", err)
			}
			m = ca.mar(impi, sip, cx.SchemeAKAv1MD5, 1, func(r *cx.MAR) { r.SIPAuthDataItem.Authorization = append(rand[:], sf.AUTS...) })
			wantSuccess(t, m)
			for i := range 3 { // the resync vector, then two from the new block
				if i > 0 {
					m = ca.mar(impi, sip, cx.SchemeAKAv1MD5, 1, nil)
					wantSuccess(t, m)
				}
				rand, autn := challenge(t, m.SIPAuthDataItems[0])
				if _, err := ahead.Authenticate(rand, autn); err != nil {
					t.Fatalf("vector %d after resync rejected: %v", i, err)
				}
			}
		})
	})
}
