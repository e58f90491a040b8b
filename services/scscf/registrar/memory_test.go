package registrar_test

import (
	"testing"

	"github.com/imscore/imscore/services/scscf/registrar"
	"github.com/imscore/imscore/services/scscf/registrar/registrartest"
)

func TestMemoryContract(t *testing.T) {
	registrartest.Run(t, func(*testing.T) registrar.Registrar { return registrar.NewMemory() })
}
