package hss

import (
	"bytes"
	"context"
	"time"
)

// TokenStore is what the HSS's fast registration (docs/fastreg.md "Core side") keeps: the per-subscriber
// switch and one token per private identity with its expiry. The SQL stores (storage/sqlite,
// storage/postgres) implement it beside Store; hss/hsstest.RunTokenStore is its contract. The Server serves
// the token application only when its store implements it and fastreg.enabled is set.
type TokenStore interface {
	// SetFastReg turns the scheme on or off for impi. Turning it off also clears impi's token.
	// ErrNotFound when impi does not exist.
	SetFastReg(ctx context.Context, impi string, enabled bool) error
	// FastReg reports whether the scheme is on for impi (false for an IMPI never switched on).
	// ErrNotFound when impi does not exist.
	FastReg(ctx context.Context, impi string) (bool, error)
	// PutToken stores token for impi until expires, replacing any earlier one. It stores nothing and returns
	// ErrFastRegOff when the scheme is off for impi; ErrNotFound when impi does not exist.
	PutToken(ctx context.Context, impi string, token []byte, expires time.Time) error
	// Token returns impi's token if one is stored that has not expired at now, else nil (no error).
	Token(ctx context.Context, impi string, now time.Time) ([]byte, time.Time, error)
	// DropToken clears impi's token (none stored is no error) and reports whether there was one.
	DropToken(ctx context.Context, impi string) (bool, error)
	// ExpireTokens clears every token expired at now and returns how many.
	ExpireTokens(ctx context.Context, now time.Time) (int, error)
}

// AccessTokens is the fast registration token store as the EAP server's AccessTokenSink (eap.go): the HSS as
// EAP-TLS server keeps the token it exported in the same place a PAA's Token-Push puts it, so the S-CSCF finds
// it in the MAA either way (docs/fastreg.md). A drop removes the token only while it is still the one the
// ending session stored, so that an older access session ending never removes a newer session's token (the
// read and the delete are two statements: a push landing between them is lost, and the UE falls back to AKA).
func AccessTokens(st TokenStore) AccessTokenSink { return accessTokens{st} }

type accessTokens struct{ st TokenStore }

func (a accessTokens) StoreAccessToken(ctx context.Context, impi string, token []byte, expires time.Time) error {
	return a.st.PutToken(ctx, impi, token, expires)
}

func (a accessTokens) DropAccessToken(ctx context.Context, impi string, token []byte) error {
	cur, _, err := a.st.Token(ctx, impi, time.Now())
	if err != nil || cur == nil || !bytes.Equal(cur, token) {
		return err
	}
	_, err = a.st.DropToken(ctx, impi)
	return err
}
