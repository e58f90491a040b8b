package provision

import (
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/imscore/imscore/diameter/cx"
	"github.com/imscore/imscore/hss"
	"github.com/imscore/imscore/internal/httpauth"
)

func TestRegistrationStatus(t *testing.T) {
	e := newEnv(t, sqliteStore(t), nil)
	ctx := testCtx(t)
	sub := e.createDefault("001010000000140", "15550000140")
	got, err := e.client.Registration(ctx, sub.IMPI)
	if err != nil {
		t.Fatal(err)
	}
	if got.Registered || len(got.IMPUs) != 3 || got.IMPUs[0].State != "NOT_REGISTERED" || got.IMPUs[0].RegisteredByIMPI {
		t.Errorf("before registration: %+v", got)
	}
	e.register(sub.IMPI, "tel:15550000140")
	if got, err = e.client.Registration(ctx, sub.IMPI); err != nil {
		t.Fatal(err)
	}
	if !got.Registered || len(got.IMPUs) != 3 {
		t.Fatalf("after registration: %+v", got)
	}
	for _, u := range got.IMPUs { // the whole implicit set is registered (TS 29.228 §6.5)
		if u.State != "REGISTERED" || u.SCSCFName != "sip:scscf.ims.mnc001.mcc001.3gppnetwork.org:6060" ||
			u.SCSCFOriginHost != "scscf.ims" || !u.RegisteredByIMPI || u.ImplicitSet != sub.IMPI {
			t.Errorf("identity %+v", u)
		}
	}
	var raw map[string]any
	e.callJSON("GET", "/api/v1/subscribers/"+sub.IMPI+"/registration", "", 200, &raw)
	first := raw["impus"].([]any)[0].(map[string]any)
	if first["state"] != "REGISTERED" || first["scscf_name"] == nil || first["registered_by_impi"] != true {
		t.Errorf("JSON shape: %v", first)
	}
	_, err = e.client.Registration(ctx, "nobody@"+domain)
	wantAPIError(t, err, 404, CodeNotFound, "")
}

func TestDeregister(t *testing.T) {
	net := &fakeNetwork{failFor: map[string]error{}}
	e := newEnv(t, sqliteStore(t), net)
	ctx := testCtx(t)
	reg := e.createDefault("001010000000150", "15550000150")
	idle := e.createDefault("001010000000151", "15550000151")
	failing := e.createDefault("001010000000152", "15550000152")
	e.register(reg.IMPI, "sip:15550000150@"+domain)
	e.register(failing.IMPI, "tel:15550000152")
	net.fail(failing.IMPI, errors.New("rta: DIAMETER_UNABLE_TO_DELIVER"))

	tests := []struct {
		name   string
		impi   string
		body   string
		want   deregCall
		status int
		code   Code
		field  string
	}{
		{name: "defaults", impi: reg.IMPI, body: ``,
			want: deregCall{IMPI: reg.IMPI, Reason: cx.ReasonPermanentTermination}, status: 200},
		{name: "reason by name with info", impi: reg.IMPI, body: `{"reason":"SERVER_CHANGE","info":"maintenance"}`,
			want: deregCall{IMPI: reg.IMPI, Reason: cx.ReasonServerChange, Info: "maintenance"}, status: 200},
		{name: "reason by number and impus", impi: reg.IMPI, body: `{"reason":3,"impus":["tel:15550000150"]}`,
			want: deregCall{IMPI: reg.IMPI, Reason: cx.ReasonRemoveSCSCF, IMPUs: []string{"tel:15550000150"}}, status: 200},
		{name: "reason without dash", impi: reg.IMPI, body: `{"reason":"remove_scscf"}`,
			want: deregCall{IMPI: reg.IMPI, Reason: cx.ReasonRemoveSCSCF}, status: 200},
		{name: "reason as numeric string", impi: reg.IMPI, body: `{"reason":"1"}`,
			want: deregCall{IMPI: reg.IMPI, Reason: cx.ReasonNewServerAssigned}, status: 200},
		{name: "unknown reason", impi: reg.IMPI, body: `{"reason":"BYE"}`, status: 400, code: CodeInvalidField, field: "reason"},
		{name: "reason out of range", impi: reg.IMPI, body: `{"reason":4}`, status: 400, code: CodeInvalidField, field: "reason"},
		{name: "reason object", impi: reg.IMPI, body: `{"reason":{}}`, status: 400, code: CodeInvalidField, field: "reason"},
		{name: "foreign impu", impi: reg.IMPI, body: `{"impus":["tel:15550000151"]}`, status: 400, code: CodeInvalidField, field: "impus[0]"},
		{name: "not registered", impi: idle.IMPI, body: ``, status: 409, code: CodeNotRegistered},
		{name: "unknown impi", impi: "nobody@" + domain, body: ``, status: 404, code: CodeNotFound},
		{name: "rtr fails", impi: failing.IMPI, body: ``,
			want: deregCall{IMPI: failing.IMPI, Reason: cx.ReasonPermanentTermination}, status: 502, code: CodeCxFailed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before, _ := net.calls()
			// wait=true: the synchronous form, answered with the RTR's outcome.
			status, body := e.call("POST", "/api/v1/subscribers/"+tt.impi+"/deregister?wait=true", tt.body)
			after, _ := net.calls()
			if status != tt.status {
				t.Fatalf("status %d %s, want %d", status, body, tt.status)
			}
			if tt.code != "" {
				var got Error
				if err := json.Unmarshal(body, &got); err != nil || got.Code != tt.code || got.Field != tt.field {
					t.Fatalf("error %s, want code %s field %q", body, tt.code, tt.field)
				}
			}
			if tt.want.IMPI == "" {
				if len(after) != len(before) {
					t.Errorf("Deregister called: %+v", after[len(before):])
				}
				return
			}
			if len(after) != len(before)+1 || !reflect.DeepEqual(after[len(before)], tt.want) {
				t.Errorf("Deregister calls %+v, want one %+v", after[len(before):], tt.want)
			}
			if status == 200 {
				var res DeregisterResult
				if err := json.Unmarshal(body, &res); err != nil || res.IMPI != tt.impi ||
					res.Reason != tt.want.Reason.String() || !reflect.DeepEqual(res.IMPUs, tt.want.IMPUs) {
					t.Errorf("answer %s", body)
				}
			}
		})
	}
	// The client speaks the same reason codes.
	if _, err := e.client.Deregister(ctx, reg.IMPI, DeregisterRequest{Reason: ReasonCode(cx.ReasonNewServerAssigned)}); err != nil {
		t.Fatal(err)
	}
	calls, _ := net.calls()
	if last := calls[len(calls)-1]; last.Reason != cx.ReasonNewServerAssigned {
		t.Errorf("client reason = %v", last.Reason)
	}
}

func TestDeleteRegisteredSubscriberDeregistersFirst(t *testing.T) {
	net := &fakeNetwork{}
	e := newEnv(t, sqliteStore(t), net)
	ctx := testCtx(t)
	sub := e.createDefault("001010000000153", "15550000153")
	e.register(sub.IMPI, "tel:15550000153")
	res, err := e.client.DeleteSubscriber(ctx, sub.IMPI)
	if err != nil {
		t.Fatal(err)
	}
	deregs, _ := net.calls()
	want := []deregCall{{IMPI: sub.IMPI, Reason: cx.ReasonPermanentTermination}}
	if !res.Deregistered || !reflect.DeepEqual(deregs, want) {
		t.Errorf("delete = %+v, Deregister calls %+v, want %+v", res, deregs, want)
	}

	// Issue 11: a registered subscriber whose RTR fails (no Cx server, or an S-CSCF that never answers, as
	// Kamailio 5.6 does for some forms) is not deleted: it would stay reachable at its S-CSCF with nothing
	// left in the HSS to end it. force=true deletes it anyway and says so.
	failing := &fakeNetwork{}
	for _, tc := range []struct {
		name string
		net  *fakeNetwork
		why  string
	}{{"without a Cx server", nil, "no Cx server"}, {"RTR failed", failing, "rta timeout"}} {
		t.Run(tc.name, func(t *testing.T) {
			e2 := newEnv(t, sqliteStore(t), tc.net)
			sub := e2.createDefault("001010000000153", "15550000153")
			failing.fail(sub.IMPI, errors.New("rta timeout"))
			e2.register(sub.IMPI, "tel:15550000153")
			_, err := e2.client.DeleteSubscriber(ctx, sub.IMPI)
			if e := wantAPIError(t, err, 409, CodeDeregisterFailed, ""); !strings.Contains(e.Message, tc.why) {
				t.Errorf("refusal %q does not say why (%s)", e.Message, tc.why)
			}
			if _, err := e2.client.GetSubscriber(ctx, sub.IMPI); err != nil {
				t.Fatalf("subscriber deleted although its de-registration failed: %v", err)
			}
			res, err := e2.client.ForceDeleteSubscriber(ctx, sub.IMPI)
			if err != nil {
				t.Fatal(err)
			}
			if res.Deregistered || !strings.Contains(res.DeregisterError, tc.why) || res.Warning == "" {
				t.Errorf("forced delete = %+v, want the RTR failure and a warning", res)
			}
			if _, err := e2.client.GetSubscriber(ctx, sub.IMPI); !IsNotFound(err) {
				t.Errorf("subscriber still there after a forced delete: %v", err)
			}
		})
	}
}

func TestNetworkUnavailable(t *testing.T) {
	e := newEnv(t, sqliteStore(t), nil)
	sub := e.createDefault("001010000000154", "15550000154")
	e.register(sub.IMPI, "tel:15550000154")
	for _, path := range []string{"/deregister", "/push-profile"} {
		var got Error
		e.callJSON("POST", "/api/v1/subscribers/"+sub.IMPI+path, "", 503, &got)
		if got.Code != CodeUnavailable {
			t.Errorf("%s: %+v", path, got)
		}
	}
}

func TestPushProfileRoute(t *testing.T) {
	net := &fakeNetwork{}
	e := newEnv(t, sqliteStore(t), net)
	ctx := testCtx(t)
	sub := e.createDefault("001010000000155", "15550000155")
	_, err := e.client.PushProfile(ctx, sub.IMPI)
	wantAPIError(t, err, 409, CodeNotRegistered, "")
	e.register(sub.IMPI, "tel:15550000155")
	if _, err := e.client.PushProfile(ctx, sub.IMPI); err != nil {
		t.Fatal(err)
	}
	_, err = e.client.PushProfile(ctx, "nobody@"+domain)
	wantAPIError(t, err, 404, CodeNotFound, "")
	if _, pushes := net.calls(); !reflect.DeepEqual(pushes, []string{sub.IMPI}) {
		t.Errorf("PushProfile calls %v", pushes)
	}
	status, body := e.call("POST", "/api/v1/subscribers/"+sub.IMPI+"/push-profile", `{"x":1}`)
	if status != 400 || !strings.Contains(string(body), string(CodeUnknownField)) {
		t.Errorf("body with members: %d %s", status, body)
	}
}

// testProfileChangePushes: a change to what the S-CSCF holds for a registered user sends one PPR per
// registered IMPI (TS 29.228 §6.2.2), and none for users nobody serves.
func testProfileChangePushes(t *testing.T, e *env) {
	ctx := testCtx(t)
	net := e.net
	client := e.client.Waiting() // each change answers after its PPRs, reporting them pushed or failed
	gold := goldProfile()
	if _, err := client.CreateIFCSet(ctx, IFCSet{ID: 7, IFCs: gold.IFCs}); err != nil {
		t.Fatal(err)
	}
	gold.SharedIFCSetIDs = []int32{7}
	if _, err := client.CreateProfile(ctx, gold); err != nil {
		t.Fatal(err)
	}
	regGold, err := client.CreateSubscriber(ctx, SubscriberRequest{IMSI: "001010000000160", MSISDN: "15550000160",
		K: testK, OP: testOP, ProfileID: "gold"})
	if err != nil {
		t.Fatal(err)
	}
	idleGold, err := client.CreateSubscriber(ctx, SubscriberRequest{IMSI: "001010000000161", MSISDN: "15550000161",
		K: testK, OP: testOP, ProfileID: "gold"})
	if err != nil {
		t.Fatal(err)
	}
	regDefault := e.createDefault("001010000000162", "15550000162")
	e.register(regGold.IMPI, "tel:15550000160")
	e.register(regDefault.IMPI, "tel:15550000162")

	pushesSince := func(n int) []string {
		_, p := net.calls()
		return p[n:]
	}
	count := func() int { _, p := net.calls(); return len(p) }

	// Profile update: only the registered user of "gold".
	n := count()
	gold.IFCs[0].ApplicationServer.ServerName = "sip:new-as.ims"
	got, err := client.UpdateProfile(ctx, gold)
	if err != nil {
		t.Fatal(err)
	}
	if p := pushesSince(n); !reflect.DeepEqual(p, []string{regGold.IMPI}) ||
		got.ProfilePush == nil || !reflect.DeepEqual(got.ProfilePush.Pushed, []string{regGold.IMPI}) {
		t.Errorf("profile update pushed %v, report %+v", p, got.ProfilePush)
	}
	if got.IFCs[0].ApplicationServer.ServerName != "sip:new-as.ims" {
		t.Errorf("profile not updated: %+v", got.IFCs[0])
	}

	// Shared iFC set update: users of profiles referencing it.
	n = count()
	set, err := client.UpdateIFCSet(ctx, IFCSet{ID: 7, IFCs: gold.IFCs[:1]})
	if err != nil {
		t.Fatal(err)
	}
	if p := pushesSince(n); !reflect.DeepEqual(p, []string{regGold.IMPI}) || set.ProfilePush == nil {
		t.Errorf("iFC set update pushed %v, report %+v", p, set.ProfilePush)
	}

	// Identity changes and charging changes of registered users; none for an idle one.
	n = count()
	steps := []struct {
		name string
		do   func() (*Subscriber, error)
		want []string
	}{
		{"impu update", func() (*Subscriber, error) {
			return client.UpdateIMPU(ctx, regDefault.IMPI, "tel:15550000162", IMPURequest{DisplayName: "Carol"})
		}, []string{regDefault.IMPI}},
		{"impu add", func() (*Subscriber, error) {
			return client.AddIMPU(ctx, regDefault.IMPI, IMPURequest{IMPU: "sip:carol@" + domain})
		}, []string{regDefault.IMPI}},
		{"impu delete", func() (*Subscriber, error) {
			return client.DeleteIMPU(ctx, regDefault.IMPI, "sip:15550000162@"+domain)
		}, []string{regDefault.IMPI}},
		{"charging patch", func() (*Subscriber, error) {
			return client.PatchSubscriber(ctx, regDefault.IMPI, SubscriberPatch{Charging: &hss.ChargingInfo{PrimaryCCF: "aaa://ccf2"}})
		}, []string{regDefault.IMPI}},
		{"idle user impu add", func() (*Subscriber, error) {
			return client.AddIMPU(ctx, idleGold.IMPI, IMPURequest{IMPU: "sip:dave@" + domain})
		}, nil},
		{"idle user charging patch", func() (*Subscriber, error) {
			return client.PatchSubscriber(ctx, idleGold.IMPI, SubscriberPatch{Charging: &hss.ChargingInfo{PrimaryCCF: "aaa://ccf2"}})
		}, nil},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			n := count()
			sub, err := s.do()
			if err != nil {
				t.Fatal(err)
			}
			p := pushesSince(n)
			if len(p) == 0 {
				p = nil
			}
			if !reflect.DeepEqual(p, s.want) {
				t.Errorf("pushed %v, want %v", p, s.want)
			}
			if (s.want == nil) != (sub.ProfilePush == nil) {
				t.Errorf("report %+v", sub.ProfilePush)
			}
		})
	}
}

func TestProfileChangePushes(t *testing.T) {
	testProfileChangePushes(t, newEnv(t, sqliteStore(t), &fakeNetwork{}))
}

func TestProfileChangeWithoutNetwork(t *testing.T) {
	e := newEnv(t, sqliteStore(t), nil)
	ctx := testCtx(t)
	sub := e.createDefault("001010000000163", "15550000163")
	e.register(sub.IMPI, "tel:15550000163")
	p, err := e.client.GetProfile(ctx, DefaultProfileID)
	if err != nil {
		t.Fatal(err)
	}
	p.IFCs = goldProfile().IFCs
	got, err := e.client.UpdateProfile(ctx, *p)
	if err != nil {
		t.Fatal(err)
	}
	if got.ProfilePush == nil || got.ProfilePush.Skipped == "" || len(got.IFCs) != 2 {
		t.Errorf("update without Cx: %+v", got)
	}
}

func TestPushFailureReported(t *testing.T) {
	net := &fakeNetwork{failFor: map[string]error{}}
	e := newEnv(t, sqliteStore(t), net)
	ctx := testCtx(t)
	sub := e.createDefault("001010000000164", "15550000164")
	e.register(sub.IMPI, "tel:15550000164")
	net.fail(sub.IMPI, errors.New("ppa: DIAMETER_ERROR_USER_UNKNOWN"))
	got, err := e.client.Waiting().UpdateIMPU(ctx, sub.IMPI, "tel:15550000164", IMPURequest{Barred: true})
	if err != nil {
		t.Fatal(err) // the change is stored; the failed PPR is reported
	}
	if got.ProfilePush == nil || len(got.ProfilePush.Failed) != 1 || got.ProfilePush.Failed[0].IMPI != sub.IMPI ||
		!strings.Contains(got.ProfilePush.Failed[0].Error, "USER_UNKNOWN") {
		t.Errorf("report %+v", got.ProfilePush)
	}
	_, err = e.client.PushProfile(ctx, sub.IMPI)
	wantAPIError(t, err, 502, CodeCxFailed, "")
}

func TestParseReasonCode(t *testing.T) {
	tests := []struct {
		in      string
		want    cx.ReasonCode
		wantErr bool
	}{
		{"PERMANENT_TERMINATION", cx.ReasonPermanentTermination, false},
		{"permanent-termination", cx.ReasonPermanentTermination, false},
		{"NEW_SERVER_ASSIGNED", cx.ReasonNewServerAssigned, false},
		{"SERVER_CHANGE", cx.ReasonServerChange, false},
		{"REMOVE_S-CSCF", cx.ReasonRemoveSCSCF, false},
		{"REMOVE_SCSCF", cx.ReasonRemoveSCSCF, false},
		{"0", cx.ReasonPermanentTermination, false},
		{"3", cx.ReasonRemoveSCSCF, false},
		{"4", 0, true},
		{"-1", 0, true},
		{"", 0, true},
		{"ReasonCode(9)", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseReasonCode(tt.in)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("ParseReasonCode(%q) = %v, %v; want %v, error %v", tt.in, got, err, tt.want, tt.wantErr)
			}
		})
	}
}

// TestNetworkInitiatedAsync: issue 11, the API no longer blocks for the Diameter timeout when the S-CSCF
// does not answer. With an S-CSCF that holds every request, deregister and push-profile answer 202 Accepted
// with the pending operation and its Location (RFC 9110 §15.3.3), a change to a registered user answers with
// its PPR pending; the operations are read back (read scope) and end succeeded when the S-CSCF answers,
// failed with outcome timeout when the Diameter timeout passes.
func TestNetworkInitiatedAsync(t *testing.T) {
	net := &fakeNetwork{}
	e := newEnv(t, sqliteStore(t), net)
	ctx := testCtx(t)
	reader := e.clientFor(httpauth.ScopeRead)
	sub := e.createDefault("001010000000170", "15550000170")
	e.register(sub.IMPI, "tel:15550000170")
	net.mute(0) // never answers until net.answer

	status, hdr, body := e.callHeader("POST", "/api/v1/subscribers/"+sub.IMPI+"/deregister", `{"reason":"SERVER_CHANGE"}`,
		http.Header{"Authorization": {"Bearer " + e.tokens[httpauth.ScopeProvision]}, "Content-Type": {"application/json"}})
	var rtr Operation
	if err := json.Unmarshal(body, &rtr); err != nil || status != http.StatusAccepted {
		t.Fatalf("deregister: %d %s, want 202 with the operation", status, body)
	}
	if hdr.Get("Location") != "/api/v1/operations/"+rtr.ID || rtr.Location != hdr.Get("Location") || rtr.State != "pending" ||
		rtr.Command != "RTR" || rtr.IMPI != sub.IMPI || rtr.Reason != "SERVER_CHANGE" || rtr.CreatedAt.IsZero() || !rtr.FinishedAt.IsZero() {
		t.Fatalf("deregister answer: Location %q, %+v", hdr.Get("Location"), rtr)
	}
	ppr, err := e.client.StartPushProfile(ctx, sub.IMPI)
	if err != nil || ppr.State != "pending" || ppr.Command != "PPR" {
		t.Fatalf("push-profile: %+v, %v", ppr, err)
	}
	changed, err := e.client.UpdateIMPU(ctx, sub.IMPI, "tel:15550000170", IMPURequest{DisplayName: "Eve"})
	if err != nil {
		t.Fatal(err)
	}
	rep := changed.ProfilePush
	if rep == nil || len(rep.Operations) != 1 || rep.Operations[0].State != "pending" || rep.Operations[0].IMPI != sub.IMPI ||
		len(rep.Pushed) != 0 || len(rep.Failed) != 0 {
		t.Fatalf("change of a registered user: %+v, want its PPR pending", rep)
	}
	for _, id := range []string{rtr.ID, ppr.ID, rep.Operations[0].ID} {
		got, err := reader.GetOperation(ctx, id)
		if err != nil || got.State != "pending" || got.Outcome != "" {
			t.Errorf("operation %s while the S-CSCF holds it: %+v, %v", id, got, err)
		}
	}
	list, err := reader.ListOperations(ctx, OperationQuery{IMPI: sub.IMPI, State: "pending"})
	if err != nil || len(list.Operations) != 3 || list.Operations[0].ID != rep.Operations[0].ID {
		t.Errorf("pending operations: %+v, %v", list, err)
	}

	// GET …?wait=true answers once the operation has finished.
	waited := make(chan Operation, 1)
	go func() {
		var op Operation
		status, _, body := e.callHeader("GET", "/api/v1/operations/"+rtr.ID+"?wait=true", "",
			http.Header{"Authorization": {"Bearer " + e.tokens[httpauth.ScopeRead]}})
		if status != 200 || json.Unmarshal(body, &op) != nil {
			t.Errorf("GET ?wait=true: %d %s", status, body)
		}
		waited <- op
	}()
	net.answer()
	if op := <-waited; op.State != "succeeded" {
		t.Errorf("GET ?wait=true answered %+v", op)
	}
	// The audit line of the route that started it names the operation.
	if n := e.logs.FilterMessage("audit").FilterField(zap.String("operation", rtr.ID)).Len(); n != 1 {
		t.Errorf("%d audit lines name operation %s, want 1", n, rtr.ID)
	}
	for _, id := range []string{rtr.ID, ppr.ID, rep.Operations[0].ID} {
		got, err := reader.WaitOperation(ctx, id, 10*time.Millisecond)
		if err != nil || got.State != "succeeded" || got.Outcome != "succeeded" || got.FinishedAt.IsZero() {
			t.Errorf("operation %s once answered: %+v, %v", id, got, err)
		}
	}

	// The Diameter timeout passes without an answer: failed, outcome timeout.
	net.mute(time.Millisecond)
	ppr, err = e.client.StartPushProfile(ctx, sub.IMPI)
	if err != nil {
		t.Fatal(err)
	}
	got, err := reader.WaitOperation(ctx, ppr.ID, 10*time.Millisecond)
	if err != nil || got.State != "failed" || got.Outcome != "timeout" || !strings.Contains(got.Error, "timed out") {
		t.Errorf("unanswered PPR: %+v, %v", got, err)
	}
	// wait=true: the synchronous form reports the failure.
	_, err = e.client.PushProfile(ctx, sub.IMPI)
	wantAPIError(t, err, 502, CodeCxFailed, "")

	for _, q := range []struct{ path, field string }{
		{"/api/v1/subscribers/" + sub.IMPI + "/push-profile?wait=soon", "wait"},
		{"/api/v1/operations?limit=0", "limit"},
		{"/api/v1/operations?state=lost", "state"},
	} {
		method := "GET"
		if strings.Contains(q.path, "push-profile") {
			method = "POST"
		}
		var got Error
		e.callJSON(method, q.path, "", 400, &got)
		if got.Field != q.field {
			t.Errorf("%s: %+v", q.path, got)
		}
	}
	_, err = reader.GetOperation(ctx, "0123")
	wantAPIError(t, err, 404, CodeNotFound, "")
}

// TestOperationsFull: when cx.operations.max operations are pending, a new RTR or PPR is refused with 503
// too_many_operations and Retry-After, and a change's PPR is reported failed; nothing blocks.
func TestOperationsFull(t *testing.T) {
	net := &fakeNetwork{max: 1}
	e := newEnv(t, sqliteStore(t), net)
	ctx := testCtx(t)
	sub := e.createDefault("001010000000171", "15550000171")
	e.register(sub.IMPI, "tel:15550000171")
	net.mute(0)
	if _, err := e.client.StartPushProfile(ctx, sub.IMPI); err != nil {
		t.Fatal(err)
	}
	status, hdr, body := e.callHeader("POST", "/api/v1/subscribers/"+sub.IMPI+"/deregister", "",
		http.Header{"Authorization": {"Bearer " + e.tokens[httpauth.ScopeProvision]}})
	if status != 503 || hdr.Get("Retry-After") == "" || !strings.Contains(string(body), string(CodeTooManyOperations)) {
		t.Errorf("deregister with the operations full: %d %q %s", status, hdr.Get("Retry-After"), body)
	}
	changed, err := e.client.PatchSubscriber(ctx, sub.IMPI, SubscriberPatch{Charging: &hss.ChargingInfo{PrimaryCCF: "aaa://ccf9"}})
	if err != nil {
		t.Fatal(err)
	}
	if rep := changed.ProfilePush; rep == nil || len(rep.Failed) != 1 || !strings.Contains(rep.Failed[0].Error, "too many") {
		t.Errorf("change with the operations full: %+v", rep)
	}
}
