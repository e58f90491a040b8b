package doctest_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/imscore/imscore/internal/doctest"
	"github.com/imscore/imscore/internal/e2e"
)

// readmeBlocks are the shell blocks of the module's README.md.
func readmeBlocks(t *testing.T) []doctest.Block {
	t.Helper()
	root, err := e2e.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	md, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	blocks, err := doctest.Blocks(string(md))
	if err != nil {
		t.Fatalf("README.md: %v", err)
	}
	return blocks
}

// README.md's doc-test comments parse, as a non-root run of the tests checks too (TestREADME needs root).
func TestREADMEBlocksParse(t *testing.T) {
	blocks := readmeBlocks(t)
	run := 0
	for _, b := range blocks {
		if b.Mode != doctest.ModeSkip {
			run++
		}
	}
	if run < 4 {
		t.Errorf("%d blocks run of %d: the README's examples are not tested", run, len(blocks))
	}
}
