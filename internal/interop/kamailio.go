// Package interop runs imscore's nodes against other IMS cores' nodes (today: the Kamailio 5.6 IMS CSCFs from
// Debian's packages) on loopback, with SIPp as the UE — docs/interop.md. The Kamailio configurations of testdata/
// are written for this lab; kamailio.go renders them and runs kamailio as a process of the test.
package interop

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"text/template"

	"github.com/imscore/imscore/internal/e2e"
)

// Realm is the home network of the lab, the Diameter realm and SIP domain of every node.
const Realm = e2e.Domain

// Debian's module directory of the kamailio package (amd64 and arm64).
var modulePaths = []string{"/usr/lib/x86_64-linux-gnu/kamailio/modules", "/usr/lib/aarch64-linux-gnu/kamailio/modules"}

// needKamailio skips the test (fails it under CI=true) unless kamailio and its IMS modules are installed, and
// returns the kamailio binary and the module directory.
func needKamailio(t *testing.T) (bin, modules string) {
	t.Helper()
	const install = "apt-get install kamailio kamailio-ims-modules kamailio-presence-modules"
	bin = e2e.NeedBinary(t, "kamailio", install)
	for _, dir := range modulePaths {
		if _, err := os.Stat(filepath.Join(dir, "ims_registrar_scscf.so")); err == nil {
			modules = dir
		}
	}
	e2e.Need(t, modules != "", "Kamailio's IMS modules not installed ("+install+")")
	return bin, modules
}

// kamailioVersion is the first line of kamailio -v ("version: kamailio 5.6.3 (x86_64/linux)").
func kamailioVersion(bin string) string {
	out, err := exec.Command(bin, "-v").Output()
	if err != nil {
		return "unknown: " + err.Error()
	}
	first, _, _ := strings.Cut(string(out), "\n")
	return strings.TrimSpace(first)
}

// kamailioNode is the data a testdata/ configuration is rendered with.
type kamailioNode struct {
	Role       string // icscf, scscf, pcscf: the testdata/<role>.cfg file
	Port       int    // SIP port (UDP and TCP) on 127.0.0.1
	Alias      string // the host name it also answers to (its domain name)
	ModulePath string
	Dir        string // where the rendered files live
	Realm      string
	OriginHost string // Diameter Origin-Host ("" for the P-CSCF, which has no Diameter)
	HSSHost    string // the HSS's Origin-Host
	HSSAddr    string // the name cdp connects to: 127.0.0.1 (the lab has no DNS; see docs/interop.md)
	HSSPort    int    // the HSS's Diameter port on 127.0.0.1
	ServerName string // S-CSCF: its SIP URI (Server-Name in MAR/SAR), sip:127.0.0.1:<port>
	ICSCF      string // S-CSCF: the I-CSCF's host:port, next hop of originating requests; P-CSCF: of REGISTER
	SCSCFs     []string
}

// kamailio is one running Kamailio CSCF.
type kamailio struct {
	*e2e.Process
	node kamailioNode
	SIP  string // 127.0.0.1:port
}

// render writes the role's configuration (and cdp.xml, and the I-CSCF's db_text tables) into n.Dir.
func (n kamailioNode) render(t *testing.T) string {
	t.Helper()
	files := []string{n.Role + ".cfg"}
	if n.OriginHost != "" {
		files = append(files, "cdp.xml")
	}
	for _, f := range files {
		tmpl, err := template.ParseFiles(filepath.Join("testdata", f))
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		if err := tmpl.Execute(&b, n); err != nil {
			t.Fatalf("render %s: %v", f, err)
		}
		if err := os.WriteFile(filepath.Join(n.Dir, f), b.Bytes(), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	switch n.Role {
	case "icscf":
		n.writeICSCFTables(t)
	case "pcscf":
		n.copyPUATables(t)
	}
	return filepath.Join(n.Dir, n.Role+".cfg")
}

// writeICSCFTables writes ims_icscf's three tables as db_text files: the S-CSCFs it may choose from (the HSS
// names them in UAA/LIA; the table is its own list) and no trusted domains.
func (n kamailioNode) writeICSCFTables(t *testing.T) {
	t.Helper()
	db := filepath.Join(n.Dir, "db")
	if err := os.MkdirAll(db, 0o700); err != nil {
		t.Fatal(err)
	}
	var scscf strings.Builder
	scscf.WriteString("id(int) name(string) s_cscf_uri(string)\n")
	for i, uri := range n.SCSCFs {
		fmt.Fprintf(&scscf, "%d:scscf%d:%s\n", i+1, i+1, strings.ReplaceAll(uri, ":", `\:`))
	}
	tables := map[string]string{
		"s_cscf":              scscf.String(),
		"s_cscf_capabilities": "id(int) id_s_cscf(int) capability(int)\n",
		"nds_trusted_domains": "id(int) trusted_domain(string)\n",
		"version":             "table_name(string) table_version(int)\n",
	}
	for name, body := range tables {
		if err := os.WriteFile(filepath.Join(db, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// dbtextSchema is where Debian's kamailio package keeps the empty db_text tables of every module.
const dbtextSchema = "/usr/share/kamailio/dbtext/kamailio"

// copyPUATables gives the P-CSCF's pua module (its reg-event subscription) its db_text tables: pua refuses to
// start without a database even though it keeps its state in memory. The tables come from the installed
// package, so their version matches the module's.
func (n kamailioNode) copyPUATables(t *testing.T) {
	t.Helper()
	db := filepath.Join(n.Dir, "db")
	if err := os.MkdirAll(db, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"pua", "version"} {
		b, err := os.ReadFile(filepath.Join(dbtextSchema, name))
		if err != nil {
			t.Fatalf("the pua module's db_text tables (kamailio package): %v", err)
		}
		if err := os.WriteFile(filepath.Join(db, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// startKamailio renders n's configuration and runs kamailio in the foreground (-DD), logging to stderr (-E), with
// its runtime files in n.Dir; it waits until the SIP port accepts TCP. The process is stopped with SIGTERM when
// t ends (e2e.Process).
func startKamailio(t *testing.T, bin string, n kamailioNode) *kamailio {
	t.Helper()
	n.Dir = t.TempDir()
	n.Realm = Realm
	n.HSSAddr = "127.0.0.1"
	cfg := n.render(t)
	args := []string{"-f", cfg, "-DD", "-E", "-m", "64", "-M", "8", "-Y", n.Dir, "-P", filepath.Join(n.Dir, "kamailio.pid"),
		"-w", n.Dir}
	if out, err := exec.Command(bin, append([]string{"-c"}, args...)...).CombinedOutput(); err != nil {
		t.Fatalf("kamailio -c %s: %v\n%s", cfg, err, out)
	}
	k := &kamailio{node: n, SIP: e2e.Addr(n.Port)}
	k.Process = e2e.StartProcess(t, "kamailio-"+n.Role, bin, args...)
	k.WaitTCP(k.SIP)
	return k
}
