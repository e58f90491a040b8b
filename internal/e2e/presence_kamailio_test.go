package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"text/template"
	"time"

	"github.com/imscore/imscore/services/presence/pidf"
	"github.com/imscore/imscore/sip/ue"
)

// kamailioModuleDirs are Debian's module directories of the kamailio package (amd64, arm64).
var kamailioModuleDirs = []string{"/usr/lib/x86_64-linux-gnu/kamailio/modules", "/usr/lib/aarch64-linux-gnu/kamailio/modules"}

// startKamailioPresence runs testdata/kamailio/presence.cfg (Kamailio's presence server with db_text
// tables copied from the package's empty ones) on a free loopback port and returns it and its address.
func startKamailioPresence(t *testing.T) (*Process, string) {
	t.Helper()
	bin := NeedBinary(t, "kamailio", "apt-get install kamailio kamailio-presence-modules")
	modules := ""
	for _, d := range kamailioModuleDirs {
		if _, err := os.Stat(filepath.Join(d, "presence_xml.so")); err == nil {
			modules = d
		}
	}
	Need(t, modules != "", "Kamailio's presence modules not installed (apt-get install kamailio-presence-modules)")
	const tables = "/usr/share/kamailio/dbtext/kamailio"
	_, err := os.Stat(filepath.Join(tables, "presentity"))
	Need(t, err == nil, "Kamailio's db_text tables not installed ("+tables+")")
	dir := t.TempDir()
	db := filepath.Join(dir, "db")
	if out, err := exec.Command("cp", "-r", tables, db).CombinedOutput(); err != nil {
		t.Fatalf("copy %s: %v %s", tables, err, out)
	}
	tmpl, err := template.ParseFiles(filepath.Join("testdata", "kamailio", "presence.cfg"))
	if err != nil {
		t.Fatal(err)
	}
	port := FreePort(t)
	var cfg strings.Builder
	if err := tmpl.Execute(&cfg, map[string]any{"Port": port, "Modules": modules, "DB": db}); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "presence.cfg")
	if err := os.WriteFile(path, []byte(cfg.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{"-f", path, "-DD", "-E", "-m", "64", "-M", "8", "-Y", dir, "-P", filepath.Join(dir, "kamailio.pid"), "-w", dir}
	if out, err := exec.Command(bin, append([]string{"-c"}, args...)...).CombinedOutput(); err != nil {
		t.Fatalf("kamailio -c: %v\n%s", err, out)
	}
	k := StartProcess(t, "kamailio-presence", bin, args...)
	k.WaitTCP(Addr(port))
	return k, Addr(port)
}

// TestKamailioPresenceAS: Kamailio's presence server (presence, presence_xml: an independent presence
// stack) serves imscore's users as the application server of the iFCs `imsctl presence setup` provisions:
// alice's PUBLISH and bob's SUBSCRIBE go P-CSCF → S-CSCF → iFC → Kamailio, and Kamailio's NOTIFY with
// alice's PIDF comes back to bob along the dialog's route set through the S-CSCF and the P-CSCF.
func TestKamailioPresenceAS(t *testing.T) {
	kp, kam := startKamailioPresence(t)
	alice, bob := NthSubscriber(97), NthSubscriber(98)
	c := startCoreWith(t, coreOptions{pcscf: true}, alice, bob)
	Imsctl(t, bins, c.hss, "presence", "setup", "--as", "sip:"+kam, "--domain", Domain, "--rls-psi", "none")
	ua, _ := c.newUE(t, alice)
	ub, _ := c.newUE(t, bob)
	a := number(alice)
	if _, _, err := ua.Publish(uctx(t), ue.PIDF(a, "open", "served by Kamailio"), "", time.Hour); err != nil {
		t.Fatalf("PUBLISH to Kamailio through the S-CSCF: %v", err)
	}
	if _, err := ub.SubscribePresence(uctx(t), a, 10*time.Minute); err != nil {
		t.Fatalf("SUBSCRIBE to Kamailio through the S-CSCF: %v", err)
	}
	for {
		n := waitNotify(t, ub, "active")
		if len(n.Body()) == 0 {
			continue
		}
		d, err := pidf.Parse(n.Body())
		if err != nil {
			t.Fatalf("Kamailio's PIDF: %v\n%s", err, n.Body())
		}
		if d.Elements[0].Note == "served by Kamailio" && d.Elements[0].Basic == pidf.Open {
			break
		}
		t.Logf("NOTIFY before the publication: %s", n.Body())
	}
	// Kamailio, not anything of imscore's, served both (its request_route logs each).
	kp.WaitLog("presence AS: PUBLISH sip:" + alice.MSISDN)
	kp.WaitLog("presence AS: SUBSCRIBE sip:" + alice.MSISDN)
}
