package paa

import (
	"bytes"
	"context"
	"sync"
	"time"
)

// Grant is what a successful access authentication gives the core: the IMPI the UE's certificate names,
// the token both ends exported from the EAP-TLS session and how long it is valid (the PANA session lifetime).
type Grant struct {
	IMPI     string
	Token    []byte
	Lifetime time.Duration
}

// TokenPusher takes the tokens of access sessions to the core (the HSS's token store). The Diameter
// implementation comes with the HSS's token application (docs/fastreg.md).
//
// Push is called once per successful authentication. Drop is called when that session ends (PANA
// termination, lifetime expiry, retransmissions exhausted) with the same Grant: the store removes the
// token only if it is still the one stored for the IMPI, so an old session's end does not drop the token
// of a newer one.
type TokenPusher interface {
	Push(ctx context.Context, g Grant) error
	Drop(ctx context.Context, g Grant) error
}

// MemoryPusher is an in-memory TokenPusher for tests and labs.
type MemoryPusher struct {
	mu      sync.Mutex
	grants  map[string]Grant
	log     []Event
	changed chan struct{}
}

// Event is one Push or Drop a MemoryPusher took.
type Event struct {
	Op    string // "push" or "drop"
	Grant Grant
}

// NewMemoryPusher makes an empty store.
func NewMemoryPusher() *MemoryPusher {
	return &MemoryPusher{grants: map[string]Grant{}, changed: make(chan struct{})}
}

func (p *MemoryPusher) notify() {
	close(p.changed)
	p.changed = make(chan struct{})
}

// Push stores g, replacing the IMPI's previous token.
func (p *MemoryPusher) Push(_ context.Context, g Grant) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.grants[g.IMPI] = g
	p.log = append(p.log, Event{"push", g})
	p.notify()
	return nil
}

// Drop removes the IMPI's token if it is g's.
func (p *MemoryPusher) Drop(_ context.Context, g Grant) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.log = append(p.log, Event{"drop", g})
	if cur, ok := p.grants[g.IMPI]; ok && bytes.Equal(cur.Token, g.Token) {
		delete(p.grants, g.IMPI)
		p.notify()
	}
	return nil
}

// Events returns the pushes and drops so far, in order.
func (p *MemoryPusher) Events() []Event {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Event(nil), p.log...)
}

// Get returns the IMPI's grant.
func (p *MemoryPusher) Get(impi string) (Grant, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	g, ok := p.grants[impi]
	return g, ok
}

// Wait blocks until cond holds for the IMPI's grant (present or not) or ctx ends.
func (p *MemoryPusher) Wait(ctx context.Context, impi string, cond func(Grant, bool) bool) bool {
	for {
		p.mu.Lock()
		g, ok := p.grants[impi]
		ch := p.changed
		p.mu.Unlock()
		if cond(g, ok) {
			return true
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return false
		}
	}
}

var _ TokenPusher = (*MemoryPusher)(nil)
