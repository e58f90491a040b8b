package cli

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/imscore/imscore/hss/provision"
)

// TestPresenceSetup: one command gives the default profile the two presence iFCs after those it had,
// and creates the resource lists' wildcarded PSI with its own profile; run again it changes nothing
// (the iFCs naming the same AS are replaced, the PSI is kept).
func TestPresenceSetup(t *testing.T) {
	a := newAPI(t)
	a.ok(addArgs("001010000000001", "15550000001")...)
	a.imsctl(`{"id":"default","ifcs":[{"priority":5,"trigger_point":{"spt":[{"group":[0],"method":"INVITE"}]},
		"application_server":{"server_name":"sip:mmtel.ims","default_handling":"SESSION_CONTINUED"}}]}`, "profile", "update", "--file", "-")
	const as = "sip:127.0.0.1:5065"
	check := func(run int) {
		t.Helper()
		var p provision.Profile
		if err := json.Unmarshal([]byte(a.ok("--json", "profile", "show", "--id", "default")), &p); err != nil {
			t.Fatal(err)
		}
		var ours []provision.IFC
		for _, f := range p.IFCs {
			if f.ApplicationServer.ServerName == as {
				ours = append(ours, f)
			}
		}
		if len(p.IFCs) != 3 || len(ours) != 2 || ours[0].Priority != 6 || ours[1].Priority != 7 ||
			ours[0].TriggerPoint.SPTs[0].Method != "REGISTER" || ours[1].ApplicationServer.DefaultHandling != "SESSION_TERMINATED" {
			t.Fatalf("run %d: default profile %+v", run, p.IFCs)
		}
		var rls provision.Profile
		if err := json.Unmarshal([]byte(a.ok("--json", "profile", "show", "--id", "presence-rls")), &rls); err != nil ||
			len(rls.IFCs) != 1 || rls.IFCs[0].ApplicationServer.ServerName != as {
			t.Fatalf("run %d: presence-rls profile %+v %v", run, rls, err)
		}
		var sub provision.Subscriber
		if err := json.Unmarshal([]byte(a.ok("--json", "subscriber", "show", "--impi", "presence-rls@ims.example.org")), &sub); err != nil {
			t.Fatal(err)
		}
		if js, _ := json.Marshal(sub); !strings.Contains(string(js), `sip:rls-!.*!@ims.example.org`) || !strings.Contains(string(js), "WILDCARDED_PSI") {
			t.Fatalf("run %d: service identity %s", run, js)
		}
	}
	for run := 1; run <= 2; run++ {
		out := a.ok("presence", "setup", "--as", as, "--domain", "ims.example.org")
		if !strings.Contains(out, "presence iFCs at priorities 6, 7") || !strings.Contains(out, "PSI sip:rls-!.*!@ims.example.org") {
			t.Errorf("run %d printed:\n%s", run, out)
		}
		check(run)
	}
	if r := a.imsctl("", "presence", "setup", "--as", "http://127.0.0.1:5065"); r.code != ExitUsage {
		t.Errorf("--as http: %+v", r)
	}
}
