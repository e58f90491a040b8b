package load

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/imscore/imscore/sip/ue"
)

// operate runs one operation of scenario sc on UE i and returns its latency (valid when err is
// nil). A UE not in the state the operation starts from is brought there first, outside the
// measured time (see the Scenario constants).
func (e *Engine) operate(ctx context.Context, sc Scenario, i int) (time.Duration, error) {
	m := e.members[i]
	defer func() { m.registered.Store(m.u.Registration() != nil) }()
	registered := m.u.Registration() != nil
	switch {
	case sc == ScenarioRegister && registered:
		if err := m.u.Deregister(ctx); err != nil {
			return 0, fmt.Errorf("de-register before register: %w", err)
		}
	case sc.needsRegistered() && !registered:
		if _, err := m.u.Register(ctx); err != nil {
			return 0, fmt.Errorf("register before %s: %w", sc, err)
		}
	}
	switch sc {
	case ScenarioRegister, ScenarioReregister:
		start := time.Now()
		_, err := m.u.Register(ctx)
		return time.Since(start), err
	case ScenarioDeregister:
		start := time.Now()
		err := m.u.Deregister(ctx)
		return time.Since(start), err
	case ScenarioMessage:
		callee, err := e.callee(i)
		if err != nil {
			return 0, err
		}
		start := time.Now()
		_, err = m.u.Message(ctx, callee, "imsue load")
		return time.Since(start), err
	case ScenarioCall:
		callee, err := e.callee(i)
		if err != nil {
			return 0, err
		}
		start := time.Now()
		call, err := m.u.Invite(ctx, callee)
		setup := time.Since(start)
		if err != nil {
			return setup, fmt.Errorf("INVITE: %w", err)
		}
		if e.cfg.Hold > 0 {
			select {
			case <-time.After(e.cfg.Hold):
			case <-ctx.Done():
			}
		}
		start = time.Now()
		if err := call.Hangup(ctx); err != nil {
			return setup + time.Since(start), fmt.Errorf("BYE: %w", err)
		}
		return setup + time.Since(start), nil
	case ScenarioPresence:
		etag, _ := m.etag.Load().(string)
		body := ue.PIDF(m.impu, "open", "imsue load")
		start := time.Now()
		next, _, err := m.u.Publish(ctx, body, etag, time.Hour)
		var se *ue.StatusError
		if etag != "" && errors.As(err, &se) && se.Code == 412 {
			next, _, err = m.u.Publish(ctx, body, "", time.Hour) // RFC 3903 §6: the state is gone; start again
		}
		if err == nil {
			m.etag.Store(next)
		}
		return time.Since(start), err
	}
	return 0, fmt.Errorf("%w: operation %q", ErrConfig, sc)
}

// callee draws another UE of the pool that is registered (a few tries, then the next ones in
// order), and returns its IMPU.
func (e *Engine) callee(caller int) (string, error) {
	n := len(e.members)
	for range 4 {
		j := e.intn(n)
		if j != caller && e.members[j].registered.Load() {
			return e.members[j].impu, nil
		}
	}
	for k := 1; k < n; k++ {
		j := (caller + k) % n
		if e.members[j].registered.Load() {
			return e.members[j].impu, nil
		}
	}
	return "", ErrNoCallee
}
