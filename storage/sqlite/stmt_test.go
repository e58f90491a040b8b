package sqlite

import (
	"context"
	"path/filepath"
	"testing"
	"time"
)

// The writer pool has one connection. A transaction holding it uses cached statements through it, runs
// uncached ones as plain SQL, and never waits for a preparation that needs the connection it holds, while
// another goroutine prepares a new statement on the pool (which waits for the transaction to end).
func TestStatementCacheWithTransactions(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	db := openAt(t, filepath.Join(t.TempDir(), "stmt.db"))
	if _, err := db.write().ExecContext(ctx, `CREATE TABLE kv (k TEXT PRIMARY KEY, v INTEGER NOT NULL)`); err != nil {
		t.Fatal(err)
	}
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
