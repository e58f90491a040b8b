package registrar_test

import (
	"testing"

	"github.com/imscore/imscore/services/scscf/registrar"
	"github.com/imscore/imscore/services/scscf/registrar/registrartest"
)

func TestMemoryContract(t *testing.T) {
	registrartest.Run(t, func(*testing.T) registrar.Registrar { return registrar.NewMemory() })
}

// The in-memory table, as the S-CSCF uses it, keeps the same contract as the stores it journals to.
func TestTableContract(t *testing.T) {
	registrartest.Run(t, func(t *testing.T) registrar.Registrar {
		return registrar.NewTable(registrar.TableConfig{Store: registrar.NewMemory()})
	})
}

// The table of a pool (write-through, load on miss, subscriptions and challenges in the store) too.
func TestSharedTableContract(t *testing.T) {
	registrartest.Run(t, func(t *testing.T) registrar.Registrar {
		return registrar.NewTable(registrar.TableConfig{Store: registrar.NewMemory(), Shared: true})
	})
}
