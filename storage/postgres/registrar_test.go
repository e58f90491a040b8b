package postgres

import (
	"testing"

	"github.com/imscore/imscore/services/scscf/registrar"
	"github.com/imscore/imscore/services/scscf/registrar/registrartest"
)

func TestRegistrarContract(t *testing.T) {
	registrartest.Run(t, func(t *testing.T) registrar.Registrar { return newDB(t) })
}
