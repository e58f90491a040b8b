// Package kamcfg renders the interop lab's Kamailio 5.6 IMS CSCF configurations (internal/interop/testdata:
// icscf.cfg, scscf.cfg, pcscf.cfg, cdp.xml) and gives kamailio's command line, with no test dependency: the
// interop tests (internal/interop) and the benchmark driver (cmd/imsbench, which runs Kamailio's CSCFs next to
// imscore's under the same SIPp load) start the same configurations.
package kamcfg

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"text/template"
)

// ModulePaths are Debian's module directories of the kamailio package (amd64 and arm64).
var ModulePaths = []string{"/usr/lib/x86_64-linux-gnu/kamailio/modules", "/usr/lib/aarch64-linux-gnu/kamailio/modules"}

// Install is the Debian command that installs what the lab runs.
const Install = "apt-get install kamailio kamailio-ims-modules kamailio-presence-modules"

// ModuleDir is the installed module directory holding the IMS modules, or an error that says what to install.
func ModuleDir() (string, error) {
	for _, dir := range ModulePaths {
		if _, err := os.Stat(filepath.Join(dir, "ims_registrar_scscf.so")); err == nil {
			return dir, nil
		}
	}
	return "", errors.New("Kamailio's IMS modules not installed (" + Install + ")")
}

// Version is the first line of kamailio -v ("version: kamailio 5.6.3 (x86_64/linux)").
func Version(bin string) string {
	out, err := exec.Command(bin, "-v").Output()
	if err != nil {
		return "unknown: " + err.Error()
	}
	first, _, _ := strings.Cut(string(out), "\n")
	return strings.TrimSpace(first)
}

// Node is the data a configuration is rendered with.
type Node struct {
	Role       string // icscf, scscf, pcscf: the <role>.cfg template
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

// Render writes the role's configuration from the templates in dir templates (and cdp.xml, and the
// I-CSCF's db_text tables, and the P-CSCF's pua tables) into n.Dir, and returns the configuration's path.
func (n Node) Render(templates string) (string, error) {
	files := []string{n.Role + ".cfg"}
	if n.OriginHost != "" {
		files = append(files, "cdp.xml")
	}
	for _, f := range files {
		tmpl, err := template.ParseFiles(filepath.Join(templates, f))
		if err != nil {
			return "", err
		}
		var b bytes.Buffer
		if err := tmpl.Execute(&b, n); err != nil {
			return "", fmt.Errorf("render %s: %w", f, err)
		}
		if err := os.WriteFile(filepath.Join(n.Dir, f), b.Bytes(), 0o600); err != nil {
			return "", err
		}
	}
	var err error
	switch n.Role {
	case "icscf":
		err = n.writeICSCFTables()
	case "pcscf":
		err = n.copyPUATables()
	}
	return filepath.Join(n.Dir, n.Role+".cfg"), err
}

// Args is kamailio's command line for the rendered configuration cfg: foreground (-DD), logging to stderr
// (-E), shmem/pkg memory in MB, runtime files in n.Dir.
func (n Node) Args(cfg string, shmMB, pkgMB int) []string {
	return []string{"-f", cfg, "-DD", "-E", "-m", fmt.Sprint(shmMB), "-M", fmt.Sprint(pkgMB), "-Y", n.Dir,
		"-P", filepath.Join(n.Dir, "kamailio.pid"), "-w", n.Dir}
}

// writeICSCFTables writes ims_icscf's three tables as db_text files: the S-CSCFs it may choose from (the HSS
// names them in UAA/LIA; the table is its own list) and no trusted domains.
func (n Node) writeICSCFTables() error {
	db := filepath.Join(n.Dir, "db")
	if err := os.MkdirAll(db, 0o700); err != nil {
		return err
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
			return err
		}
	}
	return nil
}

// dbtextSchema is where Debian's kamailio package keeps the empty db_text tables of every module.
const dbtextSchema = "/usr/share/kamailio/dbtext/kamailio"

// copyPUATables gives the P-CSCF's pua module (its reg-event subscription) its db_text tables: pua refuses to
// start without a database even though it keeps its state in memory. The tables come from the installed
// package, so their version matches the module's.
func (n Node) copyPUATables() error {
	db := filepath.Join(n.Dir, "db")
	if err := os.MkdirAll(db, 0o700); err != nil {
		return err
	}
	for _, name := range []string{"pua", "version"} {
		b, err := os.ReadFile(filepath.Join(dbtextSchema, name))
		if err != nil {
			return fmt.Errorf("the pua module's db_text tables (kamailio package): %w", err)
		}
		if err := os.WriteFile(filepath.Join(db, name), b, 0o600); err != nil {
			return err
		}
	}
	return nil
}

// Check runs kamailio -c on the command line args (Args): the configuration parses and its modules load.
func Check(bin string, args []string) error {
	if out, err := exec.Command(bin, append([]string{"-c"}, args...)...).CombinedOutput(); err != nil {
		return fmt.Errorf("kamailio -c %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	return nil
}
