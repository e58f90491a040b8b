package pgtest

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

var shared = NewShared()

func TestMain(m *testing.M) { os.Exit(shared.Run(m)) }

func query(t *testing.T, dsn, sql string, dest ...any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if err := conn.QueryRow(ctx, sql).Scan(dest...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

func TestStart(t *testing.T) {
	dsn := Start(t)
	var addr, owner string
	var fsync string
	query(t, dsn, "SELECT host(inet_server_addr()), current_setting('fsync'), (SELECT usename FROM pg_user WHERE usesysid = 10)",
		&addr, &fsync, &owner)
	if addr != "127.0.0.1" || fsync != "off" || owner != "postgres" {
		t.Fatalf("server on %s, fsync %s, superuser %s; want 127.0.0.1, off, postgres", addr, fsync, owner)
	}
	// The server never runs as root.
	var dataDir string
	query(t, dsn, "SELECT current_setting('data_directory')", &dataDir)
	fi, err := os.Stat(dataDir)
	if err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() == 0 {
		if st, ok := fi.Sys().(*syscall.Stat_t); !ok || st.Uid == 0 {
			t.Fatalf("data directory %s owned by root: postgres would refuse to run", dataDir)
		}
	}
}

func TestStopRemovesEverything(t *testing.T) {
	c, err := StartCluster()
	if err != nil {
		skipOrFail(t, err)
	}
	dir := c.dir
	pid := c.cmd.Process.Pid
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := c.Stop(); err != nil { // twice is fine
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("%s still exists after Stop (%v)", dir, err)
	}
	if _, err := os.Stat(filepath.Join("/proc", strconv.Itoa(pid))); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("postgres pid %d still running after Stop", pid)
	}
}

func TestSharedGivesFreshDatabases(t *testing.T) {
	a, b := shared.DSN(t), shared.DSN(t)
	if a == b {
		t.Fatalf("two DSN calls returned the same database %s", a)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "CREATE TABLE only_in_a (x int)"); err != nil {
		t.Fatal(err)
	}
	conn.Close(ctx)
	var exists bool
	query(t, b, "SELECT to_regclass('only_in_a') IS NOT NULL", &exists)
	if exists {
		t.Fatal("a table created in one database is visible in the other")
	}

	// The database is dropped at the end of its test, even with a connection left open.
	var name string
	t.Run("dropped after its test", func(t *testing.T) {
		dsn := shared.DSN(t)
		cfg, err := pgx.ParseConfig(dsn)
		if err != nil {
			t.Fatal(err)
		}
		name = cfg.Database
		leaked, err := pgx.Connect(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { leaked.Close(context.Background()) })
	})
	var n int
	query(t, a, "SELECT COUNT(*) FROM pg_database WHERE datname = '"+name+"'", &n)
	if n != 0 {
		t.Fatalf("database %s still exists after its test", name)
	}
}

func TestFindBinDir(t *testing.T) {
	empty := t.TempDir()
	t.Setenv(EnvBinDir, empty)
	if _, err := findBinDir(); !errors.Is(err, ErrNoPostgres) {
		t.Fatalf("findBinDir with an empty %s = %v, want ErrNoPostgres", EnvBinDir, err)
	}
	if _, err := StartCluster(); !errors.Is(err, ErrNoPostgres) {
		t.Fatalf("StartCluster without binaries = %v, want ErrNoPostgres", err)
	}
}

func TestSkipWithoutBinaries(t *testing.T) {
	tests := []struct {
		name     string
		ci       string
		wantSkip bool
	}{
		{name: "developer machine skips", ci: "", wantSkip: true},
		{name: "CI fails", ci: "true", wantSkip: false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("CI", tc.ci)
			t.Setenv(EnvBinDir, t.TempDir())
			inner := &recordingTB{TB: t}
			func() {
				defer func() {
					if r := recover(); r != nil && r != (stopped{}) {
						panic(r)
					}
				}()
				Start(inner)
			}()
			skipped, failed := inner.skipped, inner.failed
			if skipped != tc.wantSkip || failed == tc.wantSkip {
				t.Fatalf("skipped=%v failed=%v, want skipped=%v", skipped, failed, tc.wantSkip)
			}
		})
	}
}

func TestVersionOrder(t *testing.T) {
	tests := []struct {
		dir  string
		want float64
	}{
		{"/usr/lib/postgresql/15/bin", 15},
		{"/usr/lib/postgresql/9.6/bin", 9.6},
		{"/usr/lib/postgresql/dev/bin", 0},
	}
	for _, tc := range tests {
		t.Run(tc.dir, func(t *testing.T) {
			if got := versionOf(tc.dir); got != tc.want {
				t.Errorf("versionOf(%q) = %v, want %v", tc.dir, got, tc.want)
			}
		})
	}
}

// stopped is what recordingTB panics with where testing.T would stop the test.
type stopped struct{}

// recordingTB records how Start ends a test instead of ending this one.
type recordingTB struct {
	testing.TB
	skipped, failed bool
}

func (r *recordingTB) Helper()        {}
func (r *recordingTB) Cleanup(func()) {}
func (r *recordingTB) Skip(args ...any) {
	r.skipped = true
	panic(stopped{})
}
func (r *recordingTB) Fatalf(format string, args ...any) {
	r.failed = true
	panic(stopped{})
}
