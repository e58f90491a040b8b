package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"go.uber.org/zap"

	"github.com/imscore/imscore/migrations"
)

// migrationLock is the pg_advisory_lock key that serialises migrating processes ("imscore" in ASCII).
const migrationLock int64 = 0x696d73636f7265

// Migrate brings the schema to the newest version this binary knows (migrations/postgres). It holds a
// session advisory lock on a dedicated connection for the whole run, so processes starting at the same
// time migrate one after the other (the later ones find nothing to do); each migration runs in its own
// transaction together with its schema_migrations row, so a failure leaves the previous version. A
// database with a newer version than the binary knows is refused with migrations.ErrSchemaNewer.
func (db *DB) Migrate(ctx context.Context) error {
	return db.MigrateTo(ctx, 0)
}

// MigrateTo is Migrate stopping at version target (0: the newest). It never downgrades.
func (db *DB) MigrateTo(ctx context.Context, target int) error {
	ms, err := migrations.Load(migrations.Postgres, "postgres")
	if err != nil {
		return fmt.Errorf("postgres %s: migrate: %w", db.target, err)
	}
	latest := ms[len(ms)-1].Version
	if target == 0 {
		target = latest
	}
	if target < 0 || target > latest {
		return fmt.Errorf("postgres %s: migrate to %d: this binary knows versions 1 to %d", db.target, target, latest)
	}
	// A connection of its own, not from the pool: closing it is what guarantees the session lock is
	// released, whatever happens.
	conn, err := pgx.ConnectConfig(ctx, db.pool.Config().ConnConfig)
	if err != nil {
		return fmt.Errorf("postgres %s: migrate: cannot connect: %w", db.target, err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", migrationLock); err != nil {
		return fmt.Errorf("postgres %s: migrate: lock: %w", db.target, err)
	}
	if _, err := conn.Exec(ctx, "CREATE TABLE IF NOT EXISTS schema_migrations ("+
		"version INTEGER PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL)"); err != nil {
		return fmt.Errorf("postgres %s: migrate: %w", db.target, err)
	}
	applied := map[int]bool{}
	rows, err := conn.Query(ctx, "SELECT version FROM schema_migrations")
	if err != nil {
		return fmt.Errorf("postgres %s: migrate: read versions: %w", db.target, err)
	}
	current := 0
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			rows.Close()
			return fmt.Errorf("postgres %s: migrate: read versions: %w", db.target, err)
		}
		applied[v] = true
		current = max(current, v)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("postgres %s: migrate: read versions: %w", db.target, err)
	}
	if current > latest {
		return fmt.Errorf("postgres %s: schema version %d, this binary knows up to %d: %w",
			db.target, current, latest, migrations.ErrSchemaNewer)
	}
	for _, m := range ms {
		if m.Version > target {
			break
		}
		if applied[m.Version] {
			continue
		}
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			// No arguments: pgx uses the simple protocol, which runs a file of several statements.
			if _, err := tx.Exec(ctx, m.SQL); err != nil {
				return fmt.Errorf("migration %s failed: %w", m.Name, err)
			}
			if _, err := tx.Exec(ctx, "INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)",
				m.Version, time.Now().UTC()); err != nil {
				return fmt.Errorf("migration %s: record: %w", m.Name, err)
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("postgres %s: %w", db.target, err)
		}
		db.log.Info("migration applied", zap.String("migration", m.Name))
	}
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_unlock($1)", migrationLock); err != nil {
		return fmt.Errorf("postgres %s: migrate: unlock: %w", db.target, err)
	}
	return nil
}

// SchemaVersion returns the newest applied migration, 0 for an empty database.
func (db *DB) SchemaVersion(ctx context.Context) (int, error) {
	var exists bool
	if err := db.pool.QueryRow(ctx, "SELECT to_regclass('schema_migrations') IS NOT NULL").Scan(&exists); err != nil {
		return 0, fmt.Errorf("postgres %s: schema version: %w", db.target, err)
	}
	if !exists {
		return 0, nil
	}
	var v *int
	if err := db.pool.QueryRow(ctx, "SELECT MAX(version) FROM schema_migrations").Scan(&v); err != nil {
		return 0, fmt.Errorf("postgres %s: schema version: %w", db.target, err)
	}
	if v == nil {
		return 0, nil
	}
	return *v, nil
}
