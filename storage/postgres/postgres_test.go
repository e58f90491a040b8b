package postgres

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/imscore/imscore/hss"
	"github.com/imscore/imscore/hss/hsstest"
	"github.com/imscore/imscore/migrations"
	"github.com/imscore/imscore/storage/postgres/pgtest"
)

// cluster is shared by every test of this package (a fresh database each); TestMain stops it.
var cluster = pgtest.NewShared()

func TestMain(m *testing.M) { os.Exit(cluster.Run(m)) }

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// openDSN opens (without migrating) dsn, closed when the test ends.
func openDSN(t testing.TB, dsn string) *DB {
	t.Helper()
	log := zaptest.NewLogger(t)
	if _, ok := t.(*testing.B); ok {
		log = zap.NewNop() // keep benchmark output readable
	}
	db, err := Open(testCtx(t), dsn, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// newDB returns a migrated, empty database.
func newDB(t testing.TB) *DB {
	t.Helper()
	db := openDSN(t, cluster.DSN(t))
	if err := db.Migrate(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	return db
}

func TestStore(t *testing.T) {
	hsstest.RunStore(t, func(t *testing.T) hss.Store { return newDB(t) })
}

// Two pools on one database are two HSS processes: SELECT … FOR UPDATE keeps every SQN unique.
func TestUpdateSQNTwoPools(t *testing.T) {
	dsn := cluster.DSN(t)
	a := openDSN(t, dsn)
	if err := a.Migrate(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	b := openDSN(t, dsn)
	hsstest.RaceUpdateSQN(t, a, b)
}

func TestOpenErrors(t *testing.T) {
	c := cluster.Cluster(t)
	tests := []struct {
		name    string
		dsn     string
		wantErr string
		secret  string // must not appear in the error
	}{
		{name: "nothing listening", dsn: "postgres://u:hunter2@127.0.0.1:1/db?sslmode=disable", wantErr: "cannot connect", secret: "hunter2"},
		{name: "unknown database", dsn: fmt.Sprintf("postgres://postgres@127.0.0.1:%d/nope?sslmode=disable", c.Port()), wantErr: "cannot connect"},
		{name: "bad dsn", dsn: "postgres://u:hunter2@127.0.0.1:notaport/db", wantErr: "invalid DSN", secret: "hunter2"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			db, err := Open(testCtx(t), tc.dsn, zaptest.NewLogger(t))
			if err == nil {
				db.Close()
				t.Fatal("Open succeeded")
			}
			if !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error = %v, want one containing %q", err, tc.wantErr)
			}
			if tc.secret != "" && strings.Contains(err.Error(), tc.secret) {
				t.Fatalf("error %q leaks the password", err)
			}
		})
	}
}

func TestRedact(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{name: "url password", in: "postgres://hss:s3cret@db:5432/ims", want: "postgres://hss:xxxxx@db:5432/ims"},
		{name: "url without password", in: "postgres://hss@db/ims", want: "postgres://hss@db/ims"},
		{name: "query password", in: "postgres://db/ims?password=s3cret&sslmode=disable", want: "postgres://db/ims?password=xxxxx&sslmode=disable"},
		{name: "key value", in: "host=db user=hss password=s3cret dbname=ims", want: "host=db user=hss password=xxxxx dbname=ims"},
		{name: "key value quoted", in: "host=db password='s3 cret' dbname=ims", want: "host=db password=xxxxx dbname=ims"},
		{name: "text quoting a url", in: `cannot parse "postgresql://a:s3cret@h:x/d"`, want: `cannot parse "postgresql://a:xxxxx@h:x/d"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := Redact(tc.in)
			if got != tc.want {
				t.Errorf("Redact(%q) = %q, want %q", tc.in, got, tc.want)
			}
			if strings.Contains(got, "s3cret") || strings.Contains(got, "s3 cret") {
				t.Errorf("Redact(%q) = %q still holds the password", tc.in, got)
			}
		})
	}
}

func TestMigrate(t *testing.T) {
	ctx := testCtx(t)
	ms, err := migrations.Load(migrations.Postgres, "postgres")
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
		if err := db.pool.QueryRow(ctx, "SELECT COUNT(*) FROM schema_migrations").Scan(&rows); err != nil || rows != latest {
			t.Fatalf("schema_migrations has %d rows (%v), want %d", rows, err, latest)
		}
	})

	t.Run("empty database has version 0", func(t *testing.T) {
		db := openDSN(t, cluster.DSN(t))
		v, err := db.SchemaVersion(ctx)
		if err != nil || v != 0 {
			t.Fatalf("SchemaVersion = %d, %v; want 0", v, err)
		}
	})

	t.Run("refuses newer database", func(t *testing.T) {
		db := newDB(t)
		if _, err := db.pool.Exec(ctx, "INSERT INTO schema_migrations (version, applied_at) VALUES ($1, now())", latest+1); err != nil {
			t.Fatal(err)
		}
		err := db.Migrate(ctx)
		if !errors.Is(err, migrations.ErrSchemaNewer) || !strings.Contains(err.Error(), fmt.Sprintf("schema version %d", latest+1)) {
			t.Fatalf("Migrate = %v, want ErrSchemaNewer naming version %d", err, latest+1)
		}
	})

	t.Run("bad target", func(t *testing.T) {
		db := openDSN(t, cluster.DSN(t))
		if err := db.MigrateTo(ctx, latest+1); err == nil {
			t.Fatal("MigrateTo beyond the newest version succeeded")
		}
	})

	t.Run("processes starting together", func(t *testing.T) {
		dsn := cluster.DSN(t)
		dbs := []*DB{openDSN(t, dsn), openDSN(t, dsn), openDSN(t, dsn), openDSN(t, dsn)}
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
				t.Fatalf("process %d: %v", i, err)
			}
		}
		v, err := dbs[0].SchemaVersion(ctx)
		if err != nil || v != latest {
			t.Fatalf("SchemaVersion = %d, %v", v, err)
		}
	})

	t.Run("failure is reported and rolled back", func(t *testing.T) {
		db := openDSN(t, cluster.DSN(t))
		if _, err := db.pool.Exec(ctx, "CREATE TABLE hss_impu (x INTEGER)"); err != nil {
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
		var exists bool
		if err := db.pool.QueryRow(ctx, "SELECT to_regclass('hss_impi') IS NOT NULL").Scan(&exists); err != nil || exists {
			t.Fatalf("hss_impi exists after a failed migration (%v, %v): not rolled back", exists, err)
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
			db := openDSN(t, cluster.DSN(t))
			if err := db.MigrateTo(ctx, version); err != nil {
				t.Fatal(err)
			}
			if _, err := db.pool.Exec(ctx, string(sql)); err != nil {
				t.Fatalf("seed %s: %v", seed, err)
			}
			if err := db.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
			hsstest.CheckSeed(t, db)
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

func TestTokenStore(t *testing.T) {
	hsstest.RunTokenStore(t, func(t *testing.T) hss.Store { return newDB(t) })
}
