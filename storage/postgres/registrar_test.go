package postgres

import (
	"testing"

	"github.com/imscore/imscore/services/scscf/registrar"
	"github.com/imscore/imscore/services/scscf/registrar/registrartest"
)

func TestRegistrarContract(t *testing.T) {
	registrartest.Run(t, func(t *testing.T) registrar.Registrar { return newDB(t) })
}

// Two pools on one database: two S-CSCF processes sharing it.
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
