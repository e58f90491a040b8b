package sqlite

import (
	"context"
	"testing"
)

// Every connection maps the file (Open's mmap_size pragma): a build of SQLite without mmap, or a pragma
// lost from the DSN, would bring back a pread per page on every read after a commit.
func TestConnectionsMapTheFile(t *testing.T) {
	db, err := Open(context.Background(), Config{Path: t.TempDir() + "/mmap.db"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int64
	if err := db.reader.QueryRow("PRAGMA mmap_size").Scan(&n); err != nil || n != mmapSize {
		t.Fatalf("reader mmap_size %d (%v), want %d", n, err, mmapSize)
	}
	if err := db.writer.QueryRow("PRAGMA mmap_size").Scan(&n); err != nil || n != mmapSize {
		t.Fatalf("writer mmap_size %d (%v), want %d", n, err, mmapSize)
	}
}
