// Package console is imscore's web console: server-rendered pages (html/template, embedded with go:embed, a
// little vanilla JavaScript for the import progress bar and the live refresh) over the HSS provisioning API
// (hss/provision), for subscribers, identities, service profiles and iFCs, S-CSCFs, charging addresses, bulk
// import, live registration state with network-initiated de-registration and profile push, and the health of
// the four nodes from their /readyz and /metrics.
//
// It runs as its own small binary (cmd/imsconsole) beside the HSS, not inside it: it reaches the HSS only
// through the API, so every change it makes passes the API's own validation, and a console bug cannot touch
// the Cx server. People log in with accounts of the tokens file (internal/httpauth: read-only, operator,
// admin, the API's read, provision and admin scopes); each page and action requires the scope of the API
// route it calls, checked here before the call, and the console's own token must hold the scopes it uses.
// docs/console.md.
package console

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"runtime/debug"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/imscore/imscore/hss"
	"github.com/imscore/imscore/hss/provision"
	"github.com/imscore/imscore/internal/httpauth"
	"github.com/imscore/imscore/internal/logging"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// API is what the console needs from the provisioning API; *provision.Client implements it.
type API interface {
	ListSubscribers(ctx context.Context, q provision.ListQuery) (*provision.SubscriberList, error)
	GetSubscriber(ctx context.Context, impi string) (*provision.Subscriber, error)
	CreateSubscriber(ctx context.Context, req provision.SubscriberRequest) (*provision.Subscriber, error)
	PatchSubscriber(ctx context.Context, impi string, p provision.SubscriberPatch) (*provision.Subscriber, error)
	DeleteSubscriber(ctx context.Context, impi string) (*provision.DeleteResult, error)
	SetKeys(ctx context.Context, impi string, k provision.KeysRequest) (*provision.Subscriber, error)
	AddIMPU(ctx context.Context, impi string, u provision.IMPURequest) (*provision.Subscriber, error)
	DeleteIMPU(ctx context.Context, impi, impu string) (*provision.Subscriber, error)
	LinkIMPU(ctx context.Context, impi, impu string) (*provision.Subscriber, error)
	StartDeregister(ctx context.Context, impi string, req provision.DeregisterRequest) (*provision.Operation, error)
	StartPushProfile(ctx context.Context, impi string) (*provision.Operation, error)
	GetOperation(ctx context.Context, id string) (*provision.Operation, error)
	ListOperations(ctx context.Context, q provision.OperationQuery) (*provision.OperationList, error)
	Import(ctx context.Context, r io.Reader, batch int) (*provision.ImportResult, error)
	ListProfiles(ctx context.Context) ([]provision.Profile, error)
	GetProfile(ctx context.Context, id string) (*provision.Profile, error)
	CreateProfile(ctx context.Context, p provision.Profile) (*provision.Profile, error)
	UpdateProfile(ctx context.Context, p provision.Profile) (*provision.Profile, error)
	DeleteProfile(ctx context.Context, id string) error
	ListSCSCFs(ctx context.Context) ([]provision.SCSCF, error)
	PutSCSCF(ctx context.Context, s provision.SCSCF) (*provision.SCSCF, error)
	DeleteSCSCF(ctx context.Context, name string) error
	SetDefaultCharging(ctx context.Context, ci hss.ChargingInfo) error
}

// Accounts checks a login; *httpauth.FileTokens and *httpauth.Tokens implement it.
type Accounts interface {
	Login(name, password string) (httpauth.Principal, bool)
}

// Node is one node whose health the console shows: its admin HTTP base URL (/readyz, /metrics).
type Node struct {
	Name string // hss, pcscf, icscf, scscf
	URL  string // http://127.0.0.1:9101
}

// Options configure New.
type Options struct {
	// API is the provisioning API client, holding the console's own token; required.
	API API
	// Accounts are the login accounts; required.
	Accounts Accounts
	// Nodes are the nodes of the health page, in order.
	Nodes []Node
	// NodeToken is the bearer token (read scope) the per-subscriber page shows the S-CSCF's contacts and the
	// P-CSCF's bindings with: the admin routes of the nodes named scscf… and pcscf…; "": not asked.
	NodeToken string
	// HTTPClient fetches the nodes' /readyz and /metrics; nil: a client with a 3 s timeout.
	HTTPClient *http.Client
	// Secure marks the session cookie Secure (serve the console over TLS beyond loopback).
	Secure bool
	// SessionTTL ends an idle session; 0: httpauth.DefaultSessionTTL.
	SessionTTL time.Duration
	// Log gets a Debug line per request, an Error line per failure, and the audit lines ("audit" logger: one
	// Info line per login, logout and change, with the account, the action, the subscriber and the outcome).
	Log *zap.Logger
}

// Console is the web console's http.Handler.
type Console struct {
	api      API
	accounts Accounts
	nodes    []Node
	nodeTok  string // Options.NodeToken
	hc       *http.Client
	sessions *httpauth.Sessions
	limiter  *httpauth.LoginLimiter
	imports  *imports
	log      *zap.Logger
	audit    *zap.Logger
	pages    map[string]*template.Template
	mux      *http.ServeMux
}

// New returns the console. Close it to stop the imports in progress.
func New(o Options) (*Console, error) {
	if o.API == nil || o.Accounts == nil {
		return nil, errors.New("console: Options.API and Options.Accounts are required")
	}
	if o.Log == nil {
		o.Log = zap.NewNop()
	}
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{Timeout: 3 * time.Second}
	}
	pages, err := parsePages()
	if err != nil {
		return nil, err
	}
	c := &Console{api: o.API, accounts: o.Accounts, nodes: o.Nodes, nodeTok: o.NodeToken, hc: o.HTTPClient,
		sessions: httpauth.NewSessions(o.SessionTTL, o.Secure), limiter: httpauth.NewLoginLimiter(0, 0),
		log: o.Log.Named("console"), audit: o.Log.Named("audit"), pages: pages, mux: http.NewServeMux()}
	c.imports = newImports(o.API, c.log)
	c.routes()
	return c, nil
}

// Close stops the imports in progress and waits for them.
func (c *Console) Close() { c.imports.close() }

const (
	read  = httpauth.ScopeRead
	prov  = httpauth.ScopeProvision
	admin = httpauth.ScopeAdmin
)

// routes declares every page and action with the scope it requires: the scope of the API route it calls
// (hss/provision routes), so a role can do in the console exactly what its scope can do through the API.
func (c *Console) routes() {
	static, _ := fs.Sub(staticFS, "static")
	c.mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(static)))
	c.mux.HandleFunc("GET /login", c.loginPage)
	c.mux.HandleFunc("POST /login", c.login)
	c.mux.HandleFunc("POST /logout", c.logout)

	c.page(read, "GET /{$}", c.home)
	c.page(read, "GET /subscribers", c.subscribers)
	c.page(prov, "GET /subscribers/new", c.newSubscriber)
	c.action(prov, "POST /subscribers", c.createSubscriber, c.newSubscriber)
	c.page(read, "GET /subscribers/{impi}", c.subscriber)
	c.action(prov, "POST /subscribers/{impi}/edit", c.editSubscriber, c.subscriber)
	c.action(prov, "POST /subscribers/{impi}/keys", c.setKeys, c.subscriber)
	c.action(prov, "POST /subscribers/{impi}/impus", c.addIMPU, c.subscriber)
	c.action(prov, "POST /subscribers/{impi}/impus/delete", c.deleteIMPU, c.subscriber)
	c.action(prov, "POST /subscribers/{impi}/links", c.linkIMPU, c.subscriber)
	c.action(prov, "POST /subscribers/{impi}/delete", c.deleteSubscriber, c.subscriber)
	c.action(prov, "POST /subscribers/{impi}/deregister", c.deregister, c.subscriber)
	c.action(prov, "POST /subscribers/{impi}/push-profile", c.pushProfile, c.subscriber)
	c.page(prov, "GET /import", c.importPage)
	c.action(prov, "POST /import", c.startImport, c.importPage)
	c.page(prov, "GET /import/{id}", c.importStatus)

	c.page(read, "GET /registrations", c.registrations)
	c.page(read, "GET /operations", c.operations)
	c.page(read, "GET /operations/{id}", c.operation)
	c.page(read, "GET /health", c.health)

	c.page(read, "GET /profiles", c.profiles)
	c.action(admin, "POST /profiles", c.createProfile, c.profiles)
	c.page(read, "GET /profiles/{id}", c.profile)
	c.action(admin, "POST /profiles/{id}/ifcs", c.addIFC, c.profile)
	c.action(admin, "POST /profiles/{id}/ifcs/delete", c.deleteIFC, c.profile)
	c.action(admin, "POST /profiles/{id}/delete", c.deleteProfile, c.profile)

	c.page(read, "GET /network", c.network)
	c.action(admin, "POST /network/scscfs", c.putSCSCF, c.network)
	c.action(admin, "POST /network/scscfs/delete", c.deleteSCSCF, c.network)
	c.action(admin, "POST /network/charging", c.putCharging, c.network)
}

// view is what every page template gets.
type view struct {
	Title   string
	Account string
	Role    string
	CSRF    string
	CanProv bool // operator or admin: the change forms are shown
	CanAdm  bool
	Notice  string
	Error   string
	Field   string // the form field an Error is about
	Path    string
	Data    any
}

// pageFunc renders a page: it returns the template's name and data, or an error shown on the page.
type pageFunc func(r *http.Request, v *view) (string, error)

// actionFunc performs a change and returns where to go next (a 303), or an error; on error the action
// renders again the page named by the returned template with the error (form values are kept by the browser
// when it goes back, so actions redisplay the page they came from).
type actionFunc func(r *http.Request, v *view) (redirect string, err error)

// page registers a GET page behind a session with scope.
func (c *Console) page(scope httpauth.Scope, pattern string, fn pageFunc) {
	c.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		_, v, ok := c.authorise(w, r, scope, pattern)
		if !ok {
			return
		}
		v.Notice = noticeText(r.URL.Query().Get("notice"))
		name, err := c.run(func() (string, error) { return fn(r, v) })
		if err != nil {
			c.fail(w, r, v, err)
			if name == "" {
				return
			}
		}
		if name == "json" { // a page's data for its script (the import's progress)
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(v.Data)
			return
		}
		c.render(w, r, name, v, statusOf(err))
	})
}

// action registers a POST behind a session with scope and the session's CSRF token, and writes its audit
// line. On success it redirects (303) where fn says; on failure it renders back, the page the form is on,
// with the error (the API's message, naming the field).
func (c *Console) action(scope httpauth.Scope, pattern string, fn actionFunc, back pageFunc) {
	c.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		limit := int64(maxForm)
		if pattern == "POST /import" {
			limit = maxImportBody
		}
		r.Body = http.MaxBytesReader(w, r.Body, limit)
		sess, v, ok := c.authorise(w, r, scope, pattern)
		if !ok {
			return
		}
		if !httpauth.CheckCSRF(r, sess) {
			c.auditLine(r, pattern, sess.Principal, http.StatusForbidden, "csrf")
			v.Title = "Form refused"
			v.Error = "The form has expired or did not come from this console (CSRF token). Reload the page and try again."
			c.render(w, r, "error", v, http.StatusForbidden)
			return
		}
		var target string
		_, err := c.run(func() (string, error) {
			var err error
			target, err = fn(r, v)
			return "", err
		})
		if err == nil {
			c.auditLine(r, pattern, sess.Principal, http.StatusSeeOther, "")
			http.Redirect(w, r, target, http.StatusSeeOther)
			return
		}
		status := statusOf(err)
		c.auditLine(r, pattern, sess.Principal, status, codeOf(err))
		c.fail(w, r, v, err)
		msg, field := v.Error, v.Field
		name, berr := c.run(func() (string, error) { return back(r, v) })
		v.Error, v.Field = msg, field
		if berr != nil || name == "" {
			name = "error"
		}
		c.render(w, r, name, v, status)
	})
}

// maxForm bounds a form body; an import file may be larger (importBody).
const maxForm = 1 << 20

// authorise finds the session of r and checks scope: without a session a GET goes to the login page and
// anything else gets 401; with too weak a role the answer is a 403 page (and an audit line).
func (c *Console) authorise(w http.ResponseWriter, r *http.Request, scope httpauth.Scope, pattern string) (*httpauth.Session, *view, bool) {
	setHeaders(w)
	sess, err := c.sessions.Get(r)
	if err != nil {
		if r.Method == http.MethodGet {
			http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
		} else {
			v := &view{Title: "Log in", Error: "Your session has ended: log in again."}
			c.render(w, r, "login", v, http.StatusUnauthorized)
		}
		return nil, nil, false
	}
	p := sess.Principal
	v := &view{Account: p.Name, Role: roleName(p), CSRF: sess.CSRF, CanProv: p.Has(httpauth.ScopeProvision),
		CanAdm: p.Has(httpauth.ScopeAdmin), Path: r.URL.Path}
	if !p.Has(scope) {
		c.auditLine(r, pattern, p, http.StatusForbidden, "insufficient_scope")
		v.Title = "Not allowed"
		v.Error = fmt.Sprintf("Your role (%s) may not do this: it needs the %s scope.", v.Role, scope)
		c.render(w, r, "error", v, http.StatusForbidden)
		return nil, nil, false
	}
	return sess, v, true
}

func roleName(p httpauth.Principal) string {
	switch {
	case p.Has(httpauth.ScopeAdmin):
		return string(httpauth.RoleAdmin)
	case p.Has(httpauth.ScopeProvision):
		return string(httpauth.RoleOperator)
	}
	return string(httpauth.RoleReadOnly)
}

// setHeaders sets the headers of every console answer: no caching of pages that show subscriber data, no
// framing (clickjacking), a content security policy that allows only the console's own scripts and styles.
func setHeaders(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "+
		"frame-ancestors 'none'; form-action 'self'; base-uri 'none'")
}

// run calls fn, turning a panic into an error: a bug in a page must not take the console down.
func (c *Console) run(fn func() (string, error)) (name string, err error) {
	defer func() {
		if p := recover(); p != nil {
			if p == http.ErrAbortHandler {
				panic(p)
			}
			err = fmt.Errorf("panic: %v\n%s", p, debug.Stack())
		}
	}()
	return fn()
}

// fail puts err on the page: the API's message for an API error (it names the field), else a generic text
// and an Error log line.
func (c *Console) fail(w http.ResponseWriter, r *http.Request, v *view, err error) {
	var ae *provision.Error
	var fe *formError
	switch {
	case errors.As(err, &fe):
		v.Error, v.Field = fe.msg, fe.field
	case errors.As(err, &ae):
		v.Error, v.Field = ae.Error(), ae.Field
	default:
		v.Error = "The console could not complete this; the details are in its log."
		c.log.Error("request failed", zap.String("method", r.Method), zap.String("path", r.URL.Path),
			logging.IMPI(r.PathValue("impi")), zap.Error(err))
	}
}

// formError is a form value the console refuses before calling the API.
type formError struct{ field, msg string }

func (e *formError) Error() string { return e.field + ": " + e.msg }

func badField(field, format string, a ...any) error {
	return &formError{field: field, msg: field + ": " + fmt.Sprintf(format, a...)}
}

func statusOf(err error) int {
	var ae *provision.Error
	var fe *formError
	switch {
	case err == nil:
		return http.StatusOK
	case errors.As(err, &fe):
		return http.StatusBadRequest
	case errors.As(err, &ae) && ae.Status >= 400:
		return ae.Status
	}
	return http.StatusBadGateway
}

func codeOf(err error) string {
	var ae *provision.Error
	var fe *formError
	switch {
	case err == nil:
		return ""
	case errors.As(err, &fe):
		return "invalid_field"
	case errors.As(err, &ae):
		return string(ae.Code)
	}
	return "error"
}

// auditLine records a change, a refusal or a login at Info on the audit logger: who (the account), what,
// which subscriber, the outcome. Never a form value, so never a key or a password.
func (c *Console) auditLine(r *http.Request, action string, who httpauth.Principal, status int, code string) {
	fields := []zap.Field{zap.String("account", who.Name), zap.String("role", roleName(who)), zap.String("action", action),
		zap.Int("status", status), zap.String("remote", r.RemoteAddr), zap.String("via", "console")}
	if v := r.PathValue("impi"); v != "" {
		fields = append(fields, logging.IMPI(v))
	}
	if v := r.PathValue("id"); v != "" {
		fields = append(fields, zap.String("object", v))
	}
	if code != "" {
		fields = append(fields, zap.String("code", code))
	}
	c.audit.Info("audit", fields...)
}

// render writes page name with v.
func (c *Console) render(w http.ResponseWriter, r *http.Request, name string, v *view, status int) {
	t, ok := c.pages[name]
	if !ok {
		c.log.Error("no such template", zap.String("template", name))
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	var b strings.Builder
	if err := t.ExecuteTemplate(&b, "layout", v); err != nil {
		c.log.Error("template", zap.String("template", name), zap.String("path", r.URL.Path), zap.Error(err))
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	setHeaders(w)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, b.String())
}

// ServeHTTP serves the console.
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	c.mux.ServeHTTP(w, r)
	if ce := c.log.Check(zap.DebugLevel, "request"); ce != nil {
		ce.Write(zap.String("method", r.Method), zap.String("path", r.URL.Path), zap.Duration("duration", time.Since(start)))
	}
}

// loginPage shows the login form.
func (c *Console) loginPage(w http.ResponseWriter, r *http.Request) {
	setHeaders(w)
	if _, err := c.sessions.Get(r); err == nil {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	c.render(w, r, "login", &view{Title: "Log in", Data: loginData{Next: safeNext(r.URL.Query().Get("next"))}}, http.StatusOK)
}

type loginData struct {
	Name, Next string
}

// safeNext keeps a post-login target on this site: a path, never another origin ("//host", "/\host").
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") {
		return "/"
	}
	return next
}

// login checks an account, limited per remote address and per account name (httpauth.LoginLimiter), and
// starts a session. A login form carries no CSRF token (there is no session yet); the cross-origin check of
// net/http refuses a login posted from another site (login CSRF).
func (c *Console) login(w http.ResponseWriter, r *http.Request) {
	setHeaders(w)
	r.Body = http.MaxBytesReader(w, r.Body, 8<<10)
	if err := http.NewCrossOriginProtection().Check(r); err != nil {
		c.render(w, r, "login", &view{Title: "Log in", Error: "Cross-origin login refused."}, http.StatusForbidden)
		return
	}
	name, password := r.PostFormValue("name"), r.PostFormValue("password")
	next := safeNext(r.PostFormValue("next"))
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	keys := []string{"addr:" + host, "account:" + name}
	v := &view{Title: "Log in", Data: loginData{Name: name, Next: next}}
	if !c.limiter.Allow(keys...) {
		c.audit.Info("audit", zap.String("account", name), zap.String("action", "login"), zap.Int("status", http.StatusTooManyRequests),
			zap.String("remote", r.RemoteAddr), zap.String("via", "console"), zap.String("code", "rate_limited"))
		v.Error = "Too many failed logins: wait a minute and try again."
		w.Header().Set("Retry-After", "60")
		c.render(w, r, "login", v, http.StatusTooManyRequests)
		return
	}
	p, ok := c.accounts.Login(name, password)
	if !ok {
		c.limiter.Fail(keys...)
		c.audit.Info("audit", zap.String("account", name), zap.String("action", "login"), zap.Int("status", http.StatusUnauthorized),
			zap.String("remote", r.RemoteAddr), zap.String("via", "console"), zap.String("code", "bad_credentials"))
		v.Error = "Unknown account or wrong password."
		c.render(w, r, "login", v, http.StatusUnauthorized)
		return
	}
	if _, err := c.sessions.Start(w, p); err != nil {
		c.log.Error("session", zap.Error(err))
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	c.auditLine(r, "login", p, http.StatusSeeOther, "")
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// logout ends the session (CSRF-checked: a forged logout is a nuisance, not a risk, but it costs nothing).
func (c *Console) logout(w http.ResponseWriter, r *http.Request) {
	setHeaders(w)
	if sess, err := c.sessions.Get(r); err == nil {
		if !httpauth.CheckCSRF(r, sess) {
			http.Error(w, "CSRF token missing or wrong", http.StatusForbidden)
			return
		}
		c.auditLine(r, "logout", sess.Principal, http.StatusSeeOther, "")
	}
	c.sessions.End(w, r)
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

// notices are the messages a redirect may ask a page to show (?notice=…): a fixed list, so a link cannot
// put text of its own on a console page.
var notices = map[string]string{
	"created":      "Subscriber created.",
	"saved":        "Saved.",
	"keys":         "Keys replaced. They are write-only: the console never shows them.",
	"impu-added":   "Public identity added.",
	"impu-deleted": "Public identity deleted.",
	"linked":       "Public identity linked.",
	"deleted":      "Deleted.",
	"rtr":          "De-registration (RTR) started: its outcome is below.",
	"ppr":          "Profile push (PPR) started: its outcome is below.",
	"profile":      "Service profile saved.",
	"ifc":          "Initial filter criteria saved.",
	"scscf":        "S-CSCF saved.",
	"charging":     "Default charging addresses saved.",
}

func noticeText(key string) string { return notices[key] }
