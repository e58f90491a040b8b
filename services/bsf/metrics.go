package bsf

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/imscore/imscore/internal/adminhttp"
)

// metrics are the BSF's counters, on its own registry (no package-level state).
type metrics struct {
	registry *prometheus.Registry
	ub       *prometheus.CounterVec // Ub requests by outcome
	zn       *prometheus.CounterVec // Zn BIRs by result code
	zh       *prometheus.CounterVec // Zh MARs by result code
}

func newMetrics(s *sessions) *metrics {
	m := &metrics{registry: prometheus.NewRegistry(),
		ub: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "imscore_bsf_ub_requests_total",
			Help: "Ub requests by outcome: challenged, resync, bootstrapped, refused, stale, error."}, []string{"outcome"}),
		zn: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "imscore_bsf_zn_requests_total",
			Help: "Zn Bootstrapping-Info-Requests answered, by result code."}, []string{"result"}),
		zh: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "imscore_bsf_zh_requests_total",
			Help: "Zh Multimedia-Auth-Requests sent, by result code (0: no answer)."}, []string{"result"}),
	}
	m.registry.MustRegister(m.ub, m.zn, m.zh,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "imscore_bsf_sessions", Help: "Bootstrapping sessions held."},
			func() float64 { n, _ := s.counts(); return float64(n) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "imscore_bsf_challenges", Help: "AKA challenges waiting for an answer."},
			func() float64 { _, n := s.counts(); return float64(n) }))
	m.registry.MustRegister(adminhttp.RuntimeCollectors()...)
	return m
}
