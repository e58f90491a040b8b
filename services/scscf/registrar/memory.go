package registrar

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"sync"
	"time"
)

// Memory is a Registrar in process memory, for tests and for an S-CSCF run without a database. Records
// are kept as JSON, as the SQL backends keep them, so that all three return the same values.
type Memory struct {
	mu    sync.Mutex
	regs  map[string][]byte     // key IMPU → Registration JSON
	index map[string]string     // any IMPU of an implicit set → key IMPU
	subs  map[string][]byte     // ID → Subscription JSON
	chals map[string]*Challenge // IMPI → its latest challenge (copies in and out)
}

// NewMemory returns an empty in-memory registrar.
func NewMemory() *Memory {
	return &Memory{regs: map[string][]byte{}, index: map[string]string{}, subs: map[string][]byte{},
		chals: map[string]*Challenge{}}
}

// SaveRegistration implements Registrar.
func (m *Memory) SaveRegistration(_ context.Context, r *Registration) error {
	if r.IMPU == "" {
		return fmt.Errorf("save registration: empty IMPU")
	}
	b, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("save registration %s: %w", r.IMPU, err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.unindexLocked(r.IMPU)
	m.regs[r.IMPU] = b
	for _, u := range r.IdentityURIs() {
		m.index[u] = r.IMPU
	}
	return nil
}

func (m *Memory) unindexLocked(key string) {
	for u, k := range m.index {
		if k == key {
			delete(m.index, u)
		}
	}
}

func decodeRegistration(b []byte) (*Registration, error) {
	var r Registration
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("decode registration: %w", err)
	}
	return &r, nil
}

func decodeSubscription(b []byte) (*Subscription, error) {
	var s Subscription
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("decode subscription: %w", err)
	}
	return &s, nil
}

// Registration implements Registrar.
func (m *Memory) Registration(_ context.Context, impu string) (*Registration, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	key, ok := m.index[impu]
	if !ok {
		return nil, fmt.Errorf("registration %s: %w", impu, ErrNotFound)
	}
	return decodeRegistration(m.regs[key])
}

// RegistrationsByIMPI implements Registrar.
func (m *Memory) RegistrationsByIMPI(_ context.Context, impi string) ([]*Registration, error) {
	return m.filterRegs(func(r *Registration) bool { return r.IMPI == impi })
}

// ExpiredRegistrations implements Registrar.
func (m *Memory) ExpiredRegistrations(_ context.Context, now time.Time) ([]*Registration, error) {
	return m.filterRegs(func(r *Registration) bool { return !r.Expires.After(now) })
}

func (m *Memory) filterRegs(keep func(*Registration) bool) ([]*Registration, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []*Registration
	for _, b := range m.regs {
		r, err := decodeRegistration(b)
		if err != nil {
			return nil, err
		}
		if keep(r) {
			out = append(out, r)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].IMPU < out[j].IMPU })
	return out, nil
}

// DeleteRegistration implements Registrar.
func (m *Memory) DeleteRegistration(_ context.Context, impu string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.regs[impu]; !ok {
		return fmt.Errorf("delete registration %s: %w", impu, ErrNotFound)
	}
	delete(m.regs, impu)
	m.unindexLocked(impu)
	return nil
}

// SaveSubscription implements Registrar.
func (m *Memory) SaveSubscription(_ context.Context, s *Subscription) error {
	if s.ID == "" {
		return fmt.Errorf("save subscription: empty ID")
	}
	b, err := json.Marshal(s)
	if err != nil {
		return fmt.Errorf("save subscription %s: %w", s.ID, err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.subs[s.ID] = b
	return nil
}

// Subscription implements Registrar.
func (m *Memory) Subscription(_ context.Context, id string) (*Subscription, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, ok := m.subs[id]
	if !ok {
		return nil, fmt.Errorf("subscription %s: %w", id, ErrNotFound)
	}
	return decodeSubscription(b)
}

// Subscriptions implements Registrar.
func (m *Memory) Subscriptions(_ context.Context, impu string) ([]*Subscription, error) {
	return m.filterSubs(func(s *Subscription) bool { return s.IMPU == impu })
}

// ExpiredSubscriptions implements Registrar.
func (m *Memory) ExpiredSubscriptions(_ context.Context, now time.Time) ([]*Subscription, error) {
	return m.filterSubs(func(s *Subscription) bool { return !s.Expires.After(now) })
}

func (m *Memory) filterSubs(keep func(*Subscription) bool) ([]*Subscription, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []*Subscription
	for _, b := range m.subs {
		s, err := decodeSubscription(b)
		if err != nil {
			return nil, err
		}
		if keep(s) {
			out = append(out, s)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// DeleteSubscription implements Registrar.
func (m *Memory) DeleteSubscription(_ context.Context, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.subs[id]; !ok {
		return fmt.Errorf("delete subscription %s: %w", id, ErrNotFound)
	}
	delete(m.subs, id)
	return nil
}

// Interface guard.
var _ Registrar = (*Memory)(nil)

// SaveChallenge implements Registrar.
func (m *Memory) SaveChallenge(_ context.Context, c *Challenge) error {
	if c.IMPI == "" {
		return fmt.Errorf("save challenge: empty IMPI")
	}
	cp := *c
	m.mu.Lock()
	defer m.mu.Unlock()
	m.chals[c.IMPI] = &cp
	return nil
}

// TakeChallenge implements Registrar.
func (m *Memory) TakeChallenge(_ context.Context, impi, nonce string) (*Challenge, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c, ok := m.chals[impi]
	if !ok || c.Nonce != nonce {
		return nil, fmt.Errorf("challenge %s: %w", impi, ErrNotFound)
	}
	delete(m.chals, impi)
	return c, nil
}

// TakeExpiredChallenges implements Registrar.
func (m *Memory) TakeExpiredChallenges(_ context.Context, now time.Time) ([]*Challenge, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []*Challenge
	for impi, c := range m.chals {
		if !c.Expires.After(now) {
			out = append(out, c)
			delete(m.chals, impi)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].IMPI < out[j].IMPI })
	return out, nil
}

// CountRegistrations implements Registrar.
func (m *Memory) CountRegistrations(_ context.Context) (registrations, contacts int, err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for key, b := range m.regs {
		r, err := decodeRegistration(b)
		if err != nil {
			return 0, 0, fmt.Errorf("count registrations: %s: %w", key, err)
		}
		registrations++
		contacts += len(r.Contacts)
	}
	return registrations, contacts, nil
}
