package pcscf

import (
	"container/heap"
	"time"
)

// dueSlot is an entry's place in a dueHeap: when it is next due and where it sits.
type dueSlot struct {
	due time.Duration // since the heap's epoch: on the monotonic clock for times this process read
	idx int           // position in the heap; -1 while out of it
}

func (s *dueSlot) slot() *dueSlot { return s }

// dueItem is an entry of a dueHeap (a pointer to a struct embedding dueSlot).
type dueItem interface{ slot() *dueSlot }

// dueHeap is a container/heap of entries by due time, earliest first: the expiry sweeps pop only what is due,
// O(k log N) for k due among N, instead of scanning everything each tick (issue 12). Due times are kept as
// durations since the heap's first use, so that they are ordered, and compared with now, by the monotonic clock
// as time.Time.Before does for times read by this process (a wall clock step neither delays expiry nor makes
// every entry look due); a time without a monotonic reading (restored from the state file) is placed by the
// wall clock, as Before compares it. The zero value is ready.
type dueHeap[E dueItem] struct {
	epoch time.Time
	items []E
}

func (h *dueHeap[E]) Len() int           { return len(h.items) }
func (h *dueHeap[E]) Less(i, j int) bool { return h.items[i].slot().due < h.items[j].slot().due }
func (h *dueHeap[E]) Swap(i, j int) {
	h.items[i], h.items[j] = h.items[j], h.items[i]
	h.items[i].slot().idx, h.items[j].slot().idx = i, j
}

// Push is for container/heap; use set.
func (h *dueHeap[E]) Push(x any) {
	e := x.(E)
	e.slot().idx = len(h.items)
	h.items = append(h.items, e)
}

// Pop is for container/heap; use popDue.
func (h *dueHeap[E]) Pop() any {
	old := h.items
	e := old[len(old)-1]
	var zero E
	old[len(old)-1] = zero
	h.items = old[:len(old)-1]
	e.slot().idx = -1
	return e
}

// at is t on the heap's axis; the zero time (never set) is before everything.
func (h *dueHeap[E]) at(t time.Time) time.Duration {
	if h.epoch.IsZero() {
		h.epoch = time.Now()
	}
	return t.Sub(h.epoch) // saturates: the zero time is the minimum Duration
}

// set puts e in the heap at due, or moves it there. A fresh entry must have idx -1.
func (h *dueHeap[E]) set(e E, due time.Time) {
	s, d := e.slot(), h.at(due)
	switch {
	case s.idx < 0:
		s.due = d
		heap.Push(h, e)
	case d != s.due:
		s.due = d
		heap.Fix(h, s.idx)
	}
}

// remove takes e out of the heap (nothing when it is not in it).
func (h *dueHeap[E]) remove(e E) {
	if i := e.slot().idx; i >= 0 {
		heap.Remove(h, i)
	}
}

// popDue takes out and returns every entry due at or before now, earliest first. The caller sets back (set)
// those it keeps, after it has looked at all of them.
func (h *dueHeap[E]) popDue(now time.Time) []E {
	var out []E
	for d := h.at(now); len(h.items) > 0 && h.items[0].slot().due <= d; {
		out = append(out, heap.Pop(h).(E))
	}
	return out
}

// visitDue calls fn for every entry due at or before now, in no particular order, looking only at those and
// their children in the heap: O(k) for k due.
func (h *dueHeap[E]) visitDue(now time.Time, fn func(E)) {
	d := h.at(now)
	stack := []int{0}
	for len(stack) > 0 {
		i := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if i >= len(h.items) || h.items[i].slot().due > d {
			continue // nothing under an entry not yet due is due either
		}
		fn(h.items[i])
		stack = append(stack, 2*i+1, 2*i+2)
	}
}

var _ heap.Interface = (*dueHeap[*regEntry])(nil)
