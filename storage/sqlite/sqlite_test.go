package sqlite

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/imscore/imscore/hss"
	"github.com/imscore/imscore/hss/hsstest"
	"github.com/imscore/imscore/migrations"
)

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// openAt opens (without migrating) the database at path, closed when the test ends.
func openAt(t testing.TB, path string) *DB {
	t.Helper()
	log := zaptest.NewLogger(t)
	if _, ok := t.(*testing.B); ok {
		log = zap.NewNop() // keep benchmark output readable
	}
	db, err := Open(testCtx(t), Config{Path: path}, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return db
}

// newDB returns a migrated database in a fresh file.
func newDB(t testing.TB) *DB {
	t.Helper()
	db := openAt(t, filepath.Join(t.TempDir(), "hss.db"))
	if err := db.Migrate(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	return db
}

func TestStore(t *testing.T) {
	hsstest.RunStore(t, func(t *testing.T) hss.Store { return newDB(t) })
}

// Two handles on one file behave as two HSS processes: BEGIN IMMEDIATE and busy_timeout keep SQN unique.
func TestUpdateSQNTwoHandles(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hss.db")
	a := openAt(t, path)
	if err := a.Migrate(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	b := openAt(t, path)
	hsstest.RaceUpdateSQN(t, a, b)
}

func TestOpenDefaultsAndErrors(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "plain-file")
	if err := os.WriteFile(file, bytes.Repeat([]byte("not a database "), 100), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		cfg     Config
		wantErr string
	}{
		{name: "creates directories", cfg: Config{Path: filepath.Join(dir, "a", "b", "hss.db")}},
		{name: "directory under a file", cfg: Config{Path: filepath.Join(file, "hss.db")}, wantErr: "create directory"},
		{name: "not a database", cfg: Config{Path: file}, wantErr: "sqlite " + file},
		{name: "query in path", cfg: Config{Path: "x.db?mode=ro"}, wantErr: "plain file path"},
		{name: "uri path", cfg: Config{Path: "file:x.db"}, wantErr: "plain file path"},
		{name: "bad synchronous", cfg: Config{Path: filepath.Join(dir, "s.db"), Synchronous: "OFF"}, wantErr: "synchronous"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			db, err := Open(testCtx(t), tc.cfg, zaptest.NewLogger(t))
			if err == nil {
				// Opening a non-database file succeeds lazily in SQLite; migrating must then fail.
				err = db.Migrate(testCtx(t))
				db.Close()
			}
			if tc.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error = %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
	if got := (Config{}).withDefaults(); got.Path != DefaultPath || got.BusyTimeout != 10*time.Second {
		t.Errorf("defaults = %+v", got)
	}
}

func TestMigrate(t *testing.T) {
	ctx := testCtx(t)
	ms, err := migrations.Load(migrations.SQLite, "sqlite")
	if err != nil {
		t.Fatal(err)
	}
	latest := ms[len(ms)-1].Version

	t.Run("idempotent", func(t *testing.T) {
		db := newDB(t)
		if err := db.Migrate(ctx); err != nil {
			t.Fatalf("second Migrate: %v", err)
		}
		v, err := db.SchemaVersion(ctx)
		if err != nil || v != latest {
			t.Fatalf("SchemaVersion = %d, %v; want %d", v, err, latest)
		}
		var rows int
		if err := db.reader.QueryRowContext(ctx, "SELECT COUNT(*) FROM schema_migrations").Scan(&rows); err != nil || rows != latest {
			t.Fatalf("schema_migrations has %d rows (%v), want %d", rows, err, latest)
		}
	})

	t.Run("refuses newer database", func(t *testing.T) {
		db := newDB(t)
		if _, err := db.writer.ExecContext(ctx, "INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)",
			latest+1, time.Now()); err != nil {
			t.Fatal(err)
		}
		err := db.Migrate(ctx)
		if !errors.Is(err, migrations.ErrSchemaNewer) || !strings.Contains(err.Error(), fmt.Sprintf("schema version %d", latest+1)) {
			t.Fatalf("Migrate = %v, want ErrSchemaNewer naming version %d", err, latest+1)
		}
	})

	t.Run("bad target", func(t *testing.T) {
		db := openAt(t, filepath.Join(t.TempDir(), "hss.db"))
		if err := db.MigrateTo(ctx, latest+1); err == nil {
			t.Fatal("MigrateTo beyond the newest version succeeded")
		}
	})

	t.Run("two processes at once", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "hss.db")
		dbs := []*DB{openAt(t, path), openAt(t, path), openAt(t, path)}
		var wg sync.WaitGroup
		errs := make([]error, len(dbs))
		for i, db := range dbs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[i] = db.Migrate(ctx)
			}()
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("handle %d: %v", i, err)
			}
		}
		v, err := dbs[0].SchemaVersion(ctx)
		if err != nil || v != latest {
			t.Fatalf("SchemaVersion = %d, %v", v, err)
		}
	})

	// Upgrading keeps data: every seed, written for an old schema, survives every later migration.
	seeds, err := filepath.Glob("testdata/seed/*.sql")
	if err != nil || len(seeds) == 0 {
		t.Fatalf("no seeds in testdata/seed (%v): the upgrade test needs at least 0001.sql", err)
	}
	for _, seed := range seeds {
		t.Run("upgrade from "+filepath.Base(seed), func(t *testing.T) {
			var version int
			if _, err := fmt.Sscanf(filepath.Base(seed), "%04d.sql", &version); err != nil {
				t.Fatalf("seed %s: want NNNN.sql", seed)
			}
			sql, err := os.ReadFile(seed)
			if err != nil {
				t.Fatal(err)
			}
			db := openAt(t, filepath.Join(t.TempDir(), "hss.db"))
			if err := db.MigrateTo(ctx, version); err != nil {
				t.Fatal(err)
			}
			if _, err := db.writer.ExecContext(ctx, string(sql)); err != nil {
				t.Fatalf("seed %s: %v", seed, err)
			}
			if err := db.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
			hsstest.CheckSeed(t, db)
		})
	}
}

func TestMigrationFailureIsReported(t *testing.T) {
	ctx := testCtx(t)
	db := openAt(t, filepath.Join(t.TempDir(), "hss.db"))
	// A table in the way makes 0001 fail: the error names the migration, and nothing is recorded.
	if _, err := db.writer.ExecContext(ctx, "CREATE TABLE hss_impu (x INTEGER)"); err != nil {
		t.Fatal(err)
	}
	err := db.Migrate(ctx)
	if err == nil || !strings.Contains(err.Error(), "migration 0001_hss.sql failed") {
		t.Fatalf("Migrate = %v, want a failure naming 0001_hss.sql", err)
	}
	v, err := db.SchemaVersion(ctx)
	if err != nil || v != 0 {
		t.Fatalf("SchemaVersion after failure = %d, %v; want 0", v, err)
	}
	var n int
	if err := db.reader.QueryRowContext(ctx, "SELECT COUNT(*) FROM sqlite_master WHERE name = 'hss_impi'").Scan(&n); err != nil || n != 0 {
		t.Fatalf("hss_impi exists after a failed migration (%d, %v): not rolled back", n, err)
	}
}

func TestRewritePlaceholders(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{name: "numbered", in: "SELECT a FROM t WHERE b = $1 AND c = $12", want: "SELECT a FROM t WHERE b = ?1 AND c = ?12"},
		{name: "reused", in: "x = $2 OR y = $1 OR z = $2", want: "x = ?2 OR y = ?1 OR z = ?2"},
		{name: "inside quotes kept", in: "SELECT '$1', $1", want: "SELECT '$1', ?1"},
		{name: "lone dollar kept", in: "SELECT '$' || $1, $x", want: "SELECT '$' || ?1, $x"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := rewritePlaceholders(tc.in); got != tc.want {
				t.Errorf("rewritePlaceholders(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

// ---- benchmarks --------------------------------------------------------------------------------------

func BenchmarkBulkCreate(b *testing.B) {
	hsstest.BenchmarkBulkCreate(b, func(b *testing.B) hss.Store { return newDB(b) })
}

func BenchmarkGetIMPU(b *testing.B) {
	hsstest.BenchmarkGetIMPU(b, newDB(b))
}

func BenchmarkUpdateSQN(b *testing.B) {
	hsstest.BenchmarkUpdateSQN(b, newDB(b))
}

// The database holds K and OP in clear: a new file, and the -wal and -shm files SQLite makes beside it, are
// readable by their owner only, whatever the umask.
func TestNewDatabaseFilesArePrivate(t *testing.T) {
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)
	path := filepath.Join(t.TempDir(), "hss.db")
	db := openAt(t, path)
	if err := db.Migrate(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		if perm := fi.Mode().Perm(); perm&0o077 != 0 {
			t.Errorf("%s: mode %v, want no access for group and others", p, perm)
		}
	}
}

func TestTokenStore(t *testing.T) {
	hsstest.RunTokenStore(t, func(t *testing.T) hss.Store { return newDB(t) })
}
