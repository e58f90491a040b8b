// Package bindingstest is the contract every bindings.Store passes (storage/sqlite, storage/postgres).
package bindingstest

import (
	"context"
	"net/netip"
	"reflect"
	"testing"
	"time"

	"github.com/imscore/imscore/services/pcscf/bindings"
	"github.com/imscore/imscore/sip/ipsec"
)

// Run checks the contract on stores from open (each call a fresh, migrated database).
func Run(t *testing.T, open func(t *testing.T) bindings.Store) {
	t.Run("RoundTrip", func(t *testing.T) { roundTrip(t, open(t)) })
	t.Run("TwoContactsOneIMPU", func(t *testing.T) { twoContacts(t, open(t)) })
	t.Run("CompareAndSet", func(t *testing.T) { compareAndSet(t, open(t)) })
	t.Run("PoolTakeover", func(t *testing.T) { poolTakeover(t, open(t)) })
}

// Binding is a full binding of UE i with contact c: every field set, one SA set.
func Binding(i int, c string) bindings.Binding {
	ue := netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)})
	exp := time.UnixMilli(time.Now().Add(time.Hour).UnixMilli())
	pair := ipsec.Pair{
		UE:    ipsec.Endpoint{Addr: ue, PortC: 50000, PortS: 50001, SPIC: 0xdeadbeef, SPIS: 2},
		PCSCF: ipsec.Endpoint{Addr: netip.MustParseAddr("127.0.0.1"), PortC: 5100, PortS: 6100, SPIC: 70000, SPIS: 70001},
		Algs:  ipsec.Algorithms{Integrity: ipsec.HMACSHA196, Encryption: ipsec.EncryptionAESCBC},
	}
	pair.IK[0], pair.CK[15] = 0xAA, 0xBB
	return bindings.Binding{
		IMPU: "sip:alice@ims.example", IMPI: "alice@ims.example", Contact: c,
		ContactHost: ue.String(), ContactPort: 5060, Transport: "UDP", Source: netip.AddrPortFrom(ue, 5060),
		Associated: []string{"sip:alice@ims.example", "tel:+15550001"}, ServiceRoute: []string{"<sip:orig@scscf.example;lr>"},
		Expires: exp,
		RegEvent: &bindings.RegEvent{CallID: "cid", LocalTag: "tag", Peer: netip.MustParseAddr("127.0.0.2"),
			IMPU: "sip:alice@ims.example", Contact: c, Expires: exp},
		SAs: []bindings.SASet{{Pair: pair, SecurityServer: "ipsec-3gpp;q=0.1", SecurityClient: "ipsec-3gpp;alg=hmac-sha-1-96",
			Expires: exp.Add(30 * time.Second), Confirmed: true, OutboundSeq: 4242}},
	}
}

func key(b bindings.Binding) bindings.Key {
	return bindings.Key{IMPU: "sip:alice@ims.example", Contact: b.Contact}
}

func must(t *testing.T, s bindings.Store, owner string, cs ...bindings.Change) []bindings.Outcome {
	t.Helper()
	out, err := s.ApplyBindings(context.Background(), owner, cs)
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != len(cs) {
		t.Fatalf("%d outcomes for %d changes", len(out), len(cs))
	}
	return out
}

func load(t *testing.T, s bindings.Store, owner string) []bindings.Stored {
	t.Helper()
	got, err := s.LoadBindings(context.Background(), owner)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func roundTrip(t *testing.T, s bindings.Store) {
	b := Binding(1, "<urn:uuid:1>;reg-id=1")
	out := must(t, s, "p1", bindings.Change{Key: key(b), Binding: &b})
	if out[0].Lost || out[0].Version != 1 {
		t.Fatalf("insert: %+v", out[0])
	}
	got := load(t, s, "p1")
	if len(got) != 1 || got[0].Version != 1 || !reflect.DeepEqual(got[0].Binding, b) {
		t.Fatalf("loaded %+v\nwant %+v", got, b)
	}
	if other := load(t, s, "p2"); len(other) != 0 {
		t.Fatalf("another owner loads %d bindings", len(other))
	}
	// An update replaces the SA sets; no SA set and no subscription survive as nothing.
	b.SAs, b.RegEvent, b.Associated = nil, nil, nil
	if out := must(t, s, "p1", bindings.Change{Key: key(b), Binding: &b, Version: 1}); out[0].Lost || out[0].Version != 2 {
		t.Fatalf("update: %+v", out[0])
	}
	if got := load(t, s, "p1"); len(got) != 1 || !reflect.DeepEqual(got[0].Binding, b) {
		t.Fatalf("after update %+v", got)
	}
	if out := must(t, s, "p1", bindings.Change{Key: key(b), Version: 2}); out[0].Lost {
		t.Fatal("delete at the current version lost")
	}
	if got := load(t, s, "p1"); len(got) != 0 {
		t.Fatalf("after delete %+v", got)
	}
}

func twoContacts(t *testing.T, s bindings.Store) {
	a, b := Binding(1, "<urn:uuid:a>;reg-id=1"), Binding(2, "<urn:uuid:b>;reg-id=1")
	b.IMPI = "alice2@ims.example" // several IMPIs per IMPU
	must(t, s, "p1", bindings.Change{Key: key(a), Binding: &a}, bindings.Change{Key: key(b), Binding: &b})
	if got := load(t, s, "p1"); len(got) != 2 || got[0].IMPI == got[1].IMPI {
		t.Fatalf("two contacts of one IMPU: %+v", got)
	}
	must(t, s, "p1", bindings.Change{Key: key(a), Version: 1})
	if got := load(t, s, "p1"); len(got) != 1 || got[0].Contact != b.Contact || len(got[0].SAs) != 1 {
		t.Fatalf("removing one contact: %+v", got)
	}
}

func compareAndSet(t *testing.T, s bindings.Store) {
	b := Binding(1, "sip:alice@10.0.0.1:5060")
	must(t, s, "p1", bindings.Change{Key: key(b), Binding: &b})
	must(t, s, "p1", bindings.Change{Key: key(b), Binding: &b, Version: 1})
	// A write at a stale version changes nothing.
	stale := b
	stale.IMPI = "stale"
	if out := must(t, s, "p1", bindings.Change{Key: key(b), Binding: &stale, Version: 1}); !out[0].Lost {
		t.Fatal("a write at a stale version was applied")
	}
	if out := must(t, s, "p1", bindings.Change{Key: key(b), Version: 1}); !out[0].Lost {
		t.Fatal("a delete at a stale version was applied")
	}
	if got := load(t, s, "p1"); len(got) != 1 || got[0].IMPI != b.IMPI || got[0].Version != 2 {
		t.Fatalf("after stale writes %+v", got)
	}
}

// poolTakeover: two P-CSCFs on one database; the UE registers again through the second, which takes the row
// over; the first's next write (its expiry, say) is refused and does not remove the second's binding.
func poolTakeover(t *testing.T, s bindings.Store) {
	b := Binding(1, "<urn:uuid:1>")
	must(t, s, "p1", bindings.Change{Key: key(b), Binding: &b})
	b2 := b
	b2.SAs = nil
	b2.Transport = "TCP"
	out := must(t, s, "p2", bindings.Change{Key: key(b), Binding: &b2})
	if out[0].Lost || out[0].Version != 2 {
		t.Fatalf("takeover: %+v", out[0])
	}
	if out := must(t, s, "p1", bindings.Change{Key: key(b), Version: 1}); !out[0].Lost {
		t.Fatal("the first P-CSCF removed the binding the second took over")
	}
	if out := must(t, s, "p1", bindings.Change{Key: key(b), Binding: &b, Version: 1}); !out[0].Lost {
		t.Fatal("the first P-CSCF overwrote the binding the second took over")
	}
	if got := load(t, s, "p1"); len(got) != 0 {
		t.Fatalf("the first P-CSCF still loads %+v", got)
	}
	if got := load(t, s, "p2"); len(got) != 1 || got[0].Transport != "TCP" || len(got[0].SAs) != 0 {
		t.Fatalf("the second P-CSCF loads %+v", got)
	}
}
