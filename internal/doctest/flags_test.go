package doctest_test

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/imscore/imscore/internal/e2e"
)

// EnvUpdateFlags rewrites docs/flags.md from the binaries' help instead of comparing.
const EnvUpdateFlags = "IMSCORE_UPDATE_FLAGS_DOC"

// helpRuns are the help texts docs/flags.md lists: every binary's -h, and the sub-commands with flags of
// their own.
var helpRuns = [][]string{
	{"hss", "-h"}, {"icscf", "-h"}, {"scscf", "-h"}, {"pcscf", "-h"}, {"presence", "-h"}, {"bsf", "-h"},
	{"imsctl", "help"}, {"imsctl", "contacts", "-h"}, {"imsctl", "registration", "list", "-h"},
	{"imsue", "register", "-h"}, {"imsue", "load", "-h"}, {"imsue", "pana", "-h"}, {"imspaa", "-h"},
	{"imsconsole", "-h"}, {"imsconsole", "account", "add", "-h"},
	{"imsrun", "-h"}, {"hssbench", "-h"}, {"imsbench", "-h"},
}

// TestFlagsDoc: docs/flags.md is the help of every binary as it prints it, so a flag added, renamed or with
// another default shows up as a difference here. IMSCORE_UPDATE_FLAGS_DOC=1 rewrites the file.
func TestFlagsDoc(t *testing.T) {
	root, err := e2e.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, run := range helpRuns {
		names = append(names, run[0])
	}
	binDir := build(t, names...)
	var doc bytes.Buffer
	doc.WriteString("# Flags of every binary\n\n" +
		"Generated from each binary's help (`IMSCORE_UPDATE_FLAGS_DOC=1 go test ./internal/doctest -run TestFlagsDoc`);\n" +
		"the test fails when a binary's help and this page differ. Every binary also takes `--config FILE` where\n" +
		"listed (YAML with the keys of its page; flags override the file). Each node's page says what the settings mean.\n")
	dir := t.TempDir() // the working directory: defaults relative to it print as they are
	for _, run := range helpRuns {
		bin, err := bins.Path(run[0])
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(bin, run[1:]...)
		cmd.Dir, cmd.Env = dir, []string{"PATH=/usr/bin:/bin", "HOME=" + dir}
		out, err := cmd.CombinedOutput()
		if ee, ok := err.(*exec.ExitError); err != nil && (!ok || ee.ExitCode() > 2) {
			t.Fatalf("%s: %v\n%s", strings.Join(run, " "), err, out)
		}
		// A default naming where the binary is (imsrun --bin) reads as such, wherever the test built it.
		text := strings.ReplaceAll(strings.TrimRight(string(out), "\n"), binDir, "<directory of the binary>")
		fmt.Fprintf(&doc, "\n## `%s`\n\n```text\n%s\n```\n", strings.Join(run, " "), text)
	}
	path := filepath.Join(root, "docs", "flags.md")
	if os.Getenv(EnvUpdateFlags) != "" {
		if err := os.WriteFile(path, doc.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	have, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(have, doc.Bytes()) {
		hl, wl := strings.Split(string(have), "\n"), strings.Split(doc.String(), "\n")
		for i := range max(len(hl), len(wl)) {
			h, w := line(hl, i), line(wl, i)
			if h != w {
				t.Fatalf("docs/flags.md differs from the binaries' help at line %d:\n  file: %q\n  help: %q\n(%s=1 go test ./internal/doctest -run TestFlagsDoc rewrites it)",
					i+1, h, w, EnvUpdateFlags)
			}
		}
	}
}

func line(l []string, i int) string {
	if i < len(l) {
		return l[i]
	}
	return "<end of file>"
}
