package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/imscore/imscore/services/scscf/registrar"
	"github.com/imscore/imscore/storage/internal/registrarsql"
)

// This file implements registrar.Registrar, the S-CSCF's registration store: registrations as rows
// (migration 0006_scscf_contacts, storage/internal/registrarsql), subscriptions and challenges one row each
// (0002, 0003) with the record as JSON in the data column.

// rows is the registration part of the store: rows of migration 0006_scscf_contacts, shared with the other
// SQL backend (storage/internal/registrarsql).
func (db *DB) rows() registrarsql.Store { return registrarsql.Store{B: backend{db}, Name: "sqlite"} }

// SaveRegistration implements registrar.Registrar.
func (db *DB) SaveRegistration(ctx context.Context, r *registrar.Registration) error {
	return db.rows().SaveRegistration(ctx, r)
}

// SaveRegistrationVersion implements registrar.VersionedStore.
func (db *DB) SaveRegistrationVersion(ctx context.Context, r *registrar.Registration, base uint64) error {
	return db.rows().SaveRegistrationVersion(ctx, r, base)
}

// WriteJournal implements registrar.BatchStore.
func (db *DB) WriteJournal(ctx context.Context, writes []registrar.JournalWrite) ([]error, error) {
	return db.rows().WriteJournal(ctx, writes)
}

// DeleteRegistrationVersion implements registrar.VersionedStore.
func (db *DB) DeleteRegistrationVersion(ctx context.Context, impu string, base uint64) error {
	return db.rows().DeleteRegistrationVersion(ctx, impu, base)
}

// Registration implements registrar.Registrar.
func (db *DB) Registration(ctx context.Context, impu string) (*registrar.Registration, error) {
	return db.rows().Registration(ctx, impu)
}

// RegistrationsByIMPI implements registrar.Registrar.
func (db *DB) RegistrationsByIMPI(ctx context.Context, impi string) ([]*registrar.Registration, error) {
	return db.rows().RegistrationsByIMPI(ctx, impi)
}

// ExpiredRegistrations implements registrar.Registrar.
func (db *DB) ExpiredRegistrations(ctx context.Context, now time.Time) ([]*registrar.Registration, error) {
	return db.rows().ExpiredRegistrations(ctx, now)
}

// DeleteRegistration implements registrar.Registrar. Its contact, identity and index rows go with it.
func (db *DB) DeleteRegistration(ctx context.Context, impu string) error {
	return db.rows().DeleteRegistration(ctx, impu)
}

// CountRegistrations implements registrar.Registrar.
func (db *DB) CountRegistrations(ctx context.Context) (registrations, contacts int, err error) {
	return db.rows().CountRegistrations(ctx)
}

// SaveSubscription implements registrar.Registrar.
func (db *DB) SaveSubscription(ctx context.Context, s *registrar.Subscription) error {
	return db.rows().SaveSubscription(ctx, querier{db.write(), db.rw}, s)
}

// Subscription implements registrar.Registrar.
func (db *DB) Subscription(ctx context.Context, id string) (*registrar.Subscription, error) {
	var data string
	err := db.read().QueryRowContext(ctx, `SELECT data FROM scscf_subscription WHERE id = ?`, id).Scan(&data)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("sqlite: subscription %s: %w", id, registrar.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: subscription %s: %w", id, err)
	}
	var s registrar.Subscription
	if err := json.Unmarshal([]byte(data), &s); err != nil {
		return nil, fmt.Errorf("sqlite: subscription %s: %w", id, err)
	}
	return &s, nil
}

// Subscriptions implements registrar.Registrar.
func (db *DB) Subscriptions(ctx context.Context, impu string) ([]*registrar.Subscription, error) {
	return db.querySubscriptions(ctx, `SELECT data FROM scscf_subscription WHERE impu = ? ORDER BY id`, impu)
}

// ExpiredSubscriptions implements registrar.Registrar.
func (db *DB) ExpiredSubscriptions(ctx context.Context, now time.Time) ([]*registrar.Subscription, error) {
	return db.querySubscriptions(ctx, `SELECT data FROM scscf_subscription WHERE expires_ms <= ? ORDER BY id`, now.UnixMilli())
}

func (db *DB) querySubscriptions(ctx context.Context, query string, arg any) ([]*registrar.Subscription, error) {
	rows, err := db.read().QueryContext(ctx, query, arg)
	if err != nil {
		return nil, fmt.Errorf("sqlite: subscriptions: %w", err)
	}
	defer rows.Close()
	var out []*registrar.Subscription
	for rows.Next() {
		var data string
		if err := rows.Scan(&data); err != nil {
			return nil, fmt.Errorf("sqlite: subscriptions: %w", err)
		}
		var s registrar.Subscription
		if err := json.Unmarshal([]byte(data), &s); err != nil {
			return nil, fmt.Errorf("sqlite: subscriptions: %w", err)
		}
		out = append(out, &s)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: subscriptions: %w", err)
	}
	return out, nil
}

// DeleteSubscription implements registrar.Registrar.
func (db *DB) DeleteSubscription(ctx context.Context, id string) error {
	return db.rows().DeleteSubscription(ctx, querier{db.write(), db.rw}, id)
}

// Interface guard.
var (
	_ registrar.Registrar       = (*DB)(nil)
	_ registrar.VersionedStore  = (*DB)(nil)
	_ registrar.ChallengeLister = (*DB)(nil)
)

// SaveChallenge implements registrar.Registrar (migration 0003_scscf_challenge).
func (db *DB) SaveChallenge(ctx context.Context, c *registrar.Challenge) error {
	return db.rows().SaveChallenge(ctx, querier{db.write(), db.rw}, c)
}

// TakeChallenge implements registrar.Registrar: of two S-CSCFs taking the same challenge only one gets it.
func (db *DB) TakeChallenge(ctx context.Context, impi, nonce string) (*registrar.Challenge, error) {
	return db.rows().TakeChallenge(ctx, querier{db.write(), db.rw}, impi, nonce)
}

// TakeExpiredChallenges implements registrar.Registrar.
func (db *DB) TakeExpiredChallenges(ctx context.Context, now time.Time) ([]*registrar.Challenge, error) {
	rows, err := db.write().QueryContext(ctx, `DELETE FROM scscf_challenge WHERE expires_ms <= ? RETURNING data`, now.UnixMilli())
	if err != nil {
		return nil, fmt.Errorf("sqlite: expired challenges: %w", err)
	}
	return scanChallenges(rows, "expired challenges")
}

// Challenges implements registrar.ChallengeLister (the S-CSCF's table loads them at start).
func (db *DB) Challenges(ctx context.Context) ([]*registrar.Challenge, error) {
	rows, err := db.read().QueryContext(ctx, `SELECT data FROM scscf_challenge`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: challenges: %w", err)
	}
	return scanChallenges(rows, "challenges")
}

// scanChallenges decodes rows of one data column, ordered by IMPI, and closes them.
func scanChallenges(rows *sql.Rows, what string) ([]*registrar.Challenge, error) {
	defer rows.Close()
	var out []*registrar.Challenge
	for rows.Next() {
		var data string
		if err := rows.Scan(&data); err != nil {
			return nil, fmt.Errorf("sqlite: %s: %w", what, err)
		}
		var c registrar.Challenge
		if err := json.Unmarshal([]byte(data), &c); err != nil {
			return nil, fmt.Errorf("sqlite: %s: %w", what, err)
		}
		out = append(out, &c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: %s: %w", what, err)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].IMPI < out[j].IMPI })
	return out, nil
}
