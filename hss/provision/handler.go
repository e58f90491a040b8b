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
	"github.com/imscore/imscore/internal/logging"
)

// NetworkInitiated is what the API needs from the Cx server for network-initiated procedures.
type NetworkInitiated interface {
	// Deregister sends a Registration-Termination-Request (TS 29.228 §6.1.3) for impi to the S-CSCF
	// serving it; impus empty means every IMPU of the IMPI.
	Deregister(ctx context.Context, impi string, impus []string, reason cx.ReasonCode, info string) error
	// PushProfile sends a Push-Profile-Request (TS 29.228 §6.2.2) with the current user profile of impi.
	PushProfile(ctx context.Context, impi string) error
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
}

// handler serves the provisioning API. Routes are declared in routes, in one place.
type handler struct {
	store   hss.Store
	network NetworkInitiated
	log     *zap.Logger
	domain  string
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
	if o.Log == nil {
		o.Log = zap.NewNop()
	}
	h := &handler{store: o.Store, network: o.Network, log: o.Log.Named("provision"), domain: o.Domain,
		mux: http.NewServeMux()}
	h.routes()
	return h, nil
}

// routes declares every route of the API.
func (h *handler) routes() {
	h.route("POST /api/v1/subscribers", h.createSubscriber)
	h.route("GET /api/v1/subscribers", h.listSubscribers)
	h.route("POST /api/v1/subscribers:import", h.importSubscribers)
	h.route("GET /api/v1/subscribers/{impi}", h.getSubscriber)
	h.route("PATCH /api/v1/subscribers/{impi}", h.patchSubscriber)
	h.route("DELETE /api/v1/subscribers/{impi}", h.deleteSubscriber)
	h.route("PUT /api/v1/subscribers/{impi}/keys", h.putKeys)
	h.route("POST /api/v1/subscribers/{impi}/impus", h.addIMPU)
	h.route("PUT /api/v1/subscribers/{impi}/impus/{impu}", h.updateIMPU)
	h.route("DELETE /api/v1/subscribers/{impi}/impus/{impu}", h.deleteIMPU)
	h.route("POST /api/v1/subscribers/{impi}/links", h.linkIMPU)
	h.route("DELETE /api/v1/subscribers/{impi}/links/{impu}", h.unlinkIMPU)
	h.route("GET /api/v1/subscribers/{impi}/registration", h.getRegistration)
	h.route("POST /api/v1/subscribers/{impi}/deregister", h.deregister)
	h.route("POST /api/v1/subscribers/{impi}/push-profile", h.pushProfile)

	h.route("GET /api/v1/profiles", h.listProfiles)
	h.route("POST /api/v1/profiles", h.createProfile)
	h.route("GET /api/v1/profiles/{id}", h.getProfile)
	h.route("PUT /api/v1/profiles/{id}", h.updateProfile)
	h.route("DELETE /api/v1/profiles/{id}", h.deleteProfile)

	h.route("GET /api/v1/ifc-sets", h.listIFCSets)
	h.route("POST /api/v1/ifc-sets", h.createIFCSet)
	h.route("GET /api/v1/ifc-sets/{id}", h.getIFCSet)
	h.route("PUT /api/v1/ifc-sets/{id}", h.updateIFCSet)
	h.route("DELETE /api/v1/ifc-sets/{id}", h.deleteIFCSet)

	h.route("GET /api/v1/scscfs", h.listSCSCFs)
	h.route("GET /api/v1/scscfs/{name}", h.getSCSCF)
	h.route("PUT /api/v1/scscfs/{name}", h.putSCSCF)
	h.route("DELETE /api/v1/scscfs/{name}", h.deleteSCSCF)

	h.route("PUT /api/v1/charging/default", h.putDefaultCharging)
}

// apiFunc is a route: it writes a response and returns nil, or returns an error and writes nothing;
// route turns the error into the JSON error body.
type apiFunc func(w http.ResponseWriter, r *http.Request) error

// route registers fn for pattern with the request flow of every route: recover a panic, run, answer
// an error as JSON, log one Debug line with the IMPI (and an Error line for internal failures).
func (h *handler) route(pattern string, fn apiFunc) {
	h.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		err := h.run(fn, sw, r)
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
		if ce := h.log.Check(zap.DebugLevel, "request"); ce != nil {
			ce.Write(zap.String("method", r.Method), zap.String("path", r.URL.Path), logging.IMPI(impi),
				zap.Int("status", sw.status), zap.Duration("duration", time.Since(start)))
		}
	})
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
