package icscf

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/imscore/imscore/diameter/peer"
	"github.com/imscore/imscore/sip/proxy"
)

// metrics are the I-CSCF's Prometheus series, on a registry of its own (no global registry). A nil *metrics
// counts nothing, so the router runs without it in tests.
type metrics struct {
	reg          *prometheus.Registry
	registers    *prometheus.CounterVec
	cxAnswers    *prometheus.CounterVec
	failovers    prometheus.Counter
	sipRequests  *prometheus.CounterVec
	sipResponses *prometheus.CounterVec
	sipInFlight  prometheus.Gauge
	diamEvents   *prometheus.CounterVec
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
		diamEvents: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "icscf_diameter_events_total",
			Help: "Diameter peer layer events by kind."}, []string{"kind"}),
	}
	m.reg.MustRegister(m.registers, m.cxAnswers, m.failovers, m.sipRequests, m.sipResponses, m.sipInFlight,
		m.diamEvents, prometheus.NewGoCollector(), prometheus.NewProcessCollector(prometheus.ProcessCollectorOpts{}))
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

// observe adapts metrics to peer.Observer.
func (m *metrics) observe(e peer.Event) { m.diamEvents.WithLabelValues(e.Kind.String()).Inc() }

var _ proxy.Metrics = sipMetrics{}
