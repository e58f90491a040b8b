// Package workers runs short tasks on reused goroutines.
//
// A SIP request or a Diameter request handled on a new goroutine starts with an 8 KiB stack and grows it, by
// copying, to the 32–64 KiB that parsing, routing and logging reach: runtime.newstack was 7–14 % of the P-CSCF's,
// I-CSCF's and HSS's CPU in the 2026-12-07 profiles (bench/results/2026-12-07T2228Z-70124a6b424e). A worker that
// has run one task keeps its grown stack for the next one. Idle workers are kept last-in first-out, so the ones
// used most recently (whose stacks the garbage collector has not shrunk yet) run the next task, and a worker idle
// longer than the pool's idle time ends when the pool next parks one.
//
// The pool has no goroutine of its own: Close ends the idle workers and waits for the busy ones to finish their
// task.
package workers

import (
	"sync"
	"time"
)

// Defaults for New's arguments when they are zero.
const (
	DefaultMaxIdle  = 256              // idle workers kept; more goroutines than that run one task and end
	DefaultIdleTime = 10 * time.Second // a worker idle longer ends
)

// Pool runs tasks on reused goroutines. The zero value is not usable; call New.
type Pool struct {
	maxIdle  int
	idleTime time.Duration

	mu     sync.Mutex
	idle   []*worker // oldest first; Go takes the last
	closed bool
	wg     sync.WaitGroup // every worker goroutine
}

type worker struct {
	tasks chan func() // buffered 1; nil task: end
	since time.Time   // when it last went idle
}

// New returns a pool that keeps at most maxIdle idle workers, each for at most idleTime.
func New(maxIdle int, idleTime time.Duration) *Pool {
	if maxIdle <= 0 {
		maxIdle = DefaultMaxIdle
	}
	if idleTime <= 0 {
		idleTime = DefaultIdleTime
	}
	return &Pool{maxIdle: maxIdle, idleTime: idleTime}
}

// Go runs f on an idle worker, or on a new goroutine when none is idle. It returns false, and does not run f,
// once the pool is closed. f must not panic (callers recover inside f).
func (p *Pool) Go(f func()) bool {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return false
	}
	if n := len(p.idle); n > 0 {
		w := p.idle[n-1]
		p.idle[n-1] = nil
		p.idle = p.idle[:n-1]
		p.mu.Unlock()
		w.tasks <- f // never blocks: the buffer is empty while the worker is idle
		return true
	}
	p.wg.Add(1)
	p.mu.Unlock()
	w := &worker{tasks: make(chan func(), 1)}
	go w.run(p, f)
	return true
}

func (w *worker) run(p *Pool, f func()) {
	defer p.wg.Done()
	for f != nil {
		f()
		f = nil // let the task's closure go while idle
		if !p.park(w) {
			return
		}
		f = <-w.tasks
	}
}

// park puts w on the idle list, or reports false when it should end (pool closed or enough idle workers). It
// also ends the workers idle longer than the pool's idle time, oldest first.
func (p *Pool) park(w *worker) bool {
	now := time.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	stale := 0
	for stale < len(p.idle) && now.Sub(p.idle[stale].since) > p.idleTime {
		p.idle[stale].tasks <- nil
		p.idle[stale] = nil
		stale++
	}
	if stale > 0 {
		p.idle = append(p.idle[:0], p.idle[stale:]...)
	}
	if len(p.idle) >= p.maxIdle {
		return false
	}
	w.since = now
	p.idle = append(p.idle, w)
	return true
}

// Idle reports how many workers wait for a task.
func (p *Pool) Idle() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.idle)
}

// Close ends the idle workers, refuses new tasks and waits until every worker has finished its task and ended.
// Safe to call more than once.
func (p *Pool) Close() {
	p.mu.Lock()
	if !p.closed {
		p.closed = true
		for i, w := range p.idle {
			w.tasks <- nil
			p.idle[i] = nil
		}
		p.idle = nil
	}
	p.mu.Unlock()
	p.wg.Wait()
}
