package postgres

import (
	"context"
	"testing"
	"time"

	"github.com/imscore/imscore/services/scscf/registrar"
	"github.com/imscore/imscore/services/scscf/registrar/registrartest"
)

func TestRegistrarContract(t *testing.T) {
	registrartest.Run(t, func(t *testing.T) registrar.Registrar { return newDB(t) })
}

// Two pools on one database: two S-CSCF processes sharing it.
// Registration writes batched in one transaction (registrar.BatchStore), read back through a second handle.
func TestRegistrarBatch(t *testing.T) {
	registrartest.RunBatch(t, func(t *testing.T) (registrar.Registrar, registrar.Registrar) {
		dsn := cluster.DSN(t)
		a, b := openDSN(t, dsn), openDSN(t, dsn)
		if err := a.Migrate(testCtx(t)); err != nil {
			t.Fatal(err)
		}
		return a, b
	})
}

func TestRegistrarPool(t *testing.T) {
	registrartest.RunPool(t, func(t *testing.T) (registrar.Registrar, registrar.Registrar) {
		dsn := cluster.DSN(t)
		a, b := openDSN(t, dsn), openDSN(t, dsn)
		if err := a.Migrate(testCtx(t)); err != nil {
			t.Fatal(err)
		}
		return a, b
	})
}

// A registration one S-CSCF changes is dropped from the other's table (LISTEN/NOTIFY): its next read is
// the store's, not the stale copy.
func TestRegistrarPoolInvalidation(t *testing.T) {
	dsn := cluster.DSN(t)
	a, b := openDSN(t, dsn), openDSN(t, dsn)
	ctx := testCtx(t)
	if err := a.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	t1 := registrar.NewTable(registrar.TableConfig{Store: a, Shared: true})
	t2 := registrar.NewTable(registrar.TableConfig{Store: b, Shared: true})
	wctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); _ = a.WatchRegistrations(wctx, t1.Invalidate) }()
	defer func() { cancel(); <-done }()

	r := &registrar.Registration{IMPU: "sip:pool@x", IMPI: "pool@x", Identities: []registrar.Identity{{URI: "sip:pool@x"}},
		Contacts: []registrar.Contact{{URI: "sip:pool@10.0.0.1", ID: "1", Expires: time.Now().Add(time.Hour)}},
		Expires:  time.Now().Add(time.Hour)}
	if err := t1.SaveRegistrationIf(ctx, r, registrar.Absent); err != nil {
		t.Fatal(err)
	}
	other, err := t2.Registration(ctx, r.IMPU)
	if err != nil {
		t.Fatal(err)
	}
	other.Contacts = append(other.Contacts, registrar.Contact{URI: "sip:pool@10.0.0.2", ID: "2", Expires: r.Expires})
	if err := t2.SaveRegistrationIf(ctx, other, other.Version); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		got, err := t1.Registration(ctx, r.IMPU)
		if err != nil {
			t.Fatal(err)
		}
		if len(got.Contacts) == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the other S-CSCF's change never reached this table: %+v", got)
		}
	}
}
