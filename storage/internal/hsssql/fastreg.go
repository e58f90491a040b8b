package hsssql

import (
	"context"
	"fmt"
	"time"

	"github.com/imscore/imscore/hss"
)

// The fast registration tokens (hss.TokenStore, migration 0008 hss_fastreg). Expiry is kept as Unix
// milliseconds so that both backends compare it the same way.

// SetFastReg implements hss.TokenStore.
func (s *Store) SetFastReg(ctx context.Context, impi string, enabled bool) error {
	err := s.b.Tx(ctx, func(q Querier) error {
		if err := impiExists(ctx, q, impi); err != nil {
			return err
		}
		if enabled {
			_, err := q.Exec(ctx, "INSERT INTO hss_fastreg (impi, enabled, updated_at) VALUES ($1, TRUE, $2)"+
				" ON CONFLICT (impi) DO UPDATE SET enabled = TRUE, updated_at = $2", impi, now())
			return err
		}
		// Off: the row goes, and the token with it.
		_, err := q.Exec(ctx, "DELETE FROM hss_fastreg WHERE impi = $1", impi)
		return err
	})
	if err != nil {
		return fmt.Errorf("set fastreg %s: %w", impi, s.b.Classify(err))
	}
	return nil
}

// FastReg implements hss.TokenStore.
func (s *Store) FastReg(ctx context.Context, impi string) (bool, error) {
	q := s.b.Read()
	var enabled bool
	err := q.QueryRow(ctx, "SELECT enabled FROM hss_fastreg WHERE impi = $1", impi).Scan(&enabled)
	if isNoRows(err) {
		if err := impiExists(ctx, q, impi); err != nil {
			return false, fmt.Errorf("fastreg %s: %w", impi, err)
		}
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("fastreg %s: %w", impi, err)
	}
	return enabled, nil
}

// PutToken implements hss.TokenStore: one statement when the scheme is on.
func (s *Store) PutToken(ctx context.Context, impi string, token []byte, expires time.Time) error {
	err := s.b.Tx(ctx, func(q Querier) error {
		n, err := q.Exec(ctx, "UPDATE hss_fastreg SET token = $2, expires_at = $3, updated_at = $4"+
			" WHERE impi = $1 AND enabled", impi, token, expires.UnixMilli(), now())
		if err != nil || n > 0 {
			return err
		}
		if err := impiExists(ctx, q, impi); err != nil {
			return err
		}
		return hss.ErrFastRegOff
	})
	if err != nil {
		return fmt.Errorf("put token %s: %w", impi, err)
	}
	return nil
}

// Token implements hss.TokenStore.
func (s *Store) Token(ctx context.Context, impi string, at time.Time) ([]byte, time.Time, error) {
	var (
		token   []byte
		expires int64
	)
	err := s.b.Read().QueryRow(ctx, "SELECT token, expires_at FROM hss_fastreg"+
		" WHERE impi = $1 AND enabled AND token IS NOT NULL AND expires_at > $2", impi, at.UnixMilli()).Scan(&token, &expires)
	if isNoRows(err) {
		return nil, time.Time{}, nil
	}
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("token %s: %w", impi, err)
	}
	return append([]byte(nil), token...), time.UnixMilli(expires).UTC(), nil
}

// DropToken implements hss.TokenStore.
func (s *Store) DropToken(ctx context.Context, impi string) (bool, error) {
	var n int64
	err := s.b.Tx(ctx, func(q Querier) (err error) {
		n, err = q.Exec(ctx, "UPDATE hss_fastreg SET token = NULL, expires_at = 0, updated_at = $2"+
			" WHERE impi = $1 AND token IS NOT NULL", impi, now())
		return err
	})
	if err != nil {
		return false, fmt.Errorf("drop token %s: %w", impi, err)
	}
	return n > 0, nil
}

// ExpireTokens implements hss.TokenStore.
func (s *Store) ExpireTokens(ctx context.Context, at time.Time) (int, error) {
	var n int64
	err := s.b.Tx(ctx, func(q Querier) (err error) {
		n, err = q.Exec(ctx, "UPDATE hss_fastreg SET token = NULL, expires_at = 0, updated_at = $2"+
			" WHERE token IS NOT NULL AND expires_at <= $1", at.UnixMilli(), now())
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("expire tokens: %w", err)
	}
	return int(n), nil
}

var _ hss.TokenStore = (*Store)(nil)
