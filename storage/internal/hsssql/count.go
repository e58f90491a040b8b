package hsssql

import (
	"context"
	"sync/atomic"

	"github.com/imscore/imscore/hss"
)

// counting wraps a Backend and counts the statements and write transactions the store runs (hss.StoreStats):
// the per-procedure budgets of hss/budget_test.go are checked against these counts. Two atomic adds per
// statement; no allocation on the read path (the Querier of Read is built once).
type counting struct {
	b            Backend
	statements   *atomic.Uint64
	transactions *atomic.Uint64
}

func newCounting(b Backend) *counting {
	c := &counting{b: b, statements: new(atomic.Uint64), transactions: new(atomic.Uint64)}
	return c
}

func (c *counting) Read() Querier { return countingQuerier{q: c.b.Read(), n: c.statements} }

func (c *counting) Tx(ctx context.Context, fn func(q Querier) error) error {
	c.transactions.Add(1)
	return c.b.Tx(ctx, func(q Querier) error { return fn(countingQuerier{q: q, n: c.statements}) })
}

func (c *counting) ForUpdate() string        { return c.b.ForUpdate() }
func (c *counting) Classify(err error) error { return c.b.Classify(err) }

// Insert hands the backend its own transaction Querier (the backends recognise their type).
func (c *counting) Insert(ctx context.Context, q Querier, table string, columns []string, n int, row func(i int) []any) error {
	if cq, ok := q.(countingQuerier); ok {
		q = cq.q
	}
	c.statements.Add(1)
	return c.b.Insert(ctx, q, table, columns, n, row)
}

func (c *counting) stats() hss.StoreStats {
	return hss.StoreStats{Statements: c.statements.Load(), Transactions: c.transactions.Load()}
}

// countingQuerier counts each statement it runs.
type countingQuerier struct {
	q Querier
	n *atomic.Uint64
}

func (q countingQuerier) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	q.n.Add(1)
	return q.q.Exec(ctx, query, args...)
}

func (q countingQuerier) Query(ctx context.Context, query string, args ...any) (Rows, error) {
	q.n.Add(1)
	return q.q.Query(ctx, query, args...)
}

func (q countingQuerier) QueryRow(ctx context.Context, query string, args ...any) Row {
	q.n.Add(1)
	return q.q.QueryRow(ctx, query, args...)
}

// StoreStats implements hss.StatsStore: the statements and write transactions run so far.
func (s *Store) StoreStats() hss.StoreStats { return s.count.stats() }
