package e2e

import (
	"fmt"
	"os"
	"testing"
)

// bins builds the binaries under test once for the whole test binary.
var bins *Builder

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "imscore-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	bins, err = NewBuilder(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}
