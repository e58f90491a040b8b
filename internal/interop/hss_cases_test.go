package interop

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/imscore/imscore/hss/provision"
	"github.com/imscore/imscore/internal/e2e"
)

// hssCases are the HSS cases of issue 11 ("HSS towards other S-CSCFs", TS 29.228 §6.1.2, §6.1.3, §6.2.2), run
// against the Kamailio S-CSCF of mix 1 after exercise (which left alice de-registered from the network and bob
// registered); carol is provisioned here with a SIP Digest password only. Each would fail on the HSS before the
// issue-11 fixes; the subtest's comment quotes how.
func (l *lab) hssCases(t *testing.T, alice, bob, carol e2e.Subscriber) {
	t.Helper()
	// register_md5.xml lives beside the lab's Kamailio configurations, not among the e2e scenarios: it needs the
	// lab S-CSCF's MD5 challenge.
	t.Run("SIP Digest (MD5) registration", func(t *testing.T) { l.digestMD5(t, carol) })
	alicePort := e2e.FreePort(t)
	t.Run("re-register right after network de-registration", func(t *testing.T) {
		// Kamailio keeps an RTR'd contact about 60 s, so alice's new REGISTER makes it send SAR
		// RE_REGISTRATION for an identity the HSS holds as not registered. Before issue 11: "SAR
		// RE_REGISTRATION for an identity the HSS holds as not registered gets 5007, so a UE that re-registers
		// within ~2 minutes of de-registering (or of an operator RTR) is locked out behind a Kamailio S-CSCF"
		// (seen: SAR answered 5007, the S-CSCF challenges the authenticated REGISTER again, SIPp fails).
		mark := len(l.hss.Logs())
		l.registerAt(t, alice, alicePort)
		sar := l.hssLogLines(mark, "cx SAR", alice.IMPI())
		if !strings.Contains(sar, `"assignment_type": "RE_REGISTRATION"`) ||
			!strings.Contains(sar, `"was": "NOT_REGISTERED"`) {
			t.Fatalf("the Kamailio S-CSCF sent no SAR RE_REGISTRATION for the not-registered alice (it no longer "+
				"keeps the de-registered contact?), so this case is not exercised; the HSS's SARs:\n%s", sar)
		}
	})
	t.Run("subscriber delete of a registered subscriber", func(t *testing.T) {
		// imsctl subscriber delete (no --force) de-registers first: the RTR lists the IMPUs (TS 29.228
		// §6.1.3), the Kamailio S-CSCF answers it and ends the registration, the UE's reg-event subscription gets
		// its NOTIFY terminated, and only then is the subscriber deleted. Before issue 11: "RTR without
		// Public-Identity (the default of imsctl deregister and subscriber delete) is never answered by
		// Kamailio: the delete goes ahead and the deleted subscriber stays reachable" — the NOTIFY never comes.
		sub := l.sipp("subscribe_reg.xml", alice, nil)
		sub.LocalPort = alicePort
		run := sub.Start(t)
		run.WaitLog("subscribed", 10*time.Second)
		mark := len(l.hss.Logs())
		out := e2e.Imsctl(t, bins, l.hss, "subscriber", "delete", "--imsi", alice.IMSI)
		run.MustPass()
		rtr := l.hssLogLines(mark, "cx RTR", alice.IMPI())
		if !strings.Contains(rtr, alice.IMPU()) || !strings.Contains(rtr, `"result": 2001`) {
			t.Fatalf("the HSS's RTR did not list alice's IMPUs or was not answered 2001:\n%s", rtr)
		}
		if !strings.Contains(out, "deleted "+alice.IMPI()) {
			t.Fatalf("imsctl subscriber delete: %s", out)
		}
		if out, err := e2e.Run(context.Background(), 10*time.Second, bins.MustPath(t, "imsctl"), "--api", l.hss.API,
			"--token-file", l.hss.TokenFile, "subscriber", "show", "--imsi", alice.IMSI); err == nil {
			t.Fatalf("alice is still provisioned after subscriber delete: %s", out)
		}
	})
	t.Run("profile push to an S-CSCF that never answers PPR", func(t *testing.T) {
		// Kamailio 5.6 never answers PPR (TS 29.228 §6.2.2). The push is an operation: the API answers 202 with
		// it pending (imsctl --wait=false prints it), and it ends failed with outcome timeout after
		// diameter.request_timeout (5 s). Before issue 11: "PPR and RTR from the provisioning API block the HTTP
		// call for the full Diameter timeout when the S-CSCF does not answer" — no pending operation to print.
		var op provision.Operation
		imsctlJSON(t, l.hss, &op, "profile", "push", "--imsi", bob.IMSI, "--wait=false")
		if op.State != "pending" || op.Command != "PPR" || op.ID == "" ||
			op.Location != "/api/v1/operations/"+op.ID {
			t.Fatalf("profile push --wait=false: want a pending PPR operation at once, got %+v", op)
		}
		// Nothing blocks meanwhile: the API serves other calls, listing the operation as pending.
		var list provision.OperationList
		imsctlJSON(t, l.hss, &list, "operation", "list", "--impi", bob.IMPI(), "--state", "pending")
		if len(list.Operations) != 1 || list.Operations[0].ID != op.ID {
			t.Fatalf("operation list --state pending: want only %s, got %+v", op.ID, list.Operations)
		}
		imsctlJSON(t, l.hss, &op, "--timeout", "20s", "operation", "show", "--id", op.ID, "--wait")
		if op.State != "failed" || op.Outcome != "timeout" {
			t.Fatalf("the PPR to the Kamailio S-CSCF: want failed with outcome timeout, got %+v", op)
		}
	})
}

// imsctlJSON runs imsctl --json args against the HSS and decodes its output into v.
func imsctlJSON(t *testing.T, h *e2e.HSS, v any, args ...string) {
	t.Helper()
	out := e2e.Imsctl(t, bins, h, append([]string{"--json"}, args...)...)
	if err := json.Unmarshal([]byte(out), v); err != nil {
		t.Fatalf("imsctl %v: %v\n%s", args, err, out)
	}
}

// hssLogLines are the HSS log lines from offset mark on that contain every one of subs.
func (l *lab) hssLogLines(mark int, subs ...string) string {
	var out []string
	for _, line := range strings.Split(l.hss.Logs()[mark:], "\n") {
		all := true
		for _, s := range subs {
			all = all && strings.Contains(line, s)
		}
		if all {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}

// digestPassword is the SIP Digest password register_md5.xml answers with.
const digestPassword = "imscore-md5-secret"

// digestMD5 registers a subscriber provisioned with only a SIP Digest password (docs/provisioning.md) through the
// Kamailio S-CSCF with SIPp's plain digest authentication: the S-CSCF asks the HSS for scheme Digest-MD5
// (ims_auth's MD5 mode) and challenges with the nonce the HSS put in SIP-Authenticate, then checks the response
// against the password of SIP-Authorization. Before issue 11: "MAR with the scheme Digest-MD5 is answered with
// 3GPP SIP Digest content and no nonce, so Kamailio's MD5 mode sends nonce=\"\"" — the scenario refuses that
// 401 and the registration fails.
func (l *lab) digestMD5(t *testing.T, s e2e.Subscriber) {
	t.Helper()
	e2e.Imsctl(t, bins, l.hss, "subscriber", "add", "--imsi", s.IMSI, "--msisdn", s.MSISDN, "--password", digestPassword)
	mark := len(l.hss.Logs())
	r := l.sipp(filepath.Join("..", "..", "interop", "testdata", "register_md5.xml"), s, nil)
	r.Run(t)
	if mar := l.hssLogLines(mark, "cx MAR", s.IMPI()); !strings.Contains(mar, `"scheme": "Digest-MD5"`) {
		t.Fatalf("the Kamailio S-CSCF did not ask for scheme Digest-MD5:\n%s", mar)
	}
	if sar := l.hssLogLines(mark, "cx SAR", s.IMPI()); !strings.Contains(sar, `"result": 2001`) {
		t.Fatalf("no successful SAR after the SIP Digest authentication:\n%s", sar)
	}
}
