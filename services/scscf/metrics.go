package scscf

import (
	"context"
	"net/http"
	"strconv"

	"github.com/imscore/imscore/internal/adminhttp"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/imscore/imscore/diameter/cx"
	"github.com/imscore/imscore/diameter/peer"
	"github.com/imscore/imscore/sip/proxy"
	"github.com/imscore/imscore/sip/trust/boundary"
)

// diameterLatencyBuckets are the bounds of the Cx round-trip histogram: a local HSS answers in well under
// a millisecond, a loaded or remote one in tens of milliseconds; the request timeout ends the scale.
var diameterLatencyBuckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5}

// metrics is the S-CSCF's Prometheus registry (its own, never the global one), with the Go and process
// collectors so that memory per registration can be read from the same scrape. docs/metrics.md lists
// every series.
type metrics struct {
	registry      *prometheus.Registry
	sipRequests   *prometheus.CounterVec
	sipResponses  *prometheus.CounterVec
	inflight      prometheus.Gauge
	sipLimited    *prometheus.CounterVec
	registrations *prometheus.CounterVec
	registered    prometheus.Gauge // registrations (IMPU records) in the registrar
	contacts      prometheus.Gauge // contacts bound in those registrations
	diameter      *prometheus.CounterVec
	cxDuration    *prometheus.HistogramVec
	cxFailed      *prometheus.CounterVec
	// hssUnavailable counts SIP requests answered 503 at once because the HSS could not be used.
	hssUnavailable *prometheus.CounterVec
	// storeErrors counts registrar journal writes that failed (retried at the next flush) or conflicted.
	storeErrors *prometheus.CounterVec
	// edge counts the work of the trust domain boundary (sip/trust/boundary).
	edge *boundary.Metrics
}

func newMetrics() *metrics {
	m := &metrics{
		registry: prometheus.NewRegistry(),
		sipRequests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "scscf_sip_requests_total",
			Help: "SIP requests by direction (in, out) and method, retransmissions included."},
			[]string{"direction", "method"}),
		sipResponses: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "scscf_sip_responses_total",
			Help: "SIP responses by direction (in, out), the CSeq method they answer and status code."},
			[]string{"direction", "method", "code"}),
		inflight: prometheus.NewGauge(prometheus.GaugeOpts{Name: "scscf_sip_transactions_in_flight",
			Help: "Server transactions without a final response."}),
		sipLimited: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "scscf_sip_limited_total",
			Help: "Transport and overload limits that acted (connections refused, shed or closed, datagrams dropped, accept errors retried, requests shed with 503), by reason; docs/security.md."}, []string{"reason"}),
		registrations: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "scscf_registrations_total",
			Help: "Registrar outcomes (registered, reregistered, deregistered, expired, network_deregistered, challenged, resync, auth_failed, auth_timeout, restored)."},
			[]string{"outcome"}),
		registered: prometheus.NewGauge(prometheus.GaugeOpts{Name: "scscf_registered_impus",
			Help: "Registrations in the registrar: registered public identities, one per implicit set registered."}),
		contacts: prometheus.NewGauge(prometheus.GaugeOpts{Name: "scscf_registered_contacts",
			Help: "Contacts bound in the registrations of the registrar."}),
		diameter: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "scscf_diameter_events_total",
			Help: "Diameter peer layer events by kind."}, []string{"kind"}),
		cxDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "scscf_diameter_request_duration_seconds",
			Help:    "Round trip of the Cx requests the S-CSCF sends (MAR, SAR), by command and result code.",
			Buckets: diameterLatencyBuckets}, []string{"command", "result"}),
		cxFailed: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "scscf_diameter_requests_failed_total",
			Help: "Cx requests that got no answer (no open peer, timeout, connection lost), by command."},
			[]string{"command"}),
		hssUnavailable: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "scscf_hss_unavailable_total",
			Help: "SIP requests answered 503 with Retry-After because the HSS was unavailable (no open or responsive peer, connection lost, too busy), by the Cx command that could not be sent (MAR, SAR)."},
			[]string{"command"}),
		storeErrors: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "scscf_store_write_errors_total",
			Help: "Registrar changes the store refused when written behind, by operation: retried at the next flush, or (a version conflict with another S-CSCF of the pool) the local copy dropped."},
			[]string{"op"}),
	}
	m.registry.MustRegister(m.sipRequests, m.sipResponses, m.inflight, m.sipLimited, m.registrations, m.registered, m.contacts,
		m.diameter, m.cxDuration, m.cxFailed, m.hssUnavailable, m.storeErrors)
	m.edge = boundary.NewMetrics("scscf")
	m.registry.MustRegister(m.edge.Collectors()...)
	m.registry.MustRegister(adminhttp.RuntimeCollectors()...)
	return m
}

// Request implements proxy.Metrics.
func (m *metrics) Request(dir proxy.Direction, method string) {
	m.sipRequests.WithLabelValues(dir.String(), method).Inc()
}

// Response implements proxy.Metrics.
func (m *metrics) Response(dir proxy.Direction, method string, code int) {
	m.sipResponses.WithLabelValues(dir.String(), method, strconv.Itoa(code)).Inc()
}

// InFlight implements proxy.Metrics.
func (m *metrics) InFlight(delta int) { m.inflight.Add(float64(delta)) }

// Limited implements proxy.Metrics.
func (m *metrics) Limited(reason proxy.LimitReason) {
	m.sipLimited.WithLabelValues(string(reason)).Inc()
}

// Observe implements peer.Observer: every event is counted by kind; answers feed the latency histogram
// and requests without an answer the failure counter.
func (m *metrics) Observe(e peer.Event) {
	m.diameter.WithLabelValues(e.Kind.String()).Inc()
	switch e.Kind {
	case peer.EventAnswerReceived:
		m.cxDuration.WithLabelValues(cx.Command(e.Command).Request(), strconv.FormatUint(uint64(e.Result), 10)).
			Observe(e.Latency.Seconds())
	case peer.EventRequestFailed:
		m.cxFailed.WithLabelValues(cx.Command(e.Command).Request()).Inc()
	}
}

// registrationDelta moves the registration gauges by what one store change did.
func (m *metrics) registrationDelta(registrations, contacts int) {
	m.registered.Add(float64(registrations))
	m.contacts.Add(float64(contacts))
}

// initRegistrationGauges sets the registration gauges from the table's counts (after Load); afterwards the
// table moves them on every change (TableConfig.OnCount).
func (s *Server) initRegistrationGauges(ctx context.Context) {
	regs, contacts, _ := s.table.CountRegistrations(ctx)
	s.metrics.registered.Set(float64(regs))
	s.metrics.contacts.Set(float64(contacts))
}

// httpHandler is the admin HTTP listener's mux: /metrics (our own registry), /healthz (alive), /readyz
// (an HSS connection is open) and, when enabled, the runtime profiles under /debug/pprof/ (admin.Mount).
func (s *Server) httpHandler() http.Handler {
	mux := http.NewServeMux()
	s.admin.Mount(mux, s.metrics.registry)
	s.mountRegistrations(mux)
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		for _, p := range s.node.Peers() {
			if p.State == peer.StateOpen {
				_, _ = w.Write([]byte("ok\n"))
				return
			}
		}
		http.Error(w, "no open Diameter peer", http.StatusServiceUnavailable)
	})
	return mux
}

// Interface guards.
var (
	_ proxy.Metrics = (*metrics)(nil)
	_ peer.Observer = (*metrics)(nil)
)
