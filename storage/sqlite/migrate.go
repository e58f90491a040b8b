package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/imscore/imscore/migrations"
)

// Migrate brings the schema to the newest version this binary knows (migrations/sqlite). Each migration
// runs in its own write transaction together with its schema_migrations row, so a failure leaves the
// database at the previous version; BEGIN IMMEDIATE serialises processes migrating at the same time, and
// each re-reads what is applied inside its transaction. A database with a newer version than the binary
// knows is refused with migrations.ErrSchemaNewer.
func (db *DB) Migrate(ctx context.Context) error {
	return db.MigrateTo(ctx, 0)
}

// MigrateTo is Migrate stopping at version target (0: the newest). It never downgrades.
func (db *DB) MigrateTo(ctx context.Context, target int) error {
	ms, err := migrations.Load(migrations.SQLite, "sqlite")
	if err != nil {
		return fmt.Errorf("sqlite %s: migrate: %w", db.path, err)
	}
	latest := ms[len(ms)-1].Version
	if target == 0 {
		target = latest
	}
	if target < 0 || target > latest {
		return fmt.Errorf("sqlite %s: migrate to %d: this binary knows versions 1 to %d", db.path, target, latest)
	}
	// The first transaction only checks, so that a newer database is refused even when nothing is to do.
	if err := db.migrateStep(ctx, latest, nil); err != nil {
		return err
	}
	for _, m := range ms {
		if m.Version > target {
			break
		}
		if err := db.migrateStep(ctx, latest, &m); err != nil {
			return err
		}
	}
	return nil
}

// migrateStep applies m (when not applied yet) in one transaction, after checking the database is not
// newer than latest.
func (db *DB) migrateStep(ctx context.Context, latest int, m *migrations.Migration) error {
	tx, err := db.writer.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite %s: migrate: begin: %w", db.path, err)
	}
	defer tx.Rollback() //nolint:errcheck // after Commit it is a no-op
	if _, err := tx.ExecContext(ctx, "CREATE TABLE IF NOT EXISTS schema_migrations ("+
		"version INTEGER NOT NULL PRIMARY KEY, applied_at TIMESTAMP NOT NULL)"); err != nil {
		return fmt.Errorf("sqlite %s: migrate: %w", db.path, err)
	}
	var current sql.NullInt64
	if err := tx.QueryRowContext(ctx, "SELECT MAX(version) FROM schema_migrations").Scan(&current); err != nil {
		return fmt.Errorf("sqlite %s: migrate: read version: %w", db.path, err)
	}
	if int(current.Int64) > latest {
		return fmt.Errorf("sqlite %s: schema version %d, this binary knows up to %d: %w",
			db.path, current.Int64, latest, migrations.ErrSchemaNewer)
	}
	if m != nil {
		var one int
		err := tx.QueryRowContext(ctx, "SELECT 1 FROM schema_migrations WHERE version = ?", m.Version).Scan(&one)
		switch {
		case err == nil:
			return nil // applied already (by us earlier, or by another process meanwhile)
		case !errors.Is(err, sql.ErrNoRows):
			return fmt.Errorf("sqlite %s: migrate: %w", db.path, err)
		}
		if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
			return fmt.Errorf("sqlite %s: migration %s failed: %w", db.path, m.Name, err)
		}
		if _, err := tx.ExecContext(ctx, "INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)",
			m.Version, time.Now().UTC()); err != nil {
			return fmt.Errorf("sqlite %s: migration %s: record: %w", db.path, m.Name, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlite %s: migrate: commit: %w", db.path, err)
	}
	if m != nil {
		db.log.Info("migration applied", zap.String("migration", m.Name))
	}
	return nil
}

// SchemaVersion returns the newest applied migration, 0 for an empty database.
func (db *DB) SchemaVersion(ctx context.Context) (int, error) {
	var exists int
	err := db.reader.QueryRowContext(ctx,
		"SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'").Scan(&exists)
	if err != nil || exists == 0 {
		return 0, err
	}
	var v sql.NullInt64
	if err := db.reader.QueryRowContext(ctx, "SELECT MAX(version) FROM schema_migrations").Scan(&v); err != nil {
		return 0, fmt.Errorf("sqlite %s: schema version: %w", db.path, err)
	}
	return int(v.Int64), nil
}
