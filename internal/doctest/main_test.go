package doctest_test

import (
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/imscore/imscore/internal/e2e"
)

// bins builds the binaries once for both tests of this package (linking them is most of their time).
var bins *e2e.Builder

func TestMain(m *testing.M) {
	os.Exit(e2e.MainWithBuilder(m, "imscore-doctest-bin-", func(b *e2e.Builder) { bins = b }))
}

// build builds cmd/<name> for each name, two at a time, and returns the directory holding them.
func build(t *testing.T, names ...string) string {
	t.Helper()
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
		dir  string
	)
	sem := make(chan struct{}, 2)
	for _, name := range names {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			p, err := bins.Path(name)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
			}
			dir = filepath.Dir(p)
		})
	}
	wg.Wait()
	for _, err := range errs {
		t.Fatal(err)
	}
	return dir
}
