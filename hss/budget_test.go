package hss_test

import (
	"testing"
	"time"

	"github.com/imscore/imscore/diameter/cx"
	"github.com/imscore/imscore/hss"
	"github.com/imscore/imscore/storage"
)

// budgetStep is one Cx procedure of a registration's life and the most store work it may cost.
type budgetStep struct {
	name   string
	budget hss.StoreStats
	run    func(e *env, scscf *client, impi, sip string)
}

// budgetSteps is a registration's life at the HSS, in order: the I-CSCF's UAR, the S-CSCF's MAR (the
// first reserves an SQN block and stores the pending S-CSCF in one transaction, the next ones issue from the
// block, one or five vectors), SAR REGISTRATION, a terminating LIR, the UAR and
// SAR of a re-registration, and SAR USER_DEREGISTRATION. Before issue 12's rework they were 7, 12 (2
// transactions), 5, 21 (1), 1, 5, 21 (1) and 10 (1): 82 statements. The budgets are the counts this code reaches
// (docs/hss.md, "Store work per Cx procedure"): a change that makes a procedure run more statements or
// transactions fails TestStoreBudget.
func budgetSteps() []budgetStep {
	return []budgetStep{
		{"UAR", hss.StoreStats{Statements: 2, Transactions: 0}, func(e *env, _ *client, impi, sip string) {
			wantExperimental(e.t, e.icscf.uar(impi, sip, nil), cx.FirstRegistration)
		}},
		{"MAR first", hss.StoreStats{Statements: 6, Transactions: 1}, func(e *env, c *client, impi, sip string) {
			wantSuccess(e.t, c.mar(impi, sip, cx.SchemeAKAv1MD5, 1, nil))
		}},
		{"MAR", hss.StoreStats{Statements: 1, Transactions: 0}, func(e *env, c *client, impi, sip string) {
			wantSuccess(e.t, c.mar(impi, sip, cx.SchemeAKAv1MD5, 1, nil))
		}},
		{"MAR 5 vectors", hss.StoreStats{Statements: 1, Transactions: 0}, func(e *env, c *client, impi, sip string) {
			// SIP-Number-Auth-Items (TS 29.229 §6.3.8): five vectors from the block reserved by the first MAR.
			a := c.mar(impi, sip, cx.SchemeAKAv1MD5, 5, nil)
			wantSuccess(e.t, a)
			if len(a.SIPAuthDataItems) != 5 {
				e.t.Errorf("MAR for 5 vectors: %d", len(a.SIPAuthDataItems))
			}
		}},
		{"SAR REGISTRATION", hss.StoreStats{Statements: 7, Transactions: 1}, func(e *env, c *client, impi, sip string) {
			wantSuccess(e.t, c.sar(impi, []string{sip}, cx.SATRegistration, nil))
		}},
		{"LIR", hss.StoreStats{Statements: 1, Transactions: 0}, func(e *env, _ *client, _, sip string) {
			wantSuccess(e.t, e.icscf.lir(sip, nil))
		}},
		{"UAR re-registration", hss.StoreStats{Statements: 1, Transactions: 0}, func(e *env, _ *client, impi, sip string) {
			wantExperimental(e.t, e.icscf.uar(impi, sip, nil), cx.SubsequentRegistration)
		}},
		{"SAR RE_REGISTRATION", hss.StoreStats{Statements: 5, Transactions: 1}, func(e *env, c *client, impi, sip string) {
			wantSuccess(e.t, c.sar(impi, []string{sip}, cx.SATReRegistration, nil))
		}},
		{"SAR USER_DEREGISTRATION", hss.StoreStats{Statements: 6, Transactions: 1}, func(e *env, c *client, impi, sip string) {
			wantSuccess(e.t, c.sar(impi, []string{sip}, cx.SATUserDeregistration, nil))
		}},
	}
}

// TestStoreBudget runs a registration's life on each backend and checks the SQL statements and write
// transactions of each Cx procedure against its budget, as allocation budgets are checked. Both subscribers
// are provisioned first and the first runs the steps once before the second is measured, so that what is
// read once per process (the shared provisioned data of the store's cache, which a provisioning change
// empties) is not counted against the procedures; the cache's lifetime is made longer than the test.
func TestStoreBudget(t *testing.T) {
	forEachStore(t, func(t *testing.T, db storage.DB) {
		st, ok := db.(hss.StatsStore)
		if !ok {
			t.Fatalf("%T does not count its work (hss.StatsStore)", db)
		}
		if c, ok := db.(interface{ SetCacheTTL(time.Duration) }); ok {
			c.SetCacheTTL(time.Hour)
		}
		e := newEnv(t, db, nil)
		scscf := e.connect(scscfHost)
		subs := []hss.Subscriber{e.subscriber(nil), e.subscriber(nil)}
		var total hss.StoreStats
		for round, sub := range subs {
			impi, _, sip, _ := ids(sub)
			total = hss.StoreStats{}
			for _, step := range budgetSteps() {
				before := st.StoreStats()
				step.run(e, scscf, impi, sip)
				got := st.StoreStats().Sub(before)
				total.Statements += got.Statements
				total.Transactions += got.Transactions
				t.Logf("round %d %-24s %3d statements %d transactions (budget %d, %d)", round, step.name,
					got.Statements, got.Transactions, step.budget.Statements, step.budget.Transactions)
				if round == 1 && (got.Statements > step.budget.Statements || got.Transactions > step.budget.Transactions) {
					t.Errorf("%s: %d statements and %d transactions, over the budget of %d and %d", step.name,
						got.Statements, got.Transactions, step.budget.Statements, step.budget.Transactions)
				}
			}
		}
		t.Logf("registration life: %d statements, %d transactions", total.Statements, total.Transactions)
	})
}
