package pcscf

import (
	"container/heap"
	"time"
)

// dueSlot is an entry's place in a dueHeap: when it is next due and where it sits.
type dueSlot struct {
	due time.Time // without a monotonic reading: the heap is ordered by one clock
	idx int       // position in the heap; -1 while out of it
}

func (s *dueSlot) slot() *dueSlot { return s }

// dueItem is an entry of a dueHeap (a pointer to a struct embedding dueSlot).
type dueItem interface{ slot() *dueSlot }

// dueHeap is a container/heap of entries by due time, earliest first: the expiry sweeps pop only what is due,
// O(k log N) for k due among N, instead of scanning everything each tick (issue 12).
type dueHeap[E dueItem] []E

func (h dueHeap[E]) Len() int           { return len(h) }
func (h dueHeap[E]) Less(i, j int) bool { return h[i].slot().due.Before(h[j].slot().due) }
func (h dueHeap[E]) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].slot().idx, h[j].slot().idx = i, j
}

// Push is for container/heap; use set.
func (h *dueHeap[E]) Push(x any) {
	e := x.(E)
	e.slot().idx = len(*h)
	*h = append(*h, e)
}

// Pop is for container/heap; use popDue.
func (h *dueHeap[E]) Pop() any {
	old := *h
	e := old[len(old)-1]
	var zero E
	old[len(old)-1] = zero
	*h = old[:len(old)-1]
	e.slot().idx = -1
	return e
}

// set puts e in the heap at due, or moves it there. A fresh entry must have idx -1.
func (h *dueHeap[E]) set(e E, due time.Time) {
	s := e.slot()
	due = due.Round(0)
	switch {
	case s.idx < 0:
		s.due = due
		heap.Push(h, e)
	case !due.Equal(s.due):
		s.due = due
		heap.Fix(h, s.idx)
	}
}

// remove takes e out of the heap (nothing when it is not in it).
func (h *dueHeap[E]) remove(e E) {
	if i := e.slot().idx; i >= 0 {
		heap.Remove(h, i)
	}
}

// popDue takes out and returns every entry due at or before now (wall clock), earliest first. The caller
// sets back (set) those it keeps, after it has looked at all of them.
func (h *dueHeap[E]) popDue(now time.Time) []E {
	var out []E
	for wall := now.Round(0); len(*h) > 0 && !wall.Before((*h)[0].slot().due); {
		out = append(out, heap.Pop(h).(E))
	}
	return out
}

// visitDue calls fn for every entry due at or before now (wall clock), in no particular order, looking only at
// those and their children in the heap: O(k) for k due.
func (h dueHeap[E]) visitDue(now time.Time, fn func(E)) {
	now = now.Round(0)
	stack := []int{0}
	for len(stack) > 0 {
		i := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if i >= len(h) || now.Before(h[i].slot().due) {
			continue // nothing under an entry not yet due is due either
		}
		fn(h[i])
		stack = append(stack, 2*i+1, 2*i+2)
	}
}

var _ heap.Interface = (*dueHeap[*regEntry])(nil)
