package e2e

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// ErrNoModuleRoot means no go.mod was found above the working directory.
var ErrNoModuleRoot = errors.New("e2e: go.mod not found above the working directory")

// Builder builds cmd/<name> binaries of the module into one directory, each at most once.
// Create one per test binary (in TestMain) and share it: building takes seconds.
type Builder struct {
	root string
	dir  string

	mu     sync.Mutex
	builds map[string]*build
}

type build struct {
	once sync.Once
	path string
	err  error
}

// NewBuilder builds into dir from the module containing the working directory.
func NewBuilder(dir string) (*Builder, error) {
	root, err := ModuleRoot()
	if err != nil {
		return nil, err
	}
	return &Builder{root: root, dir: dir, builds: make(map[string]*build)}, nil
}

// ModuleRoot is the directory holding go.mod, searched upwards from the working directory.
func ModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", ErrNoModuleRoot
		}
		dir = parent
	}
}

// Has tells whether cmd/<name> exists in the module (another node may not be written yet).
func (b *Builder) Has(name string) bool {
	_, err := os.Stat(filepath.Join(b.root, "cmd", name, "main.go"))
	return err == nil
}

// Path builds cmd/<name> (once) and returns the binary's path.
func (b *Builder) Path(name string) (string, error) {
	b.mu.Lock()
	bl, ok := b.builds[name]
	if !ok {
		bl = &build{}
		b.builds[name] = bl
	}
	b.mu.Unlock()
	bl.once.Do(func() {
		out := filepath.Join(b.dir, name)
		cmd := exec.Command("go", "build", "-o", out, "./cmd/"+name)
		cmd.Dir = b.root
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if msg, err := cmd.CombinedOutput(); err != nil {
			bl.err = fmt.Errorf("go build ./cmd/%s: %w\n%s", name, err, msg)
			return
		}
		bl.path = out
	})
	return bl.path, bl.err
}

// MustPath is Path for tests: it fails the test when the build fails.
func (b *Builder) MustPath(t testing.TB, name string) string {
	t.Helper()
	p, err := b.Path(name)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// DumpConfig runs cmd/<name> --dump-config and returns the effective configuration it prints (YAML): a test
// can see which settings the node in the tree knows before writing a configuration file for it.
func (b *Builder) DumpConfig(t testing.TB, name string) string {
	t.Helper()
	out, err := Run(context.Background(), 30*time.Second, b.MustPath(t, name), "--dump-config")
	if err != nil {
		t.Fatalf("%s --dump-config: %v\n%s", name, err, out)
	}
	return out
}
