package registrar_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/imscore/imscore/services/scscf/registrar"
	"github.com/imscore/imscore/storage/sqlite"
)

// gatedStore holds the first versioned write of a registration until release is closed, so that a test can
// change the table while a Flush is writing (what requests do all the time under load).
type gatedStore struct {
	*sqlite.DB
	held    chan struct{} // closed when the write is being held
	release chan struct{}
	gated   bool
	batches int // WriteRegistrations calls
}

func (g *gatedStore) hold() {
	if !g.gated {
		g.gated = true
		close(g.held)
		<-g.release
	}
}

func (g *gatedStore) SaveRegistrationVersion(ctx context.Context, r *registrar.Registration, base uint64) error {
	g.hold()
	return g.DB.SaveRegistrationVersion(ctx, r, base)
}

func (g *gatedStore) DeleteRegistrationVersion(ctx context.Context, impu string, base uint64) error {
	g.hold()
	return g.DB.DeleteRegistrationVersion(ctx, impu, base)
}

func (g *gatedStore) WriteJournal(ctx context.Context, w []registrar.JournalWrite) ([]error, error) {
	g.hold()
	g.batches++
	return g.DB.WriteJournal(ctx, w)
}

// unbatched hides WriteJournal: the table writes one change per transaction.
type unbatched struct{ *gatedStore }

func (u unbatched) WriteJournal() {}

func openGated(t *testing.T) *gatedStore {
	t.Helper()
	db, err := sqlite.Open(context.Background(), sqlite.Config{Path: filepath.Join(t.TempDir(), "scscf.db")}, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	if err := db.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return &gatedStore{DB: db, held: make(chan struct{}), release: make(chan struct{})}
}

func testRegistration(impu string) *registrar.Registration {
	exp := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
	return &registrar.Registration{IMPU: impu, IMPI: "001010000000001@ims.example",
		Identities: []registrar.Identity{{URI: impu}},
		Contacts:   []registrar.Contact{{URI: "sip:ue@192.0.2.1:5060", Expires: exp, CallID: "c1", CSeq: 1}},
		Expires:    exp}
}

// A registration removed (and registered again) while a Flush is writing its first version must reach the
// store as the table has it: the write in flight is a version the store will hold, so the next journal write
// of that key is based on it. Before, the table forgot it, the next Flush wrote "based on 0" against a store
// holding version 1, the conflict dropped the registration from memory, and the UE's calls were refused until
// it registered again (seen as 403s under `make bench`); a removal was lost the same way, leaving a stale row.
func TestFlushRacesWithChanges(t *testing.T) {
	const impu = "sip:alice@ims.example"
	for _, tc := range []struct {
		name       string
		reAdd      bool // register again after the removal, during the write
		reAddAfter bool // register again after the write, before the next Flush
		wantReg    bool
	}{
		{name: "removed during the write", wantReg: false},
		{name: "removed and registered again during the write", reAdd: true, wantReg: true},
		{name: "removed during the write, registered again after it", reAddAfter: true, wantReg: true},
	} {
		for _, batched := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s/batched=%v", tc.name, batched), func(t *testing.T) {
				ctx := context.Background()
				store := openGated(t)
				var conflicts []error
				var st registrar.Registrar = store
				if !batched {
					st = unbatched{store}
				}
				tbl := registrar.NewTable(registrar.TableConfig{Store: st, OnError: func(op, key string, err error) {
					conflicts = append(conflicts, err)
				}})
				if err := tbl.SaveRegistration(ctx, testRegistration(impu)); err != nil {
					t.Fatal(err)
				}
				flushed := make(chan error, 1)
				go func() { flushed <- tbl.Flush(ctx) }()
				<-store.held
				if err := tbl.DeleteRegistration(ctx, impu); err != nil {
					t.Fatal(err)
				}
				if tc.reAdd {
					if err := tbl.SaveRegistration(ctx, testRegistration(impu)); err != nil {
						t.Fatal(err)
					}
				}
				close(store.release)
				if err := <-flushed; err != nil {
					t.Fatalf("first flush: %v", err)
				}
				if tc.reAddAfter {
					if err := tbl.SaveRegistration(ctx, testRegistration(impu)); err != nil {
						t.Fatal(err)
					}
				}
				if err := tbl.Flush(ctx); err != nil {
					t.Fatalf("second flush: %v", err)
				}
				if len(conflicts) > 0 {
					t.Fatalf("journal writes failed: %v", conflicts)
				}
				_, err := tbl.Registration(ctx, impu)
				if got := err == nil; got != tc.wantReg {
					t.Fatalf("registration in the table: %v (err %v), want %v", got, err, tc.wantReg)
				}
				_, err = store.DB.Registration(ctx, impu)
				if got := err == nil; got != tc.wantReg {
					t.Fatalf("registration in the store: %v (err %v), want %v", got, err, tc.wantReg)
				}
				if err != nil && !errors.Is(err, registrar.ErrNotFound) {
					t.Fatalf("store: %v", err)
				}
				if batched != (store.batches > 0) {
					t.Fatalf("batched %v, but WriteJournal ran %d times", batched, store.batches)
				}
			})
		}
	}
}
