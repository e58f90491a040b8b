package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/imscore/imscore/hss/provision"
	"github.com/imscore/imscore/internal/e2e"
	"github.com/imscore/imscore/sip/ue/load"
)

// bins builds the core's binaries once for this test binary.
var bins *e2e.Builder

func TestMain(m *testing.M) {
	os.Exit(e2e.MainWithBuilder(m, "imscore-imsue-bin-", func(b *e2e.Builder) { bins = b }))
}

// startCore runs HSS, S-CSCF, I-CSCF and P-CSCF (IPsec off) and returns the P-CSCF's SIP
// address, the HSS's provisioning API and a file with its token.
func startCore(t *testing.T) (pcscf, api, tokenFile string) {
	t.Helper()
	c := e2e.StartCore(t, bins)
	return c.PCSCF.SIP, c.HSS.API, c.HSS.TokenFile
}

// TestLoadCommand runs imsue load against the real core: bulk provisioning and a step-up that
// stops after --max-steps with a best rate (exit 0), then UEs the HSS does not know (exit 1,
// failures of cause 403 in the JSON on stdout).
func TestLoadCommand(t *testing.T) {
	pcscf, api, tokenFile := startCore(t)
	const k, opc = "465b5ce8b199b49faa5f0a2ee238a6bc", "cd63cb71954a9f4e48a5994e37a02baf"
	common := []string{"--pcscf", pcscf, "--k", k, "--opc", opc, "--domain", e2e.Domain, "--rate", "4", "--duration", "1s"}

	t.Run("provision and step up", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "report.json")
		args := append([]string{"--provision", api, "--provision-token-file", tokenFile, "--ues", "8", "--first-imsi", "001010000600000", "--scenario", "message",
			"--step-up", "--step-factor", "2", "--max-steps", "2", "--json", path}, common...)
		var out, errOut bytes.Buffer
		if code := runLoad(context.Background(), args, &out, &errOut); code != 0 {
			t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out.String(), errOut.String())
		}
		if !strings.Contains(errOut.String(), "provisioned 8 subscribers") || !strings.Contains(out.String(), "PASS") {
			t.Errorf("stdout:\n%s\nstderr:\n%s", out.String(), errOut.String())
		}
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var rep load.Report
		if err := json.Unmarshal(data, &rep); err != nil {
			t.Fatalf("JSON report: %v\n%s", err, data)
		}
		if rep.Scenario != "message" || rep.UEs != 8 || rep.PCSCF != pcscf || rep.Transport != "udp" || rep.Version == "" {
			t.Errorf("report header %+v", rep)
		}
		if len(rep.Steps) != 2 || rep.Steps[1].TargetRate != 8 || rep.Steps[1].Failures != 0 {
			t.Fatalf("steps %+v: want 2 clean steps, the second at 8/s", rep.Steps)
		}
		if rep.BestRate != rep.Steps[1].AchievedRate || rep.BestRate <= 0 {
			t.Errorf("best rate %v, step 2 achieved %v", rep.BestRate, rep.Steps[1].AchievedRate)
		}
		// Provisioning again is fine: the subscribers exist.
		args = append([]string{"--provision", api, "--provision-token-file", tokenFile, "--ues", "8", "--first-imsi", "001010000600000"}, common...)
		out.Reset()
		errOut.Reset()
		if code := runLoad(context.Background(), args, &out, &errOut); code != 0 || !strings.Contains(errOut.String(), "8 existed already") {
			t.Errorf("second provisioning: exit %d\n%s", code, errOut.String())
		}
	})

	// Subscribers of the range made by someone else: the load refuses to start, naming the first.
	client, err := provision.NewClient(api, &http.Client{}, provision.WithToken(readToken(t, tokenFile)))
	if err != nil {
		t.Fatal(err)
	}
	t.Run("conventional layout refused", func(t *testing.T) {
		for _, imsi := range []string{"001010000800000", "001010000800001"} {
			if _, err := client.CreateSubscriber(context.Background(), provision.SubscriberRequest{IMSI: imsi, MSISDN: "1555" + imsi[8:],
				K: k, OPc: opc}); err != nil {
				t.Fatal(err)
			}
		}
		args := append([]string{"--provision", api, "--provision-token-file", tokenFile, "--ues", "4", "--first-imsi", "001010000800000"}, common...)
		var out, errOut bytes.Buffer
		if code := runLoad(context.Background(), args, &out, &errOut); code != 1 ||
			!strings.Contains(errOut.String(), "2 of the 4 subscribers of 001010000800000…001010000800003 differ, the first IMSI 001010000800000: sip:001010000800000@"+e2e.Domain+" is barred") ||
			strings.Contains(out.String(), "PASS") {
			t.Errorf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out.String(), errOut.String())
		}
	})
	t.Run("other keys refused", func(t *testing.T) {
		if _, err := load.Provision(context.Background(), client, load.Population{FirstIMSI: "001010000900000", Count: 2, Domain: e2e.Domain,
			K: "000102030405060708090a0b0c0d0e0f", OPc: opc, AMF: "8000"}); err != nil {
			t.Fatal(err)
		}
		args := append([]string{"--provision", api, "--provision-token-file", tokenFile, "--ues", "2", "--first-imsi", "001010000900000"}, common...)
		var out, errOut bytes.Buffer
		if code := runLoad(context.Background(), args, &out, &errOut); code != 1 ||
			!strings.Contains(errOut.String(), "IMSI 001010000900000 exists with other keys") {
			t.Errorf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out.String(), errOut.String())
		}
	})

	t.Run("unknown subscribers fail", func(t *testing.T) {
		args := append([]string{"--ues", "4", "--first-imsi", "001010000700000", "--json", "-"}, common...)
		var out, errOut bytes.Buffer
		if code := runLoad(context.Background(), args, &out, &errOut); code != 1 {
			t.Fatalf("exit %d, want 1\nstdout:\n%s\nstderr:\n%s", code, out.String(), errOut.String())
		}
		var rep load.Report
		if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
			t.Fatalf("stdout is not the JSON report: %v\n%s", err, out.String())
		}
		if len(rep.Steps) != 1 || rep.Steps[0].FailuresByCause["403"] != 4 || rep.BestRate != 0 {
			t.Errorf("steps %+v best %v: want 4 failures of cause 403", rep.Steps, rep.BestRate)
		}
		if !strings.Contains(errOut.String(), "FAIL") {
			t.Errorf("text report (stderr with --json -):\n%s", errOut.String())
		}
	})
}

// readToken reads the API token file the harness wrote.
func readToken(t *testing.T, file string) string {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// TestLoadCommandUnreachable: nothing answers at the P-CSCF address: every registration times
// out and the command exits 1 (bounded by --timeout, a hang guard rather than a speed check).
func TestLoadCommandUnreachable(t *testing.T) {
	port := e2e.FreePort(t)
	const k, opc = "465b5ce8b199b49faa5f0a2ee238a6bc", "cd63cb71954a9f4e48a5994e37a02baf"
	args := []string{"--pcscf", e2e.Addr(port), "--k", k, "--opc", opc, "--ues", "2", "--rate", "2", "--duration", "1s",
		"--timeout", "1s", "--json", "-"}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var out, errOut bytes.Buffer
	if code := runLoad(ctx, args, &out, &errOut); code != 1 {
		t.Fatalf("exit %d, want 1\n%s", code, errOut.String())
	}
	var rep load.Report
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("JSON: %v\n%s", err, out.String())
	}
	if c := rep.Steps[0].FailuresByCause; c[load.CauseTimeout] != 2 {
		t.Errorf("failures by cause %v, want 2 timeouts", c)
	}
}
