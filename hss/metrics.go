package hss

import (
	"fmt"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/imscore/imscore/diameter"
	"github.com/imscore/imscore/diameter/cx"
	"github.com/imscore/imscore/diameter/peer"
)

// metricsNamespace prefixes every metric: hss_…, as the other nodes use pcscf_, icscf_ and scscf_
// (docs/metrics.md).
const metricsNamespace = "hss"

// Metrics are the HSS's Prometheus metrics. They are registered on the registry given to NewMetrics (never
// the global default registry), so that two HSS nodes can live in one process. A nil *Metrics records
// nothing. Metrics also implements peer.Observer for the Diameter layer's events.
type Metrics struct {
	requests       *prometheus.CounterVec   // command
	answers        *prometheus.CounterVec   // command, result, vendor
	duration       *prometheus.HistogramVec // command
	sent           *prometheus.CounterVec   // command
	answered       *prometheus.CounterVec   // command, result, vendor
	requestFailed  *prometheus.CounterVec   // command
	outDuration    *prometheus.HistogramVec // command
	vectors        *prometheus.CounterVec   // scheme
	resyncs        *prometheus.CounterVec   // outcome
	procedures     *prometheus.CounterVec   // command, outcome
	inFlight       *prometheus.GaugeVec     // command
	peersUp        prometheus.Gauge
	peerTransition *prometheus.CounterVec // event
	peersRefused   prometheus.Counter
}

// NewMetrics creates the HSS metrics and registers them on reg.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	latency := []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5}
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: metricsNamespace,
			Name: "cx_requests_received_total", Help: "Cx requests received, by command (UAR, SAR, LIR, MAR)."},
			[]string{"command"}),
		answers: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: metricsNamespace,
			Name: "cx_answers_sent_total",
			Help: "Cx answers sent, by command and result code; vendor 10415 marks a 3GPP Experimental-Result-Code."},
			[]string{"command", "result", "vendor"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: metricsNamespace,
			Name: "cx_request_duration_seconds", Help: "Time to serve a Cx request, by command.", Buckets: latency},
			[]string{"command"}),
		sent: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: metricsNamespace,
			Name: "cx_requests_sent_total", Help: "Network-initiated Cx requests sent (RTR, PPR)."},
			[]string{"command"}),
		answered: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: metricsNamespace,
			Name: "cx_answers_received_total", Help: "Answers to network-initiated Cx requests, by result code."},
			[]string{"command", "result", "vendor"}),
		requestFailed: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: metricsNamespace,
			Name: "cx_requests_failed_total", Help: "Network-initiated Cx requests that got no answer (no peer, timeout)."},
			[]string{"command"}),
		outDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: metricsNamespace,
			Name: "cx_request_round_trip_seconds", Help: "Round trip of network-initiated Cx requests.", Buckets: latency},
			[]string{"command"}),
		vectors: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: metricsNamespace,
			Name: "auth_vectors_issued_total", Help: "Authentication vectors issued in MAAs, by SIP-Authentication-Scheme."},
			[]string{"scheme"}),
		resyncs: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: metricsNamespace,
			Name: "aka_resyncs_total", Help: "AKA re-synchronisations (MAR with RAND||AUTS), by outcome: accepted or rejected."},
			[]string{"outcome"}),
		procedures: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: metricsNamespace,
			Name: "cx_procedures_total",
			Help: "Network-initiated procedures (operations: RTR, PPR) finished, by command and outcome: succeeded, refused, timeout, unreachable, cancelled, error; rejected when too many were pending."},
			[]string{"command", "outcome"}),
		inFlight: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: metricsNamespace,
			Name: "cx_procedures_in_flight", Help: "Network-initiated procedures (operations: RTR, PPR) pending, by command."},
			[]string{"command"}),
		peersUp: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: metricsNamespace,
			Name: "diameter_peers_up", Help: "Diameter peers with an open connection."}),
		peerTransition: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: metricsNamespace,
			Name: "diameter_peer_transitions_total", Help: "Diameter peers coming up and going down."},
			[]string{"event"}),
		peersRefused: prometheus.NewCounter(prometheus.CounterOpts{Namespace: metricsNamespace,
			Name: "diameter_peers_refused_total",
			Help: "Incoming Diameter connections refused: CER from an unknown peer (3010) or failed TLS handshake."}),
	}
	for _, c := range []prometheus.Collector{m.requests, m.answers, m.duration, m.sent, m.answered, m.requestFailed,
		m.outDuration, m.vectors, m.resyncs, m.procedures, m.inFlight, m.peersUp, m.peerTransition, m.peersRefused} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("hss metrics: %w", err)
		}
	}
	return m, nil
}

func (m *Metrics) observeServed(cmd cx.Command, code diameter.ResultCode, vendor uint32, d time.Duration) {
	if m == nil {
		return
	}
	label := cmd.Request()
	m.requests.WithLabelValues(label).Inc()
	m.answers.WithLabelValues(label, strconv.FormatUint(uint64(code), 10), strconv.FormatUint(uint64(vendor), 10)).Inc()
	m.duration.WithLabelValues(label).Observe(d.Seconds())
}

func (m *Metrics) observeSent(cmd cx.Command) {
	if m != nil {
		m.sent.WithLabelValues(cmd.Request()).Inc()
	}
}

func (m *Metrics) observeAnswered(cmd cx.Command, code diameter.ResultCode, vendor uint32, d time.Duration) {
	if m == nil {
		return
	}
	label := cmd.Request()
	m.answered.WithLabelValues(label, strconv.FormatUint(uint64(code), 10), strconv.FormatUint(uint64(vendor), 10)).Inc()
	m.outDuration.WithLabelValues(label).Observe(d.Seconds())
}

func (m *Metrics) observeVectors(scheme string, n int) {
	if m != nil && n > 0 {
		m.vectors.WithLabelValues(scheme).Add(float64(n))
	}
}

func (m *Metrics) observeResync(accepted bool) {
	if m == nil {
		return
	}
	outcome := "rejected"
	if accepted {
		outcome = "accepted"
	}
	m.resyncs.WithLabelValues(outcome).Inc()
}

func (m *Metrics) observeProcedureStarted(cmd cx.Command) {
	if m != nil {
		m.inFlight.WithLabelValues(cmd.Request()).Inc()
	}
}

func (m *Metrics) observeProcedureFinished(cmd cx.Command, outcome string) {
	if m == nil {
		return
	}
	m.inFlight.WithLabelValues(cmd.Request()).Dec()
	m.procedures.WithLabelValues(cmd.Request(), outcome).Inc()
}

func (m *Metrics) observeProcedureRejected(cmd cx.Command) {
	if m != nil {
		m.procedures.WithLabelValues(cmd.Request(), OutcomeRejected).Inc()
	}
}

// Observe implements peer.Observer: peers up and down, peers refused, requests the peer layer answered itself
// (malformed, too busy, not permitted for the peer's roles: counted with the answers the Server sends), and network-initiated requests that got no answer.
func (m *Metrics) Observe(e peer.Event) {
	if m == nil {
		return
	}
	switch e.Kind {
	case peer.EventPeerUp:
		m.peersUp.Inc()
		m.peerTransition.WithLabelValues("up").Inc()
	case peer.EventPeerDown:
		m.peersUp.Dec()
		m.peerTransition.WithLabelValues("down").Inc()
	case peer.EventPeerRefused:
		m.peersRefused.Inc()
	case peer.EventProtocolError, peer.EventRequestRefused:
		label := cx.Command(e.Command).Request()
		m.requests.WithLabelValues(label).Inc()
		m.answers.WithLabelValues(label, strconv.FormatUint(uint64(e.Result), 10), "0").Inc()
	case peer.EventRequestFailed:
		m.requestFailed.WithLabelValues(cx.Command(e.Command).Request()).Inc()
	}
}

var _ peer.Observer = (*Metrics)(nil)
