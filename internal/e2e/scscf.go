package e2e

import (
	"fmt"
	"path/filepath"
	"testing"
)

// SCSCF is a running cmd/scscf.
type SCSCF struct {
	*Process
	Name string // its Server-Name, sip:scscf.<domain>:<port>
	DB   string // the registrar store DSN it runs on (a restart on the same DB keeps its registrations)
	SIP  string
	HTTP string
}

// SCSCFOptions configure StartSCSCF.
type SCSCFOptions struct {
	HSS     string // Diameter address of the HSS
	HSSHost string // its Origin-Host ("" accepts any)
	ICSCF   string // I-CSCF SIP address for callees not registered here ("" serves the whole domain)
	DB      string // registrar store DSN ("" : SQLite in the process's directory)
	Args    []string
	NS      Namespace // network namespace to run in (nil: the test's own)
}

// StartSCSCF starts cmd/scscf on free loopback ports (its name carries the port) and waits for /readyz.
func StartSCSCF(t testing.TB, b *Builder, o SCSCFOptions) *SCSCF {
	t.Helper()
	bin := b.MustPath(t, "scscf")
	sipPort, httpPort := FreePort(t), FreePort(t)
	n := &SCSCF{Name: fmt.Sprintf("sip:scscf.%s:%d", Domain, sipPort), SIP: Addr(sipPort), HTTP: Addr(httpPort)}
	dir := t.TempDir()
	db := o.DB
	if db == "" {
		db = "sqlite://" + filepath.Join(dir, "scscf.db")
	}
	icscf := "none"
	if o.ICSCF != "" {
		icscf = "sip:" + o.ICSCF + ";lr"
	}
	n.DB = db
	args := []string{"--sip-listen", n.SIP, "--http-listen", n.HTTP, "--diameter-listen", "", "--hss", o.HSS,
		"--hss-host", o.HSSHost, "--server-name", n.Name, "--db", db, "--icscf", icscf, "--log-level", "debug"}
	args = append(args, o.Args...)
	n.Process = StartProcessIn(t, o.NS, "scscf", bin, args...)
	n.WaitHTTP(fmt.Sprintf("http://%s/readyz", n.HTTP))
	return n
}
