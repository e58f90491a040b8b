package imsagw

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/imscore/imscore/internal/adminhttp"
)

// Reasons a TCP connection to a termination is refused (label of imsagw_connections_refused_total).
const (
	refusedSource       = "source"       // source filtering, TS 23.334 §6.2.4
	refusedRepeated     = "repeated"     // a second connection while one is up or being set up
	refusedUnconfigured = "unconfigured" // no Remote descriptor within config_hold
	refusedUnexpected   = "unexpected"   // the AGW is the active side of this termination
	refusedReleased     = "released"     // the bearer was released; the ALG has to subtract
	refusedTLS          = "tls"          // handshake failed or the certificate does not match a=fingerprint
)

type metrics struct {
	reg        *prometheus.Registry
	contexts   prometheus.Gauge
	terms      prometheus.Gauge
	commands   *prometheus.CounterVec
	refused    *prometheus.CounterVec
	bearers    *prometheus.CounterVec
	bytes      *prometheus.CounterVec
	notifies   *prometheus.CounterVec
	dialFailed prometheus.Counter
}

func newMetrics() *metrics {
	m := &metrics{
		reg:      prometheus.NewRegistry(),
		contexts: prometheus.NewGauge(prometheus.GaugeOpts{Name: "imsagw_contexts", Help: "H.248 contexts in place."}),
		terms:    prometheus.NewGauge(prometheus.GaugeOpts{Name: "imsagw_terminations", Help: "Terminations in place."}),
		commands: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "imsagw_iq_commands_total",
			Help: "Iq commands served, by command and result (ok or the H.248.8 error code)."}, []string{"command", "result"}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "imsagw_connections_refused_total",
			Help: "TCP connections to a termination closed without relaying, by reason."}, []string{"reason"}),
		bearers: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "imsagw_bearers_total",
			Help: "Relayed bearers established and released, by event."}, []string{"event"}),
		bytes: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "imsagw_relayed_bytes_total",
			Help: "Bytes relayed, by direction (towards_core from T1 to T2, towards_access back)."}, []string{"direction"}),
		notifies: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "imsagw_notify_total",
			Help: "Notify commands sent to the IMS-ALG, by result."}, []string{"result"}),
		dialFailed: prometheus.NewCounter(prometheus.CounterOpts{Name: "imsagw_dial_failures_total",
			Help: "Outgoing TCP (and TLS) connection establishments that failed."}),
	}
	m.reg.MustRegister(m.contexts, m.terms, m.commands, m.refused, m.bearers, m.bytes, m.notifies, m.dialFailed)
	m.reg.MustRegister(adminhttp.RuntimeCollectors()...)
	return m
}
