package progress

import (
	"bytes"
	"os"
	"strings"
	"testing"
)

// Not a terminal: a plain line at each tenth crossed (never more than 11 for any number of updates), then
// the final line.
func TestPlainKnownTotal(t *testing.T) {
	var buf bytes.Buffer
	b := New(&buf, "import", 1000, 0)
	for i := int64(1); i <= 1000; i++ {
		b.Update(i, "")
	}
	b.Finish("1000 lines")
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	if len(lines) != 11 {
		t.Fatalf("%d lines, want 10 tenths and the final one:\n%s", len(lines), buf.String())
	}
	if lines[0] != "import [===>                          ]  10%" || lines[10] != "import [==============================] 100% 1000 lines" {
		t.Errorf("first %q, last %q", lines[0], lines[10])
	}
	if strings.Contains(buf.String(), "\r") {
		t.Error("carriage return on a non-terminal")
	}
	b.Update(5, "after")
	b.Finish("again")
	if got := strings.Count(buf.String(), "\n"); got != 11 {
		t.Errorf("updates after Finish printed: %d lines", got)
	}
}

func TestPlainUnknownTotal(t *testing.T) {
	var buf bytes.Buffer
	b := New(&buf, "import", 0, 100)
	for i := int64(1); i <= 250; i++ {
		b.Update(i, "lines")
	}
	b.Finish("250 lines sent")
	if got, want := buf.String(), "import lines\nimport lines\nimport 250 lines sent\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestIsTerminal(t *testing.T) {
	if IsTerminal(&bytes.Buffer{}) {
		t.Error("a buffer is a terminal")
	}
	f, err := os.CreateTemp(t.TempDir(), "out")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if IsTerminal(f) {
		t.Error("a regular file is a terminal")
	}
	if tty, err := os.OpenFile("/dev/tty", os.O_WRONLY, 0); err == nil {
		defer tty.Close()
		if !IsTerminal(tty) {
			t.Error("/dev/tty is not a terminal")
		}
	}
}

// On a terminal the bar is redrawn in place and ends with a newline.
func TestTTYRedraw(t *testing.T) {
	var buf bytes.Buffer
	b := &Bar{w: &buf, tty: true, label: "step 1", total: 10}
	b.Update(5, "50 ops, 0 failures")
	b.Finish("done")
	out := buf.String()
	if !strings.HasPrefix(out, "\rstep 1 [===============>              ]  50% 50 ops, 0 failures") || !strings.Contains(out, "\rstep 1 [===============>              ]  50% done") || !strings.HasSuffix(out, " \n") {
		t.Errorf("%q", out)
	}
}
