package hsssql

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/imscore/imscore/hss"
)

// DefaultCacheTTL is how long the store serves provisioned data it shares between subscribers (service
// profiles, shared iFC sets, the S-CSCF list, the default charging addresses) from memory before reading it
// again. A change made through this Store is seen at once (every provisioning method empties the cache when
// it commits); a change made by another process on the same database (another HSS replica, imsctl on
// another node, SQL by hand) is seen within this bound.
const DefaultCacheTTL = time.Second

// maxCached bounds each map of the cache: these are operator-defined objects (a few profiles and sets per
// service offering), the bound only guards against a database holding millions of them.
const maxCached = 65536

// cache holds provisioned data every subscriber's SAR, UAR and LIR read: the service profiles and shared iFC
// sets a User-Data document is built from, the S-CSCFs of Server-Capabilities and the default charging
// addresses. No key material is cached. Values are shared between callers: read-only.
type cache struct {
	ttl time.Duration // ≤ 0: no caching

	mu       sync.Mutex
	epoch    uint64 // incremented by flush; a read begun in an earlier epoch does not store its result
	profiles map[string]cached[*hss.ServiceProfile]
	sets     map[int32]cached[*hss.SharedIFCSet]
	scscfs   cached[[]hss.SCSCF]
	charging cached[[]byte] // the default charging row, JSON; nil when none is set
}

type cached[T any] struct {
	v  T
	at time.Time // when it was read from the database
	ok bool
}

func newCache(ttl time.Duration) *cache {
	return &cache{ttl: ttl, profiles: map[string]cached[*hss.ServiceProfile]{}, sets: map[int32]cached[*hss.SharedIFCSet]{}}
}

// flush forgets everything: called after every provisioning change committed through the Store.
func (c *cache) flush() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.epoch++
	clear(c.profiles)
	clear(c.sets)
	c.scscfs, c.charging = cached[[]hss.SCSCF]{}, cached[[]byte]{}
}

func (c *cache) setTTL(ttl time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ttl = ttl
}

// through returns the value of key in m when fresh, else loads it and keeps it unless a flush happened
// meanwhile (the loaded value may predate the change that flushed).
func through[K comparable, V any](ctx context.Context, c *cache, m map[K]cached[V], key K, load func(ctx context.Context) (V, error)) (V, error) {
	now := time.Now()
	c.mu.Lock()
	e, ok := m[key]
	epoch, ttl := c.epoch, c.ttl
	c.mu.Unlock()
	if ok && now.Sub(e.at) < ttl {
		return e.v, nil
	}
	v, err := load(ctx)
	if err != nil || ttl <= 0 {
		return v, err
	}
	c.mu.Lock()
	if c.epoch == epoch {
		if len(m) >= maxCached {
			clear(m)
		}
		m[key] = cached[V]{v: v, at: now, ok: true}
	}
	c.mu.Unlock()
	return v, nil
}

// single is through for a value without key.
func single[V any](ctx context.Context, c *cache, slot *cached[V], load func(ctx context.Context) (V, error)) (V, error) {
	now := time.Now()
	c.mu.Lock()
	e := *slot
	epoch, ttl := c.epoch, c.ttl
	c.mu.Unlock()
	if e.ok && now.Sub(e.at) < ttl {
		return e.v, nil
	}
	v, err := load(ctx)
	if err != nil || ttl <= 0 {
		return v, err
	}
	c.mu.Lock()
	if c.epoch == epoch {
		*slot = cached[V]{v: v, at: now, ok: true}
	}
	c.mu.Unlock()
	return v, nil
}

// SetCacheTTL changes how long shared provisioned data is served from memory (DefaultCacheTTL), for what
// is cached already too; 0 or less reads it from the database every time.
func (s *Store) SetCacheTTL(ttl time.Duration) { s.cache.setTTL(ttl) }

// serviceProfile is getServiceProfile through the cache.
func (s *Store) serviceProfile(ctx context.Context, q Querier, id string) (*hss.ServiceProfile, error) {
	return through(ctx, s.cache, s.cache.profiles, id, func(ctx context.Context) (*hss.ServiceProfile, error) {
		return getServiceProfile(ctx, q, id)
	})
}

// sharedIFCSet is getSharedIFCSet through the cache.
func (s *Store) sharedIFCSet(ctx context.Context, q Querier, id int32) (*hss.SharedIFCSet, error) {
	return through(ctx, s.cache, s.cache.sets, id, func(ctx context.Context) (*hss.SharedIFCSet, error) {
		return getSharedIFCSet(ctx, q, id)
	})
}

// defaultCharging returns the default charging row (JSON), nil when none is set, through the cache.
func (s *Store) defaultCharging(ctx context.Context, q Querier) ([]byte, error) {
	return single(ctx, s.cache, &s.cache.charging, func(ctx context.Context) ([]byte, error) {
		var def []byte
		err := q.QueryRow(ctx, "SELECT charging FROM hss_default_charging WHERE id = 1").Scan(&def)
		if isNoRows(err) {
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("default charging info: %w", err)
		}
		return def, nil
	})
}

// provTx runs a provisioning change in a write transaction and empties the cache once it is committed (or
// failed: a failed commit may still have been applied).
func (s *Store) provTx(ctx context.Context, fn func(q Querier) error) error {
	defer s.cache.flush()
	return s.b.Tx(ctx, fn)
}
