package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"sync"
)

// stmtCache keeps one prepared statement per query text for a pool. Preparing a statement costs SQLite
// about as much as running a short one: under load, sqlite3_prepare_v2 was 15 % of the S-CSCF's CPU.
// database/sql prepares a cached Stmt again on each pool connection the first time it runs there.
//
// Preparing takes a connection of the pool, and the writer pool has one, which a transaction holds: the
// mutex is never held while preparing, and a transaction only uses statements already cached (see conn).
// A statement a transaction had to run unprepared is remembered (miss) and prepared on the pool once the
// transaction has ended (prepareMissed), so from the next transaction on it runs prepared too: statements
// that only ever run inside transactions (SQN, registration updates) are no longer compiled each time.
type stmtCache struct {
	db     *sql.DB
	mu     sync.Mutex
	m      map[string]*sql.Stmt
	missed map[string]struct{} // run unprepared in a transaction, to prepare after it
}

// maxMissed bounds the statements remembered by miss: query texts are constants, the bound only guards
// against a caller building texts from data.
const maxMissed = 4096

func newStmtCache(db *sql.DB) *stmtCache {
	return &stmtCache{db: db, m: map[string]*sql.Stmt{}, missed: map[string]struct{}{}}
}

// miss records that a transaction ran query unprepared.
func (c *stmtCache) miss(query string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m)+len(c.missed) < maxMissed {
		c.missed[query] = struct{}{}
	}
}

// prepareMissed prepares on the pool the statements transactions ran unprepared. Call it after the
// transaction ended (it needs the pool's connection). A statement that fails to prepare keeps running
// unprepared; it is tried again after a later transaction that runs it.
func (c *stmtCache) prepareMissed(ctx context.Context) {
	c.mu.Lock()
	if len(c.missed) == 0 {
		c.mu.Unlock()
		return
	}
	queries := make([]string, 0, len(c.missed))
	for q := range c.missed {
		queries = append(queries, q)
	}
	clear(c.missed)
	c.mu.Unlock()
	for _, q := range queries {
		_, _ = c.get(ctx, q)
	}
}

// cached returns the statement for query if it was prepared already.
func (c *stmtCache) cached(query string) (*sql.Stmt, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	st, ok := c.m[query]
	return st, ok
}

// get returns the statement for query, preparing it on the pool the first time. Never call it inside a
// transaction of the same pool: the preparation would wait for the connection the transaction holds.
func (c *stmtCache) get(ctx context.Context, query string) (*sql.Stmt, error) {
	if st, ok := c.cached(query); ok {
		return st, nil
	}
	st, err := c.db.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if prev, ok := c.m[query]; ok { // prepared meanwhile by another caller
		_ = st.Close()
		return prev, nil
	}
	c.m[query] = st
	return st, nil
}

// close closes every cached statement; the pool is closed after it.
func (c *stmtCache) close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	var errs []error
	for q, st := range c.m {
		errs = append(errs, st.Close())
		delete(c.m, q)
	}
	return errors.Join(errs...)
}

// conn runs statements through a stmtCache, on its pool or, when tx is set, inside that transaction. In a
// transaction a statement the pool has prepared before runs prepared (Tx.StmtContext, on the same single
// writer connection); one it has not runs as plain SQL, as it would without the cache.
type conn struct {
	stmts *stmtCache
	tx    *sql.Tx
}

// stmt returns the prepared statement for query, or nil when it is to run unprepared in the transaction.
func (c conn) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	if c.tx == nil {
		return c.stmts.get(ctx, query)
	}
	if st, ok := c.stmts.cached(query); ok {
		return c.tx.StmtContext(ctx, st), nil // closed with the transaction
	}
	c.stmts.miss(query)
	return nil, nil
}

func (c conn) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	st, err := c.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	if st == nil {
		return c.tx.ExecContext(ctx, query, args...)
	}
	return st.ExecContext(ctx, args...)
}

func (c conn) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	st, err := c.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	if st == nil {
		return c.tx.QueryContext(ctx, query, args...)
	}
	return st.QueryContext(ctx, args...)
}

// QueryRowContext returns a rowScanner: *sql.Row cannot carry an error from preparing.
func (c conn) QueryRowContext(ctx context.Context, query string, args ...any) rowScanner {
	st, err := c.stmt(ctx, query)
	if err != nil {
		return errRow{err}
	}
	if st == nil {
		return c.tx.QueryRowContext(ctx, query, args...)
	}
	return st.QueryRowContext(ctx, args...)
}

// rowScanner is *sql.Row's Scan.
type rowScanner interface {
	Scan(dest ...any) error
}

type errRow struct{ err error }

func (r errRow) Scan(...any) error { return r.err }
