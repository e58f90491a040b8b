package store

import (
	"context"
	"sort"
	"sync"
	"time"
)

// Memory is a Store in memory: state ends with the process. For tests and `--db memory`.
type Memory struct {
	mu   sync.Mutex
	pubs map[string]map[string]Publication // presentity → etag
	subs map[string]Subscription
	regs map[string]time.Time
	docs map[[3]string]Document
}

// NewMemory returns an empty Memory.
func NewMemory() *Memory {
	return &Memory{pubs: map[string]map[string]Publication{}, subs: map[string]Subscription{},
		regs: map[string]time.Time{}, docs: map[[3]string]Document{}}
}

// SavePublication implements Store.
func (m *Memory) SavePublication(_ context.Context, p *Publication, replaces string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	ps := m.pubs[p.Presentity]
	if ps == nil {
		ps = map[string]Publication{}
		m.pubs[p.Presentity] = ps
	}
	if replaces != "" {
		delete(ps, replaces)
	}
	c := *p
	c.Body = append([]byte(nil), p.Body...)
	ps[p.ETag] = c
	return nil
}

// Publication implements Store.
func (m *Memory) Publication(_ context.Context, presentity, etag string) (*Publication, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	p, ok := m.pubs[presentity][etag]
	if !ok {
		return nil, ErrNotFound
	}
	return &p, nil
}

// DeletePublication implements Store.
func (m *Memory) DeletePublication(_ context.Context, presentity, etag string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.pubs[presentity][etag]; !ok {
		return ErrNotFound
	}
	delete(m.pubs[presentity], etag)
	if len(m.pubs[presentity]) == 0 {
		delete(m.pubs, presentity)
	}
	return nil
}

// Publications implements Store.
func (m *Memory) Publications(_ context.Context, presentity string) ([]Publication, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Publication
	for _, p := range m.pubs[presentity] {
		out = append(out, p)
	}
	sortPublications(out)
	return out, nil
}

// sortPublications orders by update time, then entity-tag: the order every Store returns.
func sortPublications(ps []Publication) {
	sort.Slice(ps, func(i, j int) bool {
		if !ps[i].Updated.Equal(ps[j].Updated) {
			return ps[i].Updated.Before(ps[j].Updated)
		}
		return ps[i].ETag < ps[j].ETag
	})
}

// DeletePublications implements Store.
func (m *Memory) DeletePublications(_ context.Context, presentity string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.pubs, presentity)
	return nil
}

// ExpirePublications implements Store.
func (m *Memory) ExpirePublications(_ context.Context, now time.Time) ([]Publication, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Publication
	for pr, ps := range m.pubs {
		for e, p := range ps {
			if !p.Expires.After(now) {
				out = append(out, p)
				delete(ps, e)
			}
		}
		if len(ps) == 0 {
			delete(m.pubs, pr)
		}
	}
	sortPublications(out)
	return out, nil
}

// SaveSubscription implements Store.
func (m *Memory) SaveSubscription(_ context.Context, s *Subscription) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	c := *s
	c.RouteSet = append([]string(nil), s.RouteSet...)
	m.subs[s.ID] = c
	return nil
}

// Subscription implements Store.
func (m *Memory) Subscription(_ context.Context, id string) (*Subscription, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.subs[id]
	if !ok {
		return nil, ErrNotFound
	}
	s.RouteSet = append([]string(nil), s.RouteSet...)
	return &s, nil
}

// DeleteSubscription implements Store.
func (m *Memory) DeleteSubscription(_ context.Context, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.subs[id]; !ok {
		return ErrNotFound
	}
	delete(m.subs, id)
	return nil
}

// Subscriptions implements Store.
func (m *Memory) Subscriptions(_ context.Context, presentity string) ([]Subscription, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Subscription
	for _, s := range m.subs {
		if s.Presentity == presentity {
			out = append(out, s)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// ExpireSubscriptions implements Store.
func (m *Memory) ExpireSubscriptions(_ context.Context, now time.Time) ([]Subscription, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Subscription
	for id, s := range m.subs {
		if !s.Expires.After(now) {
			out = append(out, s)
			delete(m.subs, id)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// SetRegistration implements Store.
func (m *Memory) SetRegistration(_ context.Context, presentity string, until time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.regs[presentity] = until
	return nil
}

// Registration implements Store.
func (m *Memory) Registration(_ context.Context, presentity string) (time.Time, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	u, ok := m.regs[presentity]
	return u, ok, nil
}

// PutDocument implements Store.
func (m *Memory) PutDocument(_ context.Context, d *Document, prev string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	k := [3]string{d.AUID, d.User, d.Name}
	cur, ok := m.docs[k]
	if ok != (prev != "") || ok && cur.ETag != prev {
		return ErrConflict
	}
	c := *d
	c.Body = append([]byte(nil), d.Body...)
	m.docs[k] = c
	return nil
}

// Document implements Store.
func (m *Memory) Document(_ context.Context, auid, user, name string) (*Document, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	d, ok := m.docs[[3]string{auid, user, name}]
	if !ok {
		return nil, ErrNotFound
	}
	return &d, nil
}

// Documents implements Store.
func (m *Memory) Documents(_ context.Context, auid string) ([]Document, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Document
	for k, d := range m.docs {
		if k[0] == auid {
			out = append(out, d)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		return out[i].User < out[j].User || out[i].User == out[j].User && out[i].Name < out[j].Name
	})
	return out, nil
}

// DeleteDocument implements Store.
func (m *Memory) DeleteDocument(_ context.Context, auid, user, name, prev string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	k := [3]string{auid, user, name}
	cur, ok := m.docs[k]
	if !ok {
		return ErrNotFound
	}
	if cur.ETag != prev {
		return ErrConflict
	}
	delete(m.docs, k)
	return nil
}

var _ Store = (*Memory)(nil)
