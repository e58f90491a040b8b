package sqlite

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/imscore/imscore/storage/internal/hsssql"
)

// The writer pool has one connection. A transaction holding it uses cached statements through it, runs
// uncached ones as plain SQL, and never waits for a preparation that needs the connection it holds, while
// another goroutine prepares a new statement on the pool (which waits for the transaction to end).
func TestStatementCacheWithTransactions(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	db := kvDB(ctx, t)
	const upsert = `INSERT INTO kv (k, v) VALUES (?, ?) ON CONFLICT (k) DO UPDATE SET v = excluded.v`
	if _, err := db.write().ExecContext(ctx, upsert, "a", 1); err != nil { // prepared and cached
		t.Fatal(err)
	}
	if _, ok := db.writeStmts.cached(upsert); !ok {
		t.Fatal("statement not cached after its first use on the pool")
	}
	tx, err := db.writer.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	other := make(chan error, 1)
	go func() { // a new statement on the pool: its preparation waits for the transaction's connection
		_, err := db.write().ExecContext(ctx, `INSERT INTO kv (k, v) VALUES ('c', 3)`)
		other <- err
	}()
	in := db.inTx(tx)
	if _, err := in.ExecContext(ctx, upsert, "a", 2); err != nil { // cached: prepared on this connection
		t.Fatal(err)
	}
	if _, err := in.ExecContext(ctx, `INSERT INTO kv (k, v) VALUES ('b', 2)`); err != nil { // uncached: plain SQL
		t.Fatal(err)
	}
	var v int
	if err := in.QueryRowContext(ctx, `SELECT v FROM kv WHERE k = ?`, "a").Scan(&v); err != nil || v != 2 {
		t.Fatalf("inside the transaction: %d, %v", v, err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := <-other; err != nil {
		t.Fatalf("the statement prepared beside the transaction: %v", err)
	}
	var n int
	if err := db.read().QueryRowContext(ctx, `SELECT count(*) FROM kv`).Scan(&n); err != nil || n != 3 {
		t.Fatalf("rows after commit: %d, %v", n, err)
	}
}

// A statement that only ever runs inside write transactions is prepared once the first of them has ended,
// and every later transaction runs it prepared (it used to be compiled again in every transaction).
func TestStatementsOfTransactionsArePrepared(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	db := kvDB(ctx, t)
	const upsert = `INSERT INTO kv (k, v) VALUES ($1, $2) ON CONFLICT (k) DO UPDATE SET v = excluded.v`
	const read = `SELECT v FROM kv WHERE k = $1`
	b := backend{db}
	for i := range 3 {
		err := b.Tx(ctx, func(q hsssql.Querier) error {
			if _, err := q.Exec(ctx, upsert, "a", i); err != nil {
				return err
			}
			var v int
			if err := q.QueryRow(ctx, read, "a").Scan(&v); err != nil || v != i {
				return fmt.Errorf("read back %d, %v; want %d", v, err, i)
			}
			return nil
		})
		if err != nil {
			t.Fatalf("transaction %d: %v", i, err)
		}
		for _, q := range []string{upsert, read} {
			if _, ok := db.writeStmts.cached(db.rw.rewrite(q)); !ok {
				t.Fatalf("after transaction %d: %q not prepared", i, q)
			}
		}
	}
	// A failed transaction's statements are prepared as well, and the connection is free afterwards.
	boom := errors.New("boom")
	const del = `DELETE FROM kv WHERE k = $1`
	if err := b.Tx(ctx, func(q hsssql.Querier) error {
		if _, err := q.Exec(ctx, del, "a"); err != nil {
			return err
		}
		return boom
	}); !errors.Is(err, boom) {
		t.Fatalf("rolled back transaction: %v", err)
	}
	if _, ok := db.writeStmts.cached(db.rw.rewrite(del)); !ok {
		t.Fatal("statement of a rolled back transaction not prepared")
	}
	var v int
	if err := db.read().QueryRowContext(ctx, `SELECT v FROM kv WHERE k = ?`, "a").Scan(&v); err != nil || v != 2 {
		t.Fatalf("after rollback: %d, %v", v, err)
	}
}

// kvDB is a new database with one table, kv (k TEXT PRIMARY KEY, v INTEGER).
func kvDB(ctx context.Context, t *testing.T) *DB {
	t.Helper()
	db := openAt(t, filepath.Join(t.TempDir(), "stmt.db"))
	if _, err := db.write().ExecContext(ctx, `CREATE TABLE kv (k TEXT PRIMARY KEY, v INTEGER NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	return db
}
