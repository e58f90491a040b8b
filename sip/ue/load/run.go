package load

import (
	"context"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/imscore/imscore/internal/logging"
)

// Run runs the scenario: one step at cfg.Rate, or with StepUp steps at rising rates until one
// reaches the failure limit (or MaxSteps). The UEs are registered first when the scenario needs
// registered UEs. When ctx ends (Ctrl-C) the step in progress is cut short, its operations in
// flight are cancelled, and the report so far is returned with Interrupted set. The error is
// non-nil only when no step could run at all.
func (e *Engine) Run(ctx context.Context) (*Report, error) {
	rep := e.newReport()
	setup, err := e.prepare(ctx)
	rep.Setup = setup
	if ctx.Err() != nil {
		rep.Interrupted = true // stopped while the pool registered: no step ran
		return rep, nil
	}
	if err != nil {
		return rep, err
	}
	rate := e.cfg.Rate
	for n := 1; ; n++ {
		st := e.step(ctx, rate)
		rep.Steps = append(rep.Steps, st)
		under := st.FailureRatio < e.cfg.MaxFailureRatio
		if st.Interrupted {
			rep.Interrupted = true
		}
		if under && !st.Interrupted {
			rep.BestRate = st.AchievedRate
		}
		e.log.Info("step done", zap.Float64("target_rate", st.TargetRate), zap.Float64("achieved_rate", st.AchievedRate),
			zap.Int("attempts", st.Attempts), zap.Int("failures", st.Failures), zap.Any("failures_by_cause", st.FailuresByCause))
		if !e.cfg.StepUp || !under || st.Interrupted || (e.cfg.MaxSteps > 0 && n >= e.cfg.MaxSteps) {
			break
		}
		rate *= e.cfg.StepFactor
	}
	return rep, nil
}

// stepStats accumulates one step's outcomes from the operations' goroutines.
type stepStats struct {
	mu        sync.Mutex
	attempts  int
	successes int
	causes    map[string]int
	ops       map[Scenario]int
	latency   Histogram
	meter     *meter // the Engine's Progress; nil in tests of stepStats alone
}

func (s *stepStats) record(sc Scenario, latency time.Duration, err error) {
	if s.meter != nil {
		s.meter.tick(err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.attempts++
	s.ops[sc]++
	if err != nil {
		s.causes[Cause(err)]++
		return
	}
	s.successes++
	s.latency.Record(latency)
}

// step offers rate operations per second for the configured duration, open-loop (Pacer), then
// waits for the operations still in flight.
func (e *Engine) step(ctx context.Context, rate float64) Step {
	stats := &stepStats{causes: map[string]int{}, ops: map[Scenario]int{}, meter: &e.meter}
	opCtx, cancelOps := context.WithCancel(ctx)
	defer cancelOps()
	var ops sync.WaitGroup
	start := time.Now()
	p := NewPacer(start, rate, e.cfg.Duration)
	e.meter.begin(PhaseStep, rate, p.Total(), e.cfg.Duration)
	ticker := time.NewTicker(p.tick())
	defer ticker.Stop()
	started, interrupted := 0, false
	for total := p.Total(); started < total && !interrupted; {
		for due := p.Due(time.Now()); started < due; started++ {
			e.startOp(opCtx, &ops, stats)
		}
		if started >= total {
			break
		}
		select {
		case <-ctx.Done():
			interrupted = true
		case <-ticker.C:
		}
	}
	if !interrupted {
		// The last operation is due before the window ends: wait for the end of it.
		select {
		case <-time.After(time.Until(p.End())):
		case <-ctx.Done():
			interrupted = true
		}
	}
	window := e.cfg.Duration
	if interrupted {
		window = time.Since(start)
	}
	ops.Wait()
	return stats.result(rate, window, interrupted)
}

// startOp takes an idle UE and runs one operation on it in a goroutine counted by ops; with no
// idle UE it records an overload failure instead.
func (e *Engine) startOp(ctx context.Context, ops *sync.WaitGroup, stats *stepStats) {
	sc := e.cfg.Scenario
	if sc == ScenarioMix {
		sc = e.cfg.Mix.pick(e.intn(e.cfg.Mix.total()))
	}
	var i int
	select {
	case i = <-e.idle:
	default:
		stats.record(sc, 0, ErrOverload)
		return
	}
	ops.Go(func() {
		defer func() { e.idle <- i }()
		latency, err := e.operate(ctx, sc, i)
		if err != nil {
			e.log.Debug("operation failed", zap.String("op", string(sc)), logging.IMPU(e.members[i].impu), zap.Error(err))
		}
		stats.record(sc, latency, err)
	})
}
