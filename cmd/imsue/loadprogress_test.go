package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/imscore/imscore/sip/ue/load"
)

// The display: one bar per phase, plain lines by tenths on a non-terminal, each phase's final line.
func TestProgressDisplay(t *testing.T) {
	var buf bytes.Buffer
	d := &progressDisplay{w: &buf}
	d.show(load.Progress{})
	for i := 1; i <= 10; i++ {
		d.show(load.Progress{Phase: load.PhaseSetup, Done: i, Total: 10, Failures: i / 10})
	}
	for i := 0; i <= 20; i++ {
		d.show(load.Progress{Phase: load.PhaseStep, Step: 1, TargetRate: 50, Duration: 10 * time.Second, Done: i, Total: 20})
	}
	d.show(load.Progress{Phase: load.PhaseStep, Step: 2, TargetRate: 75, Duration: 10 * time.Second, Done: 3, Total: 30})
	d.finish()
	out := buf.String()
	for _, want := range []string{
		"setup: registering 10 UEs [===>                          ]  10% 1/10 done, 0 failed\n",
		"setup: registering 10 UEs [==============================] 100% 10/10 done, 1 failed\n",
		"step 1 at 50/s for 10s [==============================] 100% 20/20 done, 0 failed\n",
		"step 2 at 75/s for 10s [===>                          ]  10% 3/30 done, 0 failed\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if n := strings.Count(out, "\n"); n > 11+11+2 {
		t.Errorf("%d lines: more than one per tenth and phase\n%s", n, out)
	}
}
