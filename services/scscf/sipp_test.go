package scscf

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/imscore/imscore/diameter/cx"
)

// SIPp (sip-tester) registers with SIP Digest: it accepts our 401 and we its response, so the Digest wire
// format interoperates (DESIGN.md §6). AKAv1-MD5 with SIPp 3.6.1 is not covered here: see docs/scscf.md.
func TestSIPpRegisterDigest(t *testing.T) {
	bin, err := exec.LookPath("sipp")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("sipp not installed (apt-get install sip-tester)")
		}
		t.Skip("sipp not installed (apt-get install sip-tester)")
	}
	hss := startFakeHSS(t)
	sub := hss.addSubscriber(t, "001010000000151", "15550000151")
	sub.scheme, sub.password = cx.SchemeSIPDigest, "sipp-secret"
	s := startSCSCF(t, hss, nil)

	tmpl, err := os.ReadFile(filepath.Join("testdata", "sipp", "register-md5.xml"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	scenario := filepath.Join(dir, "scenario.xml")
	text := strings.NewReplacer("@IMPI@", sub.impi, "@IMPU@", sub.impus[1], "@DOMAIN@", testDomain,
		"@PASSWORD@", sub.password).Replace(string(tmpl))
	if err := os.WriteFile(scenario, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitLong)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, s.SIPAddr().String(), "-sf", scenario, "-m", "1", "-i", "127.0.0.1",
		"-p", strconv.Itoa(freePort(t)), "-timeout", "8s", "-nostdin", "-trace_err",
		"-error_file", filepath.Join(dir, "errors.log"))
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		errs, _ := os.ReadFile(filepath.Join(dir, "errors.log"))
		t.Fatalf("sipp: %v\n%s\n%s", err, lastLines(string(out), 40), errs)
	}
	if registered(t, s, sub.impus[1]) == nil {
		t.Fatal("sipp finished but nothing is registered")
	}
}

func lastLines(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
