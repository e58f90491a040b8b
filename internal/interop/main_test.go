package interop

import (
	"os"
	"testing"

	"github.com/imscore/imscore/internal/e2e"
)

// bins builds imscore's binaries once for the whole test binary.
var bins *e2e.Builder

func TestMain(m *testing.M) {
	os.Exit(e2e.MainWithBuilder(m, "imscore-interop-bin-", func(b *e2e.Builder) { bins = b }))
}
