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
	for _, want := range []string{"ub_listen: 127.0.0.1:8095", "key_lifetime: 1h0m0s", "name: bsf.ims.mnc001.mcc001.3gppnetwork.org",
		"realm: ims.mnc001.mcc001.3gppnetwork.org", "hss: 127.0.0.1:3868"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("dump lacks %q:\n%s", want, out.String())
		}
	}
}

func TestBadConfig(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"--ub-listen", "nowhere"}, &out, &errb); code != 2 || !strings.Contains(errb.String(), "ub_listen") {
		t.Errorf("exit %d: %s", code, errb.String())
	}
	if code := run([]string{"--zn-listen", "127.0.0.1:3871"}, &out, &errb); code != 2 || !strings.Contains(errb.String(), "zn.peers") {
		t.Errorf("zn without peers: exit %d: %s", code, errb.String())
	}
}
