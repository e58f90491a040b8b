// Package xsdtest validates presence and XCAP documents in tests against the official XML schemas in
// testdata/xsd (PIDF RFC 3863, data model RFC 4479, RPID RFC 4480, watcherinfo RFC 3858, RLMI RFC 4662,
// resource-lists and rls-services RFC 4826, common-policy RFC 4745, pres-rules RFC 5025, xcap-error
// RFC 4825, OMA pres-content) with xmllint (libxml2-utils), the independent validator: the Go checks
// of services/presence/pidf and services/xdms are compared with it, not with themselves.
package xsdtest

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
)

// Schemas by the document they validate; the presence and auth-policy drivers import the schemas
// whose elements appear in the lax wildcards of PIDF and common-policy.
const (
	Presence      = "presence.xsd" // PIDF with the data model and RPID
	Watcherinfo   = "watcherinfo.xsd"
	RLMI          = "rlmi.xsd"
	ResourceLists = "resource-lists.xsd"
	RLSServices   = "rls-services.xsd"
	AuthPolicy    = "auth-policy.xsd" // common-policy with pres-rules
	XCAPError     = "xcap-error.xsd"
	PresContent   = "pres-content.xsd"
)

// Dir is testdata/xsd of the module.
func Dir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "..", "testdata", "xsd")
}

// xmllint finds the validator: a test is skipped without it, except in CI (CI=true), which installs
// libxml2-utils.
func xmllint(t testing.TB) string {
	t.Helper()
	p, err := exec.LookPath("xmllint")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("xmllint not installed (libxml2-utils): %v", err)
		}
		t.Skipf("xmllint not installed (libxml2-utils): %v", err)
	}
	return p
}

// Check reports whether doc validates against schema, with xmllint's message when it does not.
func Check(t testing.TB, schema string, doc []byte) (bool, string) {
	t.Helper()
	f := filepath.Join(t.TempDir(), "doc.xml")
	if err := os.WriteFile(f, doc, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(xmllint(t), "--noout", "--nonet", "--schema", filepath.Join(Dir(), schema), f)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return err == nil, out.String()
}

// Valid fails the test when doc does not validate against schema.
func Valid(t testing.TB, schema string, doc []byte) {
	t.Helper()
	if ok, msg := Check(t, schema, doc); !ok {
		t.Errorf("not valid against %s:\n%s\n%s", schema, msg, doc)
	}
}
