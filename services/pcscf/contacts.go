package pcscf

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/imscore/imscore/services/pcscf/bindings"
	"github.com/imscore/imscore/sip/identity"
)

// Registration is one binding as the P-CSCF keeps it (package bindings): a registered contact of a public
// identity, with the UE's address, transport and SA sets. An IMPU has one per device (contact identity).
type Registration = bindings.Binding

// SASet is one set of four SAs and what was negotiated for it.
type SASet = bindings.SASet

// bindingKey names a binding: the IMPU's identity.Key and the contact identity.
type bindingKey = bindings.Key

// keyOf is the key of the binding of impu with contact identity contact.
func keyOf(impu, contact string) bindingKey {
	return bindingKey{IMPU: identity.Key(impu), Contact: contact}
}

// legacyFile reads the JSON state file of an earlier P-CSCF (one registration per IMPU), imported once into the
// store at start (restore) and then renamed: the store has replaced it.
func legacyFile(path string) ([]Registration, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("pcscf state %s: %w", path, err)
	}
	var regs []Registration
	if err := json.Unmarshal(b, &regs); err != nil {
		return nil, fmt.Errorf("pcscf state %s: %w", path, err)
	}
	return regs, nil
}

// registry holds the bindings in memory, the authoritative copy (the store is its journal), with indexes for
// the lookups every request makes: by SA flow 1, by contact address, by source address and by IMPU. Its
// bookkeeping does not grow with the number of bindings (issue 12): counters kept on every change answer count,
// a min-heap of each binding's next expiry (due) gives the expiry sweep only what has expired, and the changes
// since the last write to the store are a set of keys (dirty), not a copy of everything.
type registry struct {
	mu        sync.Mutex
	regs      map[bindingKey]*regEntry
	byIMPU    map[string][]*regEntry // identity.Key of the IMPU → its bindings, oldest first
	bySAKey   map[saKey]*regEntry
	byContKey map[contactKey]*regEntry
	bySrcAddr map[netip.Addr]entrySet // UEs without sec-agree
	// bySrcID finds the binding of a UE without sec-agree by its source address and an identity of its
	// implicit set in one step, where the address alone may be shared by many (a NAT, SIPp, loopback).
	bySrcID map[srcIdentity]*regEntry
	// byFlow finds the bindings whose UE sends from an address and port: its registered source and the UE's
	// ends of its SA sets. A request from one of them is from the access side whatever its address.
	byFlow map[netip.AddrPort]entrySet
	// due orders every binding by the earliest of its expiry and its SA sets' (dueOf).
	due dueHeap[*regEntry]
	// timed counts the bindings with an expiry (Expires not zero), saSets their SA sets: count derives the
	// bindings in force from them without a scan.
	timed, saSets int
	// dirty are the bindings changed since the journal last took them; tomb the row versions of those removed.
	dirty map[bindingKey]struct{}
	tomb  map[bindingKey]int64
}

// regEntry is a binding with its key, the store row's version and its place in the expiry heap.
type regEntry struct {
	Registration
	key     bindingKey
	version int64 // of the store row this node last wrote or loaded; 0: none
	dueSlot
}

// dueOf is when the expiry sweep must next look at reg: the earliest of its expiry and its SA sets' expiries.
// A binding with neither an expiry nor an SA set (a record left without a registration) is due at once.
func dueOf(reg *Registration) time.Time {
	var due time.Time
	set := false
	if !reg.Expires.IsZero() {
		due, set = reg.Expires, true
	}
	for _, sa := range reg.SAs {
		if !set || sa.Expires.Before(due) {
			due, set = sa.Expires, true
		}
	}
	return due
}

type srcIdentity struct {
	addr     netip.Addr
	identity string // lower case
}

type saKey struct {
	ue    netip.Addr
	portC uint16
	ps    uint16
}

type contactKey struct {
	host string
	port uint16
}

func newRegistry() *registry {
	return &registry{regs: make(map[bindingKey]*regEntry), byIMPU: make(map[string][]*regEntry),
		bySAKey: make(map[saKey]*regEntry), byContKey: make(map[contactKey]*regEntry),
		bySrcAddr: make(map[netip.Addr]entrySet), bySrcID: make(map[srcIdentity]*regEntry),
		byFlow: make(map[netip.AddrPort]entrySet), dirty: make(map[bindingKey]struct{}),
		tomb: make(map[bindingKey]int64)}
}

// tally adds (d 1) or takes away (d -1) reg's share of the counters.
func (r *registry) tally(reg *Registration, d int) {
	if !reg.Expires.IsZero() {
		r.timed += d
	}
	r.saSets += d * len(reg.SAs)
}

// indexKeys are the entries one binding has in the indexes.
type indexKeys struct {
	sas     []saKey
	flows   []netip.AddrPort
	cont    contactKey
	hasCont bool
	src     netip.Addr // invalid when the binding has no source
	ids     []srcIdentity
}

// keysOf lists reg's index entries.
func keysOf(reg *Registration) indexKeys {
	x := indexKeys{sas: make([]saKey, 0, len(reg.SAs)), flows: make([]netip.AddrPort, 0, 1+2*len(reg.SAs))}
	for _, sa := range reg.SAs {
		x.sas = append(x.sas, saKey{sa.Pair.UE.Addr.Unmap(), sa.Pair.UE.PortC, sa.Pair.PCSCF.PortS})
	}
	if reg.Source.IsValid() {
		x.flows = append(x.flows, netip.AddrPortFrom(reg.Source.Addr().Unmap(), reg.Source.Port()))
	}
	for _, sa := range reg.SAs {
		x.flows = append(x.flows, addrPort(sa.Pair.UE.Addr, sa.Pair.UE.PortC), addrPort(sa.Pair.UE.Addr, sa.Pair.UE.PortS))
	}
	if reg.ContactHost != "" {
		x.cont, x.hasCont = contactKey{strings.ToLower(reg.ContactHost), reg.ContactPort}, true
	}
	if a := reg.Source.Addr().Unmap(); a.IsValid() {
		x.src = a
		x.ids = make([]srcIdentity, 0, 1+len(reg.Associated))
		x.ids = append(x.ids, srcIdentity{a, identity.Key(reg.IMPU)})
		for _, id := range reg.Associated {
			x.ids = append(x.ids, srcIdentity{a, identity.Key(id)})
		}
	}
	return x
}

// reindex moves the index entries of binding e from old to cur (either nil for none): the entries only old has
// go (a single-owner entry only while it is still e's), every entry of cur is e's. That is the state removing
// all of old and adding all of cur gives, without deleting and re-creating the entries both have.
func (r *registry) reindex(e *regEntry, old, cur *indexKeys) {
	if old == nil {
		old = &indexKeys{}
	}
	if cur == nil {
		cur = &indexKeys{}
	}
	for _, sk := range old.sas {
		if !slices.Contains(cur.sas, sk) && r.bySAKey[sk] == e {
			delete(r.bySAKey, sk)
		}
	}
	for _, f := range old.flows {
		if !slices.Contains(cur.flows, f) {
			indexSet(r.byFlow, f, e, false)
		}
	}
	if old.hasCont && (!cur.hasCont || cur.cont != old.cont) && r.byContKey[old.cont] == e {
		delete(r.byContKey, old.cont)
	}
	for _, id := range old.ids {
		if !slices.Contains(cur.ids, id) && r.bySrcID[id] == e {
			delete(r.bySrcID, id)
		}
	}
	if old.src.IsValid() && old.src != cur.src {
		indexSet(r.bySrcAddr, old.src, e, false)
	}
	for _, sk := range cur.sas {
		r.bySAKey[sk] = e
	}
	for _, f := range cur.flows {
		indexSet(r.byFlow, f, e, true)
	}
	if cur.hasCont {
		r.byContKey[cur.cont] = e
	}
	for _, id := range cur.ids {
		r.bySrcID[id] = e
	}
	if cur.src.IsValid() {
		indexSet(r.bySrcAddr, cur.src, e, true)
	}
}

// entrySet is a set of bindings held by value in an index: one binding (the common case: one UE per flow)
// costs no allocation of its own; more go to a map.
type entrySet struct {
	one  *regEntry
	more map[*regEntry]struct{}
}

func (s entrySet) len() int {
	if s.more != nil {
		return len(s.more)
	}
	if s.one != nil {
		return 1
	}
	return 0
}

// all ranges over the set.
func (s entrySet) all(yield func(*regEntry) bool) {
	if s.more == nil {
		if s.one != nil {
			yield(s.one)
		}
		return
	}
	for e := range s.more {
		if !yield(e) {
			return
		}
	}
}

// indexSet adds (add true) or removes e in the set of index m under key.
func indexSet[K comparable](m map[K]entrySet, key K, e *regEntry, add bool) {
	s := m[key]
	switch {
	case add && s.more != nil:
		s.more[e] = struct{}{}
	case add && (s.one == nil || s.one == e):
		s.one = e
	case add:
		s.more = map[*regEntry]struct{}{s.one: {}, e: {}}
		s.one = nil
	case s.more != nil:
		delete(s.more, e)
		if len(s.more) == 1 {
			for o := range s.more {
				s.one = o
			}
			s.more = nil
		}
	case s.one == e:
		s.one = nil
	}
	if s.len() == 0 {
		delete(m, key)
		return
	}
	m[key] = s
}

// snapshot copies every binding (the clean stop reads their SA sets' counters).
func (r *registry) snapshot() []Registration {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]Registration, 0, len(r.regs))
	for _, e := range r.regs {
		out = append(out, copyReg(&e.Registration))
	}
	return out
}

// bySA finds the binding and SA set whose flow 1 (UE port-c → our port-s) is src → our port-s: the only way a
// request may reach the protected server port (TS 33.203 §7.1).
func (r *registry) bySA(src netip.AddrPort, ourPortS uint16) (Registration, SASet, int, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	e := r.bySAKey[saKey{src.Addr().Unmap(), src.Port(), ourPortS}]
	if e == nil {
		return Registration{}, SASet{}, 0, false
	}
	for i, sa := range e.SAs {
		if sa.Pair.UE.Addr.Unmap() == src.Addr().Unmap() && sa.Pair.UE.PortC == src.Port() && sa.Pair.PCSCF.PortS == ourPortS {
			return copyReg(&e.Registration), sa, i, true
		}
	}
	return Registration{}, SASet{}, 0, false
}

// byContact finds a registered binding by the host and port of a Request-URI (TS 24.229 §5.2.7: the contact
// the S-CSCF forked to names the device).
func (r *registry) byContact(host string, port uint16, now time.Time) (Registration, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	e := r.byContKey[contactKey{strings.Trim(strings.ToLower(host), "[]"), port}]
	if e == nil || !e.Registered(now) {
		return Registration{}, false
	}
	return copyReg(&e.Registration), true
}

// bySource finds a registered UE without sec-agree by the source address and port of a request, over UDP or
// TCP alike; when several share them (UEs behind one NAT port, one SIPp socket), the identity id picks among
// them (compared by its key, package identity).
func (r *registry) bySource(src netip.AddrPort, id string, now time.Time) (Registration, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	usable := func(e *regEntry) bool {
		if e == nil || !e.Registered(now) || e.SecAgree() {
			return false
		}
		// TS 24.229 §5.2.6.3.1 with TS 33.203 §7: without sec-agree, the registered address and port are all that
		// tells a UE from another process at its address (a NAT, the same host), over TCP too.
		return e.Source.Port() == src.Port()
	}
	if id != "" {
		if e := r.bySrcID[srcIdentity{src.Addr().Unmap(), identity.Key(id)}]; usable(e) {
			return copyReg(&e.Registration), true
		}
	}
	// No identity of a binding at this address: the UE is known when it is the only one there.
	var only *regEntry
	for e := range r.bySrcAddr[src.Addr().Unmap()].all {
		if usable(e) {
			if only != nil {
				return Registration{}, false
			}
			only = e
		}
	}
	if only != nil {
		return copyReg(&only.Registration), true
	}
	return Registration{}, false
}

// isUEFlow reports whether src is where a registered UE sends from: its registered address and port, or the
// UE's end of one of its SA sets.
func (r *registry) isUEFlow(src netip.AddrPort, now time.Time) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for e := range r.byFlow[netip.AddrPortFrom(src.Addr().Unmap(), src.Port())].all {
		if e.Registered(now) {
			return true
		}
	}
	return false
}

// get is the binding under k.
func (r *registry) get(k bindingKey) (Registration, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if e := r.regs[k]; e != nil {
		return copyReg(&e.Registration), true
	}
	return Registration{}, false
}

// ofIMPU copies the bindings of impu, oldest first.
func (r *registry) ofIMPU(impu string) []Registration {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []Registration
	for _, e := range r.byIMPU[identity.Key(impu)] {
		out = append(out, copyReg(&e.Registration))
	}
	return out
}

// update runs fn on the binding under k (created empty for impu when missing) under the lock; fn returning
// false deletes it. The change is marked for the journal.
func (r *registry) update(k bindingKey, impu string, fn func(reg *Registration) bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	e, ok := r.regs[k]
	var old indexKeys
	if !ok && impu == "" {
		return // only a change that names the IMPU creates a binding
	}
	if !ok {
		e = &regEntry{Registration: Registration{IMPU: impu, Contact: k.Contact}, key: k, dueSlot: dueSlot{idx: -1}}
	} else {
		old = keysOf(&e.Registration)
		r.tally(&e.Registration, -1)
	}
	if fn(&e.Registration) {
		if !ok {
			r.add(e)
		}
		cur := keysOf(&e.Registration)
		r.reindex(e, &old, &cur)
		r.tally(&e.Registration, 1)
		r.due.set(e, dueOf(&e.Registration))
		r.dirty[k] = struct{}{}
	} else if ok {
		r.drop(e, &old)
	}
}

// add puts a new entry in the map and the IMPU index; a row of the store removed since the last write keeps its
// version, so that the next write is a compare-and-set on it.
func (r *registry) add(e *regEntry) {
	r.regs[e.key] = e
	r.byIMPU[e.key.IMPU] = append(r.byIMPU[e.key.IMPU], e)
	if v, ok := r.tomb[e.key]; ok {
		e.version = v
		delete(r.tomb, e.key)
	}
}

// drop removes e (its indexes were old) and marks the removal for the journal.
func (r *registry) drop(e *regEntry, old *indexKeys) {
	delete(r.regs, e.key)
	if list := slices.DeleteFunc(r.byIMPU[e.key.IMPU], func(x *regEntry) bool { return x == e }); len(list) > 0 {
		r.byIMPU[e.key.IMPU] = list
	} else {
		delete(r.byIMPU, e.key.IMPU)
	}
	r.reindex(e, old, nil)
	r.due.remove(e)
	r.dirty[e.key] = struct{}{}
	if e.version > 0 {
		r.tomb[e.key] = e.version
	}
}

// count is the number of bindings in force at now and of SA sets held, from the counters: the bindings with an
// expiry, less those whose expiry has passed and the sweep has not yet removed (found through the heap,
// O(their number)).
func (r *registry) count(now time.Time) (regs, sas int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	regs = r.timed
	r.due.visitDue(now, func(e *regEntry) {
		if !e.Expires.IsZero() && !e.Registered(now) {
			regs--
		}
	})
	return regs, r.saSets
}

// expire removes the SA sets whose expiry has passed at now, and the bindings whose expiry has passed or that
// hold neither an expiry nor an SA set; it returns the SA sets removed (for the kernel and the allocator), the
// bindings removed, and whether anything changed. Only the bindings due are touched: O(k log N) for k due.
func (r *registry) expire(now time.Time) (gone []SASet, ended []bindingKey, changed bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, e := range r.due.popDue(now) {
		reg := &e.Registration
		old := keysOf(reg)
		r.tally(reg, -1)
		var keep []SASet
		for _, sa := range reg.SAs {
			if now.Before(sa.Expires) {
				keep = append(keep, sa)
			} else {
				gone = append(gone, sa)
				changed = true
			}
		}
		reg.SAs = keep
		if (!reg.Expires.IsZero() && !now.Before(reg.Expires)) || (reg.Expires.IsZero() && len(reg.SAs) == 0) {
			changed = true
			gone = append(gone, reg.SAs...)
			ended = append(ended, e.key)
			r.drop(e, &old)
			continue
		}
		if len(keep) != len(old.sas) {
			r.dirty[e.key] = struct{}{}
		}
		cur := keysOf(reg)
		r.reindex(e, &old, &cur)
		r.tally(reg, 1)
		r.due.set(e, dueOf(reg)) // all due were popped first: each is looked at once per sweep
	}
	return gone, ended, changed
}

// takeChanges hands the journal what changed since it last took: a copy of each binding changed, a removal
// (at its row version) for each removed.
func (r *registry) takeChanges() []bindings.Change {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.dirty) == 0 {
		return nil
	}
	out := make([]bindings.Change, 0, len(r.dirty))
	for k := range r.dirty {
		if e := r.regs[k]; e != nil {
			b := copyReg(&e.Registration)
			out = append(out, bindings.Change{Key: k, Binding: &b, Version: e.version})
		} else if v, ok := r.tomb[k]; ok {
			out = append(out, bindings.Change{Key: k, Version: v})
			delete(r.tomb, k)
		}
	}
	clear(r.dirty)
	return out
}

// giveBack marks changes the store did not take as changed again (the next write retries them).
func (r *registry) giveBack(changes []bindings.Change) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, c := range changes {
		r.dirty[c.Key] = struct{}{}
		if c.Binding == nil && r.regs[c.Key] == nil && c.Version > 0 {
			r.tomb[c.Key] = c.Version
		}
	}
}

// settle records what the store did with changes: the new row versions, and the bindings lost to another
// P-CSCF of the pool (the row moved on without us: the UE registered again through the other), which are
// removed here and returned so that their SAs go too.
func (r *registry) settle(changes []bindings.Change, outs []bindings.Outcome) (lost []Registration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i, c := range changes {
		o := outs[i]
		e := r.regs[c.Key]
		if e == nil {
			// Removed while this write was in flight: remove at the version it left. A new binding (Version 0)
			// had no tomb when it was dropped; its removal is the dirty mark.
			v, tombed := r.tomb[c.Key]
			_, removed := r.dirty[c.Key]
			if c.Binding != nil && !o.Lost && (tombed && v == c.Version || !tombed && removed) {
				r.tomb[c.Key] = o.Version
			}
			continue
		}
		if e.version != c.Version {
			continue // re-created meanwhile: its own write follows
		}
		if !o.Lost {
			e.version = o.Version
			continue
		}
		old := keysOf(&e.Registration)
		r.tally(&e.Registration, -1)
		r.drop(e, &old)
		delete(r.dirty, c.Key) // the row is the other node's now: nothing to write, nothing to remove
		delete(r.tomb, c.Key)
		lost = append(lost, copyReg(&e.Registration))
	}
	return lost
}

// restore puts a binding loaded from the store, at its row version; changed marks it for the next write (its SA
// sets changed as they were installed again).
func (r *registry) restore(reg Registration, version int64, changed bool) {
	k := keyOf(reg.IMPU, reg.Contact)
	r.mu.Lock()
	defer r.mu.Unlock()
	if old := r.regs[k]; old != nil {
		oldKeys := keysOf(&old.Registration)
		r.tally(&old.Registration, -1)
		r.drop(old, &oldKeys)
	}
	delete(r.tomb, k)
	e := &regEntry{Registration: reg, key: k, version: version, dueSlot: dueSlot{idx: -1}}
	r.add(e)
	cur := keysOf(&e.Registration)
	r.reindex(e, nil, &cur)
	r.tally(&e.Registration, 1)
	r.due.set(e, dueOf(&e.Registration))
	if changed {
		r.dirty[k] = struct{}{}
	} else {
		delete(r.dirty, k)
	}
}

func copyReg(reg *Registration) Registration {
	c := *reg
	c.SAs = append([]SASet(nil), reg.SAs...)
	c.Associated = append([]string(nil), reg.Associated...)
	c.ServiceRoute = append([]string(nil), reg.ServiceRoute...)
	if reg.RegEvent != nil {
		e := *reg.RegEvent
		c.RegEvent = &e
	}
	return c
}

func containsFold(list []string, v string) bool {
	for _, x := range list {
		if strings.EqualFold(x, v) {
			return true
		}
	}
	return false
}
