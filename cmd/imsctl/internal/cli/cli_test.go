package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/imscore/imscore/diameter/cx"
	"github.com/imscore/imscore/hss"
	"github.com/imscore/imscore/hss/hsstest"
	"github.com/imscore/imscore/hss/provision"
	"github.com/imscore/imscore/internal/httpauth"
	"github.com/imscore/imscore/storage"
)

const (
	domain = hss.DefaultDomain
	testK  = hsstest.TestK
	testOP = hsstest.TestOP
)

// recordingNetwork records the RTRs and PPRs imsctl causes. They run as the Cx server runs them, as
// hss.Operations; failed is their outcome. hold, when set, keeps them waiting for release, as an S-CSCF that
// has not answered yet.
type recordingNetwork struct {
	mu      sync.Mutex
	calls   []string
	failed  error
	hold    chan struct{}
	arrived chan string // each call as it reaches the "S-CSCF"
	ops     *hss.Operations
}

func newRecordingNetwork(t *testing.T) *recordingNetwork {
	ops, err := hss.NewOperations(hss.DefaultOperationsConfig(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	n := &recordingNetwork{ops: ops, arrived: make(chan string, 16)}
	t.Cleanup(func() {
		n.release(nil)
		if err := ops.Close(context.Background()); err != nil {
			t.Error(err)
		}
	})
	return n
}

func (n *recordingNetwork) Operations() *hss.Operations { return n.ops }

func (n *recordingNetwork) StartDeregister(impi string, impus []string, reason cx.ReasonCode, info string) (hss.Operation, error) {
	call := fmt.Sprintf("RTR %s %v %s %q", impi, impus, reason, info)
	return n.ops.Start(hss.Operation{Command: cx.CmdRegistrationTermination, IMPI: impi, IMPUs: impus, Reason: reason},
		func(ctx context.Context) error { return n.run(ctx, call) })
}

func (n *recordingNetwork) StartPushProfile(impi string) (hss.Operation, error) {
	return n.ops.Start(hss.Operation{Command: cx.CmdPushProfile, IMPI: impi},
		func(ctx context.Context) error { return n.run(ctx, "PPR "+impi) })
}

func (n *recordingNetwork) run(ctx context.Context, call string) error {
	n.mu.Lock()
	n.calls = append(n.calls, call)
	hold := n.hold
	n.mu.Unlock()
	select {
	case n.arrived <- call:
	default:
	}
	if hold != nil {
		select {
		case <-hold:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.failed
}

// holdAnswers keeps the next procedures waiting until release.
func (n *recordingNetwork) holdAnswers() {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.hold = make(chan struct{})
}

// release answers the held procedures with err.
func (n *recordingNetwork) release(err error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.failed = err
	if n.hold != nil {
		close(n.hold)
		n.hold = nil
	}
}

func (n *recordingNetwork) recorded() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]string(nil), n.calls...)
}

// api is the provisioning API over a real SQLite store on 127.0.0.1, with a tokens file as the HSS reads it.
// imsctl runs with the admin token in IMSCTL_TOKEN (env overrides that).
type api struct {
	t          *testing.T
	url        string
	store      storage.DB
	net        *recordingNetwork
	tokensFile string
	token      string            // the admin token, "imsctl"
	env        map[string]string // the environment of each run, beside IMSCTL_API
}

func newAPI(t *testing.T) *api {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	db, err := storage.OpenAndMigrate(ctx, "sqlite://"+filepath.Join(t.TempDir(), "hss.db"), zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	net := newRecordingNetwork(t)
	tokensFile := filepath.Join(t.TempDir(), "tokens.yaml")
	token, err := httpauth.AddToken(tokensFile, "imsctl", []httpauth.Scope{httpauth.ScopeAdmin})
	if err != nil {
		t.Fatal(err)
	}
	a := &api{t: t, store: db, net: net, tokensFile: tokensFile, token: token, env: map[string]string{EnvToken: token}}
	a.serve()
	return a
}

// serve (re)starts the API over the store with the tokens file as it is now, as an HSS restart would.
func (a *api) serve() {
	a.t.Helper()
	tokens, err := httpauth.LoadTokens(a.tokensFile)
	if err != nil {
		a.t.Fatal(err)
	}
	h, err := provision.NewHandler(provision.Options{Store: a.store, Network: a.net, Log: zap.NewNop(),
		Guard: httpauth.NewGuard(tokens, nil)})
	if err != nil {
		a.t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	a.t.Cleanup(srv.Close)
	a.url = srv.URL
}

// result is one run of imsctl.
type result struct {
	code           int
	stdout, stderr string
}

// imsctl runs the CLI against the API with stdin and returns its exit code and output.
func (a *api) imsctl(stdin string, args ...string) result {
	a.t.Helper()
	var out, errOut bytes.Buffer
	env := Env{Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errOut,
		Getenv: func(k string) string {
			if k == EnvAPI {
				return a.url
			}
			return a.env[k]
		}}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	code := Main(ctx, args, env)
	return result{code: code, stdout: out.String(), stderr: errOut.String()}
}

// ok runs imsctl and fails the test unless it exits 0.
func (a *api) ok(args ...string) string {
	a.t.Helper()
	r := a.imsctl("", args...)
	if r.code != ExitOK {
		a.t.Fatalf("imsctl %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r.stdout
}

func addArgs(imsi, msisdn string) []string {
	return []string{"subscriber", "add", "--imsi", imsi, "--msisdn", msisdn, "--k", testK, "--op", testOP}
}

func TestSubscriberAddPrintsIdentities(t *testing.T) {
	a := newAPI(t)
	got := a.ok(addArgs("001010000000101", "15550000101")...)
	want := "IMPI 001010000000101@ims.mnc001.mcc001.3gppnetwork.org\n" +
		"IMPU sip:001010000000101@ims.mnc001.mcc001.3gppnetwork.org (barred)\n" +
		"IMPU sip:15550000101@ims.mnc001.mcc001.3gppnetwork.org\n" +
		"IMPU tel:15550000101\n"
	if got != want {
		t.Errorf("stdout =\n%s\nwant\n%s", got, want)
	}
	// --json after the command words: the API's document.
	var sub provision.Subscriber
	out := a.ok(append(addArgs("001010000000102", "15550000102"), "--json", "--amf", "0000", "--password", "pw")...)
	if err := json.Unmarshal([]byte(out), &sub); err != nil {
		t.Fatalf("--json output %q: %v", out, err)
	}
	if sub.IMPI != "001010000000102@"+domain || sub.AMF != "0000" || !sub.HasPassword || len(sub.IMPUs) != 3 {
		t.Errorf("--json: %+v", sub)
	}
	if strings.Contains(out, testK) || strings.Contains(out, testOP) {
		t.Error("keys printed")
	}
}

func TestSubscriberAddErrors(t *testing.T) {
	a := newAPI(t)
	a.ok(addArgs("001010000000103", "15550000103")...)
	tests := []struct {
		name       string
		args       []string
		code       int
		wantStderr string
	}{
		{name: "bad key", args: []string{"subscriber", "add", "--imsi", "001010000000104", "--msisdn", "1555", "--k", "123", "--op", testOP},
			code: ExitError, wantStderr: "imsctl subscriber add: k: want 32 hex digits (128 bits), got 3 characters\n"},
		{name: "op and opc", args: append(addArgs("001010000000104", "1555"), "--opc", testOP),
			code: ExitError, wantStderr: "imsctl subscriber add: opc: give op or opc, not both\n"},
		{name: "duplicate", args: addArgs("001010000000103", "15550000103"),
			code: ExitError, wantStderr: "imsctl subscriber add: create subscriber 001010000000103@" + domain +
				": hss: already exists"},
		{name: "bad sqn flag", args: append(addArgs("001010000000104", "1555"), "--sqn", "-1"), code: ExitUsage,
			wantStderr: "imsctl subscriber add: --sqn \"-1\": want a non-negative integer\nusage: imsctl subscriber add"},
		{name: "stray argument", args: append(addArgs("001010000000104", "1555"), "extra"), code: ExitUsage,
			wantStderr: "unexpected argument \"extra\""},
		{name: "unknown flag", args: []string{"subscriber", "add", "--imsy", "1"}, code: ExitUsage,
			wantStderr: "flag provided but not defined: -imsy"},
		{name: "unknown command", args: []string{"subscriber", "frobnicate"}, code: ExitUsage,
			wantStderr: "imsctl: unknown command \"subscriber frobnicate\""},
		{name: "api unreachable", args: append(addArgs("001010000000104", "1555"), "--api", "http://127.0.0.1:1"), code: ExitError,
			wantStderr: "connection refused"},
		{name: "api not a url", args: append(addArgs("001010000000104", "1555"), "--api", "localhost"), code: ExitUsage,
			wantStderr: "--api: api url \"localhost\""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := a.imsctl("", tt.args...)
			if r.code != tt.code || !strings.Contains(r.stderr, tt.wantStderr) {
				t.Errorf("exit %d, stderr %q; want exit %d, stderr containing %q", r.code, r.stderr, tt.code, tt.wantStderr)
			}
			if strings.HasSuffix(tt.wantStderr, "\n") && r.code == ExitError && r.stderr != tt.wantStderr {
				t.Errorf("stderr %q, want exactly %q", r.stderr, tt.wantStderr)
			}
			if r.stdout != "" {
				t.Errorf("stdout %q on failure", r.stdout)
			}
		})
	}
}

func TestSubscriberShowListDelete(t *testing.T) {
	a := newAPI(t)
	for i := range 5 {
		a.ok(addArgs(fmt.Sprintf("00101000000011%d", i), fmt.Sprintf("155500001%d", i))...)
	}
	a.ok(addArgs("001020000000001", "16660000001")...)

	show := a.ok("subscriber", "show", "--imsi", "001010000000112")
	for _, want := range []string{
		"IMPI              001010000000112@" + domain,
		"MSISDN            1555000012",
		"Keys              K set, OP set, AMF 8000, SQN 0",
		"Schemes           AKAv1-MD5, AKAv2-MD5",
		"sip:001010000000112@" + domain + "  PUBLIC_USER_IDENTITY  yes",
		"tel:1555000012",
		"NOT_REGISTERED",
	} {
		if !strings.Contains(show, want) {
			t.Errorf("show output lacks %q:\n%s", want, show)
		}
	}
	if show != a.ok("subscriber", "show", "--impi", "001010000000112@"+domain) {
		t.Error("show --impi differs from show --imsi")
	}

	list := a.ok("subscriber", "list", "--prefix", "00101", "--limit", "3")
	lines := strings.Split(strings.TrimSpace(list), "\n")
	if len(lines) != 5 || !strings.HasPrefix(lines[0], "IMPI") || !strings.HasPrefix(lines[1], "001010000000110@") ||
		lines[4] != "more: --cursor 001010000000112@"+domain {
		t.Errorf("list page:\n%s", list)
	}
	next := a.ok("subscriber", "list", "--prefix", "00101", "--limit", "3", "--cursor", "001010000000112@"+domain)
	if n := strings.Count(next, "\n"); n != 3 || strings.Contains(next, "more:") {
		t.Errorf("second page:\n%s", next)
	}
	var all provision.SubscriberList
	if err := json.Unmarshal([]byte(a.ok("subscriber", "list", "--all", "--limit", "2", "--json")), &all); err != nil {
		t.Fatal(err)
	}
	if len(all.Subscribers) != 6 || all.NextCursor != "" {
		t.Errorf("--all: %d subscribers, next %q", len(all.Subscribers), all.NextCursor)
	}

	if got := a.ok("subscriber", "delete", "--imsi", "001010000000112"); got != "deleted 001010000000112@"+domain+"\n" {
		t.Errorf("delete printed %q", got)
	}
	r := a.imsctl("", "subscriber", "show", "--imsi", "001010000000112")
	if r.code != ExitError || r.stderr != "imsctl subscriber show: no subscriber with IMSI 001010000000112\n" {
		t.Errorf("show after delete: %+v", r)
	}
	r = a.imsctl("", "subscriber", "delete", "--impi", "001010000000112@"+domain)
	if r.code != ExitError || !strings.Contains(r.stderr, "not found") {
		t.Errorf("delete again: %+v", r)
	}
	r = a.imsctl("", "subscriber", "show")
	if r.code != ExitUsage || !strings.Contains(r.stderr, "--imsi or --impi is required") {
		t.Errorf("show without identity: %+v", r)
	}
}

func TestGenerateImportRoundTrip(t *testing.T) {
	a := newAPI(t)
	gen := a.imsctl("", "subscriber", "generate", "--count", "1000", "--imsi-start", "001010000001000",
		"--msisdn-start", "15550001000", "--k", testK, "--op", testOP)
	if gen.code != ExitOK {
		t.Fatalf("generate: %+v", gen)
	}
	lines := strings.Split(strings.TrimSuffix(gen.stdout, "\n"), "\n")
	if len(lines) != 1000 {
		t.Fatalf("generated %d lines", len(lines))
	}
	wantFirst := `{"imsi":"001010000001000","msisdn":"15550001000","k":"` + testK + `","op":"` + testOP + `"}`
	if lines[0] != wantFirst || !strings.Contains(lines[999], `"imsi":"001010000001999","msisdn":"15550001999"`) {
		t.Errorf("first line %s\nlast line %s", lines[0], lines[999])
	}

	imp := a.imsctl(gen.stdout, "subscriber", "import", "-", "--batch", "300")
	if imp.code != ExitOK || imp.stdout != "imported 1000 subscribers from 1000 lines, 0 failed\n" ||
		imp.stderr != "import 1000 lines sent, 1000 imported, 0 failed\n" {
		t.Fatalf("import: %+v", imp)
	}
	var all provision.SubscriberList
	if err := json.Unmarshal([]byte(a.ok("subscriber", "list", "--all", "--limit", "1000", "--json")), &all); err != nil {
		t.Fatal(err)
	}
	if len(all.Subscribers) != 1000 || all.Subscribers[999].IMSI != "001010000001999" || len(all.Subscribers[999].IMPUs) != 3 {
		t.Errorf("listed %d subscribers after import", len(all.Subscribers))
	}

	// The same file again: every line fails, each is reported, the exit code says so.
	file := filepath.Join(t.TempDir(), "subs.ndjson")
	if err := os.WriteFile(file, []byte(strings.Join(lines[:3], "\n")+"\n{bad\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	again := a.imsctl("", "subscriber", "import", file)
	if again.code != ExitError || again.stdout != "imported 0 subscribers from 4 lines, 4 failed\n" ||
		!strings.Contains(again.stderr, "line 1: create subscriber") && !strings.Contains(again.stderr, "line 1: ") ||
		!strings.Contains(again.stderr, "already exists") || !strings.Contains(again.stderr, "line 4: invalid JSON") ||
		!strings.HasSuffix(again.stderr, "imsctl subscriber import: 4 of 4 lines not imported\n") {
		t.Errorf("import again: %+v", again)
	}
}

func TestGenerateErrors(t *testing.T) {
	a := newAPI(t)
	base := []string{"subscriber", "generate", "--count", "10", "--imsi-start", "001010000000001", "--msisdn-start", "1555",
		"--k", testK, "--op", testOP}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no count", []string{"subscriber", "generate"}, "--count: want at least 1"},
		{"imsi overflow", append(append([]string{}, base...), "--imsi-start", "999999999999995"), "do not fit in 15 digits"},
		{"msisdn not digits", append(append([]string{}, base...), "--msisdn-start", "+1555"), "--msisdn-start \"+1555\""},
		{"bad k", append(append([]string{}, base...), "--k", "00"), "--k: want 32 hex digits"},
		{"op and opc", append(append([]string{}, base...), "--opc", testOP), "one of --op, --opc"},
		{"bad amf", append(append([]string{}, base...), "--amf", "8"), "--amf: want 4 hex digits"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := a.imsctl("", tt.args...)
			if r.code != ExitUsage || !strings.Contains(r.stderr, tt.want) || r.stdout != "" {
				t.Errorf("exit %d stdout %q stderr %q, want usage error %q", r.code, r.stdout, r.stderr, tt.want)
			}
		})
	}
}

func TestKeysUpdateAndIdentities(t *testing.T) {
	a := newAPI(t)
	a.ok(addArgs("001010000000120", "15550000120")...)
	got := a.ok("subscriber", "set-keys", "--imsi", "001010000000120", "--k", testK, "--op", testOP, "--store-opc", "--sqn", "64")
	if got != "keys replaced for 001010000000120@"+domain+": K set, OPc set, AMF 8000, SQN 64\n" {
		t.Errorf("set-keys printed %q", got)
	}
	if got = a.ok("subscriber", "update", "--imsi", "001010000000120", "--password", "pw", "--schemes", "AKAv1-MD5,SIP-Digest"); got != "updated 001010000000120@"+domain+"\n" {
		t.Errorf("update printed %q", got)
	}
	p, err := a.store.GetIMPI(context.Background(), "001010000000120@"+domain)
	if err != nil {
		t.Fatal(err)
	}
	if p.AuthSchemes != hss.AuthAKAv1MD5|hss.AuthSIPDigest || p.DigestPassword != "pw" || p.SQN != 64 || p.OP != nil {
		t.Errorf("stored %v", p)
	}
	got = a.ok("impu", "add", "--imsi", "001010000000120", "--impu", "sip:alice@"+domain, "--display-name", "Alice")
	if !strings.HasPrefix(got, "added sip:alice@"+domain+"\nIMPI 001010000000120@") || !strings.Contains(got, "IMPU sip:alice@"+domain+"\n") {
		t.Errorf("impu add printed %q", got)
	}
	if got = a.ok("impu", "update", "--imsi", "001010000000120", "--impu", "sip:alice@"+domain, "--barred"); !strings.Contains(got, "IMPU sip:alice@"+domain+" (barred)\n") {
		t.Errorf("impu update printed %q", got)
	}
	a.ok(addArgs("001010000000121", "15550000121")...)
	if got = a.ok("impu", "link", "--imsi", "001010000000121", "--impu", "sip:alice@"+domain); !strings.Contains(got, "IMPU sip:alice@") {
		t.Errorf("impu link printed %q", got)
	}
	a.ok("impu", "unlink", "--imsi", "001010000000121", "--impu", "sip:alice@"+domain)
	a.ok("impu", "delete", "--imsi", "001010000000120", "--impu", "sip:alice@"+domain)
	r := a.imsctl("", "impu", "delete", "--imsi", "001010000000120", "--impu", "sip:alice@"+domain)
	if r.code != ExitError || !strings.Contains(r.stderr, "not associated") {
		t.Errorf("delete twice: %+v", r)
	}
}

func TestNetworkInitiated(t *testing.T) {
	a := newAPI(t)
	a.ok(addArgs("001010000000130", "15550000130")...)
	impi := "001010000000130@" + domain

	r := a.imsctl("", "deregister", "--imsi", "001010000000130")
	if r.code != ExitError || !strings.Contains(r.stderr, "nothing to de-register") {
		t.Errorf("deregister of an unregistered user: %+v", r)
	}
	err := a.store.UpdateRegistration(context.Background(), impi, "tel:15550000130", func(hss.ImplicitSetState) (hss.RegistrationChange, error) {
		return hss.RegistrationChange{IMPIRegistered: true, Registration: hss.Registration{State: hss.Registered,
			SCSCFName: "sip:scscf.ims:6060", SCSCFOriginHost: "scscf.ims"}}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	reg := a.ok("registration", "show", "--imsi", "001010000000130")
	if !strings.HasPrefix(reg, "IMPI "+impi+": registered\n") ||
		!regexp.MustCompile(`tel:15550000130\s+REGISTERED\s+sip:scscf.ims:6060\s+scscf.ims\s+yes`).MatchString(reg) {
		t.Errorf("registration show:\n%s", reg)
	}
	if got := a.ok("deregister", "--imsi", "001010000000130", "--reason", "SERVER_CHANGE", "--info", "bye",
		"--impu", "tel:15550000130", "--impu", "sip:15550000130@"+domain); got != "de-registered "+impi+" (RTR SERVER_CHANGE)\n" {
		t.Errorf("deregister printed %q", got)
	}
	if got := a.ok("profile", "push", "--impi", impi); got != "profile pushed for "+impi+" (PPR)\n" {
		t.Errorf("profile push printed %q", got)
	}
	r = a.imsctl("", "deregister", "--imsi", "001010000000130", "--reason", "GOODBYE")
	if r.code != ExitUsage || !strings.Contains(r.stderr, "--reason") {
		t.Errorf("bad reason: %+v", r)
	}
	want := []string{
		fmt.Sprintf("RTR %s [tel:15550000130 sip:15550000130@%s] SERVER_CHANGE \"bye\"", impi, domain),
		"PPR " + impi,
	}
	if got := a.net.recorded(); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("network calls\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if got := a.ok("subscriber", "delete", "--imsi", "001010000000130"); got != "de-registered "+impi+" (RTR PERMANENT_TERMINATION)\ndeleted "+impi+"\n" {
		t.Errorf("delete of a registered user printed %q", got)
	}
}

func TestProfilesIFCsSCSCFs(t *testing.T) {
	a := newAPI(t)
	dir := t.TempDir()
	profile := filepath.Join(dir, "gold.json")
	if err := os.WriteFile(profile, []byte(`{"id":"gold","ifcs":[{"priority":1,
		"trigger_point":{"spt":[{"group":[0],"method":"INVITE"}]},
		"application_server":{"server_name":"sip:mmtel.ims","default_handling":"SESSION_TERMINATED"}}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	got := a.ok("profile", "create", "--file", profile)
	if !strings.HasPrefix(got, "profile gold\n") || !regexp.MustCompile(`1\s+sip:mmtel.ims\s+SESSION_TERMINATED\s+1 SPTs \(DNF\)`).MatchString(got) {
		t.Errorf("profile create printed:\n%s", got)
	}
	if got = a.ok("profile", "list"); !regexp.MustCompile(`gold\s+1\s+\[\]`).MatchString(got) {
		t.Errorf("profile list:\n%s", got)
	}
	a.ok("profile", "show", "--id", "gold")
	set := `{"id":4,"ifcs":[{"priority":1,"application_server":{"server_name":"sip:as"}}]}`
	if r := a.imsctl(set, "ifc", "create", "--file", "-"); r.code != ExitOK || !strings.HasPrefix(r.stdout, "shared iFC set 4\n") {
		t.Errorf("ifc create: %+v", r)
	}
	a.ok("ifc", "list")
	a.ok("ifc", "show", "--id", "4")
	if r := a.imsctl(set, "ifc", "update", "--file", "-"); r.code != ExitOK {
		t.Errorf("ifc update: %+v", r)
	}
	a.ok("ifc", "delete", "--id", "4")
	r := a.imsctl(`{"id":"gold","ifcs":[{"priority":1,"application_server":{"server_name":"sip:as","default_handling":"MAYBE"}}]}`,
		"profile", "update", "--file", "-")
	if r.code != ExitError || r.stderr != "imsctl profile update: ifcs[0].application_server.default_handling: \"MAYBE\": want one of SESSION_CONTINUED, SESSION_TERMINATED\n" {
		t.Errorf("bad profile update: %+v", r)
	}
	if r = a.imsctl("", "profile", "create", "--file", filepath.Join(dir, "missing.json")); r.code != ExitError || !strings.Contains(r.stderr, "no such file") {
		t.Errorf("missing file: %+v", r)
	}
	a.ok("profile", "delete", "--id", "gold")

	if got = a.ok("scscf", "add", "--name", "sip:scscf.ims:6060", "--mandatory", "1,2", "--optional", "7"); got != "s-cscf sip:scscf.ims:6060: mandatory 1,2, optional 7\n" {
		t.Errorf("scscf add printed %q", got)
	}
	if got = a.ok("scscf", "list"); !regexp.MustCompile(`sip:scscf.ims:6060\s+1,2\s+7`).MatchString(got) {
		t.Errorf("scscf list:\n%s", got)
	}
	a.ok("scscf", "delete", "--name", "sip:scscf.ims:6060")
	if r = a.imsctl("", "scscf", "add", "--name", "x", "--mandatory", "a"); r.code != ExitUsage {
		t.Errorf("bad capability: %+v", r)
	}
	a.ok("charging", "set-default", "--primary-ccf", "aaa://ccf.ims:3868")
}

func TestMigrate(t *testing.T) {
	dir := t.TempDir()
	var out, errOut bytes.Buffer
	env := Env{Stdout: &out, Stderr: &errOut}
	db := filepath.Join(dir, "new.db")
	if code := Main(context.Background(), []string{"migrate", "--db", db}, env); code != ExitOK {
		t.Fatalf("migrate: exit %d: %s", code, errOut.String())
	}
	if !regexp.MustCompile(`^` + regexp.QuoteMeta(db) + `: schema migrated from version 0 to [1-9][0-9]*\n$`).MatchString(out.String()) {
		t.Errorf("first migrate printed %q", out.String())
	}
	out.Reset()
	if code := Main(context.Background(), []string{"migrate", "--db", "sqlite://" + db, "--json"}, env); code != ExitOK {
		t.Fatalf("migrate again: exit %d: %s", code, errOut.String())
	}
	var res struct {
		Before  int `json:"version_before"`
		Version int `json:"version"`
	}
	if err := json.Unmarshal(out.Bytes(), &res); err != nil || res.Version == 0 || res.Before != res.Version {
		t.Errorf("second migrate printed %q", out.String())
	}
	errOut.Reset()
	if code := Main(context.Background(), []string{"migrate", "--db", "mysql://x"}, env); code != ExitError ||
		!strings.Contains(errOut.String(), "unsupported scheme") {
		t.Errorf("bad DSN: exit %d %q", code, errOut.String())
	}
	if got := redactDSN("postgres://hss:s3cret@db.example/hss"); strings.Contains(got, "s3cret") {
		t.Errorf("redactDSN kept the password: %s", got)
	}
}

func TestUsage(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := Main(context.Background(), nil, Env{Stdout: &out, Stderr: &errOut}); code != ExitUsage ||
		!strings.Contains(out.String(), "subscriber generate") || !strings.Contains(out.String(), "migrate") {
		t.Errorf("no arguments: exit %d, %q", code, out.String())
	}
	out.Reset()
	if code := Main(context.Background(), []string{"help"}, Env{Stdout: &out, Stderr: &errOut}); code != ExitOK || out.Len() == 0 {
		t.Errorf("help: exit %d", code)
	}
	// The API comes from --api before the command as well, the token from --token-file.
	a := newAPI(t)
	tokenFile := filepath.Join(t.TempDir(), "imsctl.token")
	if err := httpauth.WriteSecretFile(tokenFile, []byte(a.token+"\n")); err != nil {
		t.Fatal(err)
	}
	var o2 bytes.Buffer
	code := Main(context.Background(), append([]string{"--api", a.url, "--token-file", tokenFile}, addArgs("001010000000140", "15550000140")...),
		Env{Stdout: &o2, Stderr: &errOut})
	if code != ExitOK || !strings.HasPrefix(o2.String(), "IMPI 001010000000140@") {
		t.Errorf("--api first: exit %d %q %q", code, o2.String(), errOut.String())
	}
}

// imsctl end to end with tokens: none gets the API's 401 with a hint; a read token cannot provision (403);
// `token create` makes a provision token whose hash the (restarted) API accepts, read through --token-file,
// and the default ./var/imsctl.token is used when nothing else names a token.
func TestTokens(t *testing.T) {
	a := newAPI(t)
	a.env = map[string]string{}
	r := a.imsctl("", addArgs("001010000000150", "15550000150")...)
	if r.code != ExitError || !strings.Contains(r.stderr, "authentication required") || !strings.Contains(r.stderr, "IMSCTL_TOKEN") {
		t.Fatalf("no token: exit %d %q", r.code, r.stderr)
	}

	dir := t.TempDir()
	readFile, provFile := filepath.Join(dir, "read.token"), filepath.Join(dir, "prov.token")
	for _, c := range [][]string{
		{"token", "create", "--tokens-file", a.tokensFile, "--name", "auditor", "--scopes", "read", "--out", readFile},
		{"token", "create", "--tokens-file", a.tokensFile, "--name", "crm", "--scopes", "provision", "--out", provFile},
	} {
		if r := a.imsctl("", c...); r.code != ExitOK || r.stdout != "" {
			t.Fatalf("%v: exit %d %q %q", c, r.code, r.stdout, r.stderr)
		}
	}
	if r := a.imsctl("", "token", "create", "--tokens-file", a.tokensFile, "--name", "x", "--scopes", "root"); r.code != ExitUsage {
		t.Errorf("unknown scope: exit %d %q", r.code, r.stderr)
	}
	a.serve() // the HSS reads its tokens file at start
	r = a.imsctl("", append([]string{"--token-file", readFile}, addArgs("001010000000150", "15550000150")...)...)
	if r.code != ExitError || !strings.Contains(r.stderr, "lacks the provision scope") {
		t.Fatalf("read token provisioning: exit %d %q", r.code, r.stderr)
	}
	a.env = map[string]string{EnvTokenFile: provFile}
	if out := a.ok(addArgs("001010000000150", "15550000150")...); !strings.Contains(out, "001010000000150@") {
		t.Fatalf("provision token: %q", out)
	}
	if out := a.ok("--token-file", readFile, "subscriber", "show", "--imsi", "001010000000150"); !strings.Contains(out, "001010000000150@") {
		t.Fatalf("read token reading: %q", out)
	}
	// The token file must not be readable by others.
	if err := os.Chmod(readFile, 0o644); err != nil {
		t.Fatal(err)
	}
	if r := a.imsctl("", "--token-file", readFile, "subscriber", "list"); r.code == ExitOK || !strings.Contains(r.stderr, "chmod 600") {
		t.Errorf("token file 0644: exit %d %q", r.code, r.stderr)
	}
	// token hash prints what the tokens file holds.
	tok, err := httpauth.ReadSecretFile(provFile)
	if err != nil {
		t.Fatal(err)
	}
	if r := a.imsctl(tok+"\n", "token", "hash"); r.code != ExitOK || strings.TrimSpace(r.stdout) != httpauth.HashSecret(tok) {
		t.Errorf("token hash: %q", r.stdout)
	}
	// The default token file, as make run leaves it, relative to the working directory.
	t.Chdir(t.TempDir())
	a.env = map[string]string{}
	if err := httpauth.WriteSecretFile(DefaultTokenFile, []byte(tok+"\n")); err != nil {
		t.Fatal(err)
	}
	if out := a.ok("subscriber", "show", "--imsi", "001010000000150"); !strings.Contains(out, "001010000000150@") {
		t.Fatalf("default token file: %q", out)
	}
	// IMSCTL_TOKEN wins over the default file.
	a.env = map[string]string{EnvToken: "imscore_wrong"}
	if r := a.imsctl("", "subscriber", "list"); r.code != ExitError || !strings.Contains(r.stderr, "invalid token") {
		t.Errorf("IMSCTL_TOKEN wrong: exit %d %q", r.code, r.stderr)
	}
}

// imsctl against an HTTPS API with a private CA: --ca-file makes the certificate trusted; without it the call
// fails on the certificate and sends nothing.
func TestTLSCAFile(t *testing.T) {
	a := newAPI(t)
	tokens, err := httpauth.LoadTokens(a.tokensFile)
	if err != nil {
		t.Fatal(err)
	}
	h, err := provision.NewHandler(provision.Options{Store: a.store, Network: a.net, Log: zap.NewNop(),
		Guard: httpauth.NewGuard(tokens, nil)})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewTLSServer(h)
	t.Cleanup(srv.Close)
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	a.url = srv.URL
	if r := a.imsctl("", "subscriber", "list"); r.code != ExitError || !strings.Contains(r.stderr, "certificate") {
		t.Fatalf("without --ca-file: exit %d %q", r.code, r.stderr)
	}
	if out := a.ok(append([]string{"--ca-file", ca}, addArgs("001010000000160", "15550000160")...)...); !strings.Contains(out, "001010000000160@") {
		t.Fatalf("with --ca-file: %q", out)
	}
	a.env[EnvCAFile] = ca
	if out := a.ok("subscriber", "show", "--imsi", "001010000000160"); !strings.Contains(out, "001010000000160@") {
		t.Fatalf("with IMSCTL_CA_FILE: %q", out)
	}
}

// TestWaitForTheOutcome: deregister and profile push wait for the S-CSCF's answer by default and report it
// (a failed RTR is a failed command); with --wait=false they return at once with the pending operation,
// which operation show reads, and waits for with --wait (issue 11: the RTR and PPR are operations now).
func TestWaitForTheOutcome(t *testing.T) {
	a := newAPI(t)
	a.ok(addArgs("001010000000135", "15550000135")...)
	impi := "001010000000135@" + domain
	err := a.store.UpdateRegistration(context.Background(), impi, "tel:15550000135", func(hss.ImplicitSetState) (hss.RegistrationChange, error) {
		return hss.RegistrationChange{IMPIRegistered: true, Registration: hss.Registration{State: hss.Registered,
			SCSCFName: "sip:scscf.ims:6060", SCSCFOriginHost: "scscf.ims"}}, nil
	})
	if err != nil {
		t.Fatal(err)
	}

	// Waiting: imsctl reports the outcome, which exists only once the S-CSCF has answered.
	a.net.holdAnswers()
	done := make(chan result, 1)
	go func() { done <- a.imsctl("", "deregister", "--imsi", "001010000000135") }()
	<-a.net.arrived
	a.net.release(errors.New("RTR to scscf.ims: diameter peer: request timed out"))
	r := <-done
	if r.code != ExitError || !strings.Contains(r.stderr, "RTR for "+impi+" failed (error): RTR to scscf.ims: diameter peer: request timed out") {
		t.Errorf("deregister while the RTR fails: %+v", r)
	}

	// Not waiting: the command returns while the PPR is still held, naming the operation.
	a.net.holdAnswers()
	out := a.ok("profile", "push", "--imsi", "001010000000135", "--wait=false")
	<-a.net.arrived
	m := regexp.MustCompile(`^PPR for ` + regexp.QuoteMeta(impi) + ` started: operation ([0-9a-f]{32}) \(imsctl operation show --id [0-9a-f]{32} --wait\)\n$`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("profile push --wait=false printed %q", out)
	}
	id := m[1]
	if got := a.ok("operation", "show", "--id", id); !regexp.MustCompile(id + `\s+PPR\s+` + regexp.QuoteMeta(impi) + `\s+pending\s+-`).MatchString(got) {
		t.Errorf("operation show while pending:\n%s", got)
	}
	go func() { done <- a.imsctl("", "operation", "show", "--id", id, "--wait") }()
	a.net.release(nil)
	if r := <-done; r.code != ExitOK || !regexp.MustCompile(id+`\s+PPR\s+\S+\s+succeeded\s+succeeded`).MatchString(r.stdout) {
		t.Errorf("operation show --wait: %+v", r)
	}
	if got := a.ok("operation", "list", "--impi", impi, "--state", "failed"); strings.Count(got, "\n") != 2 || !strings.Contains(got, "RTR") {
		t.Errorf("operation list of failed ones:\n%s", got)
	}
	if got := a.ok("profile", "push", "--imsi", "001010000000135"); got != "profile pushed for "+impi+" (PPR)\n" {
		t.Errorf("profile push printed %q", got)
	}
	r = a.imsctl("", "operation", "show", "--id", "nope")
	if r.code != ExitError || !strings.Contains(r.stderr, "unknown") {
		t.Errorf("unknown operation: %+v", r)
	}
}
