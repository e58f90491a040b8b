package provision

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/imscore/imscore/diameter/cx"
	"github.com/imscore/imscore/diameter/peer"
	"github.com/imscore/imscore/hss"
	"github.com/imscore/imscore/hss/hsstest"
	"github.com/imscore/imscore/internal/httpauth"
	"github.com/imscore/imscore/storage"
	"github.com/imscore/imscore/storage/postgres/pgtest"
)

// cluster is one PostgreSQL server for the whole test binary, a fresh database per test.
var cluster = pgtest.NewShared()

func TestMain(m *testing.M) { os.Exit(cluster.Run(m)) }

// Test keys: TS 35.208 Test Set 1 (hsstest), and an OPc that is not derived from them.
const (
	testK   = hsstest.TestK
	testOP  = hsstest.TestOP
	testOPc = "cd63cb71954a9f4e48a5994e37a02baf"
	domain  = hss.DefaultDomain
)

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// sqliteStore opens a migrated SQLite store in a temporary directory.
func sqliteStore(t testing.TB) storage.DB {
	t.Helper()
	return openStore(t, "sqlite://"+filepath.Join(t.TempDir(), "hss.db"))
}

// postgresStore opens a migrated, empty PostgreSQL database (skipped without PostgreSQL unless CI=true).
func postgresStore(t testing.TB) storage.DB {
	t.Helper()
	return openStore(t, cluster.DSN(t))
}

func openStore(t testing.TB, dsn string) storage.DB {
	t.Helper()
	db, err := storage.OpenAndMigrate(testCtx(t), dsn, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// deregCall is one recorded NetworkInitiated.Deregister.
type deregCall struct {
	IMPI   string
	IMPUs  []string
	Reason cx.ReasonCode
	Info   string
}

// fakeNetwork runs the network-initiated procedures as the Cx server does, as hss.Operations, and
// records what they were asked to do; failFor[impi], when set, is their outcome. hold, when set, keeps
// every procedure waiting, as an S-CSCF that does not answer: until answer is called (failFor decides) or
// until timeout passes, when it fails as an unanswered Diameter request does (peer.ErrTimeout).
type fakeNetwork struct {
	mu      sync.Mutex
	deregs  []deregCall
	pushes  []string
	failFor map[string]error
	hold    chan struct{}
	timeout time.Duration
	max     int // cx.operations.max; 0: the default

	once sync.Once
	ops  *hss.Operations
}

func (f *fakeNetwork) Operations() *hss.Operations {
	f.once.Do(func() {
		cfg := hss.DefaultOperationsConfig()
		if f.max > 0 {
			cfg.Max = f.max
		}
		var err error
		if f.ops, err = hss.NewOperations(cfg, nil, nil); err != nil {
			panic(err)
		}
	})
	return f.ops
}

func (f *fakeNetwork) StartDeregister(impi string, impus []string, reason cx.ReasonCode, info string) (hss.Operation, error) {
	call := deregCall{IMPI: impi, IMPUs: slices.Clone(impus), Reason: reason, Info: info}
	return f.Operations().Start(hss.Operation{Command: cx.CmdRegistrationTermination, IMPI: impi, IMPUs: impus, Reason: reason},
		func(ctx context.Context) error {
			f.mu.Lock()
			f.deregs = append(f.deregs, call)
			f.mu.Unlock()
			return f.answerOf(ctx, "RTR", impi)
		})
}

func (f *fakeNetwork) StartPushProfile(impi string) (hss.Operation, error) {
	return f.Operations().Start(hss.Operation{Command: cx.CmdPushProfile, IMPI: impi}, func(ctx context.Context) error {
		f.mu.Lock()
		f.pushes = append(f.pushes, impi)
		f.mu.Unlock()
		return f.answerOf(ctx, "PPR", impi)
	})
}

// answerOf is the outcome of a procedure for impi, once the S-CSCF answers (or never does).
func (f *fakeNetwork) answerOf(ctx context.Context, cmd, impi string) error {
	f.mu.Lock()
	hold, timeout := f.hold, f.timeout
	f.mu.Unlock()
	if hold != nil {
		var expire <-chan time.Time
		if timeout > 0 {
			t := time.NewTimer(timeout)
			defer t.Stop()
			expire = t.C
		}
		select {
		case <-hold:
		case <-expire:
			return fmt.Errorf("%s to scscf.ims: %w", cmd, peer.ErrTimeout)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.failFor[impi]
}

// mute makes the S-CSCF stop answering; procedures fail after timeout (0: they wait for answer).
func (f *fakeNetwork) mute(timeout time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.hold, f.timeout = make(chan struct{}), timeout
}

// answer lets the held procedures end (with failFor) and the next ones run at once.
func (f *fakeNetwork) answer() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.hold != nil {
		close(f.hold)
		f.hold = nil
	}
}

func (f *fakeNetwork) fail(impi string, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failFor == nil {
		f.failFor = map[string]error{}
	}
	f.failFor[impi] = err
}

func (f *fakeNetwork) calls() ([]deregCall, []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.deregs), slices.Clone(f.pushes)
}

// env is the API over a real store, served on 127.0.0.1 by httptest, with every log line kept. Requests
// carry the token of the admin scope unless they say otherwise.
type env struct {
	t      testing.TB
	store  hss.Store
	net    *fakeNetwork
	srv    *httptest.Server
	client *Client
	logs   *observer.ObservedLogs
	tokens map[httpauth.Scope]string // a token per scope, named "test-<scope>"
}

// testTokens makes one token per scope, named test-<scope>, and the Tokens that know them.
func testTokens(t testing.TB) (*httpauth.Tokens, map[httpauth.Scope]string) {
	t.Helper()
	secrets := map[httpauth.Scope]string{}
	var file strings.Builder
	file.WriteString("tokens:\n")
	for _, s := range httpauth.Scopes() {
		secret, err := httpauth.NewSecret()
		if err != nil {
			t.Fatal(err)
		}
		secrets[s] = secret
		fmt.Fprintf(&file, "  - {name: test-%s, sha256: %s, scopes: [%s]}\n", s, httpauth.HashSecret(secret), s)
	}
	tokens, err := httpauth.ParseTokens([]byte(file.String()))
	if err != nil {
		t.Fatal(err)
	}
	return tokens, secrets
}

// newEnv serves the API over store; net may be nil (no Cx server).
func newEnv(t testing.TB, store hss.Store, net *fakeNetwork) *env {
	t.Helper()
	opts := Options{Store: store}
	if net != nil {
		opts.Network = net
	}
	return newEnvOpts(t, opts)
}

// newEnvOpts serves the API built from opts; Log is replaced by an observer.
func newEnvOpts(t testing.TB, opts Options) *env {
	t.Helper()
	core, logs := observer.New(zapcore.DebugLevel)
	opts.Log = zap.New(core)
	net, _ := opts.Network.(*fakeNetwork)
	if net != nil {
		t.Cleanup(func() {
			net.answer()
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			if err := net.Operations().Close(ctx); err != nil {
				t.Errorf("operations close: %v", err)
			}
		})
	}
	store := opts.Store
	tokens, secrets := testTokens(t)
	if opts.Guard == nil {
		opts.Guard = httpauth.NewGuard(tokens, opts.Log)
	}
	h, err := NewHandler(opts)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	c, err := NewClient(srv.URL, srv.Client(), WithToken(secrets[httpauth.ScopeAdmin]))
	if err != nil {
		t.Fatal(err)
	}
	return &env{t: t, store: store, net: net, srv: srv, client: c, logs: logs, tokens: secrets}
}

// clientFor is a client of the API with the token of scope.
func (e *env) clientFor(scope httpauth.Scope) *Client {
	e.t.Helper()
	c, err := NewClient(e.srv.URL, e.srv.Client(), WithToken(e.tokens[scope]))
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

// call sends a raw request as the admin token, with a JSON body when body is not empty, and returns the
// status and body.
func (e *env) call(method, path, body string) (int, []byte) {
	e.t.Helper()
	h := http.Header{"Authorization": {"Bearer " + e.tokens[httpauth.ScopeAdmin]}}
	if body != "" {
		h.Set("Content-Type", "application/json")
	}
	status, _, b := e.callHeader(method, path, body, h)
	return status, b
}

// callHeader sends a raw request with exactly the headers h and returns the status, headers and body.
func (e *env) callHeader(method, path, body string, h http.Header) (int, http.Header, []byte) {
	e.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(testCtx(e.t), method, e.srv.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header = h
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, b
}

// callJSON sends a request, checks the status and decodes the answer into out (when not nil).
func (e *env) callJSON(method, path, body string, wantStatus int, out any) {
	e.t.Helper()
	status, b := e.call(method, path, body)
	if status != wantStatus {
		e.t.Fatalf("%s %s: status %d, want %d; body %s", method, path, status, wantStatus, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			e.t.Fatalf("%s %s: decode %s: %v", method, path, b, err)
		}
	}
}

// wantAPIError checks err is an *Error with status, code and field.
func wantAPIError(t testing.TB, err error, status int, code Code, field string) *Error {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T), want *Error", err, err)
	}
	if e.Status != status || e.Code != code || e.Field != field {
		t.Fatalf("error = status %d code %q field %q (%q), want %d %q %q", e.Status, e.Code, e.Field, e.Message,
			status, code, field)
	}
	return e
}

// createDefault creates a subscriber with the conventional identities through the API.
func (e *env) createDefault(imsi, msisdn string) *Subscriber {
	e.t.Helper()
	sub, err := e.client.CreateSubscriber(testCtx(e.t), SubscriberRequest{IMSI: imsi, MSISDN: msisdn, K: testK, OP: testOP})
	if err != nil {
		e.t.Fatalf("create %s: %v", imsi, err)
	}
	return sub
}

// register marks impu's implicit set registered by impi at an S-CSCF, as a SAR would.
func (e *env) register(impi, impu string) {
	e.t.Helper()
	err := e.store.UpdateRegistration(testCtx(e.t), impi, impu, func(hss.ImplicitSetState) (hss.RegistrationChange, error) {
		return hss.RegistrationChange{IMPIRegistered: true, Registration: hss.Registration{State: hss.Registered,
			SCSCFName: "sip:scscf.ims.mnc001.mcc001.3gppnetwork.org:6060", SCSCFOriginHost: "scscf.ims"}}, nil
	})
	if err != nil {
		e.t.Fatal(err)
	}
}

// logText is every log line with its fields, for checks that secrets never reach the log.
func (e *env) logText() string {
	var b bytes.Buffer
	for _, entry := range e.logs.All() {
		b.WriteString(entry.Message)
		for k, v := range entry.ContextMap() {
			b.WriteString(" " + k + "=")
			j, _ := json.Marshal(v)
			b.Write(j)
		}
		b.WriteString("\n")
	}
	return b.String()
}

func impusOf(s *Subscriber) []string {
	var out []string
	for _, u := range s.IMPUs {
		out = append(out, u.IMPU)
	}
	return out
}
