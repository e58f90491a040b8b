package resolve

import (
	"sync"
	"time"

	"github.com/miekg/dns"
)

type cacheKey struct {
	name  string
	qtype uint16
}

// entry is a cached answer: records, or a negative answer (err wraps ErrNotFound).
type entry struct {
	rrs     []dns.RR
	err     error
	expires time.Time
}

// cache keeps answers until they expire, bounded in size, and lets concurrent lookups of one key share a
// query.
type cache struct {
	size int

	mu       sync.Mutex
	entries  map[cacheKey]entry
	inflight map[cacheKey]*call
}

type call struct {
	done chan struct{}
	e    entry
	err  error
}

func newCache(size int) *cache {
	return &cache{size: size, entries: map[cacheKey]entry{}, inflight: map[cacheKey]*call{}}
}

func (c *cache) get(k cacheKey, now time.Time) (entry, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[k]
	if !ok {
		return entry{}, false
	}
	if !e.expires.After(now) {
		delete(c.entries, k)
		return entry{}, false
	}
	return e, true
}

func (c *cache) put(k cacheKey, e entry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.putLocked(k, e)
}

func (c *cache) putLocked(k cacheKey, e entry) {
	if _, ok := c.entries[k]; !ok && len(c.entries) >= c.size {
		// Make room: drop the entry nearest to expiry. O(size), paid only when the cache is full.
		var victim cacheKey
		var first time.Time
		for key, old := range c.entries {
			if first.IsZero() || old.expires.Before(first) {
				victim, first = key, old.expires
			}
		}
		delete(c.entries, victim)
	}
	c.entries[k] = e
}

// do runs fn once for concurrent callers of one key. fn's entry is cached when fn returns a nil error
// and the entry has time to live; every caller gets the entry's records and error, or fn's error.
func (c *cache) do(k cacheKey, now func() time.Time, fn func() (entry, error)) ([]dns.RR, error) {
	c.mu.Lock()
	if cl, ok := c.inflight[k]; ok {
		c.mu.Unlock()
		<-cl.done
		if cl.err != nil {
			return nil, cl.err
		}
		return cl.e.rrs, cl.e.err
	}
	cl := &call{done: make(chan struct{})}
	c.inflight[k] = cl
	c.mu.Unlock()

	cl.e, cl.err = fn()

	c.mu.Lock()
	delete(c.inflight, k)
	if cl.err == nil && cl.e.expires.After(now()) {
		c.putLocked(k, cl.e)
	}
	c.mu.Unlock()
	close(cl.done)
	if cl.err != nil {
		return nil, cl.err
	}
	return cl.e.rrs, cl.e.err
}
