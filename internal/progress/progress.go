// Package progress shows how far a long command has got (imsctl subscriber import, imsue load's steps) on
// standard error: a bar redrawn in place when the writer is a terminal, plain lines otherwise (a log, a CI
// run), at most one per tenth of the work so that a pipe is not flooded.
package progress

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"
)

// Width is the bar's width in characters.
const Width = 30

// redraw is the least time between two redraws of a terminal bar.
const redraw = 100 * time.Millisecond

// Bar is the progress of one piece of work: Done of Total (Total 0: unknown), with a detail after the bar.
// Its methods are safe for concurrent use.
type Bar struct {
	w     io.Writer
	tty   bool
	label string
	total int64
	// every is the plain lines' step when Total is unknown: a line each time Done crosses a multiple.
	every int64

	mu        sync.Mutex
	done      int64
	detail    string
	drawn     time.Time
	lastPlain int64 // the tenth (known total) or multiple of every (unknown) last printed
	finished  bool
	width     int // of the last terminal line, to blank what a shorter one leaves
}

// New returns a bar for label on w; total 0 means unknown, and then a plain line is printed each time Done
// crosses a multiple of every (0: only at Finish). w is a terminal when it is an *os.File on a character
// device.
func New(w io.Writer, label string, total, every int64) *Bar {
	return &Bar{w: w, tty: IsTerminal(w), label: label, total: total, every: every}
}

// IsTerminal reports whether w is a terminal.
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// Update sets how much is done and the detail shown after it ("12,000 lines", "3 failures").
func (b *Bar) Update(done int64, detail string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.finished {
		return
	}
	b.done, b.detail = done, detail
	if b.tty {
		if now := time.Now(); now.Sub(b.drawn) >= redraw {
			b.drawn = now
			b.drawTTY()
		}
		return
	}
	mark := int64(0)
	switch {
	case b.total > 0:
		mark = min(done*10/b.total, 10)
	case b.every > 0:
		mark = done / b.every
	}
	if mark > b.lastPlain {
		b.lastPlain = mark
		fmt.Fprintln(b.w, b.line())
	}
}

// Finish shows the final state once (the terminal bar ends with a newline).
func (b *Bar) Finish(detail string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.finished {
		return
	}
	b.finished, b.detail = true, detail
	if b.tty {
		b.drawTTY()
		fmt.Fprintln(b.w)
		return
	}
	fmt.Fprintln(b.w, b.line())
}

func (b *Bar) drawTTY() {
	l := b.line()
	pad := max(b.width-len(l), 0)
	b.width = len(l)
	fmt.Fprintf(b.w, "\r%s%s", l, strings.Repeat(" ", pad))
}

// line is the bar as text: "import [=====>    ]  45% 450000 lines" or, with an unknown total, "import 450000 lines".
func (b *Bar) line() string {
	var sb strings.Builder
	sb.WriteString(b.label)
	if b.total > 0 {
		pct := min(b.done*100/b.total, 100)
		fill := int(pct * Width / 100)
		sb.WriteString(" [")
		sb.WriteString(strings.Repeat("=", fill))
		if fill < Width {
			sb.WriteString(">")
			sb.WriteString(strings.Repeat(" ", Width-fill-1))
		}
		fmt.Fprintf(&sb, "] %3d%%", pct)
	}
	if b.detail != "" {
		sb.WriteString(" ")
		sb.WriteString(b.detail)
	}
	return sb.String()
}
