// Package sqlite is the embedded storage backend: one SQLite file, no server to run. It is the default
// for a single HSS (and, later, single CSCF) process; several processes may open the same file, but
// replicas on several machines need storage/postgres.
//
// SQLite allows one writer at a time. DB keeps a single writer connection whose transactions start with
// BEGIN IMMEDIATE (the write lock is taken at once, so two writers never deadlock upgrading a read lock),
// and a small pool of read-only connections that run next to it thanks to WAL. Writers from other
// processes are waited for up to Config.BusyTimeout (PRAGMA busy_timeout) instead of failing with
// SQLITE_BUSY.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"
	sqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/imscore/imscore/hss"
	"github.com/imscore/imscore/storage/internal/hsssql"
)

// DefaultPath is where the database lives unless configured otherwise, relative to the working directory.
const DefaultPath = "var/imscore.db"

// Config configures the SQLite backend. The zero value is valid: defaults apply.
type Config struct {
	// Path of the database file; DefaultPath when empty. Its directory is created if missing.
	Path string
	// BusyTimeout is how long a statement waits for a lock held by another process before failing.
	// Default 10s.
	BusyTimeout time.Duration
	// ReadConns is the number of read-only connections. Default 4.
	ReadConns int
	// Synchronous is PRAGMA synchronous: "NORMAL" (default) or "FULL". In WAL mode NORMAL never corrupts
	// the database, but a power loss may undo the last transactions; for SQN that is harmless, the next
	// authentication re-synchronises (TS 33.102 §6.3.5). FULL makes every commit durable at one fsync each.
	Synchronous string
}

func (c Config) withDefaults() Config {
	if c.Path == "" {
		c.Path = DefaultPath
	}
	if c.BusyTimeout <= 0 {
		c.BusyTimeout = 10 * time.Second
	}
	if c.ReadConns <= 0 {
		c.ReadConns = 4
	}
	if c.Synchronous == "" {
		c.Synchronous = "NORMAL"
	}
	return c
}

// Validate reports the first invalid field.
func (c Config) Validate() error {
	c = c.withDefaults()
	if strings.ContainsAny(c.Path, "?#") || strings.HasPrefix(c.Path, "file:") {
		return fmt.Errorf("sqlite path %q: must be a plain file path (no '?', '#' or file: URI)", c.Path)
	}
	if s := strings.ToUpper(c.Synchronous); s != "NORMAL" && s != "FULL" {
		return fmt.Errorf("sqlite synchronous %q: want NORMAL or FULL", c.Synchronous)
	}
	return nil
}

// DB is an open SQLite database. It implements hss.Store; the stores of other owners (S-CSCF registrar,
// P-CSCF contacts) are added to this type as they are written.
type DB struct {
	*hsssql.Store
	path   string
	writer *sql.DB // exactly one connection: SQLite has one writer
	reader *sql.DB // read-only connections (WAL lets them run beside the writer)
	// writeStmts and readStmts are the prepared statements of each pool.
	writeStmts, readStmts *stmtCache
	log                   *zap.Logger
	rw                    *rewriter
}

// Open opens (creating if needed) the database file and checks it answers. It does not migrate: call
// Migrate before use.
func Open(ctx context.Context, cfg Config, log *zap.Logger) (*DB, error) {
	if log == nil {
		log = zap.NewNop()
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	if dir := filepath.Dir(cfg.Path); dir != "" {
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return nil, fmt.Errorf("sqlite %s: create directory: %w", cfg.Path, err)
		}
	}
	if err := ensurePrivateFile(cfg.Path, log); err != nil {
		return nil, err
	}
	common := url.Values{}
	common.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", cfg.BusyTimeout.Milliseconds()))
	common.Add("_pragma", "foreign_keys(1)")
	common.Set("_time_format", "sqlite")

	w := url.Values{}
	for k, v := range common {
		w[k] = append([]string(nil), v...)
	}
	w.Add("_pragma", "journal_mode(WAL)")
	w.Add("_pragma", "synchronous("+strings.ToUpper(cfg.Synchronous)+")")
	w.Set("_txlock", "immediate") // BEGIN IMMEDIATE: take the write lock when the transaction starts
	writer, err := sql.Open("sqlite", cfg.Path+"?"+w.Encode())
	if err != nil {
		return nil, fmt.Errorf("sqlite %s: %w", cfg.Path, err)
	}
	writer.SetMaxOpenConns(1)
	writer.SetMaxIdleConns(1)
	writer.SetConnMaxLifetime(0)
	writer.SetConnMaxIdleTime(0)
	// The writer connects first: it switches the file to WAL before any reader opens it.
	if err := writer.PingContext(ctx); err != nil {
		writer.Close()
		return nil, fmt.Errorf("sqlite %s: open: %w", cfg.Path, err)
	}

	r := common
	r.Add("_pragma", "query_only(1)")
	reader, err := sql.Open("sqlite", cfg.Path+"?"+r.Encode())
	if err != nil {
		writer.Close()
		return nil, fmt.Errorf("sqlite %s: %w", cfg.Path, err)
	}
	reader.SetMaxOpenConns(cfg.ReadConns)
	reader.SetMaxIdleConns(cfg.ReadConns)
	if err := reader.PingContext(ctx); err != nil {
		reader.Close()
		writer.Close()
		return nil, fmt.Errorf("sqlite %s: open reader: %w", cfg.Path, err)
	}

	db := &DB{path: cfg.Path, writer: writer, reader: reader, writeStmts: newStmtCache(writer), readStmts: newStmtCache(reader),
		log: log.Named("sqlite"), rw: newRewriter()}
	db.Store = hsssql.New(backend{db}, db.log)
	db.log.Info("opened", zap.String("path", cfg.Path))
	return db, nil
}

// Path returns the database file.
func (db *DB) Path() string { return db.path }

// Close closes every connection; the last one checkpoints the WAL into the database file.
func (db *DB) Close() error {
	return errors.Join(db.readStmts.close(), db.writeStmts.close(), db.reader.Close(), db.writer.Close())
}

// backend gives the shared HSS store its SQLite specifics.
type backend struct{ db *DB }

func (b backend) Read() hsssql.Querier { return querier{b.db.read(), b.db.rw} }

func (b backend) Tx(ctx context.Context, fn func(q hsssql.Querier) error) error {
	tx, err := b.db.writer.BeginTx(ctx, nil) // BEGIN IMMEDIATE (see Open)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	// The statements fn ran unprepared are prepared once the writer connection is free again (stmtCache).
	defer b.db.writeStmts.prepareMissed(context.WithoutCancel(ctx))
	if err := fn(querier{b.db.inTx(tx), b.db.rw}); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// ForUpdate is empty: a write transaction holds the database's single write lock from its first statement.
func (b backend) ForUpdate() string { return "" }

func (b backend) Classify(err error) error {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return err
	}
	switch se.Code() {
	case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
		return fmt.Errorf("%w: %w", hss.ErrAlreadyExists, err)
	case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
		return fmt.Errorf("%w: %w", hss.ErrConflict, err)
	case sqlite3.SQLITE_CONSTRAINT_CHECK:
		return fmt.Errorf("%w: %w", hss.ErrInvalid, err)
	}
	return err
}

// insertBatch is how many rows one INSERT statement of Insert carries: fewer statements, far less
// per-statement overhead, and well under SQLite's limit of 32766 parameters.
const insertBatch = 64

// Insert loads rows with prepared multi-row INSERTs inside the caller's transaction.
func (b backend) Insert(ctx context.Context, q hsssql.Querier, table string, columns []string, n int, row func(i int) []any) error {
	tq, ok := q.(querier)
	if !ok {
		return fmt.Errorf("insert into %s: not inside a transaction of this backend", table)
	}
	tx := tq.db.tx
	if tx == nil {
		return fmt.Errorf("insert into %s: not inside a transaction", table)
	}
	prepare := func(rows int) (*sql.Stmt, error) {
		var sb strings.Builder
		sb.WriteString("INSERT INTO " + table + " (" + strings.Join(columns, ", ") + ") VALUES ")
		tuple := "(" + strings.TrimSuffix(strings.Repeat("?, ", len(columns)), ", ") + ")"
		for i := 0; i < rows; i++ {
			if i > 0 {
				sb.WriteString(", ")
			}
			sb.WriteString(tuple)
		}
		return tx.PrepareContext(ctx, sb.String())
	}
	full, err := prepare(insertBatch)
	if err != nil {
		return fmt.Errorf("insert into %s: %w", table, err)
	}
	defer full.Close()
	args := make([]any, 0, insertBatch*len(columns))
	for start := 0; start < n; start += insertBatch {
		end := min(start+insertBatch, n)
		args = args[:0]
		for i := start; i < end; i++ {
			args = append(args, row(i)...)
		}
		stmt := full
		if end-start < insertBatch {
			if stmt, err = prepare(end - start); err != nil {
				return fmt.Errorf("insert into %s: %w", table, err)
			}
			defer stmt.Close()
		}
		if _, err := stmt.ExecContext(ctx, args...); err != nil {
			return fmt.Errorf("insert into %s: %w", table, err)
		}
	}
	return nil
}

// read runs statements on the read-only pool, write on the writer, inTx inside tx (a writer transaction);
// all through the prepared statement caches.
func (db *DB) read() conn           { return conn{stmts: db.readStmts} }
func (db *DB) write() conn          { return conn{stmts: db.writeStmts} }
func (db *DB) inTx(tx *sql.Tx) conn { return conn{stmts: db.writeStmts, tx: tx} }

// querier adapts database/sql to hsssql.Querier, turning $N placeholders into SQLite's ?N.
type querier struct {
	db conn
	rw *rewriter
}

func (q querier) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	res, err := q.db.ExecContext(ctx, q.rw.rewrite(query), args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func (q querier) Query(ctx context.Context, query string, args ...any) (hsssql.Rows, error) {
	rows, err := q.db.QueryContext(ctx, q.rw.rewrite(query), args...)
	if err != nil {
		return nil, err
	}
	return sqlRows{rows}, nil
}

func (q querier) QueryRow(ctx context.Context, query string, args ...any) hsssql.Row {
	return q.db.QueryRowContext(ctx, q.rw.rewrite(query), args...)
}

type sqlRows struct{ *sql.Rows }

func (r sqlRows) Close() { _ = r.Rows.Close() }

// rewriter turns "$3" into "?3" (SQLite's numbered parameter; "$3" would be a named one, bound by order of
// appearance), outside quoted strings, and remembers the result per query text.
type rewriter struct {
	mu    sync.RWMutex
	cache map[string]string
}

func newRewriter() *rewriter { return &rewriter{cache: map[string]string{}} }

func (r *rewriter) rewrite(query string) string {
	r.mu.RLock()
	out, ok := r.cache[query]
	r.mu.RUnlock()
	if ok {
		return out
	}
	out = rewritePlaceholders(query)
	r.mu.Lock()
	if len(r.cache) < 4096 { // queries are constant texts; the bound only guards against a misuse
		r.cache[query] = out
	}
	r.mu.Unlock()
	return out
}

func rewritePlaceholders(query string) string {
	b := []byte(query)
	inQuote := false
	for i := 0; i < len(b); i++ {
		switch {
		case b[i] == '\'':
			inQuote = !inQuote
		case !inQuote && b[i] == '$' && i+1 < len(b) && b[i+1] >= '0' && b[i+1] <= '9':
			b[i] = '?'
		}
	}
	return string(b)
}

// Interface guard.
var _ hss.Store = (*DB)(nil)

// ensurePrivateFile creates the database file readable by its owner only: it holds K and OP (HSS) and
// authentication vectors (S-CSCF) in clear. SQLite gives its -wal and -shm files the database file's mode.
// An existing file readable by others is left as it is, with a warning.
func ensurePrivateFile(path string, log *zap.Logger) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	switch {
	case err == nil:
		return f.Close()
	case !errors.Is(err, fs.ErrExist):
		return fmt.Errorf("sqlite %s: create: %w", path, err)
	}
	if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o077 != 0 {
		log.Warn("database file is readable by other users; it holds subscriber keys (chmod 600 it)",
			zap.String("path", path), zap.Stringer("mode", fi.Mode().Perm()))
	}
	return nil
}
