package provision

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/imscore/imscore/diameter/cx"
	"github.com/imscore/imscore/hss"
	"github.com/imscore/imscore/internal/httpauth"
	"github.com/imscore/imscore/internal/logging"
)

// NetworkInitiated is what the API needs from the Cx server for network-initiated procedures. They run in
// the background (an S-CSCF may never answer): the Start methods return the pending operation at once.
type NetworkInitiated interface {
	// StartDeregister starts a Registration-Termination-Request (TS 29.228 §6.1.3) for impi to the S-CSCF
	// serving it; impus empty means every IMPU of the IMPI.
	StartDeregister(impi string, impus []string, reason cx.ReasonCode, info string) (hss.Operation, error)
	// StartPushProfile starts a Push-Profile-Request (TS 29.228 §6.2.2) with the current user profile of impi.
	StartPushProfile(impi string) (hss.Operation, error)
	// Operations are the operations started, read back by GET /api/v1/operations[/{id}] and waited for.
	Operations() *hss.Operations
}

// Options configure NewHandler.
type Options struct {
	// Store is the subscriber store; required.
	Store hss.Store
	// Network performs RTR and PPR. It may be nil: the deregister and push-profile routes then answer 503,
	// and changes that would push a profile report it as skipped.
	Network NetworkInitiated
	// Log receives a Debug line per request and an Error line per internal failure; nil logs nothing.
	Log *zap.Logger
	// Domain is the home domain of the conventional identities; default hss.DefaultDomain
	// (ims.mnc001.mcc001.3gppnetwork.org).
	Domain string
	// Guard authorises every request (bearer token and scope, cross-origin check; internal/httpauth);
	// required. A Guard without tokens refuses every request with 401.
	Guard *httpauth.Guard
}

// handler serves the provisioning API. Routes are declared in routes, in one place.
type handler struct {
	store   hss.Store
	network NetworkInitiated
	log     *zap.Logger
	audit   *zap.Logger // one Info line per change: who, what, which subscriber
	domain  string
	guard   *httpauth.Guard
	mux     *http.ServeMux
}

// NewHandler returns the provisioning API, serving every route under /api/v1/ (mount it with
// mux.Handle("/api/v1/", h)). The routes are listed in docs/provisioning.md.
func NewHandler(o Options) (http.Handler, error) {
	if o.Store == nil {
		return nil, errors.New("provision: Options.Store is nil")
	}
	if o.Domain == "" {
		o.Domain = hss.DefaultDomain
	}
	if err := validText("domain", o.Domain); err != nil {
		return nil, fmt.Errorf("provision: %w", err)
	}
	if strings.ContainsAny(o.Domain, "@:/") {
		return nil, fmt.Errorf("provision: domain %q: want a host name", o.Domain)
	}
	if o.Guard == nil {
		return nil, errors.New("provision: Options.Guard is nil: the API is never served without authentication")
	}
	if o.Log == nil {
		o.Log = zap.NewNop()
	}
	h := &handler{store: o.Store, network: o.Network, log: o.Log.Named("provision"), audit: o.Log.Named("audit"),
		domain: o.Domain, guard: o.Guard, mux: http.NewServeMux()}
	h.routes()
	return h, nil
}

// routes declares every route of the API with the scope it requires (internal/httpauth): reads need read;
// changes to one subscriber, and the network-initiated procedures for one subscriber, provision; changes to
// what many subscribers share (profiles, iFC sets, S-CSCFs, charging defaults) admin.
func (h *handler) routes() {
	const (
		read      = httpauth.ScopeRead
		provision = httpauth.ScopeProvision
		admin     = httpauth.ScopeAdmin
	)
	h.route(provision, "POST /api/v1/subscribers", h.createSubscriber)
	h.route(read, "GET /api/v1/subscribers", h.listSubscribers)
	h.route(provision, "POST /api/v1/subscribers:import", h.importSubscribers)
	h.route(read, "GET /api/v1/subscribers/{impi}", h.getSubscriber)
	h.route(provision, "PATCH /api/v1/subscribers/{impi}", h.patchSubscriber)
	h.route(provision, "DELETE /api/v1/subscribers/{impi}", h.deleteSubscriber)
	h.route(provision, "PUT /api/v1/subscribers/{impi}/keys", h.putKeys)
	h.route(provision, "POST /api/v1/subscribers/{impi}/impus", h.addIMPU)
	h.route(provision, "PUT /api/v1/subscribers/{impi}/impus/{impu}", h.updateIMPU)
	h.route(provision, "DELETE /api/v1/subscribers/{impi}/impus/{impu}", h.deleteIMPU)
	h.route(provision, "POST /api/v1/subscribers/{impi}/links", h.linkIMPU)
	h.route(provision, "DELETE /api/v1/subscribers/{impi}/links/{impu}", h.unlinkIMPU)
	h.route(read, "GET /api/v1/subscribers/{impi}/registration", h.getRegistration)
	h.route(provision, "POST /api/v1/subscribers/{impi}/deregister", h.deregister)
	h.route(provision, "POST /api/v1/subscribers/{impi}/push-profile", h.pushProfile)
	h.route(read, "GET /api/v1/subscribers/{impi}/fastreg", h.getFastReg)
	h.route(provision, "PUT /api/v1/subscribers/{impi}/fastreg", h.putFastReg)
	h.route(read, "GET /api/v1/operations", h.listOperations)
	h.route(read, "GET /api/v1/operations/{id}", h.getOperation)

	h.route(read, "GET /api/v1/profiles", h.listProfiles)
	h.route(admin, "POST /api/v1/profiles", h.createProfile)
	h.route(read, "GET /api/v1/profiles/{id}", h.getProfile)
	h.route(admin, "PUT /api/v1/profiles/{id}", h.updateProfile)
	h.route(admin, "DELETE /api/v1/profiles/{id}", h.deleteProfile)

	h.route(read, "GET /api/v1/ifc-sets", h.listIFCSets)
	h.route(admin, "POST /api/v1/ifc-sets", h.createIFCSet)
	h.route(read, "GET /api/v1/ifc-sets/{id}", h.getIFCSet)
	h.route(admin, "PUT /api/v1/ifc-sets/{id}", h.updateIFCSet)
	h.route(admin, "DELETE /api/v1/ifc-sets/{id}", h.deleteIFCSet)

	h.route(read, "GET /api/v1/scscfs", h.listSCSCFs)
	h.route(read, "GET /api/v1/scscfs/{name}", h.getSCSCF)
	h.route(admin, "PUT /api/v1/scscfs/{name}", h.putSCSCF)
	h.route(admin, "DELETE /api/v1/scscfs/{name}", h.deleteSCSCF)

	h.route(admin, "PUT /api/v1/charging/default", h.putDefaultCharging)
}

// apiFunc is a route: it writes a response and returns nil, or returns an error and writes nothing;
// route turns the error into the JSON error body.
type apiFunc func(w http.ResponseWriter, r *http.Request) error

// route registers fn for pattern with the request flow of every route: authorise for scope (cross-origin
// check, bearer token, scope: httpauth.Guard), check the body's media type, recover a panic, run, answer an
// error as JSON, log one Debug line with the IMPI (and an Error line for internal failures), and write the
// audit line of every request that may change something.
func (h *handler) route(scope httpauth.Scope, pattern string, fn apiFunc) {
	media := "application/json"
	if strings.HasSuffix(pattern, ":import") {
		media = "application/x-ndjson"
	}
	h.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		who, ok := h.guard.Check(sw, r, scope)
		if !ok {
			if who.Name != "" && scope != httpauth.ScopeRead { // a known token tried a change beyond its scope
				h.auditLine(pattern, scope, who, r, &auditNote{}, sw.status, &Error{Code: CodeInsufficientScope})
			}
			h.logRequest(r, sw, start)
			return
		}
		note := &auditNote{}
		r = r.WithContext(context.WithValue(r.Context(), auditKey{}, note))
		err := checkMedia(r, media)
		if err == nil {
			err = checkWait(r)
		}
		if err == nil {
			err = h.run(fn, sw, r)
		}
		impi := r.PathValue("impi")
		if err != nil {
			e := errorOf(err)
			if !sw.wrote() {
				writeJSON(sw, e.Status, e)
			}
			if e.Code == CodeInternal {
				h.log.Error("request failed", zap.String("method", r.Method), zap.String("path", r.URL.Path),
					logging.IMPI(impi), zap.Error(err))
			}
		}
		if scope != httpauth.ScopeRead {
			h.auditLine(pattern, scope, who, r, note, sw.status, err)
		}
		h.logRequest(r, sw, start)
	})
}

// logRequest writes the Debug line of a request.
func (h *handler) logRequest(r *http.Request, sw *statusWriter, start time.Time) {
	if ce := h.log.Check(zap.DebugLevel, "request"); ce != nil {
		ce.Write(zap.String("method", r.Method), zap.String("path", r.URL.Path), logging.IMPI(r.PathValue("impi")),
			zap.Int("status", sw.status), zap.Duration("duration", time.Since(start)))
	}
}

// auditLine records a request that may change state, at Info on the "audit" logger: who (the token's name),
// what (the route), which subscriber or object, the outcome. Never a body, so never a key.
func (h *handler) auditLine(pattern string, scope httpauth.Scope, who httpauth.Principal, r *http.Request, note *auditNote,
	status int, err error) {
	fields := []zap.Field{zap.String("token", who.Name), zap.String("scope", string(scope)),
		zap.String("action", pattern), zap.Int("status", status), zap.String("remote", r.RemoteAddr)}
	if v := r.PathValue("impi"); v != "" {
		fields = append(fields, logging.IMPI(v))
	} else if note.impi != "" {
		fields = append(fields, logging.IMPI(note.impi))
	}
	if v := r.PathValue("impu"); v != "" {
		fields = append(fields, logging.IMPU(v))
	}
	for _, name := range []string{"id", "name"} {
		if v := r.PathValue(name); v != "" {
			fields = append(fields, zap.String("object", v))
		}
	}
	if err != nil {
		fields = append(fields, zap.String("code", string(errorOf(err).Code)))
	}
	if note.operation != "" {
		fields = append(fields, zap.String("operation", note.operation))
	}
	if note.imported+note.failed > 0 {
		fields = append(fields, zap.Int("imported", note.imported), zap.Int("failed", note.failed))
	}
	h.audit.Info("audit", fields...)
}

// auditKey carries an auditNote through a request, for what the route learns while it runs (the IMPI a
// create made).
type auditKey struct{}

type auditNote struct {
	impi             string // the subscriber a create made (its IMPI is not in the path)
	operation        string // the RTR or PPR a route started
	imported, failed int    // an import's counts
}

// noteAudit lets a route add to its audit line.
func noteAudit(r *http.Request, f func(*auditNote)) {
	if n, ok := r.Context().Value(auditKey{}).(*auditNote); ok {
		f(n)
	}
}

// checkMedia refuses a request body that is not of the route's media type (415): a browser sends a
// cross-origin "simple" request only as text/plain, form or multipart, never as JSON, so state cannot change
// from one (docs/provisioning.md, Security). A request without a body has nothing to check.
func checkMedia(r *http.Request, want string) error {
	if r.ContentLength == 0 || r.Method == http.MethodGet || r.Method == http.MethodHead {
		return nil
	}
	got := httpauth.MediaType(r)
	if got == want || want == "application/x-ndjson" && got == "application/json" {
		return nil
	}
	return &Error{Status: http.StatusUnsupportedMediaType, Code: CodeUnsupportedMedia,
		Message: fmt.Sprintf("Content-Type %q: want %s", r.Header.Get("Content-Type"), want)}
}

// run calls fn, turning a panic into an internal error: malformed input must never take the HSS down.
func (h *handler) run(fn apiFunc, w http.ResponseWriter, r *http.Request) (err error) {
	defer func() {
		if p := recover(); p != nil {
			if p == http.ErrAbortHandler {
				panic(p)
			}
			err = fmt.Errorf("panic: %v\n%s", p, debug.Stack())
		}
	}()
	return fn(w, r)
}

// ServeHTTP serves the API. Requests that match no route get a JSON 404 or 405 (with Allow) instead of
// ServeMux's plain text.
func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if _, pattern := h.mux.Handler(r); pattern == "" {
		w = &routeMissWriter{ResponseWriter: w}
	}
	h.mux.ServeHTTP(w, r)
}

// statusWriter records the status written, for the log line.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

func (s *statusWriter) wrote() bool { return s.status != 0 }

// Unwrap lets http.ResponseController reach the connection (deadlines, flushing).
func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// routeMissWriter replaces ServeMux's plain-text 404 and 405 by the API's JSON error.
type routeMissWriter struct {
	http.ResponseWriter
	replaced bool
}

func (m *routeMissWriter) WriteHeader(code int) {
	switch code {
	case http.StatusNotFound:
		m.replaced = true
		writeJSON(m.ResponseWriter, code, &Error{Code: CodeNotFound, Message: "no such route"})
	case http.StatusMethodNotAllowed:
		m.replaced = true
		writeJSON(m.ResponseWriter, code, &Error{Code: CodeMethodNotAllowed,
			Message: "method not allowed; allowed: " + m.Header().Get("Allow")})
	default:
		m.ResponseWriter.WriteHeader(code)
	}
}

func (m *routeMissWriter) Write(b []byte) (int, error) {
	if m.replaced {
		return len(b), nil
	}
	return m.ResponseWriter.Write(b)
}

// writeJSON sends v with status. An encoding failure can only be a bug in our types; the status is
// already on its way, so it is not reported further.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Del("X-Content-Type-Options")
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// readJSON decodes the body of r into v (at most maxJSONBody bytes). allowEmpty accepts an empty body
// and leaves v as it is.
func readJSON(w http.ResponseWriter, r *http.Request, v any, allowEmpty bool) error {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxJSONBody))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return errorOf(err)
		}
		return &Error{Status: http.StatusBadRequest, Code: CodeInvalidJSON, Message: "read body: " + err.Error(), cause: err}
	}
	if allowEmpty && len(strings.TrimSpace(string(body))) == 0 {
		return nil
	}
	return decodeStrict(body, v)
}

// Interface guards.
var (
	_ http.Handler = (*handler)(nil)
	_ error        = (*Error)(nil)
)
