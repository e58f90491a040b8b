package doctest

import (
	"strings"
	"testing"
)

func TestBlocks(t *testing.T) {
	md := "# t\n\nProse may name `doc-test: skip` comments.\n\n```sh\necho one\n```\n\n" +
		"<!-- doc-test: skip: needs root -->\n```sh\nsudo x\n```\n" +
		"```\nnot shell\n```\n" +
		"<!-- doc-test: background until \"ready now\" -->\n```bash\nserve\n```\n"
	bs, err := Blocks(md)
	if err != nil {
		t.Fatal(err)
	}
	if len(bs) != 3 {
		t.Fatalf("%d blocks: %+v", len(bs), bs)
	}
	if bs[0].Mode != ModeRun || bs[0].Script != "echo one\n" || bs[0].Line != 5 {
		t.Errorf("block 0 %+v", bs[0])
	}
	if bs[1].Mode != ModeSkip || bs[1].Reason != "needs root" || bs[1].Script != "sudo x\n" {
		t.Errorf("block 1 %+v", bs[1])
	}
	if bs[2].Mode != ModeBackground || bs[2].Until != "ready now" {
		t.Errorf("block 2 %+v", bs[2])
	}
	for name, bad := range map[string]string{
		"skip without reason": "<!-- doc-test: skip -->\n```sh\nx\n```\n",
		"unknown mode":        "<!-- doc-test: sometimes -->\n```sh\nx\n```\n",
		"not before a fence":  "<!-- doc-test: skip: r -->\n\n```sh\nx\n```\n",
		"trailing marker":     "<!-- doc-test: skip: r -->\n",
		"unclosed":            "```sh\nx\n",
		"malformed comment":   "<!-- doc-test: skip: r\n```sh\nx\n```\n",
	} {
		if _, err := Blocks(bad); err == nil {
			t.Errorf("%s: accepted", name)
		} else if !strings.Contains(err.Error(), "line") {
			t.Errorf("%s: %v names no line", name, err)
		}
	}
}
