// Package migrations holds the versioned SQL schema of every storage backend, embedded in the binaries.
//
// Each backend has its own directory of files named NNNN_what.sql (NNNN: the version, from 0001, without
// gaps). A file is applied once, in its own transaction, and recorded in schema_migrations; files are
// never edited after release — a change is a new file. The backends apply them (postgres.DB.Migrate,
// sqlite.DB.Migrate) at start-up or through `imsctl migrate`.
package migrations

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
)

// Postgres holds postgres/NNNN_*.sql.
//
//go:embed postgres/*.sql
var Postgres embed.FS

// SQLite holds sqlite/NNNN_*.sql.
//
//go:embed sqlite/*.sql
var SQLite embed.FS

// ErrSchemaNewer: the database has a schema version this binary does not know — it was migrated by a newer
// imscore. The binary refuses to use it rather than misread it; upgrade the binary.
var ErrSchemaNewer = errors.New("database schema is newer than this binary")

// Migration is one schema version.
type Migration struct {
	Version int
	// Name is the file name, e.g. "0001_hss.sql".
	Name string
	SQL  string
}

// Load reads the migrations in dir of fsys, sorted by version. It fails on a file name without a version,
// on two files with one version and on a gap, so that a mistake is found by the tests, not in production.
func Load(fsys fs.FS, dir string) ([]Migration, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, fmt.Errorf("migrations %s: %w", dir, err)
	}
	var out []Migration
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".sql") {
			continue
		}
		num, _, ok := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 || len(num) != 4 {
			return nil, fmt.Errorf("migrations %s: file %s: want NNNN_name.sql", dir, e.Name())
		}
		b, err := fs.ReadFile(fsys, path.Join(dir, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("migrations %s: %w", dir, err)
		}
		out = append(out, Migration{Version: v, Name: e.Name(), SQL: string(b)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	for i, m := range out {
		if m.Version != i+1 {
			return nil, fmt.Errorf("migrations %s: %s: want version %04d (no gaps or duplicates)", dir, m.Name, i+1)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("migrations %s: no migrations", dir)
	}
	return out, nil
}
