package sqlite

import (
	"github.com/imscore/imscore/services/presence/store"
	"github.com/imscore/imscore/storage/internal/presencesql"
)

// Presence returns the presence server's and the XDMS's store (migration 0004_presence) on this database.
func (db *DB) Presence() store.Store { return presencesql.New(backend{db}, "sqlite") }
