package icscf

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/imscore/imscore/diameter/cx"
	"github.com/imscore/imscore/diameter/peer"
	"github.com/imscore/imscore/internal/adminhttp"
	"github.com/imscore/imscore/sip/proxy"
	"github.com/imscore/imscore/sip/trust/boundary"
)

// diameterLatencyBuckets are the bounds of the Cx round-trip histogram: a local HSS answers in well under
// a millisecond, a loaded or remote one in tens of milliseconds; the request timeout ends the scale.
var diameterLatencyBuckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5}

// metrics are the I-CSCF's Prometheus series, on a registry of its own (no global registry), with the Go
// and process collectors. A nil *metrics counts nothing, so the router runs without it in tests.
// docs/metrics.md lists every series.
type metrics struct {
	reg          *prometheus.Registry
	registers    *prometheus.CounterVec
	cxAnswers    *prometheus.CounterVec
	failovers    prometheus.Counter
	sipRequests  *prometheus.CounterVec
	sipResponses *prometheus.CounterVec
	sipInFlight  prometheus.Gauge
	sipLimited   *prometheus.CounterVec
	diamEvents   *prometheus.CounterVec
	cxDuration   *prometheus.HistogramVec
	cxFailed     *prometheus.CounterVec
	// edge counts the work of the trust domain boundary (sip/trust/boundary).
	edge *boundary.Metrics
}

func newMetrics() *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		registers: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "icscf_register_total",
			Help: "REGISTER requests by outcome (forwarded, forbidden, hss_unavailable, no_scscf, no_answer)."},
			[]string{"outcome"}),
		cxAnswers: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "icscf_cx_answers_total",
			Help: "Cx answers (or failed queries) by command and result."}, []string{"command", "result"}),
		failovers: prometheus.NewCounter(prometheus.CounterOpts{Name: "icscf_scscf_failover_total",
			Help: "REGISTER attempts an S-CSCF did not answer (TS 24.229 §5.3.1.3)."}),
		sipRequests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "icscf_sip_requests_total",
			Help: "SIP requests by direction and method."}, []string{"direction", "method"}),
		sipResponses: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "icscf_sip_responses_total",
			Help: "SIP responses by direction, method and status code."}, []string{"direction", "method", "code"}),
		sipInFlight: prometheus.NewGauge(prometheus.GaugeOpts{Name: "icscf_sip_transactions_in_flight",
			Help: "Server transactions without a final response."}),
		sipLimited: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "icscf_sip_limited_total",
			Help: "Transport and overload limits that acted (connections refused, shed or closed, datagrams dropped, accept errors retried, requests shed with 503), by reason; docs/security.md."}, []string{"reason"}),
		diamEvents: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "icscf_diameter_events_total",
			Help: "Diameter peer layer events by kind."}, []string{"kind"}),
		cxDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "icscf_diameter_request_duration_seconds",
			Help:    "Round trip of the Cx requests the I-CSCF sends (UAR, LIR), by command and result code.",
			Buckets: diameterLatencyBuckets}, []string{"command", "result"}),
		cxFailed: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "icscf_diameter_requests_failed_total",
			Help: "Cx requests that got no answer (no open peer, timeout, connection lost), by command."},
			[]string{"command"}),
	}
	m.reg.MustRegister(m.registers, m.cxAnswers, m.failovers, m.sipRequests, m.sipResponses, m.sipInFlight, m.sipLimited,
		m.diamEvents, m.cxDuration, m.cxFailed)
	m.edge = boundary.NewMetrics("icscf")
	m.reg.MustRegister(m.edge.Collectors()...)
	m.reg.MustRegister(adminhttp.RuntimeCollectors()...)
	return m
}

func (m *metrics) register(outcome string) {
	if m != nil {
		m.registers.WithLabelValues(outcome).Inc()
	}
}

func (m *metrics) cx(command, result string) {
	if m != nil {
		m.cxAnswers.WithLabelValues(command, result).Inc()
	}
}

func (m *metrics) failover() {
	if m != nil {
		m.failovers.Inc()
	}
}

// sipMetrics adapts metrics to proxy.Metrics.
type sipMetrics struct{ m *metrics }

func (s sipMetrics) Request(dir proxy.Direction, method string) {
	s.m.sipRequests.WithLabelValues(dir.String(), method).Inc()
}

func (s sipMetrics) Response(dir proxy.Direction, method string, code int) {
	s.m.sipResponses.WithLabelValues(dir.String(), method, strconv.Itoa(code)).Inc()
}

func (s sipMetrics) InFlight(delta int) { s.m.sipInFlight.Add(float64(delta)) }

// Limited implements proxy.Metrics.
func (s sipMetrics) Limited(reason proxy.LimitReason) {
	s.m.sipLimited.WithLabelValues(string(reason)).Inc()
}

// observe adapts metrics to peer.Observer: every event is counted by kind; answers feed the latency
// histogram and requests without an answer the failure counter.
func (m *metrics) observe(e peer.Event) {
	m.diamEvents.WithLabelValues(e.Kind.String()).Inc()
	switch e.Kind {
	case peer.EventAnswerReceived:
		m.cxDuration.WithLabelValues(cx.Command(e.Command).Request(), strconv.FormatUint(uint64(e.Result), 10)).
			Observe(e.Latency.Seconds())
	case peer.EventRequestFailed:
		m.cxFailed.WithLabelValues(cx.Command(e.Command).Request()).Inc()
	}
}

var _ proxy.Metrics = sipMetrics{}
