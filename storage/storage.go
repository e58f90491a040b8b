// Package storage opens the storage backend a DSN names. Each owner of persistent data declares the
// interface it needs in its own package (hss.Store today; the S-CSCF registrar and the P-CSCF contacts
// later) and both backends implement all of them on one database handle:
//
//   - storage/sqlite: the embedded default, one file, no server (sqlite://var/imscore.db);
//   - storage/postgres: PostgreSQL, shared by replicas (postgres://user:pass@host/db).
package storage

import (
	"context"
	"fmt"
	"strings"

	"go.uber.org/zap"

	"github.com/imscore/imscore/hss"
	"github.com/imscore/imscore/storage/postgres"
	"github.com/imscore/imscore/storage/sqlite"
)

// DefaultDSN is the embedded database under ./var.
const DefaultDSN = "sqlite://" + sqlite.DefaultPath

// DB is an open backend: every owner's store on one database handle, plus its lifecycle.
// *sqlite.DB and *postgres.DB implement it.
type DB interface {
	hss.Store
	// Migrate brings the schema to the version this binary knows, refusing a newer one
	// (migrations.ErrSchemaNewer).
	Migrate(ctx context.Context) error
	// SchemaVersion is the newest applied migration, 0 for an empty database.
	SchemaVersion(ctx context.Context) (int, error)
	Close() error
}

// Kind names a backend.
type Kind string

// Backends.
const (
	KindSQLite   Kind = "sqlite"
	KindPostgres Kind = "postgres"
)

// ParseDSN says which backend dsn selects and, for SQLite, the file path:
//
//	postgres://… or postgresql://…   PostgreSQL (the DSN is passed to pgx as is)
//	sqlite://PATH                    SQLite file PATH (sqlite:///abs/path for an absolute one)
//	PATH                             SQLite file PATH (anything without a scheme)
//	""                               DefaultDSN
func ParseDSN(dsn string) (kind Kind, sqlitePath string, err error) {
	if dsn == "" {
		dsn = DefaultDSN
	}
	scheme, rest, hasScheme := strings.Cut(dsn, "://")
	if !hasScheme {
		return KindSQLite, dsn, nil
	}
	switch strings.ToLower(scheme) {
	case "postgres", "postgresql":
		return KindPostgres, "", nil
	case "sqlite", "sqlite3":
		if rest == "" {
			return "", "", fmt.Errorf("storage DSN %q: no file path", dsn)
		}
		return KindSQLite, rest, nil
	}
	return "", "", fmt.Errorf("storage DSN: unsupported scheme %q (want postgres:// or sqlite://)", scheme)
}

// Open opens the backend dsn names (see ParseDSN) and checks it answers; it does not migrate. Errors
// say which database could not be opened and why, without its password.
func Open(ctx context.Context, dsn string, log *zap.Logger) (DB, error) {
	kind, path, err := ParseDSN(dsn)
	if err != nil {
		return nil, err
	}
	switch kind {
	case KindPostgres:
		db, err := postgres.Open(ctx, dsn, log)
		if err != nil {
			return nil, fmt.Errorf("storage: %w", err)
		}
		return db, nil
	default:
		db, err := sqlite.Open(ctx, sqlite.Config{Path: path}, log)
		if err != nil {
			return nil, fmt.Errorf("storage: %w", err)
		}
		return db, nil
	}
}

// OpenAndMigrate opens dsn and migrates it: what a node does at start-up. On failure nothing stays open.
func OpenAndMigrate(ctx context.Context, dsn string, log *zap.Logger) (DB, error) {
	db, err := Open(ctx, dsn, log)
	if err != nil {
		return nil, err
	}
	if err := db.Migrate(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("storage: %w", err)
	}
	return db, nil
}

// Interface guards.
var (
	_ DB = (*sqlite.DB)(nil)
	_ DB = (*postgres.DB)(nil)
)
