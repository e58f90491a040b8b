// Package pcftest is a PCF for tests: the Npcf_PolicyAuthorization service (TS 29.514) over HTTP/2,
// with or without TLS, that validates every body it receives and sends against the published
// OpenAPI (kin-openapi, services/pcscf/qos/n5/testdata/openapi), answers as a PCF does (201 with
// Location, 204, ProblemDetails on refusal) and calls the AF back (/notify, /terminate).
package pcftest

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/imscore/imscore/services/pcscf/qos/n5"
)

const apiPrefix = "/npcf-policyauthorization/v1/app-sessions"

var (
	specOnce sync.Once
	spec     *openapi3.T
	specErr  error
)

// Spec loads the TS 29.514 OpenAPI with its references, once per test binary (a few seconds).
func Spec(t testing.TB) *openapi3.T {
	t.Helper()
	specOnce.Do(func() {
		_, file, _, _ := runtime.Caller(0)
		path := filepath.Join(filepath.Dir(file), "..", "..", "services", "pcscf", "qos", "n5", "testdata", "openapi",
			"TS29514_Npcf_PolicyAuthorization.yaml")
		l := openapi3.NewLoader()
		l.IsExternalRefsAllowed = true
		spec, specErr = l.LoadFromFile(path)
	})
	if specErr != nil {
		t.Fatalf("pcftest: OpenAPI: %v", specErr)
	}
	return spec
}

// Validate checks body (JSON) against the schema name of TS 29.514's components; "ProblemDetails"
// is TS 29.571's, as the 403 of POST /app-sessions references it.
func Validate(t testing.TB, name string, body []byte) error {
	t.Helper()
	ref := Spec(t).Components.Schemas[name]
	if name == "ProblemDetails" {
		if op := Spec(t).Paths.Value("/app-sessions"); op != nil && op.Post != nil {
			if r := op.Post.Responses.Status(http.StatusForbidden); r != nil && r.Value != nil {
				if mt := r.Value.Content.Get("application/problem+json"); mt != nil {
					ref = mt.Schema
				}
			}
		}
	}
	if ref == nil || ref.Value == nil {
		t.Fatalf("pcftest: no schema %s", name)
	}
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		return fmt.Errorf("%s: not JSON: %w", name, err)
	}
	if err := ref.Value.VisitJSON(v, openapi3.MultiErrors()); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}

// Session is an application session the PCF holds.
type Session struct {
	ID      string
	Context n5.AppSessionContext // as created, then patched (media components replaced)
	Patches int
}

// PCF is a running test PCF.
type PCF struct {
	Root string // the API root the AF is configured with
	srv  *httptest.Server
	t    testing.TB

	mu       sync.Mutex
	sessions map[string]*Session
	seq      int
	refuse   string // ProblemDetails cause of the next creations; "" accepts
	errs     []error
	http2    bool // every request came over HTTP/2
	deleted  []string
}

// Start runs a PCF; with tls it serves HTTP/2 over TLS, else HTTP/2 with prior knowledge (h2c).
func Start(t testing.TB, withTLS bool) *PCF {
	t.Helper()
	Spec(t)
	p := &PCF{t: t, sessions: map[string]*Session{}, http2: true}
	p.srv = httptest.NewUnstartedServer(http.HandlerFunc(p.serve))
	if withTLS {
		p.srv.EnableHTTP2 = true
		p.srv.StartTLS()
	} else {
		var protos http.Protocols
		protos.SetUnencryptedHTTP2(true)
		p.srv.Config.Protocols = &protos
		p.srv.Start()
	}
	t.Cleanup(p.srv.Close)
	p.Root = p.srv.URL
	return p
}

// TLSConfig trusts the PCF's certificate (TLS only).
func (p *PCF) TLSConfig() *tls.Config {
	pool := x509.NewCertPool()
	pool.AddCert(p.srv.Certificate())
	return &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
}

// Refuse makes the following creations fail with 403 and ProblemDetails cause (TS 29.514 §5.7.3,
// e.g. REQUESTED_SERVICE_NOT_AUTHORIZED); "" accepts again.
func (p *PCF) Refuse(cause string) {
	p.mu.Lock()
	p.refuse = cause
	p.mu.Unlock()
}

// Check fails t with every validation error seen, and if a request did not come over HTTP/2.
func (p *PCF) Check(t testing.TB) {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, err := range p.errs {
		t.Error(err)
	}
	if !p.http2 {
		t.Error("pcftest: a request did not use HTTP/2")
	}
}

// Sessions returns a copy of the sessions held.
func (p *PCF) Sessions() map[string]Session {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := map[string]Session{}
	for k, v := range p.sessions {
		out[k] = *v
	}
	return out
}

// Deleted returns the ids of the sessions the AF deleted.
func (p *PCF) Deleted() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.deleted...)
}

func (p *PCF) fail(err error) {
	p.mu.Lock()
	p.errs = append(p.errs, err)
	p.mu.Unlock()
}

func (p *PCF) serve(w http.ResponseWriter, r *http.Request) {
	if r.ProtoMajor != 2 {
		p.mu.Lock()
		p.http2 = false
		p.mu.Unlock()
	}
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	rest := strings.TrimPrefix(r.URL.Path, apiPrefix)
	switch {
	case r.Method == http.MethodPost && rest == "":
		p.create(w, r, body)
	case r.Method == http.MethodPatch && strings.Count(rest, "/") == 1:
		p.patch(w, r, strings.TrimPrefix(rest, "/"), body)
	case r.Method == http.MethodPost && strings.HasSuffix(rest, "/delete"):
		p.delete(w, strings.TrimSuffix(strings.TrimPrefix(rest, "/"), "/delete"))
	default:
		p.problem(w, http.StatusNotFound, "RESOURCE_URI_STRUCTURE_NOT_FOUND", r.Method+" "+r.URL.Path)
	}
}

func (p *PCF) create(w http.ResponseWriter, r *http.Request, body []byte) {
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		p.fail(fmt.Errorf("pcftest: create with Content-Type %q", ct))
	}
	if err := Validate(p.t, "AppSessionContext", body); err != nil {
		p.fail(fmt.Errorf("pcftest: create: %w\n%s", err, body))
		p.problem(w, http.StatusBadRequest, "INVALID_MSG_FORMAT", err.Error())
		return
	}
	var asc n5.AppSessionContext
	_ = json.Unmarshal(body, &asc)
	if asc.AscReqData == nil {
		p.problem(w, http.StatusBadRequest, "MANDATORY_IE_MISSING", "ascReqData")
		return
	}
	p.mu.Lock()
	refuse := p.refuse
	p.seq++
	id := strconv.Itoa(p.seq)
	if refuse == "" {
		p.sessions[id] = &Session{ID: id, Context: asc}
	}
	p.mu.Unlock()
	if refuse != "" {
		p.problem(w, http.StatusForbidden, refuse, "refused by test policy")
		return
	}
	resp := n5.AppSessionContext{AscReqData: asc.AscReqData, AscRespData: &n5.AppSessionContextRespData{SuppFeat: "0"}}
	out, _ := json.Marshal(resp)
	if err := Validate(p.t, "AppSessionContext", out); err != nil {
		p.fail(fmt.Errorf("pcftest: own response: %w", err))
	}
	w.Header().Set("Location", p.Root+apiPrefix+"/"+id)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	_, _ = w.Write(out)
}

func (p *PCF) patch(w http.ResponseWriter, r *http.Request, id string, body []byte) {
	if ct := r.Header.Get("Content-Type"); ct != "application/merge-patch+json" {
		p.fail(fmt.Errorf("pcftest: PATCH with Content-Type %q, want application/merge-patch+json (TS 29.514 §5.3.3.3.2)", ct))
	}
	if err := Validate(p.t, "AppSessionContextUpdateDataPatch", body); err != nil {
		p.fail(fmt.Errorf("pcftest: patch: %w\n%s", err, body))
		p.problem(w, http.StatusBadRequest, "INVALID_MSG_FORMAT", err.Error())
		return
	}
	var patch n5.AppSessionContextUpdateDataPatch
	_ = json.Unmarshal(body, &patch)
	p.mu.Lock()
	s, ok := p.sessions[id]
	if ok {
		s.Patches++
		if patch.AscReqData != nil && patch.AscReqData.MedComponents != nil && s.Context.AscReqData != nil {
			// Copy on write: Sessions hands out copies that share AscReqData, read without the lock.
			d := *s.Context.AscReqData
			d.MedComponents = patch.AscReqData.MedComponents
			s.Context.AscReqData = &d
		}
	}
	p.mu.Unlock()
	if !ok {
		p.problem(w, http.StatusNotFound, "APPLICATION_SESSION_CONTEXT_NOT_FOUND", id)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (p *PCF) delete(w http.ResponseWriter, id string) {
	p.mu.Lock()
	_, ok := p.sessions[id]
	delete(p.sessions, id)
	if ok {
		p.deleted = append(p.deleted, id)
	}
	p.mu.Unlock()
	if !ok {
		p.problem(w, http.StatusNotFound, "APPLICATION_SESSION_CONTEXT_NOT_FOUND", id)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (p *PCF) problem(w http.ResponseWriter, status int, cause, detail string) {
	out, _ := json.Marshal(n5.ProblemDetails{Status: status, Cause: cause, Detail: detail})
	if err := Validate(p.t, "ProblemDetails", out); err != nil {
		p.fail(err)
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	_, _ = w.Write(out)
}

// Terminate sends POST {notifUri}/terminate for session id (TS 29.514 §4.2.5.3) with client c
// (HTTP/2 as the AF's callback server speaks it) and returns the status.
func (p *PCF) Terminate(ctx context.Context, c *http.Client, id, cause string) (int, error) {
	p.mu.Lock()
	s, ok := p.sessions[id]
	var notifURI string
	if ok {
		notifURI = s.Context.AscReqData.NotifURI // under the lock: patch replaces AscReqData
	}
	p.mu.Unlock()
	if !ok {
		return 0, fmt.Errorf("pcftest: no session %s", id)
	}
	body, _ := json.Marshal(n5.TerminationInfo{TermCause: cause, ResURI: p.Root + apiPrefix + "/" + id})
	if err := Validate(p.t, "TerminationInfo", body); err != nil {
		return 0, err
	}
	return p.post(ctx, c, notifURI+"/terminate", body)
}

// Notify sends POST {evSubsc.notifUri}/notify for session id reporting event on components comps.
func (p *PCF) Notify(ctx context.Context, c *http.Client, id, event string, comps ...int) (int, error) {
	p.mu.Lock()
	s, ok := p.sessions[id]
	var evURI string
	if ok && s.Context.AscReqData.EvSubsc != nil {
		evURI = s.Context.AscReqData.EvSubsc.NotifURI // under the lock: patch replaces AscReqData
	}
	p.mu.Unlock()
	if evURI == "" {
		return 0, fmt.Errorf("pcftest: no session %s with an events subscription", id)
	}
	ev := n5.AfEventNotification{Event: event}
	for _, n := range comps {
		ev.Flows = append(ev.Flows, n5.Flows{MedCompN: n})
	}
	body, _ := json.Marshal(n5.EventsNotification{EvSubsURI: p.Root + apiPrefix + "/" + id + "/events-subscription",
		EvNotifs: []n5.AfEventNotification{ev}})
	if err := Validate(p.t, "EventsNotification", body); err != nil {
		return 0, err
	}
	return p.post(ctx, c, evURI+"/notify", body)
}

func (p *PCF) post(ctx context.Context, c *http.Client, uri string, body []byte) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, uri, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	_, _ = io.Copy(io.Discard, res.Body)
	return res.StatusCode, nil
}
