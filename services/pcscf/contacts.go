package pcscf

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/imscore/imscore/sip/identity"
	"github.com/imscore/imscore/sip/ipsec"
)

// Registration is one UE registration as the P-CSCF keeps it (TS 24.229 §5.2.2): who, where,
// the identities the S-CSCF associated with it, its Service-Route, and its SA sets.
type Registration struct {
	// IMPU is the public identity registered (To of the REGISTER), the key.
	IMPU string `json:"impu"`
	// IMPI is the private identity (Authorization username).
	IMPI string `json:"impi"`
	// ContactHost and ContactPort are the registered contact's address: a request whose
	// Request-URI names them goes to this UE.
	ContactHost string `json:"contact_host"`
	ContactPort uint16 `json:"contact_port"`
	// Transport is UDP or TCP, as the UE's REGISTER came.
	Transport string `json:"transport"`
	// Source is where the unprotected REGISTER came from; for a UE without sec-agree, where its
	// requests come from and where requests to it go.
	Source netip.AddrPort `json:"source"`
	// Associated are the P-Associated-URI values of the 200 (RFC 7315 §4.1), the first being
	// the default public identity (TS 24.229 §5.2.6.3.1).
	Associated []string `json:"associated,omitempty"`
	// ServiceRoute are the Service-Route values of the 200 (RFC 3608), top first.
	ServiceRoute []string `json:"service_route,omitempty"`
	// Expires is when the registration ends; zero while not yet registered.
	Expires time.Time `json:"expires"`
	// RegEvent is the P-CSCF's subscription to this user's reg event (TS 24.229 §5.2.3): only NOTIFYs within it
	// are accepted (RFC 6665 §4.1.3). Kept here so that a restart still knows it.
	RegEvent *RegEventSubscription `json:"reg_event,omitempty"`
	// SAs are the IMS-AKA SA sets towards this UE, newest first. More than one exists only
	// during a re-registration: the old set stays until the UE uses the new (TS 33.203 §7.4).
	SAs []SASet `json:"sas,omitempty"`
}

// SASet is one set of four SAs and what was negotiated for it.
type SASet struct {
	Pair ipsec.Pair `json:"pair"` // holds CK and IK: the state file is written 0600
	// SecurityServer is the Security-Server value sent in the 401, which Security-Verify must
	// equal (TS 24.229 §5.2.2); SecurityClient the UE's offer, which a later Security-Client
	// must equal.
	SecurityServer string    `json:"security_server"`
	SecurityClient string    `json:"security_client"`
	Expires        time.Time `json:"expires"`
	// Confirmed: a REGISTER came over this set and was answered 200.
	Confirmed bool `json:"confirmed"`
	// OutboundSeq is the highest ESP sequence number the P-CSCF had sent over this set when it last stopped
	// cleanly; a restart installs the set again with numbers after it (plus restoreSeqMargin).
	OutboundSeq uint32 `json:"outbound_seq,omitempty"`
}

// Registered reports whether the registration is in force at now.
func (r *Registration) Registered(now time.Time) bool {
	return !r.Expires.IsZero() && now.Before(r.Expires)
}

// SecAgree reports whether the UE uses IMS-AKA SAs.
func (r *Registration) SecAgree() bool { return len(r.SAs) > 0 }

// Store keeps registrations and their SA sets across restarts (docs/design.md §1 storage: the
// P-CSCF's contacts + SAs). The P-CSCF saves the whole set on each change; it is small.
type Store interface {
	Load() ([]Registration, error)
	Save(regs []Registration) error
}

// FileStore is the embedded Store: one JSON file, replaced atomically (write, fsync, rename),
// mode 0600 because it holds SA keys.
type FileStore struct {
	Path string
	mu   sync.Mutex
}

// Load reads the file; a missing file is an empty state.
func (s *FileStore) Load() ([]Registration, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, err := os.ReadFile(s.Path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("pcscf state %s: %w", s.Path, err)
	}
	var regs []Registration
	if err := json.Unmarshal(b, &regs); err != nil {
		return nil, fmt.Errorf("pcscf state %s: %w", s.Path, err)
	}
	return regs, nil
}

// Save replaces the file with regs.
func (s *FileStore) Save(regs []Registration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, err := json.MarshalIndent(regs, "", "  ")
	if err != nil {
		return fmt.Errorf("pcscf state: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(s.Path), 0o700); err != nil {
		return fmt.Errorf("pcscf state dir: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(s.Path), ".pcscf-state-*")
	if err != nil {
		return fmt.Errorf("pcscf state: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("pcscf state: %w", err)
	}
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return fmt.Errorf("pcscf state: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("pcscf state: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("pcscf state: %w", err)
	}
	if err := os.Rename(tmp.Name(), s.Path); err != nil {
		return fmt.Errorf("pcscf state: %w", err)
	}
	return nil
}

// memStore is the Store when no file is configured.
type memStore struct{}

func (memStore) Load() ([]Registration, error) { return nil, nil }
func (memStore) Save([]Registration) error     { return nil }

// registry holds the registrations in memory, keyed by IMPU, with indexes for the lookups
// every request makes: by SA flow 1, by contact address and by source address. Its bookkeeping does not grow
// with the number of registrations (issue 12): counters kept on every change answer count, and a min-heap of
// each registration's next expiry (due) gives the expiry sweep only what has expired.
type registry struct {
	mu        sync.Mutex
	regs      map[string]*regEntry
	bySAKey   map[saKey]string               // → IMPU key
	byContKey map[contactKey]string          // → IMPU key
	bySrcAddr map[netip.Addr]map[string]bool // → IMPU keys (UEs without sec-agree)
	// bySrcID finds the registration of a UE without sec-agree by its source address and an identity of its
	// implicit set in one step, where the address alone may be shared by many (a NAT, SIPp, loopback).
	bySrcID map[srcIdentity]string // → IMPU key
	// byFlow finds the registrations whose UE sends from an address and port: its registered source and the
	// UE's ends of its SA sets. A request from one of them is from the access side whatever its address.
	byFlow map[netip.AddrPort]map[string]bool // → IMPU keys
	// due orders every registration by the earliest of its expiry and its SA sets' (dueOf).
	due dueHeap[*regEntry]
	// timed counts the registrations with an expiry (Expires not zero), saSets their SA sets: count derives
	// the registrations in force from them without a scan.
	timed, saSets int
}

// regEntry is a registration with its place in the expiry heap.
type regEntry struct {
	Registration
	key string // impuKey of the IMPU: the map key
	dueSlot
}

// dueOf is when the expiry sweep must next look at reg: the earliest of its expiry and its SA sets' expiries.
// A registration with neither an expiry nor an SA set (a record left without a registration) is due at once,
// as the per-registration sweep removed it at its next tick.
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
	return &registry{regs: make(map[string]*regEntry), bySAKey: make(map[saKey]string),
		byContKey: make(map[contactKey]string), bySrcAddr: make(map[netip.Addr]map[string]bool),
		bySrcID: make(map[srcIdentity]string), byFlow: make(map[netip.AddrPort]map[string]bool)}
}

// tally adds (d 1) or takes away (d -1) reg's share of the counters.
func (r *registry) tally(reg *Registration, d int) {
	if !reg.Expires.IsZero() {
		r.timed += d
	}
	r.saSets += d * len(reg.SAs)
}

// indexKeys are the entries one registration has in the indexes.
type indexKeys struct {
	sas     []saKey
	flows   []netip.AddrPort
	cont    contactKey
	hasCont bool
	src     netip.Addr // invalid when the registration has no source
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

// reindex moves the index entries of the registration under k from old to cur (either nil for none): the
// entries only old has go (a single-owner entry only while it is still k's), every entry of cur is k's. That is
// the state removing all of old and adding all of cur gives, without deleting and re-creating the entries both
// have (a re-registration keeps most).
func (r *registry) reindex(k string, old, cur *indexKeys) {
	if old == nil {
		old = &indexKeys{}
	}
	if cur == nil {
		cur = &indexKeys{}
	}
	for _, sk := range old.sas {
		if !slices.Contains(cur.sas, sk) && r.bySAKey[sk] == k {
			delete(r.bySAKey, sk)
		}
	}
	for _, f := range old.flows {
		if !slices.Contains(cur.flows, f) {
			indexSet(r.byFlow, f, k, false)
		}
	}
	if old.hasCont && (!cur.hasCont || cur.cont != old.cont) && r.byContKey[old.cont] == k {
		delete(r.byContKey, old.cont)
	}
	for _, id := range old.ids {
		if !slices.Contains(cur.ids, id) && r.bySrcID[id] == k {
			delete(r.bySrcID, id)
		}
	}
	if old.src.IsValid() && old.src != cur.src {
		indexSet(r.bySrcAddr, old.src, k, false)
	}
	for _, sk := range cur.sas {
		r.bySAKey[sk] = k
	}
	for _, f := range cur.flows {
		indexSet(r.byFlow, f, k, true)
	}
	if cur.hasCont {
		r.byContKey[cur.cont] = k
	}
	for _, id := range cur.ids {
		r.bySrcID[id] = k
	}
	if cur.src.IsValid() {
		indexSet(r.bySrcAddr, cur.src, k, true)
	}
}

// indexSet adds (add true) or removes the IMPU key k in the set of index m under key.
func indexSet[K comparable](m map[K]map[string]bool, key K, k string, add bool) {
	set := m[key]
	if add {
		if set == nil {
			set = make(map[string]bool)
			m[key] = set
		}
		set[k] = true
	} else if set != nil {
		delete(set, k)
		if len(set) == 0 {
			delete(m, key)
		}
	}
}

// snapshot copies every registration (for Save).
func (r *registry) snapshot() []Registration {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]Registration, 0, len(r.regs))
	for _, e := range r.regs {
		c := e.Registration
		c.SAs = append([]SASet(nil), e.SAs...)
		out = append(out, c)
	}
	return out
}

// bySA finds the registration and SA set whose flow 1 (UE port-c → our port-s) is src → our
// port-s: the only way a request may reach the protected server port (TS 33.203 §7.1).
func (r *registry) bySA(src netip.AddrPort, ourPortS uint16) (Registration, SASet, int, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	reg := r.lookup(r.bySAKey[saKey{src.Addr().Unmap(), src.Port(), ourPortS}])
	if reg == nil {
		return Registration{}, SASet{}, 0, false
	}
	for i, sa := range reg.SAs {
		if sa.Pair.UE.Addr.Unmap() == src.Addr().Unmap() && sa.Pair.UE.PortC == src.Port() && sa.Pair.PCSCF.PortS == ourPortS {
			return copyReg(reg), sa, i, true
		}
	}
	return Registration{}, SASet{}, 0, false
}

// byContact finds a registered UE by the host and port of a Request-URI.
func (r *registry) byContact(host string, port uint16, now time.Time) (Registration, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	reg := r.lookup(r.byContKey[contactKey{strings.Trim(strings.ToLower(host), "[]"), port}])
	if reg == nil || !reg.Registered(now) {
		return Registration{}, false
	}
	return copyReg(reg), true
}

// bySource finds a registered UE without sec-agree by the source address and port of a request, over UDP or
// TCP alike; when several share them (UEs behind one NAT port, one SIPp socket), the identity id picks among
// them (compared by its key, package identity).
func (r *registry) bySource(src netip.AddrPort, id string, now time.Time) (Registration, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	usable := func(reg *Registration) bool {
		if reg == nil || !reg.Registered(now) || reg.SecAgree() {
			return false
		}
		// TS 24.229 §5.2.6.3.1 with TS 33.203 §7: without sec-agree, the registered address and port are all that
		// tells a UE from another process at its address (a NAT, the same host), over TCP too.
		return reg.Source.Port() == src.Port()
	}
	if id != "" {
		if reg := r.lookup(r.bySrcID[srcIdentity{src.Addr().Unmap(), identity.Key(id)}]); usable(reg) {
			return copyReg(reg), true
		}
	}
	// No identity of a registration at this address: the UE is known when it is the only one there.
	var only *Registration
	for k := range r.bySrcAddr[src.Addr().Unmap()] {
		if reg := r.lookup(k); usable(reg) {
			if only != nil {
				return Registration{}, false
			}
			only = reg
		}
	}
	if only != nil {
		return copyReg(only), true
	}
	return Registration{}, false
}

// isUEFlow reports whether src is where a registered UE sends from: its registered address and port, or the
// UE's end of one of its SA sets.
func (r *registry) isUEFlow(src netip.AddrPort, now time.Time) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for k := range r.byFlow[netip.AddrPortFrom(src.Addr().Unmap(), src.Port())] {
		if reg := r.lookup(k); reg != nil && reg.Registered(now) {
			return true
		}
	}
	return false
}

// lookup is the registration under the IMPU key k, nil when none.
func (r *registry) lookup(k string) *Registration {
	if e := r.regs[k]; e != nil {
		return &e.Registration
	}
	return nil
}

func (r *registry) get(impu string) (Registration, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	reg := r.lookup(identity.Key(impu))
	if reg == nil {
		return Registration{}, false
	}
	return copyReg(reg), true
}

// update runs fn on the registration of impu (created empty when missing) under the lock;
// fn returning false deletes it.
func (r *registry) update(impu string, fn func(reg *Registration) bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	k := identity.Key(impu)
	e, ok := r.regs[k]
	var old indexKeys
	if !ok {
		e = &regEntry{Registration: Registration{IMPU: impu}, key: k, dueSlot: dueSlot{idx: -1}}
	} else {
		old = keysOf(&e.Registration)
		r.tally(&e.Registration, -1)
	}
	if fn(&e.Registration) {
		r.regs[k] = e
		cur := keysOf(&e.Registration)
		r.reindex(k, &old, &cur)
		r.tally(&e.Registration, 1)
		r.due.set(e, dueOf(&e.Registration))
	} else if ok {
		delete(r.regs, k)
		r.reindex(k, &old, nil)
		r.due.remove(e)
	}
}

// count is the number of registrations in force at now and of SA sets held, from the counters: the
// registrations with an expiry, less those whose expiry has passed and the sweep has not yet removed (found
// through the heap, O(their number)).
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

// expire removes the SA sets whose expiry has passed at now, and the registrations whose expiry has passed or
// that hold neither an expiry nor an SA set; it returns the SA sets removed (for the kernel and the allocator),
// the IMPUs of the registrations removed, and whether anything changed. Only the registrations due are
// touched: O(k log N) for k due among N.
func (r *registry) expire(now time.Time) (gone []SASet, ended []string, changed bool) {
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
			ended = append(ended, reg.IMPU)
			delete(r.regs, e.key)
			r.reindex(e.key, &old, nil)
			continue
		}
		cur := keysOf(reg)
		r.reindex(e.key, &old, &cur)
		r.tally(reg, 1)
		r.due.set(e, dueOf(reg)) // all due were popped first: each is looked at once per sweep
	}
	return gone, ended, changed
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

var (
	_ Store = (*FileStore)(nil)
	_ Store = memStore{}
)
