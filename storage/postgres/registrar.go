package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"go.uber.org/zap"

	"github.com/imscore/imscore/services/scscf/registrar"
	"github.com/imscore/imscore/storage/internal/registrarsql"
)

// This file implements registrar.Registrar, the S-CSCF's registration store: registrations as rows
// (migration 0006_scscf_contacts, storage/internal/registrarsql), subscriptions and challenges one row each
// (0002, 0003) with the record as JSON in the data column.

// rows is the registration part of the store: rows of migration 0006_scscf_contacts, shared with the other
// SQL backend (storage/internal/registrarsql).
func (db *DB) rows() registrarsql.Store { return registrarsql.Store{B: backend{db}, Name: "postgres"} }

// SaveRegistration implements registrar.Registrar.
func (db *DB) SaveRegistration(ctx context.Context, r *registrar.Registration) error {
	return db.rows().SaveRegistration(ctx, r)
}

// SaveRegistrationVersion implements registrar.VersionedStore; the other S-CSCFs of the pool are told
// (registrationChannel).
func (db *DB) SaveRegistrationVersion(ctx context.Context, r *registrar.Registration, base uint64) error {
	if err := db.rows().SaveRegistrationVersion(ctx, r, base); err != nil {
		return err
	}
	db.notifyRegistration(ctx, r.IMPU, r.Version)
	return nil
}

// WriteJournal implements registrar.BatchStore; the other S-CSCFs of the pool are told of every registration
// write that took effect, in one statement after the commit.
func (db *DB) WriteJournal(ctx context.Context, writes []registrar.JournalWrite) ([]error, error) {
	out, err := db.rows().WriteJournal(ctx, writes)
	if err != nil {
		return nil, err
	}
	payloads := make([]string, 0, len(writes))
	for i, w := range writes {
		if out[i] != nil || w.IMPU == "" {
			continue
		}
		v := w.Base + 1 // a removal: newer than any copy of the removed registration
		if w.Reg != nil {
			v = w.Reg.Version
		}
		payloads = append(payloads, strconv.FormatUint(v, 10)+" "+w.IMPU)
	}
	if len(payloads) > 0 {
		if _, err := db.pool.Exec(ctx, `SELECT pg_notify($1, p) FROM unnest($2::text[]) AS p`, registrationChannel,
			payloads); err != nil {
			db.log.Warn("registration change not announced to the pool", zap.Int("registrations", len(payloads)),
				zap.Error(err))
		}
	}
	return out, nil
}

// DeleteRegistrationVersion implements registrar.VersionedStore; the other S-CSCFs of the pool are told.
func (db *DB) DeleteRegistrationVersion(ctx context.Context, impu string, base uint64) error {
	if err := db.rows().DeleteRegistrationVersion(ctx, impu, base); err != nil {
		return err
	}
	db.notifyRegistration(ctx, impu, base+1)
	return nil
}

// registrationChannel is the LISTEN/NOTIFY channel of registration changes: "<version> <key IMPU>".
const registrationChannel = "scscf_reg"

// notifyRegistration tells the S-CSCFs listening (WatchRegistrations) that the registration stored under impu
// is now at version (or gone): they drop an older copy. A lost notification leaves a stale copy until its
// next write conflicts (compare-and-set), so a failure is only logged.
func (db *DB) notifyRegistration(ctx context.Context, impu string, version uint64) {
	if _, err := db.pool.Exec(ctx, `SELECT pg_notify($1, $2)`, registrationChannel,
		strconv.FormatUint(version, 10)+" "+impu); err != nil {
		db.log.Warn("notify registration change", zap.String("impu", impu), zap.Error(err))
	}
}

// WatchRegistrations implements registrar.Watcher: it LISTENs on a connection of its own and calls changed
// for every registration change another S-CSCF (or this one) made, until ctx ends; a lost connection is
// opened again after a pause. Each time LISTEN takes effect it calls changed("", 0): drop every copy.
func (db *DB) WatchRegistrations(ctx context.Context, changed func(impu string, version uint64)) error {
	for {
		err := db.listen(ctx, changed)
		if ctx.Err() != nil {
			return nil
		}
		db.log.Warn("registration change listener lost; listening again", zap.Error(err))
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(time.Second):
		}
	}
}

func (db *DB) listen(ctx context.Context, changed func(impu string, version uint64)) error {
	conn, err := db.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("postgres: listen: %w", err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `LISTEN `+registrationChannel); err != nil {
		return fmt.Errorf("postgres: listen: %w", err)
	}
	// Changes made before LISTEN took effect (at start, or while the connection was lost) were announced to
	// nobody: every copy cached until now may be stale.
	changed("", 0)
	for {
		n, err := conn.Conn().WaitForNotification(ctx)
		if err != nil {
			return fmt.Errorf("postgres: listen: %w", err)
		}
		v, impu, ok := strings.Cut(n.Payload, " ")
		version, perr := strconv.ParseUint(v, 10, 64)
		if !ok || perr != nil {
			continue
		}
		changed(impu, version)
	}
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
	return db.rows().SaveSubscription(ctx, querier{db.pool}, s)
}

// Subscription implements registrar.Registrar.
func (db *DB) Subscription(ctx context.Context, id string) (*registrar.Subscription, error) {
	var data string
	err := db.pool.QueryRow(ctx, `SELECT data FROM scscf_subscription WHERE id = $1`, id).Scan(&data)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("postgres: subscription %s: %w", id, registrar.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: subscription %s: %w", id, err)
	}
	var s registrar.Subscription
	if err := json.Unmarshal([]byte(data), &s); err != nil {
		return nil, fmt.Errorf("postgres: subscription %s: %w", id, err)
	}
	return &s, nil
}

// Subscriptions implements registrar.Registrar.
func (db *DB) Subscriptions(ctx context.Context, impu string) ([]*registrar.Subscription, error) {
	return db.querySubscriptions(ctx, `SELECT data FROM scscf_subscription WHERE impu = $1 ORDER BY id`, impu)
}

// ExpiredSubscriptions implements registrar.Registrar.
func (db *DB) ExpiredSubscriptions(ctx context.Context, now time.Time) ([]*registrar.Subscription, error) {
	return db.querySubscriptions(ctx, `SELECT data FROM scscf_subscription WHERE expires_ms <= $1 ORDER BY id`, now.UnixMilli())
}

func (db *DB) querySubscriptions(ctx context.Context, query string, arg any) ([]*registrar.Subscription, error) {
	rows, err := db.pool.Query(ctx, query, arg)
	if err != nil {
		return nil, fmt.Errorf("postgres: subscriptions: %w", err)
	}
	defer rows.Close()
	var out []*registrar.Subscription
	for rows.Next() {
		var data string
		if err := rows.Scan(&data); err != nil {
			return nil, fmt.Errorf("postgres: subscriptions: %w", err)
		}
		var s registrar.Subscription
		if err := json.Unmarshal([]byte(data), &s); err != nil {
			return nil, fmt.Errorf("postgres: subscriptions: %w", err)
		}
		out = append(out, &s)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: subscriptions: %w", err)
	}
	return out, nil
}

// DeleteSubscription implements registrar.Registrar.
func (db *DB) DeleteSubscription(ctx context.Context, id string) error {
	return db.rows().DeleteSubscription(ctx, querier{db.pool}, id)
}

// Interface guard.
var (
	_ registrar.Registrar       = (*DB)(nil)
	_ registrar.VersionedStore  = (*DB)(nil)
	_ registrar.ChallengeLister = (*DB)(nil)
	_ registrar.Watcher         = (*DB)(nil)
)

// SaveChallenge implements registrar.Registrar (migration 0003_scscf_challenge).
func (db *DB) SaveChallenge(ctx context.Context, c *registrar.Challenge) error {
	return db.rows().SaveChallenge(ctx, querier{db.pool}, c)
}

// TakeChallenge implements registrar.Registrar: of two S-CSCFs taking the same challenge only one gets it.
func (db *DB) TakeChallenge(ctx context.Context, impi, nonce string) (*registrar.Challenge, error) {
	return db.rows().TakeChallenge(ctx, querier{db.pool}, impi, nonce)
}

// TakeExpiredChallenges implements registrar.Registrar.
func (db *DB) TakeExpiredChallenges(ctx context.Context, now time.Time) ([]*registrar.Challenge, error) {
	rows, err := db.pool.Query(ctx, `DELETE FROM scscf_challenge WHERE expires_ms <= $1 RETURNING data`, now.UnixMilli())
	if err != nil {
		return nil, fmt.Errorf("postgres: expired challenges: %w", err)
	}
	return scanChallenges(rows, "expired challenges")
}

// Challenges implements registrar.ChallengeLister (the S-CSCF's table loads them at start).
func (db *DB) Challenges(ctx context.Context) ([]*registrar.Challenge, error) {
	rows, err := db.pool.Query(ctx, `SELECT data FROM scscf_challenge`)
	if err != nil {
		return nil, fmt.Errorf("postgres: challenges: %w", err)
	}
	return scanChallenges(rows, "challenges")
}

// scanChallenges decodes rows of one data column, ordered by IMPI, and closes them.
func scanChallenges(rows pgx.Rows, what string) ([]*registrar.Challenge, error) {
	defer rows.Close()
	var out []*registrar.Challenge
	for rows.Next() {
		var data string
		if err := rows.Scan(&data); err != nil {
			return nil, fmt.Errorf("postgres: %s: %w", what, err)
		}
		var c registrar.Challenge
		if err := json.Unmarshal([]byte(data), &c); err != nil {
			return nil, fmt.Errorf("postgres: %s: %w", what, err)
		}
		out = append(out, &c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: %s: %w", what, err)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].IMPI < out[j].IMPI })
	return out, nil
}

// Shared reports that several S-CSCFs may use this store at once (a pool): their registrar tables load on a
// miss, write challenges through and write registrations by compare-and-set (registrar.TableConfig.Shared).
func (db *DB) Shared() bool { return true }
