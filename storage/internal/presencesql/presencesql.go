// Package presencesql is the presence server's and the XDMS's store (services/presence/store) in SQL,
// shared by storage/sqlite and storage/postgres through the backend they give the HSS store (hsssql):
// the statements are written once, with $N placeholders that the SQLite backend rewrites. Tables are
// those of migration 0004_presence.
package presencesql

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/imscore/imscore/services/presence/store"
	"github.com/imscore/imscore/storage/internal/hsssql"
)

// Store implements store.Store on a backend.
type Store struct {
	b    hsssql.Backend
	name string // "sqlite" or "postgres", for errors
}

// New returns the presence store of b.
func New(b hsssql.Backend, name string) *Store { return &Store{b: b, name: name} }

func (s *Store) errf(op string, err error) error { return fmt.Errorf("%s: %s: %w", s.name, op, err) }

// exec runs one writing statement in a transaction of its own (SQLite's read pool is read-only).
func (s *Store) exec(ctx context.Context, query string, args ...any) (int64, error) {
	var n int64
	err := s.b.Tx(ctx, func(q hsssql.Querier) error {
		var err error
		n, err = q.Exec(ctx, query, args...)
		return err
	})
	return n, err
}

func ms(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

// SavePublication implements store.Store.
func (s *Store) SavePublication(ctx context.Context, p *store.Publication, replaces string) error {
	data, err := json.Marshal(p)
	if err != nil {
		return s.errf("save publication", err)
	}
	err = s.b.Tx(ctx, func(q hsssql.Querier) error {
		if replaces != "" {
			if _, err := q.Exec(ctx, `DELETE FROM presence_publication WHERE presentity = $1 AND etag = $2`, p.Presentity, replaces); err != nil {
				return err
			}
		}
		_, err := q.Exec(ctx, `INSERT INTO presence_publication (presentity, etag, expires_ms, updated_ms, data)
			VALUES ($1, $2, $3, $4, $5) ON CONFLICT (presentity, etag) DO UPDATE SET expires_ms = excluded.expires_ms,
			updated_ms = excluded.updated_ms, data = excluded.data`, p.Presentity, p.ETag, ms(p.Expires), ms(p.Updated), string(data))
		return err
	})
	if err != nil {
		return s.errf("save publication "+p.Presentity, err)
	}
	return nil
}

func scanJSON[T any](row hsssql.Row) (*T, error) {
	var data string
	if err := row.Scan(&data); err != nil {
		if errors.Is(err, sql.ErrNoRows) || isNoRows(err) {
			return nil, store.ErrNotFound
		}
		return nil, err
	}
	v := new(T)
	if err := json.Unmarshal([]byte(data), v); err != nil {
		return nil, err
	}
	return v, nil
}

// isNoRows recognises pgx's ErrNoRows without importing pgx: its text is fixed.
func isNoRows(err error) bool { return err != nil && err.Error() == "no rows in result set" }

func listJSON[T any](ctx context.Context, q hsssql.Querier, query string, args ...any) ([]T, error) {
	rows, err := q.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		var data string
		if err := rows.Scan(&data); err != nil {
			return nil, err
		}
		var v T
		if err := json.Unmarshal([]byte(data), &v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// Publication implements store.Store.
func (s *Store) Publication(ctx context.Context, presentity, etag string) (*store.Publication, error) {
	p, err := scanJSON[store.Publication](s.b.Read().QueryRow(ctx,
		`SELECT data FROM presence_publication WHERE presentity = $1 AND etag = $2`, presentity, etag))
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, s.errf("publication "+presentity, err)
	}
	return p, err
}

// DeletePublication implements store.Store.
func (s *Store) DeletePublication(ctx context.Context, presentity, etag string) error {
	n, err := s.exec(ctx, `DELETE FROM presence_publication WHERE presentity = $1 AND etag = $2`, presentity, etag)
	if err != nil {
		return s.errf("delete publication "+presentity, err)
	}
	if n == 0 {
		return store.ErrNotFound
	}
	return nil
}

// Publications implements store.Store.
func (s *Store) Publications(ctx context.Context, presentity string) ([]store.Publication, error) {
	ps, err := listJSON[store.Publication](ctx, s.b.Read(),
		`SELECT data FROM presence_publication WHERE presentity = $1 ORDER BY updated_ms, etag`, presentity)
	if err != nil {
		return nil, s.errf("publications "+presentity, err)
	}
	return ps, nil
}

// DeletePublications implements store.Store.
func (s *Store) DeletePublications(ctx context.Context, presentity string) error {
	if _, err := s.exec(ctx, `DELETE FROM presence_publication WHERE presentity = $1`, presentity); err != nil {
		return s.errf("delete publications "+presentity, err)
	}
	return nil
}

// ExpirePublications implements store.Store.
func (s *Store) ExpirePublications(ctx context.Context, now time.Time) ([]store.Publication, error) {
	var out []store.Publication
	err := s.b.Tx(ctx, func(q hsssql.Querier) error {
		var err error
		out, err = listJSON[store.Publication](ctx, q, `SELECT data FROM presence_publication WHERE expires_ms <= $1
			ORDER BY updated_ms, etag`+s.b.ForUpdate(), now.UnixMilli())
		if err != nil {
			return err
		}
		for _, p := range out {
			if _, err := q.Exec(ctx, `DELETE FROM presence_publication WHERE presentity = $1 AND etag = $2`, p.Presentity, p.ETag); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, s.errf("expire publications", err)
	}
	return out, nil
}

// SaveSubscription implements store.Store.
func (s *Store) SaveSubscription(ctx context.Context, sub *store.Subscription) error {
	data, err := json.Marshal(sub)
	if err != nil {
		return s.errf("save subscription", err)
	}
	if _, err := s.exec(ctx, `INSERT INTO presence_subscription (id, presentity, expires_ms, data) VALUES ($1, $2, $3, $4)
		ON CONFLICT (id) DO UPDATE SET presentity = excluded.presentity, expires_ms = excluded.expires_ms, data = excluded.data`,
		sub.ID, sub.Presentity, ms(sub.Expires), string(data)); err != nil {
		return s.errf("save subscription "+sub.ID, err)
	}
	return nil
}

// Subscription implements store.Store.
func (s *Store) Subscription(ctx context.Context, id string) (*store.Subscription, error) {
	sub, err := scanJSON[store.Subscription](s.b.Read().QueryRow(ctx, `SELECT data FROM presence_subscription WHERE id = $1`, id))
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, s.errf("subscription "+id, err)
	}
	return sub, err
}

// DeleteSubscription implements store.Store.
func (s *Store) DeleteSubscription(ctx context.Context, id string) error {
	n, err := s.exec(ctx, `DELETE FROM presence_subscription WHERE id = $1`, id)
	if err != nil {
		return s.errf("delete subscription "+id, err)
	}
	if n == 0 {
		return store.ErrNotFound
	}
	return nil
}

// Subscriptions implements store.Store.
func (s *Store) Subscriptions(ctx context.Context, presentity string) ([]store.Subscription, error) {
	subs, err := listJSON[store.Subscription](ctx, s.b.Read(),
		`SELECT data FROM presence_subscription WHERE presentity = $1 ORDER BY id`, presentity)
	if err != nil {
		return nil, s.errf("subscriptions "+presentity, err)
	}
	return subs, nil
}

// ExpireSubscriptions implements store.Store.
func (s *Store) ExpireSubscriptions(ctx context.Context, now time.Time) ([]store.Subscription, error) {
	var out []store.Subscription
	err := s.b.Tx(ctx, func(q hsssql.Querier) error {
		var err error
		out, err = listJSON[store.Subscription](ctx, q, `SELECT data FROM presence_subscription WHERE expires_ms <= $1
			ORDER BY id`+s.b.ForUpdate(), now.UnixMilli())
		if err != nil {
			return err
		}
		for _, sub := range out {
			if _, err := q.Exec(ctx, `DELETE FROM presence_subscription WHERE id = $1`, sub.ID); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, s.errf("expire subscriptions", err)
	}
	return out, nil
}

// SetRegistration implements store.Store.
func (s *Store) SetRegistration(ctx context.Context, presentity string, until time.Time) error {
	if _, err := s.exec(ctx, `INSERT INTO presence_registration (presentity, until_ms) VALUES ($1, $2)
		ON CONFLICT (presentity) DO UPDATE SET until_ms = excluded.until_ms`, presentity, ms(until)); err != nil {
		return s.errf("set registration "+presentity, err)
	}
	return nil
}

// Registration implements store.Store.
func (s *Store) Registration(ctx context.Context, presentity string) (time.Time, bool, error) {
	var until int64
	err := s.b.Read().QueryRow(ctx, `SELECT until_ms FROM presence_registration WHERE presentity = $1`, presentity).Scan(&until)
	if errors.Is(err, sql.ErrNoRows) || isNoRows(err) {
		return time.Time{}, false, nil
	}
	if err != nil {
		return time.Time{}, false, s.errf("registration "+presentity, err)
	}
	if until == 0 {
		return time.Time{}, true, nil
	}
	return time.UnixMilli(until), true, nil
}

// PutDocument implements store.Store.
func (s *Store) PutDocument(ctx context.Context, d *store.Document, prev string) error {
	err := s.b.Tx(ctx, func(q hsssql.Querier) error {
		var n int64
		var err error
		if prev == "" {
			n, err = q.Exec(ctx, `INSERT INTO xdms_document (auid, xui, name, etag, body) VALUES ($1, $2, $3, $4, $5)
				ON CONFLICT (auid, xui, name) DO NOTHING`, d.AUID, d.User, d.Name, d.ETag, string(d.Body))
		} else {
			n, err = q.Exec(ctx, `UPDATE xdms_document SET etag = $1, body = $2 WHERE auid = $3 AND xui = $4 AND name = $5 AND etag = $6`,
				d.ETag, string(d.Body), d.AUID, d.User, d.Name, prev)
		}
		if err != nil {
			return err
		}
		if n == 0 {
			return store.ErrConflict
		}
		return nil
	})
	if err != nil && !errors.Is(err, store.ErrConflict) {
		return s.errf("put document "+d.AUID+"/"+d.User+"/"+d.Name, err)
	}
	return err
}

// Document implements store.Store.
func (s *Store) Document(ctx context.Context, auid, user, name string) (*store.Document, error) {
	d := store.Document{AUID: auid, User: user, Name: name}
	var body string
	err := s.b.Read().QueryRow(ctx, `SELECT etag, body FROM xdms_document WHERE auid = $1 AND xui = $2 AND name = $3`,
		auid, user, name).Scan(&d.ETag, &body)
	if errors.Is(err, sql.ErrNoRows) || isNoRows(err) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, s.errf("document "+auid+"/"+user+"/"+name, err)
	}
	d.Body = []byte(body)
	return &d, nil
}

// Documents implements store.Store.
func (s *Store) Documents(ctx context.Context, auid string) ([]store.Document, error) {
	rows, err := s.b.Read().Query(ctx, `SELECT xui, name, etag, body FROM xdms_document WHERE auid = $1 ORDER BY xui, name`, auid)
	if err != nil {
		return nil, s.errf("documents "+auid, err)
	}
	defer rows.Close()
	var out []store.Document
	for rows.Next() {
		d := store.Document{AUID: auid}
		var body string
		if err := rows.Scan(&d.User, &d.Name, &d.ETag, &body); err != nil {
			return nil, s.errf("documents "+auid, err)
		}
		d.Body = []byte(body)
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, s.errf("documents "+auid, err)
	}
	return out, nil
}

// DeleteDocument implements store.Store.
func (s *Store) DeleteDocument(ctx context.Context, auid, user, name, prev string) error {
	err := s.b.Tx(ctx, func(q hsssql.Querier) error {
		var etag string
		err := q.QueryRow(ctx, `SELECT etag FROM xdms_document WHERE auid = $1 AND xui = $2 AND name = $3`+s.b.ForUpdate(),
			auid, user, name).Scan(&etag)
		if errors.Is(err, sql.ErrNoRows) || isNoRows(err) {
			return store.ErrNotFound
		}
		if err != nil {
			return err
		}
		if etag != prev {
			return store.ErrConflict
		}
		_, err = q.Exec(ctx, `DELETE FROM xdms_document WHERE auid = $1 AND xui = $2 AND name = $3`, auid, user, name)
		return err
	})
	if err != nil && !errors.Is(err, store.ErrConflict) && !errors.Is(err, store.ErrNotFound) {
		return s.errf("delete document "+auid+"/"+user+"/"+name, err)
	}
	return err
}

var _ store.Store = (*Store)(nil)
