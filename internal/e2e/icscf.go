package e2e

import (
	"fmt"
	"testing"
)

// ICSCF is a running cmd/icscf.
type ICSCF struct {
	*Process
	SIP  string // 127.0.0.1:port, UDP and TCP
	HTTP string
}

// ICSCFOptions configure StartICSCF.
type ICSCFOptions struct {
	// HSS is the HSS's Diameter address.
	HSS string
	// SCSCFs are "name=address" values for --scscf.
	SCSCFs []string
	// Args are further flags.
	Args []string
	// NS is the network namespace to run in (nil: the test's own).
	NS Namespace
}

// StartICSCF starts cmd/icscf on free loopback ports and waits until /readyz says it has an open Cx connection.
func StartICSCF(t testing.TB, b *Builder, o ICSCFOptions) *ICSCF {
	t.Helper()
	bin := b.MustPath(t, "icscf")
	sipPort, httpPort := FreePort(t), FreePort(t)
	n := &ICSCF{SIP: Addr(sipPort), HTTP: Addr(httpPort)}
	args := []string{"--sip-listen", n.SIP, "--http-listen", n.HTTP, "--diameter-listen", "", "--hss", o.HSS,
		"--log-level", "debug"}
	for _, s := range o.SCSCFs {
		args = append(args, "--scscf", s)
	}
	args = append(args, o.Args...)
	n.Process = StartProcessIn(t, o.NS, "icscf", bin, args...)
	n.WaitHTTP(fmt.Sprintf("http://%s/readyz", n.HTTP))
	return n
}
