package registrar

import "time"

// deadlineHeap is a min-heap of records by deadline with O(log N) insert, update and removal; each record
// keeps its own index (heapIndex), so no map is needed beside it. Records due at a time are found by walking
// the heap from the root (O(k) for k due records), never by scanning the table.
type deadlineHeap[T heapItem] struct {
	items []T
}

// heapItem is a record kept in a deadlineHeap.
type heapItem interface {
	deadline() time.Time
	heapIndex() *int // -1 when not in a heap
}

func (h *deadlineHeap[T]) less(i, j int) bool {
	return h.items[i].deadline().Before(h.items[j].deadline())
}

func (h *deadlineHeap[T]) swap(i, j int) {
	h.items[i], h.items[j] = h.items[j], h.items[i]
	*h.items[i].heapIndex() = i
	*h.items[j].heapIndex() = j
}

func (h *deadlineHeap[T]) up(i int) {
	for i > 0 {
		p := (i - 1) / 2
		if !h.less(i, p) {
			return
		}
		h.swap(i, p)
		i = p
	}
}

func (h *deadlineHeap[T]) down(i int) bool {
	start := i
	n := len(h.items)
	for {
		l := 2*i + 1
		if l >= n {
			break
		}
		m := l
		if r := l + 1; r < n && h.less(r, l) {
			m = r
		}
		if !h.less(m, i) {
			break
		}
		h.swap(i, m)
		i = m
	}
	return i > start
}

// set inserts x or moves it to its new deadline.
func (h *deadlineHeap[T]) set(x T) {
	idx := x.heapIndex()
	if *idx < 0 {
		*idx = len(h.items)
		h.items = append(h.items, x)
		h.up(*idx)
		return
	}
	if !h.down(*idx) {
		h.up(*idx)
	}
}

// remove takes x out (no-op when it is not in).
func (h *deadlineHeap[T]) remove(x T) {
	i := *x.heapIndex()
	if i < 0 {
		return
	}
	last := len(h.items) - 1
	if i != last {
		h.swap(i, last)
	}
	var zero T
	h.items[last] = zero
	h.items = h.items[:last]
	*x.heapIndex() = -1
	if i != last {
		if !h.down(i) {
			h.up(i)
		}
	}
}

// due calls f for every record whose deadline is not after now, without removing them: the due records form
// a subtree at the root.
func (h *deadlineHeap[T]) due(now time.Time, f func(T)) {
	var walk func(i int)
	walk = func(i int) {
		if i >= len(h.items) || h.items[i].deadline().After(now) {
			return
		}
		f(h.items[i])
		walk(2*i + 1)
		walk(2*i + 2)
	}
	walk(0)
}

// len is the number of records in the heap.
func (h *deadlineHeap[T]) len() int { return len(h.items) }
