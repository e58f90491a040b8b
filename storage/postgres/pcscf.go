package postgres

import (
	"context"

	"github.com/imscore/imscore/services/pcscf/bindings"
	"github.com/imscore/imscore/storage/internal/pcscfsql"
)

// This file implements bindings.Store, the P-CSCF's journal (migration 0005_pcscf), with the SQL shared with
// SQLite (storage/internal/pcscfsql).

// LoadBindings implements bindings.Store.
func (db *DB) LoadBindings(ctx context.Context, owner string) ([]bindings.Stored, error) {
	return pcscfsql.Store{B: backend{db}}.LoadBindings(ctx, owner)
}

// ApplyBindings implements bindings.Store.
func (db *DB) ApplyBindings(ctx context.Context, owner string, changes []bindings.Change) ([]bindings.Outcome, error) {
	return pcscfsql.Store{B: backend{db}}.ApplyBindings(ctx, owner, changes)
}

var _ bindings.Store = (*DB)(nil)
