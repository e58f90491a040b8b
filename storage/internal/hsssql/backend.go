// Package hsssql implements hss.Store once, over SQL, for every storage backend. A backend (storage/sqlite,
// storage/postgres) supplies a Backend — how to query, how to run a write transaction, how to lock rows,
// how to bulk-load and how to recognise constraint violations — and embeds the Store this package builds.
// Queries are written with $1-style placeholders and portable SQL (both PostgreSQL and SQLite run them);
// the schema lives in migrations/.
package hsssql

import (
	"context"
)

// Querier runs SQL with $N placeholders on a pool or inside a transaction.
type Querier interface {
	// Exec runs a statement and returns the number of rows it affected.
	Exec(ctx context.Context, query string, args ...any) (int64, error)
	Query(ctx context.Context, query string, args ...any) (Rows, error)
	// QueryRow returns a Row whose Scan reports sql.ErrNoRows (or an error wrapping it) when there is no row.
	QueryRow(ctx context.Context, query string, args ...any) Row
}

// Rows is a result set; Close must be called.
type Rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
	Close()
}

// Row is a single-row result.
type Row interface {
	Scan(dest ...any) error
}

// Backend is what a storage backend provides to the shared HSS store.
type Backend interface {
	// Read returns the querier for reads outside transactions.
	Read() Querier
	// Tx runs fn in a write transaction: committed when fn returns nil, rolled back otherwise. Rows selected
	// with ForUpdate stay locked until it ends.
	Tx(ctx context.Context, fn func(q Querier) error) error
	// ForUpdate is appended to a SELECT inside Tx to lock the rows it reads (" FOR UPDATE"), or "" where Tx
	// is exclusive anyway (SQLite's BEGIN IMMEDIATE).
	ForUpdate() string
	// Classify wraps err with hss.ErrAlreadyExists (unique violation), hss.ErrConflict (foreign key
	// violation) or hss.ErrInvalid (check violation); other errors are returned unchanged.
	Classify(err error) error
	// Insert bulk-loads n rows into table inside the transaction q (a Querier given by Tx). row(i) returns
	// the values of row i in the order of columns; the slice may be reused once row(i+1) is asked for.
	Insert(ctx context.Context, q Querier, table string, columns []string, n int, row func(i int) []any) error
}
