package pcscf

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/imscore/imscore/sip/identity"
	"github.com/imscore/imscore/sip/ipsec"
)

// modelExpire is the expiry sweep as it was before the heap (every registration looked at each tick), run on
// a plain map: the reference the registry's own sweep must agree with.
func modelExpire(m map[string]Registration, now time.Time) (gone []SASet, ended []string, changed bool) {
	for k, r := range m {
		var keep []SASet
		for _, sa := range r.SAs {
			if now.Before(sa.Expires) {
				keep = append(keep, sa)
			} else {
				gone = append(gone, sa)
				changed = true
			}
		}
		r.SAs = keep
		if (!r.Expires.IsZero() && !now.Before(r.Expires)) || (r.Expires.IsZero() && len(r.SAs) == 0) {
			changed = true
			gone = append(gone, r.SAs...)
			ended = append(ended, identity.Key(r.IMPU))
			delete(m, k)
			continue
		}
		m[k] = r
	}
	return gone, ended, changed
}

// recount is count as it was before the counters: a scan of every registration.
func recount(regs []Registration, now time.Time) (n, sas int) {
	for _, r := range regs {
		if r.Registered(now) {
			n++
		}
		sas += len(r.SAs)
	}
	return n, sas
}

// checkRegistry compares r with the model m at now: the same registrations, count equal to a full recount,
// the counters equal to their definition, and the expiry heap holding each registration once, at its due.
func checkRegistry(t *testing.T, step int, r *registry, m map[string]Registration, now time.Time) {
	t.Helper()
	want := slices.Collect(maps.Values(m))
	got := r.snapshot()
	byIMPU := func(a, b Registration) int { return strings.Compare(identity.Key(a.IMPU), identity.Key(b.IMPU)) }
	slices.SortFunc(got, byIMPU)
	slices.SortFunc(want, byIMPU)
	if len(got) != len(want) {
		t.Fatalf("step %d: %d registrations, the model has %d", step, len(got), len(want))
	}
	for i := range got {
		if got[i].IMPU != want[i].IMPU || !got[i].Expires.Equal(want[i].Expires) || len(got[i].SAs) != len(want[i].SAs) {
			t.Fatalf("step %d: registration %+v, the model has %+v", step, got[i], want[i])
		}
	}
	wantRegs, wantSAs := recount(want, now)
	if regs, sas := r.count(now); regs != wantRegs || sas != wantSAs {
		t.Fatalf("step %d: count = %d registrations, %d SA sets; a full recount gives %d, %d", step, regs, sas, wantRegs, wantSAs)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	timed := 0
	for _, reg := range want {
		if !reg.Expires.IsZero() {
			timed++
		}
	}
	if r.timed != timed || r.saSets != wantSAs {
		t.Fatalf("step %d: counters timed %d, SA sets %d; recounted %d, %d", step, r.timed, r.saSets, timed, wantSAs)
	}
	if len(r.due.items) != len(r.regs) {
		t.Fatalf("step %d: %d in the expiry heap, %d registrations", step, len(r.due.items), len(r.regs))
	}
	for k, e := range r.regs {
		if e.idx < 0 || e.idx >= len(r.due.items) || r.due.items[e.idx] != e || e.key != k || e.due != r.due.at(dueOf(&e.Registration)) {
			t.Fatalf("step %d: %s misplaced in the expiry heap (idx %d, due %v, want %v)", step, k, e.idx, e.due, r.due.at(dueOf(&e.Registration)))
		}
	}
	checkIndexes(t, step, r)
	for i := 1; i < len(r.due.items); i++ {
		if r.due.items[i].due < r.due.items[(i-1)/2].due {
			t.Fatalf("step %d: expiry heap out of order at %d", step, i)
		}
	}
}

// checkIndexes: every entry of the single-owner indexes names a registration that has that key (nothing
// stale; a key two registrations claimed is the last writer's, and gone when it goes, as it always was), and
// the indexes of sets are exactly what the registrations give.
func checkIndexes(t *testing.T, step int, r *registry) {
	t.Helper()
	want := newRegistry()
	saClaims, contClaims, idClaims := map[saKey]map[*regEntry]bool{}, map[contactKey]map[*regEntry]bool{}, map[srcIdentity]map[*regEntry]bool{}
	for k, e := range r.regs {
		keys := keysOf(&e.Registration)
		_ = k
		want.reindex(e, nil, &keys)
		own := newRegistry()
		own.reindex(e, nil, &keys)
		claim(saClaims, own.bySAKey)
		claim(contClaims, own.byContKey)
		claim(idClaims, own.bySrcID)
	}
	checkOwned(t, step, "SA", r.bySAKey, saClaims)
	checkOwned(t, step, "contact", r.byContKey, contClaims)
	checkOwned(t, step, "source identity", r.bySrcID, idClaims)
	if !maps.EqualFunc(r.bySrcAddr, want.bySrcAddr, sameSet) {
		t.Fatalf("step %d: source address index %v, the registrations give %v", step, r.bySrcAddr, want.bySrcAddr)
	}
	if !maps.EqualFunc(r.byFlow, want.byFlow, sameSet) {
		t.Fatalf("step %d: flow index %v, the registrations give %v", step, r.byFlow, want.byFlow)
	}
}

// sameSet compares two entrySets as sets; a set of one is never held in a map.
func sameSet(a, b entrySet) bool {
	if a.len() != b.len() || (a.more != nil) != (a.len() > 1) {
		return false
	}
	for e := range a.all {
		found := false
		for o := range b.all {
			found = found || o == e
		}
		if !found {
			return false
		}
	}
	return true
}

// claim adds the entries of one registration's single-owner index to the claims on each key.
func claim[K comparable](claims map[K]map[*regEntry]bool, index map[K]*regEntry) {
	for key, k := range index {
		if claims[key] == nil {
			claims[key] = map[*regEntry]bool{}
		}
		claims[key][k] = true
	}
}

// checkOwned: every entry of a single-owner index names a registration that claims the key.
func checkOwned[K comparable](t *testing.T, step int, name string, index map[K]*regEntry, claims map[K]map[*regEntry]bool) {
	t.Helper()
	for key, k := range index {
		if !claims[key][k] {
			t.Fatalf("step %d: %s index holds %v → %v, which that registration does not have", step, name, key, k.key)
		}
	}
}

// TestRegistryCountersProperty: after every step of a random sequence of registrations, re-registrations, SA
// sets added and confirmed, de-registrations, no-op updates, clock steps and expiry sweeps (fixed seed,
// bounded), the registry holds what a plain map under the old full-scan sweep holds, count equals a full
// recount, and the sweep removes the same SA sets and registrations.
func TestRegistryCountersProperty(t *testing.T) {
	rng := rand.New(rand.NewPCG(12, 2026))
	base := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	now := base
	r := newRegistry()
	m := map[string]Registration{}
	someTime := func() time.Time {
		switch rng.IntN(5) {
		case 0:
			return time.Time{}
		case 1:
			return now.Add(-time.Duration(rng.IntN(30)) * time.Second) // already past, or exactly now
		default:
			return now.Add(time.Duration(rng.IntN(120)) * time.Second)
		}
	}
	someSA := func() SASet {
		ue := netip.AddrFrom4([4]byte{10, 0, 0, byte(rng.IntN(8))})
		return SASet{Pair: ipsec.Pair{UE: ipsec.Endpoint{Addr: ue, PortC: uint16(40000 + rng.IntN(4)), PortS: 40010},
			PCSCF: ipsec.Endpoint{PortC: 6100, PortS: uint16(6101 + rng.IntN(2)), SPIS: rng.Uint32()}}, Expires: someTime()}
	}
	apply := func(impu string, fn func(*Registration) bool) {
		r.update(keyOf(impu, ""), impu, fn)
		k := identity.Key(impu)
		reg, ok := m[k]
		if !ok {
			reg = Registration{IMPU: impu}
		}
		reg.SAs = slices.Clone(reg.SAs)
		if fn(&reg) {
			m[k] = reg
		} else {
			delete(m, k)
		}
	}
	const steps = 20000
	for step := range steps {
		// A few dozen users, named in varying case (the user part is case-sensitive, RFC 3261 §19.1.4: two spellings, two keys).
		impu := fmt.Sprintf("sip:User%d@ims.example", rng.IntN(40))
		if rng.IntN(2) == 0 {
			impu = strings.ToLower(impu)
		}
		switch op := rng.IntN(10); op {
		case 0, 1: // a registration or re-registration: new expiry, source, contact
			exp, src := someTime(), netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, 0, byte(rng.IntN(8))}), 5060)
			host := fmt.Sprintf("10.0.0.%d", rng.IntN(8))
			apply(impu, func(reg *Registration) bool {
				reg.Expires, reg.Source, reg.ContactHost, reg.ContactPort = exp, src, host, 5060
				reg.Associated = []string{"tel:+1555" + impu[7:8]}
				return true
			})
		case 2: // a 401: a new SA set first
			sa := someSA()
			apply(impu, func(reg *Registration) bool { reg.SAs = append([]SASet{sa}, reg.SAs...); return true })
		case 3: // a 200 over the newest set: confirmed, expiry moved
			exp, saExp := someTime(), someTime()
			apply(impu, func(reg *Registration) bool {
				reg.Expires = exp
				if len(reg.SAs) > 0 {
					reg.SAs[0].Confirmed, reg.SAs[0].Expires = true, saExp
				}
				return true
			})
		case 4: // the older SA sets go (the UE used the new one)
			apply(impu, func(reg *Registration) bool {
				if len(reg.SAs) > 1 {
					reg.SAs = reg.SAs[:1]
				}
				return true
			})
		case 5: // de-registration
			apply(impu, func(*Registration) bool { return false })
		case 6: // an update that changes nothing (a lookup that creates no registration when kept empty)
			apply(impu, func(*Registration) bool { return true })
		case 7: // the clock moves
			now = now.Add(time.Duration(rng.IntN(20)) * time.Second)
		default: // an expiry tick
			gone, endedKeys, changed := r.expire(now)
			var ended []string
			for _, k := range endedKeys {
				ended = append(ended, k.IMPU)
			}
			wantGone, wantEnded, wantChanged := modelExpire(m, now)
			spis := func(s []SASet) []uint32 {
				out := make([]uint32, 0, len(s))
				for _, sa := range s {
					out = append(out, sa.Pair.PCSCF.SPIS)
				}
				slices.Sort(out)
				return out
			}
			slices.Sort(ended)
			slices.Sort(wantEnded)
			if changed != wantChanged || !slices.Equal(ended, wantEnded) || !slices.Equal(spis(gone), spis(wantGone)) {
				t.Fatalf("step %d: sweep at %v: changed %v, ended %v, %d SA sets gone; the full scan gives %v, %v, %d",
					step, now.Sub(base), changed, ended, len(gone), wantChanged, wantEnded, len(wantGone))
			}
		}
		checkRegistry(t, step, r, m, now)
		// count at a later instant too: registrations past their expiry that no sweep has removed yet.
		later := now.Add(time.Duration(rng.IntN(60)) * time.Second)
		wantRegs, wantSAs := recount(slices.Collect(maps.Values(m)), later)
		if got, sas := r.count(later); got != wantRegs || sas != wantSAs {
			t.Fatalf("step %d: count at +%v = %d, %d; a full recount gives %d, %d", step, later.Sub(now), got, sas, wantRegs, wantSAs)
		}
	}
}

// TestExpirySweepTouchesOnlyDue: with 10,000 registrations in force and none due, a tick of the expiry loop
// copies nothing (the sweep before the heap copied and re-indexed every registration, 14 allocations each);
// with some due, it removes exactly those.
func TestExpirySweepTouchesOnlyDue(t *testing.T) {
	r := newRegistry()
	now := time.Now()
	for i := range 10000 {
		exp := now.Add(time.Hour)
		if i%1000 == 0 {
			exp = now.Add(time.Minute)
		}
		r.update(keyOf(benchIMPU(i), "c"), benchIMPU(i), func(reg *Registration) bool { benchFill(reg, i, exp); return true })
	}
	if allocs := testing.AllocsPerRun(10, func() {
		if gone, ended, changed := r.expire(now); len(gone)+len(ended) > 0 || changed {
			t.Fatalf("nothing due, yet the sweep removed %d SA sets and %v", len(gone), ended)
		}
	}); allocs != 0 {
		t.Errorf("a sweep with nothing due made %v allocations", allocs)
	}
	_, ended, _ := r.expire(now.Add(2 * time.Minute))
	if len(ended) != 10 {
		t.Errorf("sweep after the short expiries removed %d registrations, want 10", len(ended))
	}
	if regs, sas := r.count(now.Add(2 * time.Minute)); regs != 9990 || sas != 9990 {
		t.Errorf("count = %d, %d; want 9990, 9990", regs, sas)
	}
}

// TestRegSubsExpiryProperty: reg event subscriptions put (new or renewed), removed and expired in a random
// sequence (fixed seed, bounded) are what a plain map swept in full each tick holds, and the expiry heap holds
// each once at its expiry.
func TestRegSubsExpiryProperty(t *testing.T) {
	rng := rand.New(rand.NewPCG(12, 6665))
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	var s regSubs
	m := map[string]RegEventSubscription{}
	for step := range 20000 {
		id := fmt.Sprintf("call-%d", rng.IntN(50))
		switch rng.IntN(5) {
		case 0, 1:
			sub := RegEventSubscription{CallID: id, IMPU: "sip:" + id, Expires: now.Add(time.Duration(rng.IntN(90)-10) * time.Second)}
			s.put(sub)
			m[id] = sub
		case 2:
			s.remove(id)
			delete(m, id)
		case 3:
			now = now.Add(time.Duration(rng.IntN(15)) * time.Second)
		default:
			s.expire(now)
			for k, sub := range m {
				if !now.Before(sub.Expires) {
					delete(m, k)
				}
			}
		}
		s.mu.Lock()
		if len(s.m) != len(m) || len(s.due.items) != len(m) {
			t.Fatalf("step %d: %d subscriptions, %d in the heap; the model has %d", step, len(s.m), len(s.due.items), len(m))
		}
		for k, e := range s.m {
			if want, ok := m[k]; !ok || want != e.RegEventSubscription || s.due.items[e.idx] != e || e.due != s.due.at(e.Expires) {
				t.Fatalf("step %d: %s is %+v (heap slot %d), the model has %+v", step, k, e.RegEventSubscription, e.idx, want)
			}
		}
		s.mu.Unlock()
	}
}
