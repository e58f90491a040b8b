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
