package storage

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/imscore/imscore/hss/hsstest"
	"github.com/imscore/imscore/migrations"
	"github.com/imscore/imscore/storage/postgres"
	"github.com/imscore/imscore/storage/postgres/pgtest"
	"github.com/imscore/imscore/storage/sqlite"
)

func TestParseDSN(t *testing.T) {
	tests := []struct {
		name     string
		dsn      string
		wantKind Kind
		wantPath string
		wantErr  bool
	}{
		{name: "empty is the default", dsn: "", wantKind: KindSQLite, wantPath: "var/imscore.db"},
		{name: "sqlite relative", dsn: "sqlite://data/hss.db", wantKind: KindSQLite, wantPath: "data/hss.db"},
		{name: "sqlite absolute", dsn: "sqlite:///var/lib/imscore/hss.db", wantKind: KindSQLite, wantPath: "/var/lib/imscore/hss.db"},
		{name: "bare path", dsn: "/tmp/x.db", wantKind: KindSQLite, wantPath: "/tmp/x.db"},
		{name: "postgres", dsn: "postgres://hss:pw@db/ims", wantKind: KindPostgres},
		{name: "postgresql", dsn: "postgresql://db/ims?sslmode=disable", wantKind: KindPostgres},
		{name: "no sqlite path", dsn: "sqlite://", wantErr: true},
		{name: "other scheme", dsn: "mysql://db/ims", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			kind, path, err := ParseDSN(tc.dsn)
			if tc.wantErr {
				if err == nil {
					t.Fatalf("ParseDSN(%q) succeeded", tc.dsn)
				}
				return
			}
			if err != nil || kind != tc.wantKind || path != tc.wantPath {
				t.Fatalf("ParseDSN(%q) = %q, %q, %v; want %q, %q", tc.dsn, kind, path, err, tc.wantKind, tc.wantPath)
			}
		})
	}
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return c
}

func TestOpenSQLite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "hss.db")
	db, err := OpenAndMigrate(ctx(t), "sqlite://"+path, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, ok := db.(*sqlite.DB); !ok {
		t.Fatalf("Open returned %T, want *sqlite.DB", db)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("database file: %v", err)
	}
	v, err := db.SchemaVersion(ctx(t))
	if err != nil || v < 1 {
		t.Fatalf("SchemaVersion = %d, %v", v, err)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	sub := hsstest.Subscriber("001010000000001", "15550001")
	sub.ServiceProfiles = append(sub.ServiceProfiles, hsstest.Profile(hsstest.DefaultProfileID))
	must(db.CreateSubscriber(ctx(t), sub))
	if _, err := db.GetIMPU(ctx(t), "tel:15550001"); err != nil {
		t.Fatal(err)
	}
}

func TestOpenPostgres(t *testing.T) {
	dsn := pgtest.Start(t)
	db, err := OpenAndMigrate(ctx(t), dsn, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, ok := db.(*postgres.DB); !ok {
		t.Fatalf("Open returned %T, want *postgres.DB", db)
	}
	v, err := db.SchemaVersion(ctx(t))
	if err != nil || v < 1 {
		t.Fatalf("SchemaVersion = %d, %v", v, err)
	}
}

// The HSS refuses to start with these errors: they must say what failed.
func TestOpenErrorsAreClear(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		dsn  string
		want []string
	}{
		{name: "unreachable postgres", dsn: "postgres://hss:topsecret@127.0.0.1:1/ims?sslmode=disable",
			want: []string{"storage: postgres", "127.0.0.1:1", "cannot connect"}},
		{name: "sqlite directory not creatable", dsn: "sqlite://" + filepath.Join(file, "hss.db"),
			want: []string{"storage: sqlite", "create directory"}},
		{name: "unsupported scheme", dsn: "mysql://db", want: []string{"unsupported scheme"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			db, err := OpenAndMigrate(ctx(t), tc.dsn, zaptest.NewLogger(t))
			if err == nil {
				db.Close()
				t.Fatal("OpenAndMigrate succeeded")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "topsecret") {
				t.Errorf("error %q leaks the password", err)
			}
		})
	}
}

func TestOpenAndMigrateRefusesNewerSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hss.db")
	db, err := sqlite.Open(ctx(t), sqlite.Config{Path: path}, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Migrate(ctx(t)); err != nil {
		t.Fatal(err)
	}
	db.Close()
	// Another binary, newer, migrated this database further.
	raw, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := raw.ExecContext(ctx(t), "INSERT INTO schema_migrations (version, applied_at) VALUES (9999, '2030-01-01 00:00:00+00:00')"); err != nil {
		t.Fatal(err)
	}
	raw.Close()
	_, err = OpenAndMigrate(ctx(t), path, zaptest.NewLogger(t))
	if !errors.Is(err, migrations.ErrSchemaNewer) || !strings.Contains(err.Error(), "9999") {
		t.Fatalf("OpenAndMigrate = %v, want ErrSchemaNewer naming 9999", err)
	}
}
