// Package interop runs imscore's nodes against other IMS cores' nodes (today: the Kamailio 5.6 IMS CSCFs from
// Debian's packages) on loopback, with SIPp as the UE — docs/interop.md. The Kamailio configurations of testdata/
// are written for this lab; kamailio.go renders them and runs kamailio as a process of the test.
package interop

import (
	"fmt"
	"testing"

	"github.com/imscore/imscore/internal/e2e"
	"github.com/imscore/imscore/internal/interop/kamcfg"
)

// Realm is the home network of the lab, the Diameter realm and SIP domain of every node.
const Realm = e2e.Domain

// needKamailio skips the test (fails it under CI=true) unless kamailio and its IMS modules are installed, and
// returns the kamailio binary and the module directory.
func needKamailio(t *testing.T) (bin, modules string) {
	t.Helper()
	bin = e2e.NeedBinary(t, "kamailio", kamcfg.Install)
	modules, err := kamcfg.ModuleDir()
	e2e.Need(t, err == nil, fmt.Sprint(err))
	return bin, modules
}

// kamailioVersion is the first line of kamailio -v ("version: kamailio 5.6.3 (x86_64/linux)").
func kamailioVersion(bin string) string { return kamcfg.Version(bin) }

// kamailioNode is the data a testdata/ configuration is rendered with (kamcfg renders it).
type kamailioNode = kamcfg.Node

// kamailio is one running Kamailio CSCF.
type kamailio struct {
	*e2e.Process
	node kamailioNode
	SIP  string // 127.0.0.1:port
}

// startKamailio renders n's configuration and runs kamailio in the foreground (-DD), logging to stderr (-E), with
// its runtime files in n.Dir; it waits until the SIP port accepts TCP. The process is stopped with SIGTERM when
// t ends (e2e.Process).
func startKamailio(t *testing.T, bin string, n kamailioNode) *kamailio {
	t.Helper()
	n.Dir = t.TempDir()
	n.Realm = Realm
	n.HSSAddr = "127.0.0.1"
	cfg, err := n.Render("testdata")
	if err != nil {
		t.Fatal(err)
	}
	args := n.Args(cfg, 64, 8)
	if err := kamcfg.Check(bin, args); err != nil {
		t.Fatal(err)
	}
	k := &kamailio{node: n, SIP: e2e.Addr(n.Port)}
	k.Process = e2e.StartProcess(t, "kamailio-"+n.Role, bin, args...)
	k.WaitTCP(k.SIP)
	return k
}
