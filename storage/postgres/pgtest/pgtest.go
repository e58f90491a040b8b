// Package pgtest starts throwaway PostgreSQL servers for tests, from the system's PostgreSQL binaries
// (Debian: apt-get install postgresql). Nothing is installed or left behind: each cluster lives in its
// own temporary directory, listens on 127.0.0.1 on a free port and on a unix socket in that directory,
// runs with fsync off, and is removed when the test (or the test binary) ends.
//
// One cluster per test:
//
//	dsn := pgtest.Start(t)
//
// One cluster per test binary, with a fresh database per test (much faster):
//
//	var cluster = pgtest.NewShared()
//
//	func TestMain(m *testing.M) { os.Exit(cluster.Run(m)) }
//
//	func TestX(t *testing.T) { dsn := cluster.DSN(t) ... }
//
// When no PostgreSQL binaries are found the test is skipped — unless the environment has CI=true, where
// it fails: CI installs them.
//
// Tests run as root in CI, and PostgreSQL refuses to run as root. Then initdb and postgres run as the
// "postgres" system user (created by Debian's postgresql package), or "nobody" if it does not exist, and
// the cluster directory is handed to that user.
package pgtest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// ErrNoPostgres: no initdb/postgres binaries were found.
var ErrNoPostgres = errors.New("postgres: initdb not found (apt-get install postgresql)")

// EnvBinDir names an environment variable that, when set, is the directory holding initdb and postgres,
// searched before /usr/lib/postgresql/*/bin and PATH.
const EnvBinDir = "PGTEST_BINDIR"

// Start starts a cluster for this test and returns the DSN of its "postgres" database (user postgres,
// no password). The cluster is stopped and removed when the test ends.
func Start(t testing.TB) string {
	t.Helper()
	c, err := StartCluster()
	if err != nil {
		skipOrFail(t, err)
	}
	t.Cleanup(func() {
		if err := c.Stop(); err != nil {
			t.Errorf("pgtest: %v", err)
		}
	})
	return c.DSN("postgres")
}

// skipOrFail ends the test: skipped when PostgreSQL is not installed (unless CI=true), failed otherwise.
func skipOrFail(t testing.TB, err error) {
	t.Helper()
	if errors.Is(err, ErrNoPostgres) && os.Getenv("CI") != "true" {
		t.Skip(err.Error())
	}
	t.Fatalf("pgtest: %v", err)
}

// Cluster is a running throwaway PostgreSQL server.
type Cluster struct {
	dir    string // temporary directory: data/, the socket and postgres.log
	port   int
	cmd    *exec.Cmd
	exited chan struct{} // closed when the server process has exited
	waitMu sync.Mutex
	err    error // the server's exit status, set before exited is closed
	stop   sync.Once
	seq    atomic.Int64 // database names
}

// StartCluster starts a server and waits until it accepts connections. The caller must Stop it.
func StartCluster() (*Cluster, error) {
	bin, err := findBinDir()
	if err != nil {
		return nil, err
	}
	cred, err := runAs()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "pgtest-")
	if err != nil {
		return nil, fmt.Errorf("pgtest: temp dir: %w", err)
	}
	if cred != nil {
		if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			os.RemoveAll(dir)
			return nil, fmt.Errorf("pgtest: hand %s to uid %d: %w", dir, cred.Uid, err)
		}
	}
	data := filepath.Join(dir, "data")
	initdb := exec.Command(filepath.Join(bin, "initdb"), "-D", data, "-A", "trust", "-U", "postgres",
		"-E", "UTF8", "--locale=C", "--no-sync")
	initdb.Dir = dir
	initdb.Env = append(os.Environ(), "LC_ALL=C")
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	if out, err := initdb.CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("pgtest: initdb: %w\n%s", err, out)
	}
	// A port picked as free may be taken before postgres binds it: try a few.
	var lastErr error
	for range 3 {
		c, err := start(bin, dir, data, cred)
		if err == nil {
			return c, nil
		}
		lastErr = err
	}
	os.RemoveAll(dir)
	return nil, lastErr
}

func start(bin, dir, data string, cred *syscall.Credential) (*Cluster, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	logFile, err := os.OpenFile(filepath.Join(dir, "postgres.log"), os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, fmt.Errorf("pgtest: log file: %w", err)
	}
	defer logFile.Close() // the child keeps its own descriptor
	cmd := exec.Command(filepath.Join(bin, "postgres"), "-D", data,
		"-c", "listen_addresses=127.0.0.1",
		"-c", "port="+strconv.Itoa(port),
		"-c", "unix_socket_directories="+dir,
		"-c", "fsync=off", // test data: speed over durability
		"-c", "synchronous_commit=off",
		"-c", "full_page_writes=off",
		"-c", "max_connections=300",
	)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = logFile, logFile
	// Pdeathsig: if the test binary dies without cleaning up, the kernel stops the server too. Go sets it
	// after switching credentials, so it survives the switch.
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("pgtest: start postgres: %w", err)
	}
	c := &Cluster{dir: dir, port: port, cmd: cmd, exited: make(chan struct{})}
	go func() { // owned by c: ends when the process exits, which Stop guarantees
		err := cmd.Wait()
		c.waitMu.Lock()
		c.err = err
		c.waitMu.Unlock()
		close(c.exited)
	}()
	if err := c.waitReady(60 * time.Second); err != nil {
		c.kill()
		return nil, err
	}
	return c, nil
}

func (c *Cluster) waitReady(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		conn, err := pgx.Connect(ctx, c.DSN("postgres"))
		cancel()
		if err == nil {
			conn.Close(context.Background())
			return nil
		}
		select {
		case <-c.exited:
			return fmt.Errorf("pgtest: postgres exited during start-up: %v\n%s", c.exitErr(), c.Log())
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("pgtest: postgres not ready after %v: %w\n%s", timeout, err, c.Log())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (c *Cluster) exitErr() error {
	c.waitMu.Lock()
	defer c.waitMu.Unlock()
	return c.err
}

// kill stops the server at once and waits for it.
func (c *Cluster) kill() {
	_ = c.cmd.Process.Kill()
	<-c.exited
}

// DSN returns the connection string of database db.
func (c *Cluster) DSN(db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", c.port, db)
}

// Port is the TCP port the server listens on (127.0.0.1).
func (c *Cluster) Port() int { return c.port }

// Log returns the server's log so far, for error messages.
func (c *Cluster) Log() string {
	b, err := os.ReadFile(filepath.Join(c.dir, "postgres.log"))
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	return string(b)
}

// Stop shuts the server down with SIGQUIT — PostgreSQL's immediate shutdown, what `pg_ctl stop -m
// immediate` sends — waits for it and removes its directory. It is safe to call more than once.
func (c *Cluster) Stop() error {
	var err error
	c.stop.Do(func() {
		_ = c.cmd.Process.Signal(syscall.SIGQUIT)
		select {
		case <-c.exited:
		case <-time.After(10 * time.Second):
			c.kill()
		}
		if rmErr := os.RemoveAll(c.dir); rmErr != nil {
			err = fmt.Errorf("remove %s: %w", c.dir, rmErr)
		}
	})
	return err
}

// CreateDatabase creates a new, empty database and returns its DSN.
func (c *Cluster) CreateDatabase(ctx context.Context) (string, error) {
	name := fmt.Sprintf("test_%d", c.seq.Add(1))
	if err := c.admin(ctx, "CREATE DATABASE "+name); err != nil {
		return "", fmt.Errorf("pgtest: create database %s: %w", name, err)
	}
	return c.DSN(name), nil
}

// DropDatabase drops the database of dsn, disconnecting whoever is still connected.
func (c *Cluster) DropDatabase(ctx context.Context, dsn string) error {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return err
	}
	if err := c.admin(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{cfg.Database}.Sanitize()+" WITH (FORCE)"); err != nil {
		return fmt.Errorf("pgtest: drop database %s: %w", cfg.Database, err)
	}
	return nil
}

func (c *Cluster) admin(ctx context.Context, sql string) error {
	conn, err := pgx.Connect(ctx, c.DSN("postgres"))
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	_, err = conn.Exec(ctx, sql)
	return err
}

// Shared is one cluster for all the tests of a test binary, started on first use, with a fresh database
// per DSN call. Create it in a package-level variable of the test package and call Run from TestMain.
type Shared struct {
	mu      sync.Mutex
	cluster *Cluster
	err     error
	started bool
}

// NewShared returns a Shared that has not started anything yet.
func NewShared() *Shared { return &Shared{} }

// Run runs the tests and stops the cluster if one was started; TestMain passes its result to os.Exit.
func (s *Shared) Run(m *testing.M) int {
	code := m.Run()
	if err := s.Close(); err != nil {
		fmt.Fprintln(os.Stderr, "pgtest:", err)
		if code == 0 {
			code = 1
		}
	}
	return code
}

// DSN returns the DSN of a new database on the shared cluster, dropped when the test ends. It starts the
// cluster on first use, and skips (or, with CI=true, fails) the test when PostgreSQL is not installed.
func (s *Shared) DSN(t testing.TB) string {
	t.Helper()
	c, err := s.get()
	if err != nil {
		skipOrFail(t, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dsn, err := c.CreateDatabase(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := c.DropDatabase(ctx, dsn); err != nil {
			t.Logf("pgtest: %v", err)
		}
	})
	return dsn
}

// Cluster returns the shared cluster, starting it on first use.
func (s *Shared) Cluster(t testing.TB) *Cluster {
	t.Helper()
	c, err := s.get()
	if err != nil {
		skipOrFail(t, err)
	}
	return c
}

func (s *Shared) get() (*Cluster, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.started {
		s.started = true
		s.cluster, s.err = StartCluster()
	}
	return s.cluster, s.err
}

// Close stops the cluster if it was started.
func (s *Shared) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cluster == nil {
		return nil
	}
	err := s.cluster.Stop()
	s.cluster = nil
	return err
}

// findBinDir returns the directory holding initdb and postgres: $PGTEST_BINDIR, else the highest version
// under /usr/lib/postgresql (Debian keeps them off PATH), else PATH.
func findBinDir() (string, error) {
	has := func(dir string) bool {
		for _, b := range []string{"initdb", "postgres"} {
			if fi, err := os.Stat(filepath.Join(dir, b)); err != nil || fi.IsDir() {
				return false
			}
		}
		return true
	}
	if dir := os.Getenv(EnvBinDir); dir != "" {
		if has(dir) {
			return dir, nil
		}
		return "", fmt.Errorf("%s=%s has no initdb and postgres: %w", EnvBinDir, dir, ErrNoPostgres)
	}
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(matches, func(i, j int) bool { return versionOf(matches[i]) > versionOf(matches[j]) })
	for _, dir := range matches {
		if has(dir) {
			return dir, nil
		}
	}
	if p, err := exec.LookPath("initdb"); err == nil && has(filepath.Dir(p)) {
		return filepath.Dir(p), nil
	}
	return "", ErrNoPostgres
}

// versionOf returns the version number in /usr/lib/postgresql/<version>/bin ("15", "9.6"), as a float
// for ordering; 0 when it is not a number.
func versionOf(binDir string) float64 {
	v, err := strconv.ParseFloat(filepath.Base(filepath.Dir(binDir)), 64)
	if err != nil {
		return 0
	}
	return v
}

// runAs returns the credentials to run PostgreSQL with: nil when not root, else the postgres user (or
// nobody).
func runAs() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	var lastErr error
	for _, name := range []string{"postgres", "nobody"} {
		u, err := user.Lookup(name)
		if err != nil {
			lastErr = err
			continue
		}
		uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
		gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
		if err1 != nil || err2 != nil {
			lastErr = fmt.Errorf("user %s: uid %q gid %q", name, u.Uid, u.Gid)
			continue
		}
		// Empty Groups: setgroups(0) drops root's supplementary groups.
		return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}}, nil
	}
	return nil, fmt.Errorf("pgtest: running as root and no postgres or nobody user to run PostgreSQL as: %w", lastErr)
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("pgtest: free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// String describes the cluster for logs.
func (c *Cluster) String() string {
	return "postgres on 127.0.0.1:" + strconv.Itoa(c.port) + " in " + strings.TrimSuffix(c.dir, "/")
}
