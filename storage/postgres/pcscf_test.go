package postgres

import (
	"testing"

	"github.com/imscore/imscore/services/pcscf/bindings"
	"github.com/imscore/imscore/services/pcscf/bindings/bindingstest"
)

func TestPCSCFBindingsContract(t *testing.T) {
	bindingstest.Run(t, func(t *testing.T) bindings.Store { return newDB(t) })
}
