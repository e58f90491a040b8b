package sqlite

import (
	"path/filepath"
	"testing"

	"github.com/imscore/imscore/services/scscf/registrar"
	"github.com/imscore/imscore/services/scscf/registrar/registrartest"
)

func TestRegistrarContract(t *testing.T) {
	registrartest.Run(t, func(t *testing.T) registrar.Registrar { return newDB(t) })
}

// Two handles on one SQLite file: two S-CSCF processes sharing it.
// Registration writes batched in one transaction (registrar.BatchStore), read back through a second handle.
func TestRegistrarBatch(t *testing.T) {
	registrartest.RunBatch(t, func(t *testing.T) (registrar.Registrar, registrar.Registrar) {
		path := filepath.Join(t.TempDir(), "batch.db")
		a := openAt(t, path)
		if err := a.Migrate(testCtx(t)); err != nil {
			t.Fatal(err)
		}
		return a, openAt(t, path)
	})
}

func TestRegistrarPool(t *testing.T) {
	registrartest.RunPool(t, func(t *testing.T) (registrar.Registrar, registrar.Registrar) {
		path := filepath.Join(t.TempDir(), "pool.db")
		a := openAt(t, path)
		if err := a.Migrate(testCtx(t)); err != nil {
			t.Fatal(err)
		}
		return a, openAt(t, path)
	})
}
