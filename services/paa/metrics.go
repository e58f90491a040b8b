package paa

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/imscore/imscore/internal/adminhttp"
)

// metrics are the PAA's Prometheus series on a registry of its own (docs/fastreg.md lists them).
type metrics struct {
	reg             *prometheus.Registry
	messages        *prometheus.CounterVec
	auth            *prometheus.CounterVec
	ended           *prometheus.CounterVec
	push            *prometheus.CounterVec
	sessions        prometheus.Gauge
	retransmissions prometheus.Counter
	invalid         prometheus.Counter
	dropped         prometheus.Counter
	refused         prometheus.Counter
	authFailed      prometheus.Counter
}

func newMetrics() *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		messages: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "paa_pana_messages_total",
			Help: "PANA messages by direction (in, out) and name (PCI, PAR, PAN, PTR, PTA, PNR, PNA)."}, []string{"direction", "message"}),
		auth: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "paa_authentications_total",
			Help: "EAP authentications by result (success, rejected)."}, []string{"result"}),
		ended: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "paa_sessions_ended_total",
			Help: "PANA sessions ended by reason (terminated, lifetime, unanswered, auth_timeout)."}, []string{"reason"}),
		push: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "paa_token_operations_total",
			Help: "Token pushes and drops to the core by result (ok, error)."}, []string{"operation", "result"}),
		sessions: prometheus.NewGauge(prometheus.GaugeOpts{Name: "paa_sessions",
			Help: "PANA sessions (authenticating or open)."}),
		retransmissions: prometheus.NewCounter(prometheus.CounterOpts{Name: "paa_pana_retransmissions_total",
			Help: "PANA requests retransmitted (RFC 5191 §9)."}),
		invalid: prometheus.NewCounter(prometheus.CounterOpts{Name: "paa_pana_invalid_total",
			Help: "Datagrams discarded as invalid PANA."}),
		dropped: prometheus.NewCounter(prometheus.CounterOpts{Name: "paa_pana_queue_dropped_total",
			Help: "PANA messages dropped because their session's queue was full."}),
		refused: prometheus.NewCounter(prometheus.CounterOpts{Name: "paa_pana_refused_total",
			Help: "PCIs ignored at max_sessions."}),
		authFailed: prometheus.NewCounter(prometheus.CounterOpts{Name: "paa_pana_auth_failed_total",
			Help: "PANA messages discarded because their AUTH AVP did not verify (RFC 5191 §5.3)."}),
	}
	m.reg.MustRegister(m.messages, m.auth, m.ended, m.push, m.sessions, m.retransmissions, m.invalid, m.dropped,
		m.refused, m.authFailed)
	m.reg.MustRegister(adminhttp.RuntimeCollectors()...)
	return m
}
