// Package bsftest is a BSF for tests: the discovery of Nbsf_Management (TS 29.521 §4.2.4.2, GET on the PCF for a
// PDU Session Bindings collection, §5.3.2.3.2) over HTTP/2 with prior knowledge (h2c), as the BSFs of free5GC and
// Open5GS serve it. Every query value and every PcfBinding it answers is validated against the data types of
// TS 29.521 (testdata/pcfbinding.yaml: imscore's transcription of PcfBinding over the 3GPP common types the N5
// tests carry); no BSF is packaged for this machine.
package bsftest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"path/filepath"
	"runtime"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/imscore/imscore/services/pcscf/qos/n5"
)

// Path is the PCF for a PDU Session Bindings collection (API nbsf-management, version v1, TS 29.521 §5.1).
const Path = "/nbsf-management/v1/pcfBindings"

// BSF is a running test BSF.
type BSF struct {
	Root string // the API root the AF is configured with
	// LikeOpen5GS makes the answers carry what Open5GS's BSF sends (src/bsf/nbsf-handler.c): dnn, snssai,
	// pcfFqdn and pcfIpEndPoints, without the UE's address. Set before the first query.
	LikeOpen5GS bool

	srv    *httptest.Server
	schema *openapi3.T

	mu       sync.Mutex
	bindings map[netip.Addr]n5.PcfBinding
	queries  []url.Values
	errs     []error
	http2    bool
}

// Start runs a BSF until the test ends.
func Start(t testing.TB) *BSF {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	l := openapi3.NewLoader()
	l.IsExternalRefsAllowed = true
	schema, err := l.LoadFromFile(filepath.Join(filepath.Dir(file), "testdata", "pcfbinding.yaml"))
	if err != nil {
		t.Fatalf("bsftest: schema: %v", err)
	}
	b := &BSF{schema: schema, bindings: map[netip.Addr]n5.PcfBinding{}, http2: true}
	b.srv = httptest.NewUnstartedServer(http.HandlerFunc(b.serve))
	var protos http.Protocols
	protos.SetUnencryptedHTTP2(true)
	b.srv.Config.Protocols = &protos
	b.srv.Start()
	t.Cleanup(b.srv.Close)
	b.Root = b.srv.URL
	return b
}

// Validate checks a JSON body against a schema of testdata/pcfbinding.yaml (PcfBinding, PcfBindingOpen5GS,
// ProblemDetails).
func (b *BSF) Validate(name string, body []byte) error {
	ref := b.schema.Components.Schemas[name]
	if ref == nil || ref.Value == nil {
		return fmt.Errorf("bsftest: no schema %s", name)
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

// Bind registers the binding of the PDU session whose UE address is ue (what the PCF does with
// Nbsf_Management_Register, §4.2.2.2). A binding that breaks the schema fails the test.
func (b *BSF) Bind(t testing.TB, ue netip.Addr, binding n5.PcfBinding) {
	t.Helper()
	raw, err := json.Marshal(binding)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Validate("PcfBinding", raw); err != nil {
		t.Fatalf("bsftest: Bind: %v\n%s", err, raw)
	}
	b.mu.Lock()
	b.bindings[ue.Unmap()] = binding
	b.mu.Unlock()
}

// Queries returns the discovery queries received, in order.
func (b *BSF) Queries() []url.Values {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]url.Values(nil), b.queries...)
}

// Check fails t with every validation error seen, and if a request did not come over HTTP/2.
func (b *BSF) Check(t testing.TB) {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, err := range b.errs {
		t.Error(err)
	}
	if !b.http2 {
		t.Error("bsftest: a request did not use HTTP/2")
	}
}

func (b *BSF) fail(err error) {
	b.mu.Lock()
	b.errs = append(b.errs, err)
	b.mu.Unlock()
}

func (b *BSF) serve(w http.ResponseWriter, r *http.Request) {
	b.mu.Lock()
	if r.ProtoMajor != 2 {
		b.http2 = false
	}
	b.queries = append(b.queries, r.URL.Query())
	b.mu.Unlock()
	if r.URL.Path != Path {
		b.problem(w, http.StatusNotFound, "RESOURCE_URI_STRUCTURE_NOT_FOUND", r.URL.Path)
		return
	}
	if r.Method != http.MethodGet {
		b.problem(w, http.StatusMethodNotAllowed, "", r.Method)
		return
	}
	ue, err := b.queryUE(r.URL.Query())
	if err != nil {
		b.fail(fmt.Errorf("bsftest: discovery %s: %w", r.URL.RawQuery, err))
		b.problem(w, http.StatusBadRequest, "MANDATORY_QUERY_PARAM_INCORRECT", err.Error())
		return
	}
	b.mu.Lock()
	binding, ok := b.bindings[ue]
	b.mu.Unlock()
	if !ok {
		// §5.3.2.3.2: no binding matches the query.
		w.WriteHeader(http.StatusNoContent)
		return
	}
	schema := "PcfBinding"
	if b.LikeOpen5GS {
		binding = n5.PcfBinding{Dnn: binding.Dnn, Snssai: binding.Snssai, PcfFqdn: binding.PcfFqdn, PcfIPEndPoints: binding.PcfIPEndPoints}
		schema = "PcfBindingOpen5GS"
	}
	out, _ := json.Marshal(binding)
	if err := b.Validate(schema, out); err != nil {
		b.fail(fmt.Errorf("bsftest: answer: %w", err))
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(out)
}

// queryUE reads the UE of a discovery query: ipv4Addr or ipv6Prefix (a /128 here), each valid by its TS 29.571
// type (Ipv4Addr, Ipv6Prefix), and not both.
func (b *BSF) queryUE(q url.Values) (netip.Addr, error) {
	v4, v6 := q.Get("ipv4Addr"), q.Get("ipv6Prefix")
	switch {
	case v4 != "" && v6 != "":
		return netip.Addr{}, fmt.Errorf("both ipv4Addr and ipv6Prefix")
	case v4 != "":
		if err := b.validateValue("ipv4Addr", v4); err != nil {
			return netip.Addr{}, err
		}
		return netip.ParseAddr(v4)
	case v6 != "":
		if err := b.validateValue("ipv6Prefix", v6); err != nil {
			return netip.Addr{}, err
		}
		p, err := netip.ParsePrefix(v6)
		if err != nil {
			return netip.Addr{}, err
		}
		return p.Addr(), nil
	}
	return netip.Addr{}, fmt.Errorf("no UE address (ipv4Addr, ipv6Prefix)")
}

// validateValue checks a query value against the schema of PcfBinding's attribute of the same name.
func (b *BSF) validateValue(attr, v string) error {
	prop := b.schema.Components.Schemas["PcfBinding"].Value.Properties[attr]
	if prop == nil || prop.Value == nil {
		return fmt.Errorf("no schema for %s", attr)
	}
	if err := prop.Value.VisitJSON(v); err != nil {
		return fmt.Errorf("%s %q: %w", attr, v, err)
	}
	return nil
}

func (b *BSF) problem(w http.ResponseWriter, status int, cause, detail string) {
	out, _ := json.Marshal(n5.ProblemDetails{Status: status, Cause: cause, Detail: detail})
	if err := b.Validate("ProblemDetails", out); err != nil {
		b.fail(fmt.Errorf("bsftest: ProblemDetails: %w", err))
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	_, _ = w.Write(out)
}
