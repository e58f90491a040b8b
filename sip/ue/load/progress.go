package load

import (
	"sync"
	"time"
)

// Phase is what a run is doing.
type Phase string

// The phases of a run, in order.
const (
	PhaseIdle  Phase = ""      // not started
	PhaseSetup Phase = "setup" // registering the pool before the first step
	PhaseStep  Phase = "step"  // a step at its target rate
)

// Progress is where a run stands, for a progress display (imsue load): Engine.Progress reads it from another
// goroutine while Run runs.
type Progress struct {
	Phase Phase
	// Step is the step number (1 first) and TargetRate its rate, in PhaseStep.
	Step       int
	TargetRate float64
	// Done of Total: UEs that finished their setup registration, or operations of the step that finished.
	Done, Total int
	Failures    int
	// Started is when the phase began; Duration the step's length (0 in setup).
	Started  time.Time
	Duration time.Duration
}

// meter keeps the Progress of an Engine.
type meter struct {
	mu sync.Mutex
	p  Progress
}

// begin starts a phase; a step's number counts up by itself.
func (m *meter) begin(phase Phase, rate float64, total int, d time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	step := m.p.Step
	if phase == PhaseStep {
		step++
	}
	m.p = Progress{Phase: phase, Step: step, TargetRate: rate, Total: total, Started: time.Now(), Duration: d}
}

// tick counts one finished registration or operation.
func (m *meter) tick(err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.p.Done++
	if err != nil {
		m.p.Failures++
	}
}

// Progress returns where the run stands.
func (e *Engine) Progress() Progress {
	e.meter.mu.Lock()
	defer e.meter.mu.Unlock()
	return e.meter.p
}
