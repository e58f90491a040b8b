package main

import (
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/imscore/imscore/internal/progress"
	"github.com/imscore/imscore/sip/ue/load"
)

// progressPoll is how often imsue load reads the engine's progress.
const progressPoll = 200 * time.Millisecond

// progressSource is what the display reads: *load.Engine.
type progressSource interface{ Progress() load.Progress }

// showProgress shows the setup registrations and each step of src on w (a bar on a terminal, plain lines by
// tenths otherwise) until the returned stop is called; stop shows the last state and waits for the display.
func showProgress(w io.Writer, src progressSource) (stop func()) {
	d := &progressDisplay{w: w}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(progressPoll)
		defer t.Stop()
		for {
			select {
			case <-done:
				d.show(src.Progress())
				d.finish()
				return
			case <-t.C:
				d.show(src.Progress())
			}
		}
	})
	return func() { close(done); wg.Wait() }
}

// progressDisplay turns Progress snapshots into one bar per phase.
type progressDisplay struct {
	w    io.Writer
	bar  *progress.Bar
	last load.Progress // the phase the bar shows
}

func (d *progressDisplay) show(p load.Progress) {
	if p.Phase == load.PhaseIdle {
		return
	}
	if d.bar == nil || p.Phase != d.last.Phase || p.Step != d.last.Step {
		d.finish()
		label := fmt.Sprintf("setup: registering %d UEs", p.Total)
		if p.Phase == load.PhaseStep {
			label = fmt.Sprintf("step %d at %g/s for %s", p.Step, p.TargetRate, p.Duration)
		}
		d.bar = progress.New(d.w, label, int64(max(p.Total, 1)), 0)
	}
	d.last = p
	d.bar.Update(int64(p.Done), detail(p))
}

func (d *progressDisplay) finish() {
	if d.bar != nil {
		d.bar.Finish(detail(d.last))
		d.bar = nil
	}
}

// detail is the text after the bar: "120/200 done, 3 failed".
func detail(p load.Progress) string {
	return fmt.Sprintf("%d/%d done, %d failed", p.Done, p.Total, p.Failures)
}
