package scscf

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/emiago/sipgo/sip"

	"github.com/imscore/imscore/services/scscf/registrar"
	"github.com/imscore/imscore/sip/digest"
	"github.com/imscore/imscore/sip/header"
	"github.com/imscore/imscore/storage/postgres"
	"github.com/imscore/imscore/storage/postgres/pgtest"
)

// TestContactBindings: contacts are bindings of a UA instance (RFC 5626 §4.1, §4.2, §6; TS 24.229
// §5.4.1.2.2). A handset re-registering from another port replaces its contact (watchers see the old one
// terminated); two devices of one IMPU both stay registered and both get the request; the flows of one
// instance (reg-id) are separate bindings, each replaced on its own. On every registrar backend.
func TestContactBindings(t *testing.T) {
	backends := []struct {
		name string
		open func(t *testing.T) registrar.Registrar
	}{
		{"memory", func(*testing.T) registrar.Registrar { return registrar.NewMemory() }},
		{"sqlite", func(t *testing.T) registrar.Registrar {
			db := openSQLite(t, filepath.Join(t.TempDir(), "scscf.db"))
			t.Cleanup(func() { db.Close() })
			return db
		}},
		{"postgres", func(t *testing.T) registrar.Registrar {
			db, err := postgres.Open(context.Background(), pgtest.Start(t), testLogger(t))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			if err := db.Migrate(context.Background()); err != nil {
				t.Fatal(err)
			}
			return db
		}},
	}
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) { testContactBindings(t, b.open(t)) })
	}
}

func testContactBindings(t *testing.T, reg registrar.Registrar) {
	top := t // UEs live as long as the whole test: their sockets close when the test that made them ends
	hss := startFakeHSS(t)
	subA := hss.addSubscriber(t, "001010000000041", "15550000041")
	subB := hss.addSubscriber(t, "001010000000042", "15550000042")
	s := startSCSCF(t, hss, reg)
	alice := newUE(t, s, subA)
	sr := header.Values(alice.registerFully(600), "Service-Route")[0]

	// contacts lists the registered contact URIs of Bob.
	contacts := func(t *testing.T) []string {
		t.Helper()
		r := registered(t, s, subB.impus[1])
		if r == nil {
			t.Fatal("Bob not registered")
		}
		var out []string
		for _, c := range r.Contacts {
			out = append(out, c.URI)
		}
		return out
	}
	wantContacts := func(t *testing.T, ues ...*testUE) {
		t.Helper()
		got := contacts(t)
		if len(got) != len(ues) {
			t.Fatalf("contacts %q, want %d", got, len(ues))
		}
		for _, u := range ues {
			found := false
			for _, c := range got {
				found = found || strings.Contains(c, u.addr.String())
			}
			if !found {
				t.Fatalf("contacts %q: none of %s", got, u.addr)
			}
		}
	}
	// message sends a MESSAGE from Alice to Bob; every UE of ues must get it and answer 200.
	message := func(t *testing.T, ues ...*testUE) {
		t.Helper()
		alice.sendRequest(sip.MESSAGE, subB.impus[1], "<"+subB.impus[1]+">", sr, "b-"+randHex(4), 1, "", "hi")
		for _, u := range ues {
			u.answer(u.request(sip.MESSAGE), 200, "")
		}
		if res := alice.response(); res.StatusCode != 200 {
			t.Fatalf("MESSAGE to Bob: %d, want 200", res.StatusCode)
		}
	}

	phone := newUE(t, s, subB)
	phone.registerFully(600)
	if res := phone.subscribe(600); res.StatusCode != 200 {
		t.Fatalf("SUBSCRIBE: %d", res.StatusCode)
	}
	phone.notify() // the initial state

	t.Run("the same instance from a new port replaces its contact", func(t *testing.T) {
		moved := newUE(top, s, subB) // same instance-id, another socket (port)
		moved.registerFully(600)
		wantContacts(t, moved)
		// The watcher learns that the old contact ended (RFC 3680 §5.3) and the new one is active.
		_, doc := phone.notify()
		var oldTerminated, newActive bool
		for _, r := range doc.Registrations {
			for _, c := range r.Contacts {
				oldTerminated = oldTerminated || strings.Contains(c.URI, phone.addr.String()) && c.State == "terminated"
				newActive = newActive || strings.Contains(c.URI, moved.addr.String()) && c.State == "active"
			}
		}
		if !oldTerminated || !newActive {
			t.Fatalf("NOTIFY after the move: old terminated %v, new active %v\n%+v", oldTerminated, newActive, doc)
		}
		message(t, moved)
		phone = moved
	})

	t.Run("two devices stay registered and both get the request", func(t *testing.T) {
		tablet := newUE(top, s, subB)
		tablet.instance = "urn:uuid:00000000-0000-1000-8000-0000000000b2"
		tablet.registerFully(600)
		wantContacts(t, phone, tablet)
		message(t, phone, tablet)
		// A re-registration of one device from the same address keeps both (integrity-protected: no new
		// challenge, TS 24.229 §5.4.1.2.1).
		if res := tablet.register(600, tablet.emptyAuth()); res.StatusCode != 200 {
			t.Fatalf("re-REGISTER of the tablet: %d", res.StatusCode)
		}
		wantContacts(t, phone, tablet)
		// De-registering one leaves the other.
		if res := tablet.register(0, tablet.emptyAuth()); res.StatusCode != 200 {
			t.Fatalf("de-REGISTER of the tablet: %d", res.StatusCode)
		}
		wantContacts(t, phone)
	})

	t.Run("flows of one instance are bindings of their own", func(t *testing.T) {
		flow1 := newUE(top, s, subB)
		flow1.instance, flow1.regID = "urn:uuid:00000000-0000-1000-8000-0000000000b3", "1"
		flow1.registerFully(600)
		flow2 := newUE(top, s, subB)
		flow2.instance, flow2.regID = flow1.instance, "2"
		flow2.registerFully(600)
		wantContacts(t, phone, flow1, flow2)
		// Flow 1 comes back on another port (RFC 5626 §4.2: same instance-id and reg-id): it replaces flow 1 only.
		again := newUE(top, s, subB)
		again.instance, again.regID = flow1.instance, "1"
		again.registerFully(600)
		wantContacts(t, phone, flow2, again)
		message(t, phone, flow2, again)
	})

	t.Run("a reg-id that is not a number", func(t *testing.T) {
		bad := newUE(top, s, subB)
		bad.instance, bad.regID = "urn:uuid:00000000-0000-1000-8000-0000000000b4", "x1"
		// RFC 3261 §10.3: authentication (step 3) comes before the Contact is processed (step 6).
		res := bad.register(600, bad.emptyAuth())
		if res.StatusCode != 401 {
			t.Fatalf("first REGISTER: %d, want 401", res.StatusCode)
		}
		bad.integrity = digest.IntegrityYes
		if res := bad.register(600, bad.authFor(res, false)); res.StatusCode != 400 {
			t.Fatalf("REGISTER with reg-id=x1: %d, want 400 (RFC 5626 §10: reg-id is 1*10DIGIT)", res.StatusCode)
		}
		if got := contacts(t); len(got) != 3 {
			t.Fatalf("contacts after the bad REGISTER %q, want the 3 before it", got)
		}
	})
}
