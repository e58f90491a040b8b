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
	for _, name := range []string{"hss", "scscf", "icscf", "pcscf"} {
		Need(t, b.Has(name), "cmd/"+name+" not in the tree")
	}
	scscfPort, icscfPort := FreePort(t), FreePort(t)
	name := fmt.Sprintf("sip:scscf.%s:%d", Domain, scscfPort)
	h := StartHSS(t, b, HSSOptions{SCSCFs: []string{name}})
	sc := StartSCSCF(t, b, SCSCFOptions{HSS: h.Cx, HSSHost: h.Host, ICSCF: Addr(icscfPort),
		Args: []string{"--sip-listen", Addr(scscfPort), "--server-name", name, "--log-level", "info"}})
	ic := StartICSCF(t, b, ICSCFOptions{HSS: h.Cx, SCSCFs: []string{name + "=" + Addr(scscfPort)},
		Args: []string{"--sip-listen", Addr(icscfPort), "--log-level", "info"}})
	pc := StartPCSCF(t, b, PCSCFOptions{ICSCF: Addr(icscfPort)})
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
