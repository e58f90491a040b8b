// Package registrartest is the contract every registrar.Registrar backend must pass: the in-memory one,
// storage/sqlite and storage/postgres run the same suite.
package registrartest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/imscore/imscore/services/scscf/registrar"
)

// Run runs the contract against fresh, empty registrars made by newRegistrar.
func Run(t *testing.T, newRegistrar func(t *testing.T) registrar.Registrar) {
	t0 := time.Date(2026, 11, 21, 8, 0, 0, 0, time.UTC)
	sample := func(impu, impi string, expires time.Time) *registrar.Registration {
		return &registrar.Registration{
			IMPU: impu,
			IMPI: impi,
			Identities: []registrar.Identity{
				{URI: impu},
				{URI: "sip:+15550001@ims.example", DisplayName: "Alice"},
				{URI: "sip:001010000000001@ims.example", Barred: true},
			},
			Contacts: []registrar.Contact{{
				URI: "sip:alice@127.0.0.1:5070", Params: "+sip.instance=\"<urn:gsma:imei:1>\"",
				Path: []string{"<sip:term@127.0.0.1:5060;lr>"}, Expires: expires, CallID: "c1", CSeq: 7, ID: "1",
			}},
			Profile: []byte("<IMSSubscription/>"),
			HSS:     registrar.HSSSession{Host: "hss.example", Realm: "example", ServerName: "sip:scscf:6060"},
			Expires: expires,
		}
	}
	ctx := context.Background()

	t.Run("registration round trip and implicit set lookup", func(t *testing.T) {
		r := newRegistrar(t)
		want := sample("tel:+15550001", "alice@ims.example", t0.Add(time.Hour))
		if err := r.SaveRegistration(ctx, want); err != nil {
			t.Fatal(err)
		}
		for _, impu := range []string{"tel:+15550001", "sip:+15550001@ims.example", "sip:001010000000001@ims.example"} {
			got, err := r.Registration(ctx, impu)
			if err != nil {
				t.Fatalf("Registration(%s): %v", impu, err)
			}
			equalRegistration(t, got, want)
		}
		if _, err := r.Registration(ctx, "sip:nobody@ims.example"); !errors.Is(err, registrar.ErrNotFound) {
			t.Fatalf("unknown IMPU: err %v, want ErrNotFound", err)
		}
	})

	t.Run("save replaces and reindexes", func(t *testing.T) {
		r := newRegistrar(t)
		first := sample("sip:a@x", "a@x", t0)
		if err := r.SaveRegistration(ctx, first); err != nil {
			t.Fatal(err)
		}
		second := first.Clone()
		second.Identities = []registrar.Identity{{URI: "sip:a@x"}, {URI: "sip:a2@x"}}
		second.Contacts[0].CSeq = 8
		if err := r.SaveRegistration(ctx, second); err != nil {
			t.Fatal(err)
		}
		if _, err := r.Registration(ctx, "sip:+15550001@ims.example"); !errors.Is(err, registrar.ErrNotFound) {
			t.Fatalf("identity dropped from the set still found: %v", err)
		}
		got, err := r.Registration(ctx, "sip:a2@x")
		if err != nil {
			t.Fatal(err)
		}
		equalRegistration(t, got, second)
	})

	t.Run("by IMPI, expiry and delete", func(t *testing.T) {
		r := newRegistrar(t)
		for _, reg := range []*registrar.Registration{
			{IMPU: "sip:b@x", IMPI: "u@x", Expires: t0.Add(time.Minute)},
			{IMPU: "sip:a@x", IMPI: "u@x", Expires: t0.Add(-time.Minute)},
			{IMPU: "sip:c@x", IMPI: "v@x", Expires: t0},
		} {
			if err := r.SaveRegistration(ctx, reg); err != nil {
				t.Fatal(err)
			}
		}
		byIMPI, err := r.RegistrationsByIMPI(ctx, "u@x")
		if err != nil {
			t.Fatal(err)
		}
		if got := impus(byIMPI); !reflect.DeepEqual(got, []string{"sip:a@x", "sip:b@x"}) {
			t.Fatalf("by IMPI: %v", got)
		}
		expired, err := r.ExpiredRegistrations(ctx, t0)
		if err != nil {
			t.Fatal(err)
		}
		if got := impus(expired); !reflect.DeepEqual(got, []string{"sip:a@x", "sip:c@x"}) {
			t.Fatalf("expired: %v", got)
		}
		if err := r.DeleteRegistration(ctx, "sip:a@x"); err != nil {
			t.Fatal(err)
		}
		if err := r.DeleteRegistration(ctx, "sip:a@x"); !errors.Is(err, registrar.ErrNotFound) {
			t.Fatalf("second delete: %v", err)
		}
		if _, err := r.Registration(ctx, "sip:a@x"); !errors.Is(err, registrar.ErrNotFound) {
			t.Fatalf("deleted still found: %v", err)
		}
	})

	t.Run("subscriptions", func(t *testing.T) {
		r := newRegistrar(t)
		s1 := &registrar.Subscription{ID: "call1;t1;t2", IMPU: "sip:a@x", Watcher: "sip:a@x", CallID: "call1",
			LocalTag: "t2", RemoteTag: "t1", LocalURI: "sip:a@x", RemoteURI: "sip:a@x",
			RemoteTarget: "sip:ue@127.0.0.1:5070", RouteSet: []string{"<sip:127.0.0.1:5060;lr>"}, CSeq: 3,
			Version: 2, Expires: t0.Add(time.Hour)}
		s2 := &registrar.Subscription{ID: "call2;t1;t2", IMPU: "sip:a@x", Expires: t0}
		s3 := &registrar.Subscription{ID: "call3;t1;t2", IMPU: "sip:b@x", Expires: t0.Add(time.Hour)}
		for _, s := range []*registrar.Subscription{s1, s2, s3} {
			if err := r.SaveSubscription(ctx, s); err != nil {
				t.Fatal(err)
			}
		}
		got, err := r.Subscriptions(ctx, "sip:a@x")
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 2 || got[0].ID != s1.ID || got[1].ID != s2.ID {
			t.Fatalf("subscriptions: %+v", got)
		}
		if !got[0].Expires.Equal(s1.Expires) || !reflect.DeepEqual(got[0].RouteSet, s1.RouteSet) || got[0].Version != 2 {
			t.Fatalf("round trip: %+v", got[0])
		}
		s1.Version = 3
		if err := r.SaveSubscription(ctx, s1); err != nil {
			t.Fatal(err)
		}
		got, _ = r.Subscriptions(ctx, "sip:a@x")
		if got[0].Version != 3 {
			t.Fatalf("update lost: version %d", got[0].Version)
		}
		one, err := r.Subscription(ctx, s3.ID)
		if err != nil || one.IMPU != "sip:b@x" {
			t.Fatalf("Subscription(%s) = %+v, %v", s3.ID, one, err)
		}
		if _, err := r.Subscription(ctx, "nope"); !errors.Is(err, registrar.ErrNotFound) {
			t.Fatalf("unknown subscription: %v", err)
		}
		expired, err := r.ExpiredSubscriptions(ctx, t0)
		if err != nil {
			t.Fatal(err)
		}
		if len(expired) != 1 || expired[0].ID != s2.ID {
			t.Fatalf("expired: %+v", expired)
		}
		if err := r.DeleteSubscription(ctx, s2.ID); err != nil {
			t.Fatal(err)
		}
		if err := r.DeleteSubscription(ctx, s2.ID); !errors.Is(err, registrar.ErrNotFound) {
			t.Fatalf("second delete: %v", err)
		}
	})

	t.Run("challenges: replaced per IMPI, taken once by nonce, expired taken once", func(t *testing.T) {
		r := newRegistrar(t)
		c := func(impi, nonce string, expires time.Time) *registrar.Challenge {
			return &registrar.Challenge{IMPI: impi, IMPU: "sip:" + impi, Scheme: "Digest-AKAv1-MD5",
				Algorithm: "AKAv1-MD5", Nonce: nonce, Realm: "ims.example", RAND: []byte{1, 2, 3},
				XRES: []byte{4, 5}, CK: []byte{6}, IK: []byte{7}, HA1: "ha1", Expires: expires}
		}
		for _, ch := range []*registrar.Challenge{c("a@x", "n1", t0.Add(time.Minute)), c("a@x", "n2", t0.Add(time.Minute)),
			c("b@x", "n3", t0), c("c@x", "n4", t0.Add(-time.Second))} {
			if err := r.SaveChallenge(ctx, ch); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := r.TakeChallenge(ctx, "a@x", "n1"); !errors.Is(err, registrar.ErrNotFound) {
			t.Fatalf("replaced challenge taken: %v", err)
		}
		got, err := r.TakeChallenge(ctx, "a@x", "n2")
		if err != nil {
			t.Fatal(err)
		}
		if want := c("a@x", "n2", t0.Add(time.Minute)); !got.Expires.Equal(want.Expires) ||
			!reflect.DeepEqual(got.XRES, want.XRES) || !reflect.DeepEqual(got.CK, want.CK) || got.HA1 != "ha1" ||
			got.IMPU != want.IMPU || got.Algorithm != want.Algorithm || !reflect.DeepEqual(got.RAND, want.RAND) {
			t.Fatalf("round trip: %+v", got)
		}
		if _, err := r.TakeChallenge(ctx, "a@x", "n2"); !errors.Is(err, registrar.ErrNotFound) {
			t.Fatalf("challenge taken twice: %v", err)
		}
		expired, err := r.TakeExpiredChallenges(ctx, t0)
		if err != nil {
			t.Fatal(err)
		}
		if len(expired) != 2 || expired[0].IMPI != "b@x" || expired[1].IMPI != "c@x" {
			t.Fatalf("expired: %+v", expired)
		}
		if again, err := r.TakeExpiredChallenges(ctx, t0); err != nil || len(again) != 0 {
			t.Fatalf("expired taken twice: %+v, %v", again, err)
		}
		if _, err := r.TakeChallenge(ctx, "b@x", "n3"); !errors.Is(err, registrar.ErrNotFound) {
			t.Fatalf("expired challenge still there: %v", err)
		}
	})

	t.Run("count registrations and contacts", func(t *testing.T) {
		r := newRegistrar(t)
		if regs, contacts, err := r.CountRegistrations(ctx); err != nil || regs != 0 || contacts != 0 {
			t.Fatalf("empty store: %d, %d, %v", regs, contacts, err)
		}
		a := sample("sip:a@x", "a@x", t0.Add(time.Hour))
		a.Contacts = append(a.Contacts, registrar.Contact{URI: "sip:alice@127.0.0.1:5072", Expires: t0.Add(time.Hour)})
		b := sample("sip:b@x", "b@x", t0)
		b.Identities = []registrar.Identity{{URI: "sip:b@x"}}
		c := sample("sip:c@x", "c@x", t0)
		c.Identities, c.Contacts = []registrar.Identity{{URI: "sip:c@x"}}, nil
		for _, reg := range []*registrar.Registration{a, b, c} {
			if err := r.SaveRegistration(ctx, reg); err != nil {
				t.Fatal(err)
			}
		}
		if regs, contacts, err := r.CountRegistrations(ctx); err != nil || regs != 3 || contacts != 3 {
			t.Fatalf("count: %d registrations, %d contacts, %v; want 3, 3", regs, contacts, err)
		}
	})
}

// RunPool runs the pool contract: open returns two handles on one store (two S-CSCF processes on one
// database). Registrations are rows per contact binding, written by compare-and-set on their version.
func RunPool(t *testing.T, open func(t *testing.T) (registrar.Registrar, registrar.Registrar)) {
	ctx := context.Background()
	t0 := time.Now().Truncate(time.Millisecond)
	twoDevices := func(impu string) *registrar.Registration {
		return &registrar.Registration{IMPU: impu, IMPI: "u@x", Identities: []registrar.Identity{{URI: impu}},
			Contacts: []registrar.Contact{
				{URI: "sip:u@10.0.0.1:5060", Params: `+sip.instance="<urn:gsma:imei:1>";reg-id=1`, ID: "1", CallID: "a", CSeq: 1,
					Path: []string{"<sip:p1@10.0.0.9;lr>"}, Expires: t0.Add(time.Hour)},
				// The same URI, another instance: another binding (RFC 5626 §4.1).
				{URI: "sip:u@10.0.0.1:5060", Params: `+sip.instance="<urn:gsma:imei:2>";reg-id=1`, ID: "2", CallID: "b", CSeq: 1,
					Expires: t0.Add(time.Hour)},
			},
			Expires: t0.Add(time.Hour)}
	}

	t.Run("a contact row per binding, each removed on its own", func(t *testing.T) {
		a, b := open(t)
		vs, ok := a.(registrar.VersionedStore)
		if !ok {
			t.Skip("not a versioned store")
		}
		r := twoDevices("sip:devices@x")
		r.Version = 1
		if err := vs.SaveRegistrationVersion(ctx, r, registrar.Absent); err != nil {
			t.Fatal(err)
		}
		got, err := b.Registration(ctx, r.IMPU)
		if err != nil || len(got.Contacts) != 2 || got.Version != 1 {
			t.Fatalf("two devices: %+v, %v", got, err)
		}
		equalRegistration(t, got, r)
		// The first device de-registers.
		r.Contacts, r.Version = r.Contacts[1:], 2
		if err := vs.SaveRegistrationVersion(ctx, r, 1); err != nil {
			t.Fatal(err)
		}
		got, err = b.Registration(ctx, r.IMPU)
		if err != nil || len(got.Contacts) != 1 || got.Contacts[0].ID != "2" || got.Version != 2 {
			t.Fatalf("after the first device left: %+v, %v", got, err)
		}
		if _, contacts, _ := b.CountRegistrations(ctx); contacts != 1 {
			t.Fatalf("contact rows %d, want 1", contacts)
		}
	})

	t.Run("compare-and-set: a stale writer conflicts, never overwrites", func(t *testing.T) {
		a, b := open(t)
		va, ok := a.(registrar.VersionedStore)
		if !ok {
			t.Skip("not a versioned store")
		}
		r := twoDevices("sip:cas@x")
		r.Version = 1
		if err := va.SaveRegistrationVersion(ctx, r, registrar.Absent); err != nil {
			t.Fatal(err)
		}
		if err := va.SaveRegistrationVersion(ctx, r, registrar.Absent); !errors.Is(err, registrar.ErrConflict) {
			t.Fatalf("second insert: %v, want ErrConflict", err)
		}
		// Two S-CSCFs' tables on the store: the second changes the registration, the first's copy is stale.
		t1 := registrar.NewTable(registrar.TableConfig{Store: a, Shared: true})
		t2 := registrar.NewTable(registrar.TableConfig{Store: b, Shared: true})
		stale, err := t1.Registration(ctx, r.IMPU)
		if err != nil {
			t.Fatal(err)
		}
		fresh, err := t2.Registration(ctx, r.IMPU)
		if err != nil {
			t.Fatal(err)
		}
		fresh.Contacts = fresh.Contacts[:1]
		if err := t2.SaveRegistrationIf(ctx, fresh, fresh.Version); err != nil {
			t.Fatal(err)
		}
		stale.Contacts[0].CSeq = 9
		if err := t1.SaveRegistrationIf(ctx, stale, stale.Version); !errors.Is(err, registrar.ErrConflict) {
			t.Fatalf("stale write: %v, want ErrConflict", err)
		}
		// The stale copy is dropped: the next read is the store's.
		again, err := t1.Registration(ctx, r.IMPU)
		if err != nil || len(again.Contacts) != 1 || again.Contacts[0].CSeq != 1 {
			t.Fatalf("after the conflict: %+v, %v", again, err)
		}
		if err := t1.DeleteRegistrationIf(ctx, r.IMPU, again.Version); err != nil {
			t.Fatal(err)
		}
		if _, err := b.Registration(ctx, r.IMPU); !errors.Is(err, registrar.ErrNotFound) {
			t.Fatalf("deleted through the other handle: %v", err)
		}
	})
}

// RunBatch checks registrar.BatchStore: several writes in one transaction, each judged on its own version.
func RunBatch(t *testing.T, open func(t *testing.T) (registrar.Registrar, registrar.Registrar)) {
	ctx := context.Background()
	t0 := time.Now().Truncate(time.Millisecond)
	reg := func(impu string, version uint64, cseq uint32) *registrar.Registration {
		return &registrar.Registration{IMPU: impu, IMPI: "batch@x", Version: version,
			Identities: []registrar.Identity{{URI: impu}, {URI: impu + ";alias"}},
			Contacts: []registrar.Contact{{URI: "sip:u@10.0.0.1:5060", ID: "1", CallID: "c", CSeq: cseq,
				Expires: t0.Add(time.Hour)}},
			Expires: t0.Add(time.Hour)}
	}
	a, b := open(t)
	bs, ok := a.(registrar.BatchStore)
	if !ok {
		t.Skip("not a batch store")
	}
	vs := b.(registrar.VersionedStore)
	for _, impu := range []string{"sip:b1@x", "sip:b2@x", "sip:b3@x"} {
		if err := vs.SaveRegistrationVersion(ctx, reg(impu, 1, 1), registrar.Absent); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.SaveSubscription(ctx, &registrar.Subscription{ID: "old-sub", IMPU: "sip:b1@x", Expires: t0.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if err := b.SaveChallenge(ctx, &registrar.Challenge{IMPI: "batch@x", Nonce: "n1", Expires: t0.Add(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	res, err := bs.WriteJournal(ctx, []registrar.JournalWrite{
		{IMPU: "sip:b1@x", Reg: reg("sip:b1@x", 2, 2), Base: 1}, // refresh
		{IMPU: "sip:b2@x", Reg: reg("sip:b2@x", 3, 3), Base: 2}, // stale: the store holds 1
		{IMPU: "sip:b3@x", Base: 1},                             // removal
		{IMPU: "sip:b4@x", Reg: reg("sip:b4@x", 1, 1)},          // new
		{IMPU: "sip:gone@x", Base: 5},                           // removal of nothing
		{Sub: &registrar.Subscription{ID: "new-sub", IMPU: "sip:b4@x", Expires: t0.Add(time.Hour)}},
		{SubscriptionID: "old-sub"},
		{SubscriptionID: "no-such-sub"},
		{IMPI: "batch@x", Nonce: "n1"}, // taken
		{Chal: &registrar.Challenge{IMPI: "batch2@x", Nonce: "n2", Expires: t0.Add(time.Minute)}},
		{IMPI: "batch2@x", Nonce: "other"}, // wrong nonce: nothing taken
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []error{nil, registrar.ErrConflict, nil, nil, registrar.ErrNotFound, nil, nil, registrar.ErrNotFound, nil, nil,
		registrar.ErrNotFound}
	if len(res) != len(want) {
		t.Fatalf("%d outcomes, want %d", len(res), len(want))
	}
	for i, w := range want {
		if (w == nil) != (res[i] == nil) || w != nil && !errors.Is(res[i], w) {
			t.Fatalf("outcome %d: %v, want %v (all: %v)", i, res[i], w, res)
		}
	}
	if _, err := b.Subscription(ctx, "new-sub"); err != nil {
		t.Fatalf("subscription saved in the batch: %v", err)
	}
	if _, err := b.Subscription(ctx, "old-sub"); !errors.Is(err, registrar.ErrNotFound) {
		t.Fatalf("subscription removed in the batch: %v", err)
	}
	if _, err := b.TakeChallenge(ctx, "batch@x", "n1"); !errors.Is(err, registrar.ErrNotFound) {
		t.Fatalf("challenge taken in the batch is still there: %v", err)
	}
	if c, err := b.TakeChallenge(ctx, "batch2@x", "n2"); err != nil || c.Nonce != "n2" {
		t.Fatalf("challenge saved in the batch: %+v, %v", c, err)
	}
	if got, err := b.Registration(ctx, "sip:b1@x;alias"); err != nil || got.Version != 2 || got.Contacts[0].CSeq != 2 {
		t.Fatalf("refreshed registration: %+v, %v", got, err)
	}
	if got, err := b.Registration(ctx, "sip:b2@x"); err != nil || got.Version != 1 || got.Contacts[0].CSeq != 1 {
		t.Fatalf("the conflicting write changed the stored registration: %+v, %v", got, err)
	}
	if _, err := b.Registration(ctx, "sip:b3@x;alias"); !errors.Is(err, registrar.ErrNotFound) {
		t.Fatalf("removed registration: %v", err)
	}
	if got, err := b.Registration(ctx, "sip:b4@x"); err != nil || got.Version != 1 {
		t.Fatalf("new registration: %+v, %v", got, err)
	}
	// A write that fails otherwise rolls the whole batch back.
	if _, err := bs.WriteJournal(ctx, []registrar.JournalWrite{
		{IMPU: "sip:b1@x", Reg: reg("sip:b1@x", 3, 3), Base: 2},
		{IMPU: "sip:b5@x", Reg: reg("sip:other@x", 1, 1)},
	}); err == nil {
		t.Fatal("a batch with a malformed write committed")
	}
	if got, err := b.Registration(ctx, "sip:b1@x"); err != nil || got.Version != 2 {
		t.Fatalf("after a failed batch: %+v, %v; want version 2", got, err)
	}

	// A table on the store flushes through the batch and keeps working against it.
	tb := registrar.NewTable(registrar.TableConfig{Store: a})
	for i := range 10 {
		impu := fmt.Sprintf("sip:t%d@x", i)
		if err := tb.SaveRegistration(ctx, reg(impu, 0, 1)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tb.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if n, _, err := b.CountRegistrations(ctx); err != nil || n != 3+10 {
		t.Fatalf("registrations stored %d (%v), want 13", n, err)
	}
}

func impus(rs []*registrar.Registration) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.IMPU)
	}
	return out
}

func equalRegistration(t *testing.T, got, want *registrar.Registration) {
	t.Helper()
	if !got.Expires.Equal(want.Expires) {
		t.Fatalf("expires %v, want %v", got.Expires, want.Expires)
	}
	g, w := got.Clone(), want.Clone()
	g.Expires, w.Expires = time.Time{}, time.Time{}
	// The version is the store's counter, the parsed profile a cache of Profile: neither is compared.
	g.Version, w.Version, g.Parsed, w.Parsed = 0, 0, nil, nil
	for i := range g.Contacts {
		if i < len(w.Contacts) && !g.Contacts[i].Expires.Equal(w.Contacts[i].Expires) {
			t.Fatalf("contact %d expires %v, want %v", i, g.Contacts[i].Expires, w.Contacts[i].Expires)
		}
		g.Contacts[i].Expires = time.Time{}
	}
	for i := range w.Contacts {
		w.Contacts[i].Expires = time.Time{}
	}
	if !reflect.DeepEqual(g, w) {
		t.Fatalf("registration\n got %+v\nwant %+v", g, w)
	}
}
