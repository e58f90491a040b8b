package pcscf

import (
	"context"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/imscore/imscore/services/pcscf/bindings"
	"github.com/imscore/imscore/sip/ue"
	"github.com/imscore/imscore/storage"
	"github.com/imscore/imscore/storage/postgres/pgtest"
)

// TestPoolTakeover: two P-CSCFs on one PostgreSQL (docs/pcscf.md "Pools"). Alice registers through the first,
// then the same device (its +sip.instance) registers again through the second, which takes her row over and
// serves her; the first P-CSCF's stale de-registration of that binding is refused by the row's version
// (compare-and-set, not last-writer-wins): the second's binding stays in the store and in service.
func TestPoolTakeover(t *testing.T) {
	dsn := pgtest.Start(t)
	alice, bob := newSubscriber(t, 1), newSubscriber(t, 2)
	core := startFakeCore(t, "127.0.0.1:0", alice, bob)
	pool := func(id string) func(*Config) {
		return func(c *Config) { c.DB, c.NodeID, c.DBFlushInterval = dsn, id, 0 }
	}
	p1 := startPCSCF(t, "127.0.0.1", core.addr, newFakeSAs(), pool("p1"))
	p2 := startPCSCF(t, "127.0.0.1", core.addr, newFakeSAs(), pool("p2"))
	db, err := storage.OpenAndMigrate(context.Background(), dsn, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	rows := func(owner string) []bindings.Stored {
		got, err := db.(bindings.Store).LoadBindings(context.Background(), owner)
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	waitRows := func(owner string, want int) {
		t.Helper()
		for deadline := time.Now().Add(waitLong); len(rows(owner)) != want && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		}
		if got := rows(owner); len(got) != want {
			t.Fatalf("%s owns %d rows, want %d: %+v", owner, len(got), want, got)
		}
	}
	const instance = "urn:uuid:00000000-0000-0000-0000-00000000a11c"
	ub := newUE(t, bob, p1.CoreAddr(), "udp", true)
	old := newUE(t, alice, p1.CoreAddr(), "udp", true, func(c *ue.Config) { c.Instance = instance })
	for _, u := range []*ue.UE{ub, old} {
		if _, err := u.Register(ctxT(t)); err != nil {
			t.Fatalf("register through p1: %v", err)
		}
	}
	waitRows("p1", 2)
	moved := newUE(t, alice, p2.CoreAddr(), "udp", true, func(c *ue.Config) { c.Instance = instance })
	if _, err := moved.Register(ctxT(t)); err != nil {
		t.Fatalf("register through p2: %v", err)
	}
	waitRows("p2", 1)
	waitRows("p1", 1) // bob's
	if res, err := moved.Message(ctxT(t), bob.impu, "via p2"); err != nil || res.StatusCode != 200 {
		t.Fatalf("MESSAGE through p2: %v %v", res, err)
	}
	// p1 still holds its stale binding of alice; its removal must not remove p2's row.
	if err := old.Deregister(ctxT(t)); err != nil {
		t.Fatalf("de-register through p1: %v", err)
	}
	if got := p1.Bindings(alice.impu); len(got) != 0 {
		t.Fatalf("p1 still has alice: %+v", got)
	}
	p1.flush()
	if got := rows("p2"); len(got) != 1 || got[0].IMPU != alice.impu || len(got[0].SAs) != 1 {
		t.Fatalf("p2's row after p1's stale removal: %+v", got)
	}
	if got := p2.Bindings(alice.impu); len(got) != 1 {
		t.Fatalf("p2 lost alice: %+v", got)
	}
}
