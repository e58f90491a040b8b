package registrar

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/imscore/imscore/diameter/userdata"
)

// ErrConflict means a versioned write found another version than the one it was based on: another S-CSCF
// sharing the store changed the registration meanwhile (compare-and-set, never last-writer-wins).
var ErrConflict = errors.New("registrar: version conflict")

// VersionedStore is a store whose registration rows carry a version and are written by compare-and-set.
// Table uses it when its store has it.
type VersionedStore interface {
	// SaveRegistrationVersion writes r (its rows: registration, contacts, identities) with version r.Version
	// when the stored version is base (0: none stored), else ErrConflict.
	SaveRegistrationVersion(ctx context.Context, r *Registration, base uint64) error
	// DeleteRegistrationVersion removes the registration stored under impu when its version is base, else
	// ErrConflict (ErrNotFound when there is none).
	DeleteRegistrationVersion(ctx context.Context, impu string, base uint64) error
}

// BatchStore is a VersionedStore that writes several journal changes in one store transaction. Table uses it
// when its store has it: a flush commits once for everything it writes, where a commit per change was 10 % of
// the S-CSCF's CPU under registration load and each registration cost three or four of them (register-scscf
// profile, bench/results/2026-12-07T2228Z-70124a6b424e).
type BatchStore interface {
	VersionedStore
	// WriteJournal applies each write, all in one transaction; registrations by compare-and-set. When the
	// transaction commits it returns one outcome per write: nil, ErrConflict (that write is skipped, the
	// others stand), or ErrNotFound for the removal of something the store does not hold. When it does not
	// commit, it returns an error and nothing was written.
	WriteJournal(ctx context.Context, writes []JournalWrite) ([]error, error)
}

// JournalWrite is one change of a BatchStore.WriteJournal, exactly one of: a registration saved (Reg, with
// IMPU its key) or removed (IMPU alone), both against Base, the version the store must hold (0: none); a
// subscription saved (Sub) or removed (SubscriptionID); a challenge saved (Chal) or taken (IMPI and Nonce).
type JournalWrite struct {
	IMPU string
	Reg  *Registration
	Base uint64

	Sub            *Subscription
	SubscriptionID string

	Chal  *Challenge
	IMPI  string
	Nonce string
}

// maxBatch bounds the writes of one store transaction: the SQLite writer is held no longer than this many
// registrations take.
const maxBatch = 256

// Watcher is a shared store that reports the registration changes of every S-CSCF using it (PostgreSQL
// LISTEN/NOTIFY), so that a table drops a copy another S-CSCF has changed (Table.Invalidate). It reports an
// empty IMPU each time it starts listening: changes from before were announced to nobody, every copy may be stale.
type Watcher interface {
	WatchRegistrations(ctx context.Context, changed func(impu string, version uint64)) error
}

// ChallengeLister lists the stored challenges, for Table.Load.
type ChallengeLister interface {
	Challenges(ctx context.Context) ([]*Challenge, error)
}

// TableConfig configures a Table.
type TableConfig struct {
	// Store is the journal: every change is written behind to it, and Load reads it.
	Store Registrar
	// Shared says that other S-CSCFs write the same store (a pool on PostgreSQL): a miss is looked up in the
	// store (load on miss), challenges are written through (one S-CSCF takes a vector), and a version
	// conflict on write drops the local copy.
	Shared bool
	// OnCount is called with the change of the registration and contact counts after every change.
	OnCount func(registrations, contacts int)
	// OnError is called when a journal write fails (it is retried at the next flush) or conflicts.
	OnError func(op, key string, err error)
}

// Table is the S-CSCF's registration state in memory, authoritative: registrations indexed by every
// identity of their implicit set and by IMPI, subscriptions, challenges, each with its expiry in a
// deadline heap, counts kept incrementally. Changes are marked dirty and written behind to the store by
// Flush (Run calls it every interval: the loss window on a crash). Load fills the table at start. Table
// implements Registrar, so the S-CSCF uses it as its registrar.
type Table struct {
	cfg     TableConfig
	flushMu sync.Mutex // one Flush at a time

	mu      sync.Mutex
	regs    map[string]*regEntry   // key IMPU
	ids     map[string]*regEntry   // every identity of an implicit set
	byIMPI  map[string][]*regEntry // IMPI → its registrations (mostly one: a slice, not a map, per IMPI)
	regHeap deadlineHeap[*regEntry]
	deleted map[string]uint64 // key IMPU removed here, not yet journalled → version stored
	// inflight is the version a Flush is writing (or, for a removal, the version it removes) per key IMPU,
	// outside the lock: a change made meanwhile is based on it once the write is settled (settle).
	inflight map[string]uint64

	subs    map[string]*subEntry
	subsBy  map[string]map[string]*subEntry // key IMPU → ID → entry
	subHeap deadlineHeap[*subEntry]

	chals      map[string]*chalEntry // IMPI → challenge
	chalHeap   deadlineHeap[*chalEntry]
	chalStored map[string]string // IMPI → nonce of the challenge in the store

	dirty              map[dirtyKey]struct{}
	nRegs, nContacts   int
	flushes, conflicts uint64
}

type dirtyKind uint8

const (
	dirtyRegistration dirtyKind = iota
	dirtySubscription
	dirtyChallenge
)

type dirtyKey struct {
	kind dirtyKind
	key  string
}

type regEntry struct {
	reg    *Registration // owned: never handed out, Clone goes out
	stored uint64        // version the store holds (0: none)
	hidx   int
}

func (e *regEntry) deadline() time.Time { return e.reg.Expires }
func (e *regEntry) heapIndex() *int     { return &e.hidx }

type subEntry struct {
	sub  *Subscription
	hidx int
}

func (e *subEntry) deadline() time.Time { return e.sub.Expires }
func (e *subEntry) heapIndex() *int     { return &e.hidx }

type chalEntry struct {
	c    *Challenge
	hidx int
}

func (e *chalEntry) deadline() time.Time { return e.c.Expires }
func (e *chalEntry) heapIndex() *int     { return &e.hidx }

// NewTable returns an empty table journalling to cfg.Store.
func NewTable(cfg TableConfig) *Table {
	return &Table{cfg: cfg,
		regs: map[string]*regEntry{}, ids: map[string]*regEntry{}, byIMPI: map[string][]*regEntry{},
		deleted: map[string]uint64{}, inflight: map[string]uint64{}, subs: map[string]*subEntry{}, subsBy: map[string]map[string]*subEntry{},
		chals: map[string]*chalEntry{}, chalStored: map[string]string{}, dirty: map[dirtyKey]struct{}{}}
}

// farFuture selects every record of the store by expiry.
var farFuture = time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)

// Load reads every registration, subscription and challenge of the store into the table (at start, before
// serving). The profiles are parsed once here.
func (t *Table) Load(ctx context.Context) error {
	regs, err := t.cfg.Store.ExpiredRegistrations(ctx, farFuture)
	if err != nil {
		return fmt.Errorf("load registrations: %w", err)
	}
	var subs []*Subscription
	if !t.cfg.Shared { // in a pool they stay in the store
		if subs, err = t.cfg.Store.ExpiredSubscriptions(ctx, farFuture); err != nil {
			return fmt.Errorf("load subscriptions: %w", err)
		}
	}
	var chals []*Challenge
	if l, ok := t.cfg.Store.(ChallengeLister); ok && !t.cfg.Shared {
		if chals, err = l.Challenges(ctx); err != nil {
			return fmt.Errorf("load challenges: %w", err)
		}
	}
	for _, r := range regs {
		parseStored(r)
		shareIdentityStrings(r)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, r := range regs {
		t.putLoadedLocked(r)
	}
	for _, s := range subs {
		t.putSubLocked(s)
	}
	for _, c := range chals {
		t.putChalLocked(c)
		t.chalStored[c.IMPI] = c.Nonce
	}
	return nil
}

// parseStored parses the profile of a registration read from the store (once, here).
func parseStored(r *Registration) {
	if r.Parsed == nil && len(r.Profile) > 0 {
		if sub, err := userdata.Parse(r.Profile); err == nil {
			r.Parsed = sub
		}
	}
}

// shareIdentityStrings points the implicit set's URIs at the same strings of the parsed profile, so that the
// table holds each identity once (heap per UE).
func shareIdentityStrings(r *Registration) {
	if r.Parsed == nil {
		return
	}
	for i := range r.Identities {
		for _, sp := range r.Parsed.ServiceProfiles {
			for _, pi := range sp.PublicIdentities {
				if pi.Identity == r.Identities[i].URI {
					r.Identities[i].URI = pi.Identity
				}
			}
		}
		if r.Identities[i].URI == r.IMPU {
			r.IMPU = r.Identities[i].URI
		}
	}
}

// putLoadedLocked adds a registration read from the store, unless the table has it or removed it since.
func (t *Table) putLoadedLocked(r *Registration) *regEntry {
	if e := t.regs[r.IMPU]; e != nil {
		return e
	}
	if _, gone := t.deleted[r.IMPU]; gone {
		return nil
	}
	e := &regEntry{reg: r, stored: r.Version, hidx: -1}
	t.insertLocked(e)
	t.count(1, len(r.Contacts))
	return e
}

func (t *Table) count(regs, contacts int) {
	t.nRegs += regs
	t.nContacts += contacts
	if t.cfg.OnCount != nil && (regs != 0 || contacts != 0) {
		t.cfg.OnCount(regs, contacts)
	}
}

func (t *Table) insertLocked(e *regEntry) {
	r := e.reg
	t.regs[r.IMPU] = e
	t.indexLocked(e)
	t.byIMPI[r.IMPI] = append(t.byIMPI[r.IMPI], e)
	t.regHeap.set(e)
}

// indexLocked points every identity of e's set at e: an identity belongs to one registration, the latest to
// claim it.
func (t *Table) indexLocked(e *regEntry) {
	t.ids[e.reg.IMPU] = e
	for _, id := range e.reg.Identities {
		t.ids[id.URI] = e
	}
}

func (t *Table) unindexLocked(e *regEntry) {
	drop := func(u string) {
		if t.ids[u] == e {
			delete(t.ids, u)
		}
	}
	drop(e.reg.IMPU)
	for _, id := range e.reg.Identities {
		drop(id.URI)
	}
}

func (t *Table) removeLocked(e *regEntry) {
	r := e.reg
	delete(t.regs, r.IMPU)
	t.unindexLocked(e)
	list := t.byIMPI[r.IMPI]
	for i, x := range list {
		if x == e {
			list = append(list[:i], list[i+1:]...)
			break
		}
	}
	if len(list) == 0 {
		delete(t.byIMPI, r.IMPI)
	} else {
		t.byIMPI[r.IMPI] = list
	}
	t.regHeap.remove(e)
}

// SaveRegistration implements Registrar: the table takes a copy, bumps its version and journals it. In a
// pool (Shared) the change is written through, by compare-and-set: ErrConflict when another S-CSCF changed the
// registration since this one read it (the local copy is dropped; the caller reads again).
func (t *Table) SaveRegistration(ctx context.Context, r *Registration) error {
	if err := t.saveRegistration(r); err != nil {
		return err
	}
	if t.cfg.Shared {
		return t.writeThrough(ctx, dirtyKey{dirtyRegistration, r.IMPU})
	}
	return nil
}

// writeThrough journals one change now (a pool's S-CSCFs see it at once).
func (t *Table) writeThrough(ctx context.Context, k dirtyKey) error {
	t.flushMu.Lock()
	defer t.flushMu.Unlock()
	ops := t.takeDirtyKeys([]dirtyKey{k})
	for _, op := range ops {
		err := t.apply(ctx, op)
		t.settle(op, err)
		if err != nil {
			if errors.Is(err, ErrConflict) {
				t.invalidate(op)
			} else {
				t.requeue(op)
			}
			return err
		}
	}
	return nil
}

// Absent is the version SaveRegistrationIf expects when no registration is stored under the key.
const Absent uint64 = 0

// SaveRegistrationIf is SaveRegistration when the registration stored under r.IMPU still has version (Absent:
// none), else ErrConflict and nothing changes: the S-CSCF reads, talks to the HSS without any lock held, and
// applies the result only if nobody changed the registration meanwhile (it reads again and re-evaluates
// otherwise).
func (t *Table) SaveRegistrationIf(ctx context.Context, r *Registration, version uint64) error {
	if err := t.saveRegistrationIf(r, &version); err != nil {
		return err
	}
	if t.cfg.Shared {
		return t.writeThrough(ctx, dirtyKey{dirtyRegistration, r.IMPU})
	}
	return nil
}

// DeleteRegistrationIf is DeleteRegistration when the registration stored under impu has version, else
// ErrConflict (ErrNotFound when there is none).
func (t *Table) DeleteRegistrationIf(ctx context.Context, impu string, version uint64) error {
	return t.deleteRegistration(ctx, impu, &version)
}

// versionLocked is the version of the registration stored under key, Absent when none.
func (t *Table) versionLocked(key string) uint64 {
	if e := t.regs[key]; e != nil {
		return e.reg.Version
	}
	return Absent
}

func (t *Table) saveRegistration(r *Registration) error { return t.saveRegistrationIf(r, nil) }

func (t *Table) saveRegistrationIf(r *Registration, version *uint64) error {
	if r.IMPU == "" {
		return fmt.Errorf("save registration: empty IMPU")
	}
	own := r.Clone()
	shareIdentityStrings(own)
	t.mu.Lock()
	defer t.mu.Unlock()
	if version != nil {
		if got := t.versionLocked(own.IMPU); got != *version {
			return fmt.Errorf("registration %s: version %d, expected %d: %w", own.IMPU, got, *version, ErrConflict)
		}
	}
	e := t.regs[own.IMPU]
	if e == nil {
		e = &regEntry{hidx: -1}
		if base, ok := t.deleted[own.IMPU]; ok {
			e.stored = base
			delete(t.deleted, own.IMPU)
		}
		// Above a version being written or removed by a Flush right now, so versions only grow in the store.
		own.Version = max(own.Version, e.stored, t.inflight[own.IMPU]) + 1
		e.reg = own
		t.insertLocked(e)
		t.count(1, len(own.Contacts))
	} else {
		before := len(e.reg.Contacts)
		own.Version = max(own.Version, e.reg.Version) + 1
		t.removeLocked(e)
		e.reg = own
		t.insertLocked(e)
		t.count(0, len(own.Contacts)-before)
	}
	r.Version = own.Version
	t.dirty[dirtyKey{dirtyRegistration, own.IMPU}] = struct{}{}
	return nil
}

// Registration implements Registrar.
func (t *Table) Registration(ctx context.Context, impu string) (*Registration, error) {
	t.mu.Lock()
	e := t.ids[impu]
	if e != nil {
		r := e.reg.Clone()
		t.mu.Unlock()
		return r, nil
	}
	t.mu.Unlock()
	if !t.cfg.Shared {
		return nil, fmt.Errorf("registration %s: %w", impu, ErrNotFound)
	}
	// Load on miss: another S-CSCF of the pool may have registered it.
	r, err := t.cfg.Store.Registration(ctx, impu)
	if err != nil {
		return nil, err
	}
	parseStored(r)
	t.mu.Lock()
	defer t.mu.Unlock()
	if e = t.putLoadedLocked(r); e == nil {
		return nil, fmt.Errorf("registration %s: %w", impu, ErrNotFound)
	}
	return e.reg.Clone(), nil
}

// RegistrationsByIMPI implements Registrar.
func (t *Table) RegistrationsByIMPI(ctx context.Context, impi string) ([]*Registration, error) {
	if t.cfg.Shared {
		stored, err := t.cfg.Store.RegistrationsByIMPI(ctx, impi)
		if err != nil {
			return nil, err
		}
		t.mu.Lock()
		for _, r := range stored {
			parseStored(r)
			t.putLoadedLocked(r)
		}
		t.mu.Unlock()
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []*Registration
	for _, e := range t.byIMPI[impi] {
		out = append(out, e.reg.Clone())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].IMPU < out[j].IMPU })
	return out, nil
}

// DeleteRegistration implements Registrar.
func (t *Table) DeleteRegistration(ctx context.Context, impu string) error {
	return t.deleteRegistration(ctx, impu, nil)
}

func (t *Table) deleteRegistration(ctx context.Context, impu string, version *uint64) error {
	t.mu.Lock()
	e := t.regs[impu]
	if e != nil && version != nil && e.reg.Version != *version {
		t.mu.Unlock()
		return fmt.Errorf("delete registration %s: version %d, expected %d: %w", impu, e.reg.Version, *version, ErrConflict)
	}
	if e == nil {
		t.mu.Unlock()
		if t.cfg.Shared {
			return t.cfg.Store.DeleteRegistration(ctx, impu)
		}
		return fmt.Errorf("delete registration %s: %w", impu, ErrNotFound)
	}
	t.removeLocked(e)
	t.count(-1, -len(e.reg.Contacts))
	if e.stored > 0 || t.cfg.Shared {
		t.deleted[impu] = e.stored
	}
	t.dirty[dirtyKey{dirtyRegistration, impu}] = struct{}{}
	t.mu.Unlock()
	if t.cfg.Shared {
		// Of several S-CSCFs removing one registration (expiry sweeps), one succeeds.
		return t.writeThrough(ctx, dirtyKey{dirtyRegistration, impu})
	}
	return nil
}

// ExpiredRegistrations implements Registrar: the due part of the deadline heap.
func (t *Table) ExpiredRegistrations(_ context.Context, now time.Time) ([]*Registration, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []*Registration
	t.regHeap.due(now, func(e *regEntry) { out = append(out, e.reg.Clone()) })
	sort.Slice(out, func(i, j int) bool { return out[i].IMPU < out[j].IMPU })
	return out, nil
}

// CountRegistrations implements Registrar from the incremental counts.
func (t *Table) CountRegistrations(context.Context) (registrations, contacts int, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.nRegs, t.nContacts, nil
}

func (t *Table) putSubLocked(s *Subscription) {
	if old := t.subs[s.ID]; old != nil {
		t.dropSubLocked(old)
	}
	e := &subEntry{sub: s, hidx: -1}
	t.subs[s.ID] = e
	m := t.subsBy[s.IMPU]
	if m == nil {
		m = map[string]*subEntry{}
		t.subsBy[s.IMPU] = m
	}
	m[s.ID] = e
	t.subHeap.set(e)
}

func (t *Table) dropSubLocked(e *subEntry) {
	delete(t.subs, e.sub.ID)
	if m := t.subsBy[e.sub.IMPU]; m != nil {
		delete(m, e.sub.ID)
		if len(m) == 0 {
			delete(t.subsBy, e.sub.IMPU)
		}
	}
	t.subHeap.remove(e)
}

// SaveSubscription implements Registrar. In a pool subscriptions live in the store alone (any S-CSCF of it
// notifies the watchers of a registration it changes).
func (t *Table) SaveSubscription(ctx context.Context, s *Subscription) error {
	if s.ID == "" {
		return fmt.Errorf("save subscription: empty ID")
	}
	if t.cfg.Shared {
		return t.cfg.Store.SaveSubscription(ctx, s)
	}
	own := s.Clone()
	t.mu.Lock()
	defer t.mu.Unlock()
	t.putSubLocked(own)
	t.dirty[dirtyKey{dirtySubscription, own.ID}] = struct{}{}
	return nil
}

// Subscription implements Registrar.
func (t *Table) Subscription(ctx context.Context, id string) (*Subscription, error) {
	if t.cfg.Shared {
		return t.cfg.Store.Subscription(ctx, id)
	}
	t.mu.Lock()
	if e := t.subs[id]; e != nil {
		s := e.sub.Clone()
		t.mu.Unlock()
		return s, nil
	}
	t.mu.Unlock()
	return nil, fmt.Errorf("subscription %s: %w", id, ErrNotFound)
}

// Subscriptions implements Registrar.
func (t *Table) Subscriptions(ctx context.Context, impu string) ([]*Subscription, error) {
	if t.cfg.Shared {
		return t.cfg.Store.Subscriptions(ctx, impu)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []*Subscription
	for _, e := range t.subsBy[impu] {
		out = append(out, e.sub.Clone())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// DeleteSubscription implements Registrar.
func (t *Table) DeleteSubscription(ctx context.Context, id string) error {
	if t.cfg.Shared {
		return t.cfg.Store.DeleteSubscription(ctx, id)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	e := t.subs[id]
	if e == nil {
		return fmt.Errorf("delete subscription %s: %w", id, ErrNotFound)
	}
	t.dropSubLocked(e)
	t.dirty[dirtyKey{dirtySubscription, id}] = struct{}{}
	return nil
}

// ExpiredSubscriptions implements Registrar.
func (t *Table) ExpiredSubscriptions(ctx context.Context, now time.Time) ([]*Subscription, error) {
	if t.cfg.Shared {
		return t.cfg.Store.ExpiredSubscriptions(ctx, now)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []*Subscription
	t.subHeap.due(now, func(e *subEntry) { out = append(out, e.sub.Clone()) })
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

func (t *Table) putChalLocked(c *Challenge) {
	if old := t.chals[c.IMPI]; old != nil {
		t.chalHeap.remove(old)
	}
	e := &chalEntry{c: c, hidx: -1}
	t.chals[c.IMPI] = e
	t.chalHeap.set(e)
}

func (t *Table) dropChalLocked(e *chalEntry) {
	delete(t.chals, e.c.IMPI)
	t.chalHeap.remove(e)
	t.dirty[dirtyKey{dirtyChallenge, e.c.IMPI}] = struct{}{}
}

// SaveChallenge implements Registrar. In a pool the challenge is written through, so that the UE's answer
// may reach any S-CSCF of it.
func (t *Table) SaveChallenge(ctx context.Context, c *Challenge) error {
	if c.IMPI == "" {
		return fmt.Errorf("save challenge: empty IMPI")
	}
	if t.cfg.Shared {
		return t.cfg.Store.SaveChallenge(ctx, c)
	}
	cp := *c
	t.mu.Lock()
	defer t.mu.Unlock()
	t.putChalLocked(&cp)
	t.dirty[dirtyKey{dirtyChallenge, c.IMPI}] = struct{}{}
	return nil
}

// TakeChallenge implements Registrar.
func (t *Table) TakeChallenge(ctx context.Context, impi, nonce string) (*Challenge, error) {
	if t.cfg.Shared {
		return t.cfg.Store.TakeChallenge(ctx, impi, nonce)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	e := t.chals[impi]
	if e == nil || e.c.Nonce != nonce {
		return nil, fmt.Errorf("challenge %s: %w", impi, ErrNotFound)
	}
	t.dropChalLocked(e)
	return e.c, nil
}

// TakeExpiredChallenges implements Registrar.
func (t *Table) TakeExpiredChallenges(ctx context.Context, now time.Time) ([]*Challenge, error) {
	if t.cfg.Shared {
		return t.cfg.Store.TakeExpiredChallenges(ctx, now)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	var due []*chalEntry
	t.chalHeap.due(now, func(e *chalEntry) { due = append(due, e) })
	out := make([]*Challenge, 0, len(due))
	for _, e := range due {
		t.dropChalLocked(e)
		out = append(out, e.c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].IMPI < out[j].IMPI })
	return out, nil
}

// journalOp is one write to the store, prepared under the lock and run outside it.
type journalOp struct {
	key      dirtyKey
	reg      *Registration // save (nil: delete)
	base     uint64        // version the store holds
	sub      *Subscription
	chal     *Challenge
	takeChal string // nonce of a challenge to remove from the store
}

// Shared says whether other S-CSCFs use the store (TableConfig.Shared).
func (t *Table) Shared() bool { return t.cfg.Shared }

// Pending is the number of changes not written to the store yet.
func (t *Table) Pending() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.dirty)
}

// Flush writes every change made since the last flush to the store, outside the table's lock (requests go
// on meanwhile). A failed write stays dirty and is retried by the next Flush; a version conflict (another
// S-CSCF changed the registration) drops the local copy, which is loaded again on the next request.
func (t *Table) Flush(ctx context.Context) error {
	t.flushMu.Lock()
	defer t.flushMu.Unlock()
	ops := t.takeDirty()
	outcome := t.applyBatches(ctx, ops)
	var first error
	for i, op := range ops {
		var err error
		if outcome[i].done {
			err = outcome[i].err
		} else {
			err = t.apply(ctx, op)
		}
		t.settle(op, err)
		if err == nil {
			continue
		}
		if t.cfg.OnError != nil {
			t.cfg.OnError(opName(op), op.key.key, err)
		}
		if errors.Is(err, ErrConflict) {
			t.invalidate(op)
			continue
		}
		if first == nil {
			first = err
		}
		t.requeue(op)
	}
	return first
}

// batchOutcome is what a batched write did to one journal operation; done is false for an operation the
// batches did not write (not a registration, or its batch failed as a whole), which Flush then writes alone.
type batchOutcome struct {
	done bool
	err  error
}

// applyBatches writes ops through the store's WriteJournal, maxBatch at a time, when the store is a BatchStore.
// A batch that fails as a whole is left to the one-by-one path, so that one bad row cannot hold the others back.
func (t *Table) applyBatches(ctx context.Context, ops []journalOp) []batchOutcome {
	out := make([]batchOutcome, len(ops))
	bs, ok := t.cfg.Store.(BatchStore)
	if !ok {
		return out
	}
	for from := 0; from < len(ops); from += maxBatch {
		batch := ops[from:min(from+maxBatch, len(ops))]
		writes := make([]JournalWrite, len(batch))
		for i, op := range batch {
			writes[i] = op.write()
		}
		res, err := bs.WriteJournal(ctx, writes)
		if err != nil || len(res) != len(writes) {
			continue
		}
		for i, e := range res {
			if e != nil && !errors.Is(e, ErrConflict) && !errors.Is(e, ErrNotFound) {
				continue // not an outcome the contract allows: written alone
			}
			if errors.Is(e, ErrNotFound) && !batch[i].saves() {
				e = nil // gone already, as apply treats a removal of nothing
			}
			out[from+i] = batchOutcome{done: true, err: e}
		}
	}
	return out
}

// write is op as a BatchStore write.
func (op journalOp) write() JournalWrite {
	switch op.key.kind {
	case dirtyRegistration:
		return JournalWrite{IMPU: op.key.key, Reg: op.reg, Base: op.base}
	case dirtySubscription:
		if op.sub != nil {
			return JournalWrite{Sub: op.sub}
		}
		return JournalWrite{SubscriptionID: op.key.key}
	}
	if op.chal != nil {
		return JournalWrite{Chal: op.chal}
	}
	return JournalWrite{IMPI: op.key.key, Nonce: op.takeChal}
}

// saves says whether op writes something rather than removing it.
func (op journalOp) saves() bool { return op.reg != nil || op.sub != nil || op.chal != nil }

func opName(op journalOp) string {
	switch {
	case op.key.kind == dirtyRegistration && op.reg != nil:
		return "save registration"
	case op.key.kind == dirtyRegistration:
		return "delete registration"
	case op.key.kind == dirtySubscription:
		return "subscription"
	}
	return "challenge"
}

func (t *Table) takeDirty() []journalOp {
	return t.takeDirtyKeys(nil)
}

// takeDirtyKeys prepares the writes of keys (nil: every dirty key) and clears them.
func (t *Table) takeDirtyKeys(keys []dirtyKey) []journalOp {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.dirty) == 0 {
		return nil
	}
	if keys == nil {
		keys = make([]dirtyKey, 0, len(t.dirty))
		for k := range t.dirty {
			keys = append(keys, k)
		}
		t.flushes++
	}
	ops := make([]journalOp, 0, len(keys))
	for _, k := range keys {
		if _, ok := t.dirty[k]; !ok {
			continue
		}
		delete(t.dirty, k)
		op := journalOp{key: k}
		switch k.kind {
		case dirtyRegistration:
			if e := t.regs[k.key]; e != nil {
				op.reg, op.base = e.reg.Clone(), e.stored
				t.inflight[k.key] = op.reg.Version
			} else if base, ok := t.deleted[k.key]; ok {
				op.base = base
				delete(t.deleted, k.key)
				t.inflight[k.key] = base
			} else {
				continue // created and removed between two flushes: nothing stored
			}
		case dirtySubscription:
			if e := t.subs[k.key]; e != nil {
				op.sub = e.sub.Clone()
			}
		case dirtyChallenge:
			if e := t.chals[k.key]; e != nil {
				cp := *e.c
				op.chal = &cp
				t.chalStored[k.key] = cp.Nonce
			} else if n, ok := t.chalStored[k.key]; ok {
				op.takeChal = n
				delete(t.chalStored, k.key)
			} else {
				continue
			}
		}
		ops = append(ops, op)
	}
	return ops
}

func (t *Table) apply(ctx context.Context, op journalOp) error {
	st := t.cfg.Store
	vs, versioned := st.(VersionedStore)
	switch op.key.kind {
	case dirtyRegistration:
		if op.reg != nil {
			var err error
			if versioned {
				err = vs.SaveRegistrationVersion(ctx, op.reg, op.base)
			} else {
				err = st.SaveRegistration(ctx, op.reg)
			}
			return err
		}
		var err error
		if versioned {
			err = vs.DeleteRegistrationVersion(ctx, op.key.key, op.base)
		} else {
			err = st.DeleteRegistration(ctx, op.key.key)
		}
		if errors.Is(err, ErrNotFound) {
			return nil
		}
		return err
	case dirtySubscription:
		if op.sub != nil {
			return st.SaveSubscription(ctx, op.sub)
		}
		if err := st.DeleteSubscription(ctx, op.key.key); err != nil && !errors.Is(err, ErrNotFound) {
			return err
		}
		return nil
	default:
		if op.chal != nil {
			return st.SaveChallenge(ctx, op.chal)
		}
		if _, err := st.TakeChallenge(ctx, op.key.key, op.takeChal); err != nil && !errors.Is(err, ErrNotFound) {
			return err
		}
		return nil
	}
}

// settle records what a registration write did to the store, under the lock: the version it wrote becomes
// the base of the next write of that key, whether the table still has the registration, removed it while the
// write ran (the removal is journalled against that version), or removed and added it again. Failures are
// left to requeue and invalidate.
func (t *Table) settle(op journalOp, err error) {
	if op.key.kind != dirtyRegistration {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.inflight, op.key.key)
	if err != nil || op.reg == nil {
		return
	}
	v := op.reg.Version
	if e := t.regs[op.key.key]; e != nil {
		e.stored = max(e.stored, v)
		return
	}
	if _, removed := t.dirty[op.key]; removed {
		t.deleted[op.key.key] = max(t.deleted[op.key.key], v)
	}
}

// requeue marks a failed write dirty again, unless a newer change did already.
func (t *Table) requeue(op journalOp) {
	t.mu.Lock()
	defer t.mu.Unlock()
	switch {
	case op.key.kind == dirtyRegistration && op.reg == nil:
		// The removal failed: the store still holds base, whether the registration is back here or not.
		if e, back := t.regs[op.key.key]; !back {
			t.deleted[op.key.key] = op.base
		} else if e.stored < op.base {
			e.stored = op.base
		}
	case op.key.kind == dirtyRegistration:
		// The save failed: the store still holds base; if the registration was removed meanwhile, that removal
		// must be journalled against base.
		if _, back := t.regs[op.key.key]; !back && op.base > 0 {
			if _, ok := t.deleted[op.key.key]; !ok {
				t.deleted[op.key.key] = op.base
			}
		}
	case op.key.kind == dirtyChallenge && op.chal != nil:
		delete(t.chalStored, op.key.key)
	case op.key.kind == dirtyChallenge:
		if _, ok := t.chalStored[op.key.key]; !ok {
			t.chalStored[op.key.key] = op.takeChal
		}
	}
	t.dirty[op.key] = struct{}{}
}

// invalidate drops the local copy of a registration another S-CSCF changed: the next request loads the
// store's.
func (t *Table) invalidate(op journalOp) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.conflicts++
	delete(t.deleted, op.key.key)
	if e := t.regs[op.key.key]; e != nil {
		t.removeLocked(e)
		t.count(-1, -len(e.reg.Contacts))
	}
}

// Invalidate drops the local copy of the registration stored under impu (another S-CSCF changed it). An empty
// impu drops every copy not waiting to be journalled: the watcher has just started (or restarted) listening, so
// changes made before it listened were never announced.
func (t *Table) Invalidate(impu string, version uint64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if impu == "" {
		for key, e := range t.regs {
			if _, dirty := t.dirty[dirtyKey{dirtyRegistration, key}]; dirty {
				continue
			}
			t.removeLocked(e)
			t.count(-1, -len(e.reg.Contacts))
		}
		return
	}
	e := t.regs[impu]
	if e == nil || e.reg.Version >= version {
		return
	}
	if _, dirty := t.dirty[dirtyKey{dirtyRegistration, impu}]; dirty {
		return // ours is newer and not journalled yet: the flush settles it by compare-and-set
	}
	t.removeLocked(e)
	t.count(-1, -len(e.reg.Contacts))
}

// Run flushes every interval until ctx ends; the caller flushes once more after it returns (a clean stop
// loses nothing).
func (t *Table) Run(ctx context.Context, interval time.Duration) {
	tk := time.NewTicker(interval)
	defer tk.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tk.C:
			_ = t.Flush(ctx) // failures are reported through OnError and retried
		}
	}
}

// Interface guard.
var _ Registrar = (*Table)(nil)
