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
)

// This file implements registrar.Registrar, the S-CSCF's registration store (migration 0002_scscf).
// Records are JSON in the data column; impu, impi and expires_ms are what lookups use.

// SaveRegistration implements registrar.Registrar.
func (db *DB) SaveRegistration(ctx context.Context, r *registrar.Registration) error {
	if r.IMPU == "" {
		return fmt.Errorf("sqlite: save registration: empty IMPU")
	}
	data, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("sqlite: save registration %s: %w", r.IMPU, err)
	}
	tx, err := db.writer.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite: save registration %s: begin: %w", r.IMPU, err)
	}
	defer db.writeStmts.prepareMissed(context.WithoutCancel(ctx)) // after the rollback below: needs the connection
	defer tx.Rollback()                                           //nolint:errcheck // no-op after Commit
	txc := db.inTx(tx)
	if _, err := txc.ExecContext(ctx, `INSERT INTO scscf_registration (impu, impi, expires_ms, data) VALUES (?, ?, ?, ?)
		ON CONFLICT (impu) DO UPDATE SET impi = excluded.impi, expires_ms = excluded.expires_ms, data = excluded.data`,
		r.IMPU, r.IMPI, r.Expires.UnixMilli(), string(data)); err != nil {
		return fmt.Errorf("sqlite: save registration %s: %w", r.IMPU, err)
	}
	if _, err := txc.ExecContext(ctx, `DELETE FROM scscf_registration_identity WHERE impu = ?`, r.IMPU); err != nil {
		return fmt.Errorf("sqlite: save registration %s: %w", r.IMPU, err)
	}
	for _, id := range r.IdentityURIs() {
		// An identity belongs to one registration: the latest to claim it wins.
		if _, err := txc.ExecContext(ctx, `INSERT INTO scscf_registration_identity (identity, impu) VALUES (?, ?)
			ON CONFLICT (identity) DO UPDATE SET impu = excluded.impu`, id, r.IMPU); err != nil {
			return fmt.Errorf("sqlite: save registration %s: identity %s: %w", r.IMPU, id, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlite: save registration %s: commit: %w", r.IMPU, err)
	}
	return nil
}

// Registration implements registrar.Registrar.
func (db *DB) Registration(ctx context.Context, impu string) (*registrar.Registration, error) {
	var data string
	err := db.read().QueryRowContext(ctx, `SELECT r.data FROM scscf_registration_identity i
		JOIN scscf_registration r ON r.impu = i.impu WHERE i.identity = ?`, impu).Scan(&data)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("sqlite: registration %s: %w", impu, registrar.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: registration %s: %w", impu, err)
	}
	var r registrar.Registration
	if err := json.Unmarshal([]byte(data), &r); err != nil {
		return nil, fmt.Errorf("sqlite: registration %s: %w", impu, err)
	}
	return &r, nil
}

// RegistrationsByIMPI implements registrar.Registrar.
func (db *DB) RegistrationsByIMPI(ctx context.Context, impi string) ([]*registrar.Registration, error) {
	return db.queryRegistrations(ctx, `SELECT data FROM scscf_registration WHERE impi = ? ORDER BY impu`, impi)
}

// ExpiredRegistrations implements registrar.Registrar.
func (db *DB) ExpiredRegistrations(ctx context.Context, now time.Time) ([]*registrar.Registration, error) {
	return db.queryRegistrations(ctx, `SELECT data FROM scscf_registration WHERE expires_ms <= ? ORDER BY impu`, now.UnixMilli())
}

func (db *DB) queryRegistrations(ctx context.Context, query string, arg any) ([]*registrar.Registration, error) {
	rows, err := db.read().QueryContext(ctx, query, arg)
	if err != nil {
		return nil, fmt.Errorf("sqlite: registrations: %w", err)
	}
	defer rows.Close()
	var out []*registrar.Registration
	for rows.Next() {
		var data string
		if err := rows.Scan(&data); err != nil {
			return nil, fmt.Errorf("sqlite: registrations: %w", err)
		}
		var r registrar.Registration
		if err := json.Unmarshal([]byte(data), &r); err != nil {
			return nil, fmt.Errorf("sqlite: registrations: %w", err)
		}
		out = append(out, &r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: registrations: %w", err)
	}
	return out, nil
}

// DeleteRegistration implements registrar.Registrar. Its identity index goes with it (ON DELETE CASCADE).
func (db *DB) DeleteRegistration(ctx context.Context, impu string) error {
	res, err := db.write().ExecContext(ctx, `DELETE FROM scscf_registration WHERE impu = ?`, impu)
	if err != nil {
		return fmt.Errorf("sqlite: delete registration %s: %w", impu, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("sqlite: delete registration %s: %w", impu, registrar.ErrNotFound)
	}
	return nil
}

// SaveSubscription implements registrar.Registrar.
func (db *DB) SaveSubscription(ctx context.Context, s *registrar.Subscription) error {
	if s.ID == "" {
		return fmt.Errorf("sqlite: save subscription: empty ID")
	}
	data, err := json.Marshal(s)
	if err != nil {
		return fmt.Errorf("sqlite: save subscription %s: %w", s.ID, err)
	}
	if _, err := db.write().ExecContext(ctx, `INSERT INTO scscf_subscription (id, impu, expires_ms, data) VALUES (?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET impu = excluded.impu, expires_ms = excluded.expires_ms, data = excluded.data`,
		s.ID, s.IMPU, s.Expires.UnixMilli(), string(data)); err != nil {
		return fmt.Errorf("sqlite: save subscription %s: %w", s.ID, err)
	}
	return nil
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
	res, err := db.write().ExecContext(ctx, `DELETE FROM scscf_subscription WHERE id = ?`, id)
	if err != nil {
		return fmt.Errorf("sqlite: delete subscription %s: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("sqlite: delete subscription %s: %w", id, registrar.ErrNotFound)
	}
	return nil
}

// Interface guard.
var _ registrar.Registrar = (*DB)(nil)

// SaveChallenge implements registrar.Registrar (migration 0003_scscf_challenge).
func (db *DB) SaveChallenge(ctx context.Context, c *registrar.Challenge) error {
	if c.IMPI == "" {
		return fmt.Errorf("sqlite: save challenge: empty IMPI")
	}
	data, err := json.Marshal(c)
	if err != nil {
		return fmt.Errorf("sqlite: save challenge %s: %w", c.IMPI, err)
	}
	if _, err := db.write().ExecContext(ctx, `INSERT INTO scscf_challenge (impi, nonce, expires_ms, data) VALUES (?, ?, ?, ?)
		ON CONFLICT (impi) DO UPDATE SET nonce = excluded.nonce, expires_ms = excluded.expires_ms, data = excluded.data`,
		c.IMPI, c.Nonce, c.Expires.UnixMilli(), string(data)); err != nil {
		return fmt.Errorf("sqlite: save challenge %s: %w", c.IMPI, err)
	}
	return nil
}

// TakeChallenge implements registrar.Registrar: one DELETE … RETURNING, so that of two S-CSCFs taking the same
// challenge only one gets it.
func (db *DB) TakeChallenge(ctx context.Context, impi, nonce string) (*registrar.Challenge, error) {
	var data string
	err := db.write().QueryRowContext(ctx, `DELETE FROM scscf_challenge WHERE impi = ? AND nonce = ? RETURNING data`, impi, nonce).Scan(&data)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("sqlite: challenge %s: %w", impi, registrar.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: challenge %s: %w", impi, err)
	}
	var c registrar.Challenge
	if err := json.Unmarshal([]byte(data), &c); err != nil {
		return nil, fmt.Errorf("sqlite: challenge %s: %w", impi, err)
	}
	return &c, nil
}

// TakeExpiredChallenges implements registrar.Registrar.
func (db *DB) TakeExpiredChallenges(ctx context.Context, now time.Time) ([]*registrar.Challenge, error) {
	rows, err := db.write().QueryContext(ctx, `DELETE FROM scscf_challenge WHERE expires_ms <= ? RETURNING data`, now.UnixMilli())
	if err != nil {
		return nil, fmt.Errorf("sqlite: expired challenges: %w", err)
	}
	defer rows.Close()
	var out []*registrar.Challenge
	for rows.Next() {
		var data string
		if err := rows.Scan(&data); err != nil {
			return nil, fmt.Errorf("sqlite: expired challenges: %w", err)
		}
		var c registrar.Challenge
		if err := json.Unmarshal([]byte(data), &c); err != nil {
			return nil, fmt.Errorf("sqlite: expired challenges: %w", err)
		}
		out = append(out, &c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: expired challenges: %w", err)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].IMPI < out[j].IMPI })
	return out, nil
}

// CountRegistrations implements registrar.Registrar: one scan of scscf_registration, contacts counted in the
// JSON record.
func (db *DB) CountRegistrations(ctx context.Context) (registrations, contacts int, err error) {
	var regs, conts int64
	if err := db.read().QueryRowContext(ctx, `SELECT count(*), coalesce(sum(json_array_length(data, '$.contacts')), 0) FROM scscf_registration`).Scan(&regs, &conts); err != nil {
		return 0, 0, fmt.Errorf("sqlite: count registrations: %w", err)
	}
	return int(regs), int(conts), nil
}
