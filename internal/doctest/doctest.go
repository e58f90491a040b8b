// Package doctest finds the shell command blocks of a Markdown document (README.md) so that a test can run
// each as written against a started core. A block is a fenced ```sh block; an HTML comment on the line right
// before its fence says how to run it:
//
//	<!-- doc-test: skip: REASON -->                 not run here, for REASON (required)
//	<!-- doc-test: background until "TEXT" -->      started, the next blocks run once its output holds TEXT;
//	                                                 interrupted (Ctrl-C) at the end
//
// Any other block runs to completion and must exit 0.
package doctest

import (
	"bufio"
	"fmt"
	"regexp"
	"strings"
)

// Mode is how a block runs.
type Mode string

// The modes of a block.
const (
	ModeRun        Mode = "run"
	ModeSkip       Mode = "skip"
	ModeBackground Mode = "background"
)

// Block is one shell block of a document.
type Block struct {
	Line   int // of the opening fence, 1 first
	Script string
	Mode   Mode
	// Reason is why a skipped block is not run; Until the text a background block's output must show.
	Reason, Until string
}

var (
	fence     = regexp.MustCompile("^```(sh|bash|shell)\\s*$")
	marker    = regexp.MustCompile(`^<!--\s*doc-test:\s*(.*?)\s*-->$`)
	skipRe    = regexp.MustCompile(`^skip:\s*(\S.*)$`)
	untilRe   = regexp.MustCompile(`^background until "([^"]+)"$`)
	anyMarker = regexp.MustCompile(`^\s*<!--.*doc-test:`)
)

// Blocks returns the shell blocks of the Markdown text md, in order. A doc-test comment that does not parse,
// or that no shell block follows, is an error: a typo must not turn a skip into a run or the reverse.
func Blocks(md string) ([]Block, error) {
	var (
		out     []Block
		pending *Block // the marker of the next fence
		cur     *Block
		body    strings.Builder
		n       int
	)
	sc := bufio.NewScanner(strings.NewReader(md))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		n++
		line := sc.Text()
		if cur != nil {
			if strings.TrimSpace(line) == "```" {
				cur.Script = body.String()
				out = append(out, *cur)
				cur = nil
				body.Reset()
				continue
			}
			body.WriteString(line)
			body.WriteByte('\n')
			continue
		}
		if fence.MatchString(line) {
			b := Block{Line: n, Mode: ModeRun}
			if pending != nil {
				b.Mode, b.Reason, b.Until = pending.Mode, pending.Reason, pending.Until
				pending = nil
			}
			cur = &b
			continue
		}
		if pending != nil {
			return nil, fmt.Errorf("line %d: a doc-test comment must be right before a ```sh fence", pending.Line)
		}
		if !anyMarker.MatchString(line) {
			continue
		}
		m := marker.FindStringSubmatch(strings.TrimSpace(line))
		if m == nil {
			return nil, fmt.Errorf("line %d: %q: want <!-- doc-test: skip: REASON --> or <!-- doc-test: background until \"TEXT\" -->", n, line)
		}
		switch {
		case skipRe.MatchString(m[1]):
			pending = &Block{Line: n, Mode: ModeSkip, Reason: skipRe.FindStringSubmatch(m[1])[1]}
		case untilRe.MatchString(m[1]):
			pending = &Block{Line: n, Mode: ModeBackground, Until: untilRe.FindStringSubmatch(m[1])[1]}
		default:
			return nil, fmt.Errorf("line %d: %q: want skip: REASON or background until \"TEXT\"", n, m[1])
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if cur != nil {
		return nil, fmt.Errorf("line %d: the block is not closed", cur.Line)
	}
	if pending != nil {
		return nil, fmt.Errorf("line %d: a doc-test comment with no block after it", pending.Line)
	}
	return out, nil
}
