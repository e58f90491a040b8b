package peer

import (
	"context"
	"sync"
)

// inflight counts work in progress and lets a closer wait until none is left. Unlike a
// sync.WaitGroup it may go back up after reaching zero while someone waits.
type inflight struct {
	mu   sync.Mutex
	n    int
	zero chan struct{} // closed when n reaches zero; nil when nobody waits
}

func (f *inflight) add() {
	f.mu.Lock()
	f.n++
	f.mu.Unlock()
}

func (f *inflight) done() {
	f.mu.Lock()
	f.n--
	if f.n == 0 && f.zero != nil {
		close(f.zero)
		f.zero = nil
	}
	f.mu.Unlock()
}

// wait returns when the count is zero or ctx ends.
func (f *inflight) wait(ctx context.Context) {
	f.mu.Lock()
	if f.n == 0 {
		f.mu.Unlock()
		return
	}
	if f.zero == nil {
		f.zero = make(chan struct{})
	}
	ch := f.zero
	f.mu.Unlock()
	select {
	case <-ch:
	case <-ctx.Done():
	}
}
