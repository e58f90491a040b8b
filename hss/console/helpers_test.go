package console_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/imscore/imscore/hss/console"
	"github.com/imscore/imscore/hss/provision"
	"github.com/imscore/imscore/internal/httpauth"
	"github.com/imscore/imscore/storage"
)

// testPassword is every test account's password.
const testPassword = "console-test-password"

// fixture is a console in front of a real provisioning API (SQLite store, no Cx server: RTR and PPR answer
// unavailable), with one account per role: viewer (read-only), oper (operator), root (admin).
type fixture struct {
	t       *testing.T
	API     string
	URL     string
	Client  *provision.Client
	Console *console.Console
	Audit   *observer.ObservedLogs
	Store   storage.DB // the HSS's store: tests mark registrations in it as a SAR would
}

// accountsFile writes a tokens file with an admin token for the console and the three accounts (hashed
// with few iterations: tests log in often).
func accountsFile(t testing.TB, dir string) (path, token string) {
	t.Helper()
	path = filepath.Join(dir, "api-tokens.yaml")
	token, err := httpauth.AddToken(path, "console", []httpauth.Scope{httpauth.ScopeAdmin})
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	b.WriteString("accounts:\n")
	for name, role := range map[string]httpauth.Role{"viewer": httpauth.RoleReadOnly, "oper": httpauth.RoleOperator, "root": httpauth.RoleAdmin} {
		h, err := httpauth.HashPasswordIterations(testPassword, 1000)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "  - {name: %s, role: %s, password: '%s'}\n", name, role, h)
	}
	appendFile(t, path, b.String())
	return path, token
}

func newFixture(t *testing.T) *fixture { t.Helper(); return newFixtureWith(t, nil) }

// newFixtureWith is newFixture with the console's options changed by opt (nil: none).
func newFixtureWith(t *testing.T, opt func(*console.Options)) *fixture {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	db, err := storage.OpenAndMigrate(ctx, "sqlite://"+filepath.Join(dir, "hss.db"), zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	path, token := accountsFile(t, dir)
	tokens, err := httpauth.LoadTokens(path)
	if err != nil {
		t.Fatal(err)
	}
	api, err := provision.NewHandler(provision.Options{Store: db, Guard: httpauth.NewGuard(tokens, nil)})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/api/v1/", api)
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ready\n") })
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "# HELP hss_registered_impus Registered.\n# TYPE hss_registered_impus gauge\nhss_registered_impus 3\n")
	})
	apiSrv := httptest.NewServer(mux)
	t.Cleanup(apiSrv.Close)
	client, err := provision.NewClient(apiSrv.URL, nil, provision.WithToken(token))
	if err != nil {
		t.Fatal(err)
	}
	core, logs := observer.New(zap.InfoLevel)
	o := console.Options{API: client, Accounts: tokens, Log: zap.New(core),
		Nodes: []console.Node{{Name: "hss", URL: apiSrv.URL}, {Name: "pcscf", URL: "http://127.0.0.1:1"}}}
	if opt != nil {
		opt(&o)
	}
	c, err := console.New(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	srv := httptest.NewServer(c)
	t.Cleanup(srv.Close)
	return &fixture{t: t, API: apiSrv.URL, URL: srv.URL, Client: client, Console: c, Audit: logs, Store: db}
}

// browser is one logged-in (or not) user agent with its cookies.
type browser struct {
	f    *fixture
	hc   *http.Client
	csrf string
}

func (f *fixture) browser() *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{f: f, hc: &http.Client{Jar: jar}}
}

// login logs in as name and keeps the CSRF token of the page it lands on.
func (f *fixture) login(name string) *browser {
	f.t.Helper()
	b := f.browser()
	status, body := b.post("/login", url.Values{"name": {name}, "password": {testPassword}})
	if status != http.StatusOK || !strings.Contains(body, "Log out") {
		f.t.Fatalf("login %s: %d\n%s", name, status, body)
	}
	return b
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func (b *browser) keep(body string) {
	if m := csrfRE.FindStringSubmatch(body); m != nil {
		b.csrf = m[1]
	}
}

func (b *browser) get(path string) (int, string) {
	b.f.t.Helper()
	resp, err := b.hc.Get(b.f.URL + path)
	return b.read(resp, err)
}

// read returns the status and body of an answer and keeps its CSRF token.
func (b *browser) read(resp *http.Response, err error) (int, string) {
	b.f.t.Helper()
	if err != nil {
		b.f.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	b.keep(string(body))
	return resp.StatusCode, string(body)
}

// post sends a form (with the session's CSRF token unless the form has one) and follows the redirect.
func (b *browser) post(path string, form url.Values) (int, string) {
	b.f.t.Helper()
	if _, ok := form["csrf"]; !ok && b.csrf != "" {
		form.Set("csrf", b.csrf)
	}
	return b.read(b.hc.PostForm(b.f.URL+path, form))
}

func appendFile(t testing.TB, path, text string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := httpauth.WriteSecretFile(path, append(b, text...)); err != nil {
		t.Fatal(err)
	}
}
