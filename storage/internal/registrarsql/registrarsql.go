// Package registrarsql is the S-CSCF's registration rows (migration 0006_scscf_contacts) written and read
// through an hsssql.Backend, so that SQLite and PostgreSQL share one implementation: a registration row
// (versioned), one row per contact binding, the implicit set in order, and the identity index. A save writes
// the registration's rows in one transaction: the registration row by compare-and-set on its version, each
// contact upserted by its binding, the contacts no longer bound deleted, the set and the index rewritten only
// when they changed.
package registrarsql

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/imscore/imscore/services/scscf/registrar"
	"github.com/imscore/imscore/storage/internal/hsssql"
)

// Store implements the registration part of registrar.Registrar and registrar.VersionedStore.
type Store struct {
	B hsssql.Backend
	// Name prefixes errors ("sqlite", "postgres").
	Name string
}

// noVersionCheck makes save and delete unconditional (registrar.Registrar's SaveRegistration).
const noVersionCheck = ^uint64(0)

// SaveRegistration writes r whatever the stored version.
func (s Store) SaveRegistration(ctx context.Context, r *registrar.Registration) error {
	return s.save(ctx, r, noVersionCheck)
}

// SaveRegistrationVersion writes r when the stored version is base (0: none stored), else
// registrar.ErrConflict.
func (s Store) SaveRegistrationVersion(ctx context.Context, r *registrar.Registration, base uint64) error {
	return s.save(ctx, r, base)
}

func (s Store) save(ctx context.Context, r *registrar.Registration, base uint64) error {
	if r.IMPU == "" {
		return fmt.Errorf("%s: save registration: empty IMPU", s.Name)
	}
	err := s.B.Tx(ctx, func(q hsssql.Querier) error { return s.saveTx(ctx, q, r, base) })
	if err != nil {
		return fmt.Errorf("%s: save registration %s: %w", s.Name, r.IMPU, err)
	}
	return nil
}

// saveTx writes r's rows within the transaction q when the stored version is base.
func (s Store) saveTx(ctx context.Context, q hsssql.Querier, r *registrar.Registration, base uint64) error {
	var profile any
	if len(r.Profile) > 0 {
		profile = r.Profile
	}
	var stored int64
	err := q.QueryRow(ctx, `SELECT version FROM scscf_reg WHERE impu = $1`+s.B.ForUpdate(), r.IMPU).Scan(&stored)
	exists := err == nil
	switch {
	case errors.Is(err, sql.ErrNoRows):
	case err != nil:
		return err
	}
	if base != noVersionCheck && (exists && uint64(stored) != base || !exists && base != 0) {
		return fmt.Errorf("stored version %d, based on %d: %w", stored, base, registrar.ErrConflict)
	}
	if exists {
		if _, err := q.Exec(ctx, `UPDATE scscf_reg SET impi = $2, version = $3, expires_ms = $4, hss_host = $5,
			hss_realm = $6, server_name = $7, profile = $8 WHERE impu = $1`, r.IMPU, r.IMPI, int64(r.Version),
			r.Expires.UnixMilli(), r.HSS.Host, r.HSS.Realm, r.HSS.ServerName, profile); err != nil {
			return err
		}
	} else if _, err := q.Exec(ctx, `INSERT INTO scscf_reg (impu, impi, version, expires_ms, hss_host, hss_realm,
		server_name, profile) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, r.IMPU, r.IMPI, int64(r.Version),
		r.Expires.UnixMilli(), r.HSS.Host, r.HSS.Realm, r.HSS.ServerName, profile); err != nil {
		return err
	}
	if err := s.saveContacts(ctx, q, r); err != nil {
		return err
	}
	return s.saveIdentities(ctx, q, r, exists)
}

// saveContacts upserts one row per binding and deletes the bindings r no longer has.
func (s Store) saveContacts(ctx context.Context, q hsssql.Querier, r *registrar.Registration) error {
	keep := make([]string, 0, len(r.Contacts))
	for i, c := range r.Contacts {
		key := registrar.BindingKey(c)
		keep = append(keep, key)
		if _, err := q.Exec(ctx, `INSERT INTO scscf_contact (impu, binding, pos, id, uri, params, path, expires_ms,
			call_id, cseq, user_agent) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
			ON CONFLICT (impu, binding) DO UPDATE SET pos = excluded.pos, id = excluded.id, uri = excluded.uri,
			params = excluded.params, path = excluded.path, expires_ms = excluded.expires_ms,
			call_id = excluded.call_id, cseq = excluded.cseq, user_agent = excluded.user_agent`,
			r.IMPU, key, i, c.ID, c.URI, c.Params, strings.Join(c.Path, "\n"), c.Expires.UnixMilli(), c.CallID,
			int64(c.CSeq), c.UserAgent); err != nil {
			return fmt.Errorf("contact %s: %w", c.URI, err)
		}
	}
	rows, err := q.Query(ctx, `SELECT binding FROM scscf_contact WHERE impu = $1`, r.IMPU)
	if err != nil {
		return err
	}
	var gone []string
	for rows.Next() {
		var b string
		if err := rows.Scan(&b); err != nil {
			rows.Close()
			return err
		}
		if !contains(keep, b) {
			gone = append(gone, b)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, b := range gone {
		if _, err := q.Exec(ctx, `DELETE FROM scscf_contact WHERE impu = $1 AND binding = $2`, r.IMPU, b); err != nil {
			return err
		}
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// saveIdentities rewrites the implicit set and the index when they changed (a refresh leaves them alone).
func (s Store) saveIdentities(ctx context.Context, q hsssql.Querier, r *registrar.Registration, existed bool) error {
	if existed {
		stored, err := s.identities(ctx, q, `i.impu = $1`, r.IMPU)
		if err != nil {
			return err
		}
		if sameIdentities(stored[r.IMPU], r.Identities) {
			return nil
		}
		if _, err := q.Exec(ctx, `DELETE FROM scscf_reg_identity WHERE impu = $1`, r.IMPU); err != nil {
			return err
		}
		if _, err := q.Exec(ctx, `DELETE FROM scscf_reg_index WHERE impu = $1`, r.IMPU); err != nil {
			return err
		}
	}
	for i, id := range r.Identities {
		barred := 0
		if id.Barred {
			barred = 1
		}
		if _, err := q.Exec(ctx, `INSERT INTO scscf_reg_identity (impu, pos, uri, barred, display_name)
			VALUES ($1, $2, $3, $4, $5)`, r.IMPU, i, id.URI, barred, id.DisplayName); err != nil {
			return fmt.Errorf("identity %s: %w", id.URI, err)
		}
	}
	for _, u := range r.IdentityURIs() {
		// An identity belongs to one registration: the latest to claim it.
		if _, err := q.Exec(ctx, `INSERT INTO scscf_reg_index (identity, impu) VALUES ($1, $2)
			ON CONFLICT (identity) DO UPDATE SET impu = excluded.impu`, u, r.IMPU); err != nil {
			return fmt.Errorf("index %s: %w", u, err)
		}
	}
	return nil
}

func sameIdentities(a, b []registrar.Identity) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// DeleteRegistration removes the registration stored under impu with its rows, else registrar.ErrNotFound.
func (s Store) DeleteRegistration(ctx context.Context, impu string) error {
	return s.DeleteRegistrationVersion(ctx, impu, noVersionCheck)
}

// DeleteRegistrationVersion removes the registration when its stored version is base.
func (s Store) DeleteRegistrationVersion(ctx context.Context, impu string, base uint64) error {
	err := s.B.Tx(ctx, func(q hsssql.Querier) error { return s.deleteTx(ctx, q, impu, base) })
	if err != nil {
		return fmt.Errorf("%s: delete registration %s: %w", s.Name, impu, err)
	}
	return nil
}

// deleteTx removes the registration within the transaction q when the stored version is base.
func (s Store) deleteTx(ctx context.Context, q hsssql.Querier, impu string, base uint64) error {
	var stored int64
	err := q.QueryRow(ctx, `SELECT version FROM scscf_reg WHERE impu = $1`+s.B.ForUpdate(), impu).Scan(&stored)
	if errors.Is(err, sql.ErrNoRows) {
		return registrar.ErrNotFound
	}
	if err != nil {
		return err
	}
	if base != noVersionCheck && uint64(stored) != base {
		return fmt.Errorf("stored version %d, based on %d: %w", stored, base, registrar.ErrConflict)
	}
	// The contact, identity and index rows go with it (ON DELETE CASCADE).
	_, err = q.Exec(ctx, `DELETE FROM scscf_reg WHERE impu = $1`, impu)
	return err
}

// Registration returns the registration whose implicit set holds identity.
func (s Store) Registration(ctx context.Context, identity string) (*registrar.Registration, error) {
	regs, err := s.load(ctx, `r.impu = (SELECT x.impu FROM scscf_reg_index x WHERE x.identity = $1)`, identity)
	if err != nil {
		return nil, fmt.Errorf("%s: registration %s: %w", s.Name, identity, err)
	}
	if len(regs) == 0 {
		return nil, fmt.Errorf("%s: registration %s: %w", s.Name, identity, registrar.ErrNotFound)
	}
	return regs[0], nil
}

// RegistrationsByIMPI returns the registrations of impi ordered by IMPU.
func (s Store) RegistrationsByIMPI(ctx context.Context, impi string) ([]*registrar.Registration, error) {
	regs, err := s.load(ctx, `r.impi = $1`, impi)
	if err != nil {
		return nil, fmt.Errorf("%s: registrations of %s: %w", s.Name, impi, err)
	}
	return regs, nil
}

// ExpiredRegistrations returns the registrations whose expiry is not after now, ordered by IMPU.
func (s Store) ExpiredRegistrations(ctx context.Context, now time.Time) ([]*registrar.Registration, error) {
	regs, err := s.load(ctx, `r.expires_ms <= $1`, now.UnixMilli())
	if err != nil {
		return nil, fmt.Errorf("%s: expired registrations: %w", s.Name, err)
	}
	return regs, nil
}

// CountRegistrations counts the registration and contact rows.
func (s Store) CountRegistrations(ctx context.Context) (registrations, contacts int, err error) {
	var regs, conts int64
	if err := s.B.Read().QueryRow(ctx, `SELECT (SELECT count(*) FROM scscf_reg), (SELECT count(*) FROM scscf_contact)`).
		Scan(&regs, &conts); err != nil {
		return 0, 0, fmt.Errorf("%s: count registrations: %w", s.Name, err)
	}
	return int(regs), int(conts), nil
}

// load reads the registrations matching where (on scscf_reg r) with their contacts and identities: three
// queries, whatever the number of registrations.
func (s Store) load(ctx context.Context, where string, arg any) ([]*registrar.Registration, error) {
	q := s.B.Read()
	rows, err := q.Query(ctx, `SELECT r.impu, r.impi, r.version, r.expires_ms, r.hss_host, r.hss_realm, r.server_name,
		r.profile FROM scscf_reg r WHERE `+where+` ORDER BY r.impu`, arg)
	if err != nil {
		return nil, err
	}
	var out []*registrar.Registration
	byIMPU := map[string]*registrar.Registration{}
	for rows.Next() {
		var r registrar.Registration
		var version, expires int64
		if err := rows.Scan(&r.IMPU, &r.IMPI, &version, &expires, &r.HSS.Host, &r.HSS.Realm, &r.HSS.ServerName,
			&r.Profile); err != nil {
			rows.Close()
			return nil, err
		}
		if len(r.Profile) == 0 {
			r.Profile = nil
		}
		r.Version, r.Expires = uint64(version), time.UnixMilli(expires)
		out = append(out, &r)
		byIMPU[r.IMPU] = &r
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, nil
	}
	rows, err = q.Query(ctx, `SELECT c.impu, c.id, c.uri, c.params, c.path, c.expires_ms, c.call_id, c.cseq,
		c.user_agent FROM scscf_contact c JOIN scscf_reg r ON r.impu = c.impu WHERE `+where+` ORDER BY c.impu, c.pos`, arg)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var impu, path string
		var c registrar.Contact
		var expires, cseq int64
		if err := rows.Scan(&impu, &c.ID, &c.URI, &c.Params, &path, &expires, &c.CallID, &cseq, &c.UserAgent); err != nil {
			rows.Close()
			return nil, err
		}
		if path != "" {
			c.Path = strings.Split(path, "\n")
		}
		c.Expires, c.CSeq = time.UnixMilli(expires), uint32(cseq)
		if r := byIMPU[impu]; r != nil {
			r.Contacts = append(r.Contacts, c)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	ids, err := s.identities(ctx, q, where, arg)
	if err != nil {
		return nil, err
	}
	for impu, list := range ids {
		if r := byIMPU[impu]; r != nil {
			r.Identities = list
		}
	}
	return out, nil
}

// identities reads the implicit sets of the registrations matching where, by IMPU.
func (s Store) identities(ctx context.Context, q hsssql.Querier, where string, arg any) (map[string][]registrar.Identity, error) {
	where = strings.ReplaceAll(where, "i.impu", "r.impu")
	rows, err := q.Query(ctx, `SELECT i.impu, i.uri, i.barred, i.display_name FROM scscf_reg_identity i
		JOIN scscf_reg r ON r.impu = i.impu WHERE `+where+` ORDER BY i.impu, i.pos`, arg)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string][]registrar.Identity{}
	for rows.Next() {
		var impu string
		var id registrar.Identity
		var barred int64
		if err := rows.Scan(&impu, &id.URI, &barred, &id.DisplayName); err != nil {
			return nil, err
		}
		id.Barred = barred != 0
		out[impu] = append(out[impu], id)
	}
	return out, rows.Err()
}

// Interface guard.
var _ registrar.VersionedStore = Store{}

// SaveSubscription upserts s through q (a subscription is one row: its JSON and what it is looked up by).
func (s Store) SaveSubscription(ctx context.Context, q hsssql.Querier, sub *registrar.Subscription) error {
	if sub.ID == "" {
		return fmt.Errorf("%s: save subscription: empty ID", s.Name)
	}
	data, err := json.Marshal(sub)
	if err != nil {
		return fmt.Errorf("%s: save subscription %s: %w", s.Name, sub.ID, err)
	}
	if _, err := q.Exec(ctx, `INSERT INTO scscf_subscription (id, impu, expires_ms, data) VALUES ($1, $2, $3, $4)
		ON CONFLICT (id) DO UPDATE SET impu = excluded.impu, expires_ms = excluded.expires_ms, data = excluded.data`,
		sub.ID, sub.IMPU, sub.Expires.UnixMilli(), string(data)); err != nil {
		return fmt.Errorf("%s: save subscription %s: %w", s.Name, sub.ID, err)
	}
	return nil
}

// DeleteSubscription removes the subscription id through q, else registrar.ErrNotFound.
func (s Store) DeleteSubscription(ctx context.Context, q hsssql.Querier, id string) error {
	n, err := q.Exec(ctx, `DELETE FROM scscf_subscription WHERE id = $1`, id)
	if err != nil {
		return fmt.Errorf("%s: delete subscription %s: %w", s.Name, id, err)
	}
	if n == 0 {
		return fmt.Errorf("%s: delete subscription %s: %w", s.Name, id, registrar.ErrNotFound)
	}
	return nil
}

// SaveChallenge upserts c through q, one per IMPI (migration 0003_scscf_challenge).
func (s Store) SaveChallenge(ctx context.Context, q hsssql.Querier, c *registrar.Challenge) error {
	if c.IMPI == "" {
		return fmt.Errorf("%s: save challenge: empty IMPI", s.Name)
	}
	data, err := json.Marshal(c)
	if err != nil {
		return fmt.Errorf("%s: save challenge %s: %w", s.Name, c.IMPI, err)
	}
	if _, err := q.Exec(ctx, `INSERT INTO scscf_challenge (impi, nonce, expires_ms, data) VALUES ($1, $2, $3, $4)
		ON CONFLICT (impi) DO UPDATE SET nonce = excluded.nonce, expires_ms = excluded.expires_ms, data = excluded.data`,
		c.IMPI, c.Nonce, c.Expires.UnixMilli(), string(data)); err != nil {
		return fmt.Errorf("%s: save challenge %s: %w", s.Name, c.IMPI, err)
	}
	return nil
}

// TakeChallenge removes and returns the challenge of impi with nonce through q, in one DELETE … RETURNING so
// that of two S-CSCFs taking the same challenge only one gets it; else registrar.ErrNotFound.
func (s Store) TakeChallenge(ctx context.Context, q hsssql.Querier, impi, nonce string) (*registrar.Challenge, error) {
	var data string
	err := q.QueryRow(ctx, `DELETE FROM scscf_challenge WHERE impi = $1 AND nonce = $2 RETURNING data`, impi, nonce).Scan(&data)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("%s: challenge %s: %w", s.Name, impi, registrar.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: challenge %s: %w", s.Name, impi, err)
	}
	var c registrar.Challenge
	if err := json.Unmarshal([]byte(data), &c); err != nil {
		return nil, fmt.Errorf("%s: challenge %s: %w", s.Name, impi, err)
	}
	return &c, nil
}

// WriteJournal implements registrar.BatchStore: every write in one transaction, registrations by
// compare-and-set (a conflict or a removal of nothing is that write's outcome, the others stand); any other
// failure rolls the whole transaction back.
func (s Store) WriteJournal(ctx context.Context, writes []registrar.JournalWrite) ([]error, error) {
	out := make([]error, len(writes))
	err := s.B.Tx(ctx, func(q hsssql.Querier) error {
		for i, w := range writes {
			var err error
			switch {
			case w.Reg != nil && w.Reg.IMPU != w.IMPU:
				return fmt.Errorf("write %d: registration of %s filed under %s", i, w.Reg.IMPU, w.IMPU)
			case w.Reg != nil:
				if err = s.saveTx(ctx, q, w.Reg, w.Base); err != nil {
					err = fmt.Errorf("%s: save registration %s: %w", s.Name, w.IMPU, err)
				}
			case w.IMPU != "":
				if err = s.deleteTx(ctx, q, w.IMPU, w.Base); err != nil {
					err = fmt.Errorf("%s: delete registration %s: %w", s.Name, w.IMPU, err)
				}
			case w.Sub != nil:
				err = s.SaveSubscription(ctx, q, w.Sub)
			case w.SubscriptionID != "":
				err = s.DeleteSubscription(ctx, q, w.SubscriptionID)
			case w.Chal != nil:
				err = s.SaveChallenge(ctx, q, w.Chal)
			case w.IMPI != "":
				_, err = s.TakeChallenge(ctx, q, w.IMPI, w.Nonce)
			default:
				return fmt.Errorf("write %d: empty", i)
			}
			switch {
			case err == nil:
			case errors.Is(err, registrar.ErrConflict), errors.Is(err, registrar.ErrNotFound):
				out[i] = err
			default:
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("%s: write %d journal changes: %w", s.Name, len(writes), err)
	}
	return out, nil
}
