package hsstest

import (
	"bytes"
	"testing"
	"time"

	"github.com/imscore/imscore/hss"
)

// RunTokenStore is the contract of hss.TokenStore (the fast registration tokens, docs/fastreg.md): the
// switch, one token per IMPI, expiry, drop. newStore returns an empty, migrated store.
func RunTokenStore(t *testing.T, newStore func(t *testing.T) hss.Store) {
	t.Run("SwitchAndToken", func(t *testing.T) {
		s := newStore(t)
		ts, ok := s.(hss.TokenStore)
		if !ok {
			t.Fatalf("%T does not implement hss.TokenStore", s)
		}
		ctx := ctxOf(t)
		sub := createDefault(t, s, "001010000000101", "15550101")
		impi := sub.Private.IMPI
		tok, tok2 := bytes.Repeat([]byte{0xa5}, 32), bytes.Repeat([]byte{0x5a}, 32)
		now := time.Now()

		wantErr(t, ts.SetFastReg(ctx, "nobody@nowhere", true), hss.ErrNotFound)
		_, err := ts.FastReg(ctx, "nobody@nowhere")
		wantErr(t, err, hss.ErrNotFound)
		wantErr(t, ts.PutToken(ctx, "nobody@nowhere", tok, now.Add(time.Hour)), hss.ErrNotFound)

		// Off by default: nothing stored.
		if on, err := ts.FastReg(ctx, impi); err != nil || on {
			t.Fatalf("FastReg of a new IMPI = %v, %v; want off", on, err)
		}
		wantErr(t, ts.PutToken(ctx, impi, tok, now.Add(time.Hour)), hss.ErrFastRegOff)
		if got, _, err := ts.Token(ctx, impi, now); err != nil || got != nil {
			t.Fatalf("Token while off = %x, %v", got, err)
		}

		must(t, ts.SetFastReg(ctx, impi, true))
		must(t, ts.SetFastReg(ctx, impi, true)) // idempotent
		if on, err := ts.FastReg(ctx, impi); err != nil || !on {
			t.Fatalf("FastReg after switching on = %v, %v", on, err)
		}
		expires := now.Add(time.Hour).Truncate(time.Millisecond)
		must(t, ts.PutToken(ctx, impi, tok, expires))
		got, exp, err := ts.Token(ctx, impi, now)
		if err != nil || !bytes.Equal(got, tok) || !exp.Equal(expires) {
			t.Fatalf("Token = %x, %v, %v; want %x, %v", got, exp, err, tok, expires)
		}
		// One token per IMPI: a new push replaces it.
		must(t, ts.PutToken(ctx, impi, tok2, expires))
		if got, _, _ := ts.Token(ctx, impi, now); !bytes.Equal(got, tok2) {
			t.Fatalf("Token after a second push = %x, want %x", got, tok2)
		}
		// Expired: not returned at or after its expiry.
		if got, _, _ := ts.Token(ctx, impi, expires); got != nil {
			t.Fatalf("Token at its expiry = %x, want none", got)
		}
		// Drop.
		if had, err := ts.DropToken(ctx, impi); err != nil || !had {
			t.Fatalf("DropToken = %v, %v", had, err)
		}
		if had, err := ts.DropToken(ctx, impi); err != nil || had {
			t.Fatalf("second DropToken = %v, %v", had, err)
		}
		if got, _, _ := ts.Token(ctx, impi, now); got != nil {
			t.Fatalf("Token after drop = %x", got)
		}
		// Off clears the token.
		must(t, ts.PutToken(ctx, impi, tok, expires))
		must(t, ts.SetFastReg(ctx, impi, false))
		if got, _, _ := ts.Token(ctx, impi, now); got != nil {
			t.Fatalf("Token after switching off = %x", got)
		}
		must(t, ts.SetFastReg(ctx, impi, true))
		if got, _, _ := ts.Token(ctx, impi, now); got != nil {
			t.Fatalf("Token after switching off and on = %x", got)
		}
		// The row goes with the subscriber.
		must(t, s.DeleteSubscriber(ctx, impi))
		_, err = ts.FastReg(ctx, impi)
		wantErr(t, err, hss.ErrNotFound)
	})
	t.Run("ExpireTokens", func(t *testing.T) {
		s := newStore(t)
		ts := s.(hss.TokenStore)
		ctx := ctxOf(t)
		now := time.Now()
		var impis []string
		for i, imsi := range []string{"001010000000201", "001010000000202", "001010000000203"} {
			sub := createDefault(t, s, imsi, "1555020"+string(rune('1'+i)))
			impis = append(impis, sub.Private.IMPI)
			must(t, ts.SetFastReg(ctx, sub.Private.IMPI, true))
		}
		must(t, ts.PutToken(ctx, impis[0], bytes.Repeat([]byte{1}, 32), now.Add(-time.Second)))
		must(t, ts.PutToken(ctx, impis[1], bytes.Repeat([]byte{2}, 32), now.Add(-time.Minute)))
		must(t, ts.PutToken(ctx, impis[2], bytes.Repeat([]byte{3}, 32), now.Add(time.Hour)))
		n, err := ts.ExpireTokens(ctx, now)
		if err != nil || n != 2 {
			t.Fatalf("ExpireTokens = %d, %v; want 2", n, err)
		}
		if n, err := ts.ExpireTokens(ctx, now); err != nil || n != 0 {
			t.Fatalf("second ExpireTokens = %d, %v; want 0", n, err)
		}
		if got, _, _ := ts.Token(ctx, impis[2], now); got == nil {
			t.Fatal("the unexpired token went too")
		}
		if had, _ := ts.DropToken(ctx, impis[0]); had {
			t.Fatal("an expired token was still stored")
		}
	})
}
