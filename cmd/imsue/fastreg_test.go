package main

import (
	"flag"
	"testing"

	"github.com/imscore/imscore/internal/testpki"
	"github.com/imscore/imscore/sip/ue"
)

func TestFastregFlags(t *testing.T) {
	pki := testpki.New(t, "ue-ca")
	cert, key := pki.Issue("alice@ims.example")
	parse := func(args ...string) (ue.Config, error) {
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		o := fastregFlags(fs)
		if err := fs.Parse(args); err != nil {
			t.Fatal(err)
		}
		var cfg ue.Config
		return cfg, o.apply(&cfg)
	}
	cfg, err := parse("--fastreg-token", "00112233445566778899aabbccddeeff", "--fastreg-cert", cert, "--fastreg-key", key)
	if err != nil || cfg.FastReg == nil || len(cfg.FastReg.Token) != 16 || cfg.FastReg.Cert.Subject.CommonName != "alice@ims.example" {
		t.Fatalf("%+v %v", cfg.FastReg, err)
	}
	if cfg, err := parse(); err != nil || cfg.FastReg != nil {
		t.Fatalf("no flags: %+v %v", cfg.FastReg, err)
	}
	for _, bad := range [][]string{{"--fastreg-token", "zz", "--fastreg-cert", cert, "--fastreg-key", key},
		{"--fastreg-token", "00"}, {"--fastreg-cert", cert}, {"--fastreg-token", "00", "--fastreg-cert", key, "--fastreg-key", key}} {
		if _, err := parse(bad...); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}
