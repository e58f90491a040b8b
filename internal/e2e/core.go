package e2e

import (
	"fmt"
	"os"
	"testing"
)

// Core is the whole core on free loopback ports: HSS, S-CSCF, I-CSCF and P-CSCF (IPsec off), as processes.
type Core struct {
	HSS   *HSS
	SCSCF *SCSCF
	ICSCF *ICSCF
	PCSCF *PCSCF
}

// StartCore builds (once) and starts the four nodes, wired to each other, and stops them when t ends. The
// CSCFs log at info. Tests skip when a node's cmd/ is not in the tree (failing under CI=true).
func StartCore(t testing.TB, b *Builder) *Core {
	t.Helper()
	return StartCoreIn(t, b, nil)
}

// StartCoreIn is StartCore with every node in the network namespace ns (nil: the test's own).
func StartCoreIn(t testing.TB, b *Builder, ns Namespace) *Core {
	t.Helper()
	for _, name := range []string{"hss", "scscf", "icscf", "pcscf"} {
		Need(t, b.Has(name), "cmd/"+name+" not in the tree")
	}
	scscfPort, icscfPort := FreePort(t), FreePort(t)
	name := fmt.Sprintf("sip:scscf.%s:%d", Domain, scscfPort)
	h := StartHSS(t, b, HSSOptions{SCSCFs: []string{name}, NS: ns})
	sc := StartSCSCF(t, b, SCSCFOptions{HSS: h.Cx, HSSHost: h.Host, ICSCF: Addr(icscfPort), NS: ns,
		Args: []string{"--sip-listen", Addr(scscfPort), "--server-name", name, "--log-level", "info"}})
	ic := StartICSCF(t, b, ICSCFOptions{HSS: h.Cx, SCSCFs: []string{name + "=" + Addr(scscfPort)}, NS: ns,
		Args: []string{"--sip-listen", Addr(icscfPort), "--log-level", "info"}})
	// The S-CSCF's and I-CSCF's listen flags above override the ones their Start functions chose.
	sc.SIP, sc.Name, ic.SIP = Addr(scscfPort), name, Addr(icscfPort)
	pc := StartPCSCF(t, b, PCSCFOptions{ICSCF: Addr(icscfPort), NS: ns})
	return &Core{HSS: h, SCSCF: sc, ICSCF: ic, PCSCF: pc}
}

// MainWithBuilder is a TestMain body for a test binary that shares one Builder among its tests: it builds
// into a temporary directory named after prefix, hands the Builder to use, runs the tests and removes the
// directory. It returns the exit code for os.Exit.
func MainWithBuilder(m *testing.M, prefix string, use func(*Builder)) int {
	dir, err := os.MkdirTemp("", prefix)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	defer os.RemoveAll(dir)
	b, err := NewBuilder(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	use(b)
	return m.Run()
}

// SIPNode is one SIP node of a Core: its process and its SIP address (UDP and TCP on one port).
type SIPNode struct {
	*Process
	SIP string
}

// SIPNodes are the core's P-CSCF, I-CSCF and S-CSCF, in that order.
func (c *Core) SIPNodes() []SIPNode {
	return []SIPNode{{c.PCSCF.Process, c.PCSCF.SIP}, {c.ICSCF.Process, c.ICSCF.SIP}, {c.SCSCF.Process, c.SCSCF.SIP}}
}
