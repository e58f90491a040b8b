package kamcfg

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Every role renders from the lab's templates, with its port, Diameter peer and tables, and kamailio -c
// accepts the result when Kamailio is installed.
func TestRenderEveryRole(t *testing.T) {
	templates := filepath.Join("..", "testdata")
	modules, modErr := ModuleDir()
	for _, n := range []Node{
		{Role: "scscf", Port: 26001, Alias: "scscf.ims.test", OriginHost: "kamailio-scscf.ims.test", ServerName: "sip:127.0.0.1:26001", ICSCF: "127.0.0.1:26002"},
		{Role: "icscf", Port: 26002, Alias: "ims.test", OriginHost: "kamailio-icscf.ims.test", SCSCFs: []string{"sip:127.0.0.1:26001"}},
		{Role: "pcscf", Port: 26003, Alias: "pcscf.ims.test", ICSCF: "127.0.0.1:26002"},
	} {
		t.Run(n.Role, func(t *testing.T) {
			n.Dir, n.Realm, n.HSSAddr, n.HSSHost, n.HSSPort, n.ModulePath = t.TempDir(), "ims.test", "127.0.0.1", "hss.ims.test", 26004, modules
			cfg, err := n.Render(templates)
			if n.Role == "pcscf" && err != nil && strings.Contains(err.Error(), dbtextSchema) {
				t.Skipf("the kamailio package's db_text tables are not installed: %v", err)
			}
			if err != nil {
				t.Fatal(err)
			}
			b, err := os.ReadFile(cfg)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(b), "127.0.0.1:26") || strings.Contains(string(b), "{{") {
				t.Fatalf("%s: not rendered with the node's data", cfg)
			}
			if n.OriginHost != "" {
				cdp, err := os.ReadFile(filepath.Join(n.Dir, "cdp.xml"))
				if err != nil || !strings.Contains(string(cdp), n.OriginHost) || !strings.Contains(string(cdp), "26004") {
					t.Fatalf("cdp.xml lacks the Origin-Host or the HSS port: %v\n%s", err, cdp)
				}
			}
			if n.Role == "icscf" {
				tbl, err := os.ReadFile(filepath.Join(n.Dir, "db", "s_cscf"))
				if err != nil || !strings.Contains(string(tbl), `sip\:127.0.0.1\:26001`) {
					t.Fatalf("s_cscf table: %v\n%s", err, tbl)
				}
			}
			bin, err := exec.LookPath("kamailio")
			if err != nil || modErr != nil {
				t.Skip("kamailio or its IMS modules not installed: the rendering is checked, not kamailio -c")
			}
			if err := Check(bin, n.Args(cfg, 64, 8)); err != nil {
				t.Fatal(err)
			}
		})
	}
}
