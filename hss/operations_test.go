package hss_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/imscore/imscore/diameter"
	"github.com/imscore/imscore/diameter/cx"
	"github.com/imscore/imscore/hss"
)

// TestOperations: RTR and PPR started in the background (issue 11: an S-CSCF that never answers, as Kamailio
// 5.6 does with PPR, blocked the provisioning API for the whole Diameter timeout). The start returns a pending
// operation while the S-CSCF holds the request; the operation fails with outcome timeout when
// diameter.request_timeout passes, succeeds when the S-CSCF answers, and both are counted.
func TestOperations(t *testing.T) {
	db := openSQLite(t)
	e := newEnv(t, db, func(c *hss.Config) { c.Diameter.RequestTimeout = 300 * time.Millisecond })
	ctx := context.Background()
	scscf := e.connect(scscfHost)
	ops := e.srv.Operations()
	metric := func(name, cmd, outcome string) float64 {
		if name == "in_flight" {
			return e.metric("hss_cx_procedures_in_flight", map[string]string{"command": cmd})
		}
		return e.metric("hss_cx_procedures_total", map[string]string{"command": cmd, "outcome": outcome})
	}

	sub := e.subscriber(nil)
	impi, _, sip, _ := ids(sub)
	e.register(scscf, sub)

	t.Run("unanswered RTR: pending, then failed at the Diameter timeout", func(t *testing.T) {
		scscf.mute()
		defer scscf.unmute()
		op, err := e.srv.StartDeregister(impi, nil, cx.ReasonPermanentTermination, "")
		must(t, err)
		if op.State != hss.OperationPending || op.Command != cx.CmdRegistrationTermination || op.IMPI != impi || op.ID == "" {
			t.Fatalf("started %+v, want a pending RTR", op)
		}
		scscf.waitRTR() // the S-CSCF holds it, unanswered: the start did not wait for the answer
		if got, err := ops.Get(op.ID); err != nil || got.State != hss.OperationPending {
			t.Fatalf("while the S-CSCF holds the RTR: %+v, %v", got, err)
		}
		if n := metric("in_flight", "RTR", ""); n != 1 {
			t.Errorf("in flight %v, want 1", n)
		}
		done, err := ops.Wait(ctx, op.ID)
		must(t, err)
		if done.State != hss.OperationFailed || done.Outcome() != hss.OutcomeTimeout || done.Finished.IsZero() ||
			done.Finished.Before(done.Created) {
			t.Fatalf("after the timeout: %+v, outcome %q", done, done.Outcome())
		}
		if reg := e.registration(sip); reg.State != hss.Registered {
			t.Errorf("registration cleared although the S-CSCF never answered: %+v", reg)
		}
		if n := metric("total", "RTR", hss.OutcomeTimeout); n != 1 {
			t.Errorf("hss_cx_procedures_total{RTR,timeout} = %v", n)
		}
		if n := metric("in_flight", "RTR", ""); n != 0 {
			t.Errorf("in flight %v after the end", n)
		}
	})
	t.Run("unanswered PPR", func(t *testing.T) {
		scscf.mute()
		defer scscf.unmute()
		op, err := e.srv.StartPushProfile(impi)
		must(t, err)
		scscf.waitPPR()
		done, err := ops.Wait(ctx, op.ID)
		must(t, err)
		if done.Command != cx.CmdPushProfile || done.Outcome() != hss.OutcomeTimeout {
			t.Fatalf("%+v outcome %q", done, done.Outcome())
		}
	})
	t.Run("refused: the answer is kept", func(t *testing.T) {
		scscf.setPPA(diameter.UnableToComply, 0)
		defer scscf.setPPA(0, 0)
		op, err := e.srv.StartPushProfile(impi)
		must(t, err)
		scscf.waitPPR()
		done, err := ops.Wait(ctx, op.ID)
		must(t, err)
		if a := done.Answer(); done.Outcome() != hss.OutcomeRefused || a == nil || a.Code != diameter.UnableToComply || a.Host != scscfHost {
			t.Fatalf("%+v outcome %q answer %+v", done, done.Outcome(), a)
		}
	})
	t.Run("answered: succeeded", func(t *testing.T) {
		op, err := e.srv.StartPushProfile(impi)
		must(t, err)
		scscf.waitPPR()
		done, err := ops.Wait(ctx, op.ID)
		must(t, err)
		if done.State != hss.OperationSucceeded || done.Err != nil {
			t.Fatalf("%+v", done)
		}
		op, err = e.srv.StartDeregister(impi, []string{sip}, cx.ReasonServerChange, "")
		must(t, err)
		scscf.waitRTR()
		if done, err = ops.Wait(ctx, op.ID); err != nil || done.State != hss.OperationSucceeded {
			t.Fatalf("%+v, %v", done, err)
		}
		if reg := e.registration(sip); reg.State != hss.NotRegistered {
			t.Errorf("registration kept after the RTA: %+v", reg)
		}
		if n := metric("total", "PPR", hss.OutcomeSucceeded); n != 1 {
			t.Errorf("hss_cx_procedures_total{PPR,succeeded} = %v", n)
		}
		if list := ops.List(impi); len(list) != 5 || list[0].ID != op.ID {
			t.Errorf("List: %d operations, newest %+v", len(list), list[0])
		}
	})
	t.Run("errors", func(t *testing.T) {
		if _, err := e.srv.StartDeregister(impi, nil, cx.ReasonCode(7), ""); !errors.Is(err, hss.ErrInvalid) {
			t.Errorf("reason 7: %v", err)
		}
		if _, err := ops.Get("0123"); !errors.Is(err, hss.ErrNotFound) {
			t.Errorf("unknown id: %v", err)
		}
		op, err := e.srv.StartPushProfile("nobody@" + realm)
		must(t, err)
		if done, _ := ops.Wait(ctx, op.ID); !errors.Is(done.Err, hss.ErrNotFound) || done.Outcome() != hss.OutcomeError {
			t.Errorf("unknown user: %+v", done)
		}
	})
}

// TestOperationsClose: a stopping HSS ends a pending operation (cancelled) instead of waiting for the
// Diameter timeout, and starts no new one.
func TestOperationsClose(t *testing.T) {
	e := newEnv(t, openSQLite(t), func(c *hss.Config) { c.Diameter.RequestTimeout = time.Hour })
	scscf := e.connect(scscfHost)
	sub := e.subscriber(nil)
	e.register(scscf, sub)
	scscf.mute()
	op, err := e.srv.StartDeregister(sub.Private.IMPI, nil, cx.ReasonPermanentTermination, "")
	must(t, err)
	scscf.waitRTR()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	must(t, e.srv.Close(ctx))
	done, err := e.srv.Operations().Get(op.ID)
	must(t, err)
	if done.State != hss.OperationFailed || done.Outcome() != hss.OutcomeCancelled {
		t.Errorf("after Close: %+v, outcome %q", done, done.Outcome())
	}
	if _, err := e.srv.StartPushProfile(sub.Private.IMPI); !errors.Is(err, hss.ErrServerClosed) {
		t.Errorf("start after Close: %v", err)
	}
}

// TestOperationsBounded: at most Max operations are kept; a finished one makes room, pending ones are never
// dropped (the new one is refused), and a finished one is forgotten after Retention.
func TestOperationsBounded(t *testing.T) {
	ops, err := hss.NewOperations(hss.OperationsConfig{Max: 2, Retention: time.Hour, Concurrency: 1}, nil, nil)
	must(t, err)
	t.Cleanup(func() { _ = ops.Close(context.Background()) })
	ctx := context.Background()
	release := make(chan struct{})
	hold := func(ctx context.Context) error {
		select {
		case <-release:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	quick := func(context.Context) error { return nil }
	first, err := ops.Start(hss.Operation{Command: cx.CmdPushProfile, IMPI: "a"}, quick)
	must(t, err)
	if _, err := ops.Wait(ctx, first.ID); err != nil {
		t.Fatal(err)
	}
	second, err := ops.Start(hss.Operation{Command: cx.CmdPushProfile, IMPI: "b"}, hold)
	must(t, err)
	third, err := ops.Start(hss.Operation{Command: cx.CmdPushProfile, IMPI: "c"}, hold) // drops first
	must(t, err)
	if _, err := ops.Get(first.ID); !errors.Is(err, hss.ErrOperationNotFound) {
		t.Errorf("oldest finished operation kept over Max: %v", err)
	}
	if _, err := ops.Start(hss.Operation{Command: cx.CmdPushProfile, IMPI: "d"}, quick); !errors.Is(err, hss.ErrTooManyOperations) {
		t.Errorf("start with Max pending: %v, want ErrTooManyOperations", err)
	}
	close(release)
	for _, id := range []string{second.ID, third.ID} {
		if op, err := ops.Wait(ctx, id); err != nil || op.State != hss.OperationSucceeded {
			t.Fatalf("%+v, %v", op, err)
		}
	}

	// A procedure that panics fails its operation; the HSS goes on.
	op, err := ops.Start(hss.Operation{Command: cx.CmdPushProfile, IMPI: "p"}, func(context.Context) error { panic("bug") })
	must(t, err)
	if done, err := ops.Wait(ctx, op.ID); err != nil || done.State != hss.OperationFailed || done.Outcome() != hss.OutcomeError {
		t.Errorf("panicking procedure: %+v, %v", done, err)
	}

	short, err := hss.NewOperations(hss.OperationsConfig{Max: 10, Retention: time.Nanosecond, Concurrency: 1}, nil, nil)
	must(t, err)
	t.Cleanup(func() { _ = short.Close(context.Background()) })
	op, err = short.Start(hss.Operation{Command: cx.CmdPushProfile, IMPI: "a"}, quick)
	must(t, err)
	<-waitDone(t, short, op.ID)
	eventually(t, "finished operation forgotten after retention", func() bool {
		_, err := short.Get(op.ID)
		return errors.Is(err, hss.ErrOperationNotFound) && len(short.List("")) == 0
	})
	for _, bad := range []hss.OperationsConfig{{Max: 0, Retention: time.Hour, Concurrency: 1},
		{Max: 1, Retention: 0, Concurrency: 1}, {Max: 1, Retention: time.Hour, Concurrency: 0}} {
		if _, err := hss.NewOperations(bad, nil, nil); !errors.Is(err, hss.ErrInvalidConfig) {
			t.Errorf("%+v: %v", bad, err)
		}
	}
}

// waitDone is closed when operation id has ended.
func waitDone(t *testing.T, ops *hss.Operations, id string) <-chan struct{} {
	t.Helper()
	ch := make(chan struct{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	go func() {
		defer close(ch)
		_, _ = ops.Wait(ctx, id)
	}()
	return ch
}

// metric returns the value of the counter or gauge name whose labels include labels (0 if none).
func (e *env) metric(name string, labels map[string]string) float64 {
	e.t.Helper()
	families, err := e.reg.Gather()
	must(e.t, err)
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
	next:
		for _, m := range f.GetMetric() {
			have := map[string]string{}
			for _, l := range m.GetLabel() {
				have[l.GetName()] = l.GetValue()
			}
			for k, v := range labels {
				if have[k] != v {
					continue next
				}
			}
			if m.GetCounter() != nil {
				return m.GetCounter().GetValue()
			}
			return m.GetGauge().GetValue()
		}
	}
	return 0
}
