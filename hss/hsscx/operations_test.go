package hsscx_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/imscore/imscore/diameter"
	"github.com/imscore/imscore/diameter/cx"
	"github.com/imscore/imscore/hss"
	"github.com/imscore/imscore/hss/hsscx"
	"github.com/imscore/imscore/hss/hsstest"
	"github.com/imscore/imscore/hss/provision"
	"github.com/imscore/imscore/internal/adminhttp/adminhttptest"
	"github.com/imscore/imscore/internal/httpauth"
)

// TestPushesDoNotBlockTheAPI: issue 11, "PPR and RTR from the provisioning API block the HTTP call for the
// full Diameter timeout when the S-CSCF does not answer (Kamailio never answers PPR)". With an S-CSCF that
// receives PPR and RTR and never answers, the API answers 202 Accepted with the pending operation's
// Location (RFC 9110 §15.3.3); the operation turns failed (timeout) when diameter.request_timeout passes,
// and succeeded once an S-CSCF answers; /metrics counts both and shows those in flight.
func TestPushesDoNotBlockTheAPI(t *testing.T) {
	ctx := context.Background()
	cfg := testConfig("sqlite://" + t.TempDir() + "/hss.db")
	cfg.Diameter.RequestTimeout = 300 * time.Millisecond
	tokensFile, tokens := adminhttptest.TokensFile(t)
	cfg.API.Security.TokensFile = tokensFile
	n := start(t, cfg)
	base := "http://" + n.APIAddr().String()
	api, err := provision.NewClient(base, nil, provision.WithToken(tokens[httpauth.ScopeAdmin]))
	must(t, err)
	reader, err := provision.NewClient(base, nil, provision.WithToken(tokens[httpauth.ScopeRead]))
	must(t, err)
	sub, err := api.CreateSubscriber(ctx, provision.SubscriberRequest{IMSI: "001010000000031", MSISDN: "15550031",
		K: hsstest.TestK, OP: hsstest.TestOP})
	must(t, err)
	impi, impu := sub.IMPI, "sip:15550031@"+realm

	scscf := connect(t, n.DiameterAddr().String(), scscfHost)
	if _, err := scscf.mar(impi, impu, 1); err != nil {
		t.Fatal(err)
	}
	saa, err := scscf.sar(impi, impu, cx.SATRegistration)
	must(t, err)
	if code, _ := saa.Result(); code != diameter.Success {
		t.Fatalf("SAA %d", code)
	}
	scscf.mute()

	// The route answers at once, with the operation still pending: the S-CSCF has not answered.
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/api/v1/subscribers/"+impi+"/push-profile", nil)
	must(t, err)
	req.Header.Set("Authorization", "Bearer "+tokens[httpauth.ScopeProvision])
	resp, err := http.DefaultClient.Do(req)
	must(t, err)
	var started provision.Operation
	err = json.NewDecoder(resp.Body).Decode(&started)
	resp.Body.Close()
	must(t, err)
	if resp.StatusCode != http.StatusAccepted || started.State != "pending" || started.Command != "PPR" ||
		resp.Header.Get("Location") != "/api/v1/operations/"+started.ID || started.Location != resp.Header.Get("Location") {
		t.Fatalf("push-profile: %d Location %q, %+v; want 202 with the pending operation", resp.StatusCode,
			resp.Header.Get("Location"), started)
	}
	// Reading operations needs the read scope only.
	done, err := reader.WaitOperation(ctx, started.ID, 20*time.Millisecond)
	must(t, err)
	if done.State != "failed" || done.Outcome != hss.OutcomeTimeout || done.FinishedAt.IsZero() || done.IMPI != impi ||
		!strings.Contains(done.Error, "timed out") {
		t.Fatalf("after the Diameter timeout: %+v", done)
	}
	if scscf.pushes() != 1 {
		t.Errorf("PPRs at the S-CSCF: %d, want 1", scscf.pushes())
	}

	// The RTR of an unanswered de-registration: the same; the registration stays.
	op, err := api.StartDeregister(ctx, impi, provision.DeregisterRequest{})
	must(t, err)
	if op.State != "pending" || op.Command != "RTR" || op.Reason != "PERMANENT_TERMINATION" {
		t.Fatalf("deregister: %+v", op)
	}
	if got := metric(t, n, `hss_cx_procedures_in_flight{command="RTR"}`); got != "1" && got != "0" {
		t.Errorf("in flight: %q", got)
	}
	if done, err = api.WaitOperation(ctx, op.ID, 20*time.Millisecond); err != nil || done.Outcome != hss.OutcomeTimeout {
		t.Fatalf("%+v, %v", done, err)
	}
	// With wait=true the caller gets the outcome: the failed RTR is a 502.
	if _, err := api.Deregister(ctx, impi, provision.DeregisterRequest{}); !isCode(err, provision.CodeCxFailed) {
		t.Errorf("deregister with wait=true: %v, want cx_failed", err)
	}
	reg, err := n.Store().GetIMPU(ctx, impu)
	must(t, err)
	if reg.Registration.State != hss.Registered {
		t.Errorf("unanswered RTR cleared the registration: %+v", reg.Registration)
	}
	list, err := reader.ListOperations(ctx, provision.OperationQuery{IMPI: impi})
	must(t, err)
	if len(list.Operations) != 3 || list.Operations[2].ID != started.ID {
		t.Errorf("operations of %s: %+v", impi, list)
	}

	// A second S-CSCF that answers: the operation succeeds.
	other := connect(t, n.DiameterAddr().String(), "scscf-a."+realm)
	sub2, err := api.CreateSubscriber(ctx, provision.SubscriberRequest{IMSI: "001010000000032", MSISDN: "15550032",
		K: hsstest.TestK, OP: hsstest.TestOP})
	must(t, err)
	if _, err := other.sar(sub2.IMPI, "sip:15550032@"+realm, cx.SATRegistration); err != nil {
		t.Fatal(err)
	}
	op, err = api.StartPushProfile(ctx, sub2.IMPI)
	must(t, err)
	if done, err = api.WaitOperation(ctx, op.ID, 20*time.Millisecond); err != nil || done.State != "succeeded" || done.Outcome != "succeeded" {
		t.Fatalf("answered PPR: %+v, %v", done, err)
	}
	for prefix, want := range map[string]string{
		`hss_cx_procedures_total{command="PPR",outcome="timeout"}`:   "1",
		`hss_cx_procedures_total{command="PPR",outcome="succeeded"}`: "1",
		`hss_cx_procedures_total{command="RTR",outcome="timeout"}`:   "2",
		`hss_cx_procedures_in_flight{command="PPR"}`:                 "0",
		`hss_cx_procedures_in_flight{command="RTR"}`:                 "0",
	} {
		if got := metric(t, n, prefix); got != want {
			t.Errorf("%s = %q, want %s", prefix, got, want)
		}
	}
}

// TestStopCancelsOperations: a stopping HSS ends a pending RTR (outcome cancelled) rather than waiting
// for its Diameter timeout, and stops cleanly.
func TestStopCancelsOperations(t *testing.T) {
	ctx := context.Background()
	cfg := testConfig("sqlite://" + t.TempDir() + "/hss.db")
	cfg.Diameter.RequestTimeout = time.Hour
	cfg.API.ShutdownTimeout = time.Minute
	tokensFile, tokens := adminhttptest.TokensFile(t)
	cfg.API.Security.TokensFile = tokensFile
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	n, err := hsscx.Start(runCtx, cfg, testLogger(t), hsscx.Options{})
	must(t, err)
	api, err := provision.NewClient("http://"+n.APIAddr().String(), nil, provision.WithToken(tokens[httpauth.ScopeAdmin]))
	must(t, err)
	sub, err := api.CreateSubscriber(ctx, provision.SubscriberRequest{IMSI: "001010000000033", MSISDN: "15550033",
		K: hsstest.TestK, OP: hsstest.TestOP})
	must(t, err)
	scscf := connect(t, n.DiameterAddr().String(), scscfHost)
	if _, err := scscf.sar(sub.IMPI, "sip:15550033@"+realm, cx.SATRegistration); err != nil {
		t.Fatal(err)
	}
	scscf.mute()
	op, err := api.StartDeregister(ctx, sub.IMPI, provision.DeregisterRequest{})
	must(t, err)
	stop()
	must(t, n.Wait())
	got, err := n.Server().Operations().Get(op.ID)
	must(t, err)
	if got.State != hss.OperationFailed || got.Outcome() != hss.OutcomeCancelled {
		t.Errorf("after stop: %+v, outcome %q", got, got.Outcome())
	}
}

func isCode(err error, code provision.Code) bool {
	var e *provision.Error
	return errors.As(err, &e) && e.Code == code
}
