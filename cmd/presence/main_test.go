package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestDumpConfigDefaults(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"--dump-config"}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	for _, want := range []string{"listen: 127.0.0.1:5065", "xcap_root: /xcap-root", "default_sub_handling: confirm", "db: sqlite://var/presence.db"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("dump lacks %q:\n%s", want, out.String())
		}
	}
}

func TestBadConfig(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"--default-sub-handling", "maybe"}, &out, &errb); code != 2 || !strings.Contains(errb.String(), "default_sub_handling") {
		t.Errorf("exit %d: %s", code, errb.String())
	}
}
