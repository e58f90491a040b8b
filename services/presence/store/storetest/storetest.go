// Package storetest is the contract every presence store.Store implementation passes.
package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/imscore/imscore/services/presence/store"
)

// Run runs the contract against stores from open (a fresh, empty store each call).
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	ctx := context.Background()
	now := time.Now().Truncate(time.Millisecond)
	t.Run("publications", func(t *testing.T) {
		s := open(t)
		a := "sip:alice@example.org"
		p1 := &store.Publication{Presentity: a, ETag: "e1", Expires: now.Add(time.Hour), Updated: now, Body: []byte("<one/>")}
		p2 := &store.Publication{Presentity: a, ETag: "e2", Expires: now.Add(-time.Second), Updated: now.Add(time.Millisecond), Body: []byte("<two/>")}
		for _, p := range []*store.Publication{p1, p2} {
			if err := s.SavePublication(ctx, p, ""); err != nil {
				t.Fatal(err)
			}
		}
		ps, err := s.Publications(ctx, a)
		if err != nil || len(ps) != 2 || ps[0].ETag != "e1" || string(ps[1].Body) != "<two/>" {
			t.Fatalf("Publications = %+v, %v", ps, err)
		}
		// A modification gets a new entity-tag and the old one is gone (RFC 3903 §4.4).
		p3 := *p1
		p3.ETag, p3.Body, p3.Updated = "e3", []byte("<three/>"), now.Add(2*time.Millisecond)
		if err := s.SavePublication(ctx, &p3, "e1"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Publication(ctx, a, "e1"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("replaced e1: %v", err)
		}
		if got, err := s.Publication(ctx, a, "e3"); err != nil || string(got.Body) != "<three/>" || !got.Expires.Equal(p3.Expires) {
			t.Errorf("e3 = %+v, %v", got, err)
		}
		exp, err := s.ExpirePublications(ctx, now)
		if err != nil || len(exp) != 1 || exp[0].ETag != "e2" {
			t.Fatalf("ExpirePublications = %+v, %v", exp, err)
		}
		if err := s.DeletePublication(ctx, a, "e2"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("delete expired: %v", err)
		}
		if err := s.DeletePublications(ctx, a); err != nil {
			t.Fatal(err)
		}
		if ps, _ := s.Publications(ctx, a); len(ps) != 0 {
			t.Errorf("after DeletePublications: %+v", ps)
		}
	})
	t.Run("subscriptions", func(t *testing.T) {
		s := open(t)
		sub := &store.Subscription{ID: "c;r;l", Presentity: "sip:a@x", Event: "presence", Watcher: "sip:b@x",
			RouteSet: []string{"<sip:p;lr>"}, CSeq: 3, Expires: now.Add(time.Hour), State: "active"}
		if err := s.SaveSubscription(ctx, sub); err != nil {
			t.Fatal(err)
		}
		got, err := s.Subscription(ctx, "c;r;l")
		if err != nil || got.CSeq != 3 || len(got.RouteSet) != 1 || got.State != "active" || !got.Expires.Equal(sub.Expires) {
			t.Fatalf("Subscription = %+v, %v", got, err)
		}
		if l, err := s.Subscriptions(ctx, "sip:a@x"); err != nil || len(l) != 1 {
			t.Errorf("Subscriptions = %+v, %v", l, err)
		}
		if l, _ := s.Subscriptions(ctx, "sip:b@x"); len(l) != 0 {
			t.Errorf("other presentity's = %+v", l)
		}
		if e, err := s.ExpireSubscriptions(ctx, now); err != nil || len(e) != 0 {
			t.Errorf("nothing expired: %+v, %v", e, err)
		}
		if e, err := s.ExpireSubscriptions(ctx, now.Add(2*time.Hour)); err != nil || len(e) != 1 {
			t.Errorf("expired: %+v, %v", e, err)
		}
		if err := s.DeleteSubscription(ctx, "c;r;l"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("delete after expiry: %v", err)
		}
	})
	t.Run("registration", func(t *testing.T) {
		s := open(t)
		if _, known, err := s.Registration(ctx, "sip:a@x"); err != nil || known {
			t.Fatalf("unknown: %v %v", known, err)
		}
		if err := s.SetRegistration(ctx, "sip:a@x", now.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		if err := s.SetRegistration(ctx, "sip:a@x", time.Time{}); err != nil {
			t.Fatal(err)
		}
		if u, known, err := s.Registration(ctx, "sip:a@x"); err != nil || !known || !u.IsZero() {
			t.Fatalf("de-registered: %v %v %v", u, known, err)
		}
	})
	t.Run("documents", func(t *testing.T) {
		s := open(t)
		d := &store.Document{AUID: "pres-rules", User: "sip:a@x", Name: "index", ETag: "1", Body: []byte("<r/>")}
		if err := s.PutDocument(ctx, d, "x"); !errors.Is(err, store.ErrConflict) {
			t.Errorf("update of an absent document: %v", err)
		}
		if err := s.PutDocument(ctx, d, ""); err != nil {
			t.Fatal(err)
		}
		if err := s.PutDocument(ctx, d, ""); !errors.Is(err, store.ErrConflict) {
			t.Errorf("create over an existing one: %v", err)
		}
		d2 := *d
		d2.ETag, d2.Body = "2", []byte("<r2/>")
		if err := s.PutDocument(ctx, &d2, "1"); err != nil {
			t.Fatal(err)
		}
		if got, err := s.Document(ctx, "pres-rules", "sip:a@x", "index"); err != nil || got.ETag != "2" || string(got.Body) != "<r2/>" {
			t.Fatalf("Document = %+v, %v", got, err)
		}
		if err := s.DeleteDocument(ctx, "pres-rules", "sip:a@x", "index", "1"); !errors.Is(err, store.ErrConflict) {
			t.Errorf("stale delete: %v", err)
		}
		if err := s.DeleteDocument(ctx, "pres-rules", "sip:a@x", "index", "2"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Document(ctx, "pres-rules", "sip:a@x", "index"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("deleted: %v", err)
		}
	})
	t.Run("documents of a usage", func(t *testing.T) {
		s := open(t)
		for _, d := range []store.Document{
			{AUID: "rls-services", User: "sip:b@x", Name: "index", ETag: "1", Body: []byte("<b/>")},
			{AUID: "rls-services", User: "sip:a@x", Name: "index", ETag: "2", Body: []byte("<a/>")},
			{AUID: "pres-rules", User: "sip:a@x", Name: "index", ETag: "3", Body: []byte("<p/>")},
		} {
			if err := s.PutDocument(ctx, &d, ""); err != nil {
				t.Fatal(err)
			}
		}
		docs, err := s.Documents(ctx, "rls-services")
		if err != nil || len(docs) != 2 || docs[0].User != "sip:a@x" || string(docs[0].Body) != "<a/>" || docs[1].ETag != "1" ||
			docs[1].AUID != "rls-services" {
			t.Fatalf("Documents = %+v, %v", docs, err)
		}
		if docs, err := s.Documents(ctx, "resource-lists"); err != nil || len(docs) != 0 {
			t.Errorf("Documents of an unused usage = %+v, %v", docs, err)
		}
	})
	t.Run("list subscription fields", func(t *testing.T) {
		s := open(t)
		sub := &store.Subscription{ID: "c;r;l", Presentity: "sip:list@x", Event: "presence", Expires: time.Now().Add(time.Hour),
			Resources: []string{"sip:a@x", "sip:b@x"}}
		back := &store.Subscription{ID: "c;r;l|sip:a@x", Presentity: "sip:a@x", Event: "presence", List: sub.ID, Expires: sub.Expires}
		for _, x := range []*store.Subscription{sub, back} {
			if err := s.SaveSubscription(ctx, x); err != nil {
				t.Fatal(err)
			}
		}
		if got, err := s.Subscription(ctx, sub.ID); err != nil || len(got.Resources) != 2 || got.Resources[1] != "sip:b@x" {
			t.Errorf("list subscription = %+v, %v", got, err)
		}
		if got, err := s.Subscriptions(ctx, "sip:a@x"); err != nil || len(got) != 1 || got[0].List != sub.ID {
			t.Errorf("back-end subscriptions = %+v, %v", got, err)
		}
	})
}
