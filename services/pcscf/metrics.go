package pcscf

import (
	"net/http"
	"strconv"

	"github.com/imscore/imscore/internal/adminhttp"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/imscore/imscore/sip/proxy"
)

// metrics are the P-CSCF's Prometheus series, on a registry of its own (never the global one), with the
// Go and process collectors so that memory per registration can be read from the same scrape.
// docs/metrics.md lists every series.
type metrics struct {
	reg *prometheus.Registry
	// registrations and saSets are set from the registry on every change (Node.persist), restore included,
	// so they are right after a restart.
	registrations prometheus.Gauge
	saSets        prometheus.Gauge
	saInstalled   prometheus.Counter
	saRemoved     prometheus.Counter
	rejected      *prometheus.CounterVec
	sipRequests   *prometheus.CounterVec
	sipResponses  *prometheus.CounterVec
	sipInFlight   prometheus.Gauge
	sipLimited    *prometheus.CounterVec
}

func newMetrics() *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		registrations: prometheus.NewGauge(prometheus.GaugeOpts{Name: "pcscf_registrations",
			Help: "UEs registered through this P-CSCF (registrations whose expiry has not passed)."}),
		saSets: prometheus.NewGauge(prometheus.GaugeOpts{Name: "pcscf_sa_sets",
			Help: "IMS-AKA SA sets held by registrations (four SAs each), pending ones of a challenge included."}),
		saInstalled: prometheus.NewCounter(prometheus.CounterOpts{Name: "pcscf_sa_sets_installed_total",
			Help: "SA sets installed after a 401 challenge."}),
		saRemoved: prometheus.NewCounter(prometheus.CounterOpts{Name: "pcscf_sa_sets_removed_total",
			Help: "SA sets removed (expiry, de-registration, replaced by a newer set)."}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "pcscf_requests_rejected_total",
			Help: "Requests answered with an error by the P-CSCF itself, by status code."}, []string{"code"}),
		sipRequests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "pcscf_sip_requests_total",
			Help: "SIP requests by direction (in, out) and method, retransmissions included."},
			[]string{"direction", "method"}),
		sipResponses: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "pcscf_sip_responses_total",
			Help: "SIP responses by direction (in, out), the CSeq method they answer and status code."},
			[]string{"direction", "method", "code"}),
		sipInFlight: prometheus.NewGauge(prometheus.GaugeOpts{Name: "pcscf_sip_transactions_in_flight",
			Help: "Server transactions without a final response."}),
		sipLimited: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "pcscf_sip_limited_total",
			Help: "Transport and overload limits that acted (connections refused, shed or closed, datagrams dropped, accept errors retried, requests shed with 503), by reason; docs/security.md."}, []string{"reason"}),
	}
	m.reg.MustRegister(m.registrations, m.saSets, m.saInstalled, m.saRemoved, m.rejected,
		m.sipRequests, m.sipResponses, m.sipInFlight, m.sipLimited)
	m.reg.MustRegister(adminhttp.RuntimeCollectors()...)
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
func (m *metrics) InFlight(delta int) { m.sipInFlight.Add(float64(delta)) }

// Limited implements proxy.Metrics.
func (m *metrics) Limited(reason proxy.LimitReason) {
	m.sipLimited.WithLabelValues(string(reason)).Inc()
}

// httpHandler is the admin listener's mux: /metrics (our own registry), /healthz (alive), /readyz (SIP
// served) and, when enabled, the runtime profiles under /debug/pprof/ (admin.Mount).
func (n *Node) httpHandler(admin *adminhttp.Admin) http.Handler {
	mux := http.NewServeMux()
	admin.Mount(mux, n.metrics.reg)
	n.mountBindings(mux, admin)
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		select {
		case <-n.ready:
			_, _ = w.Write([]byte("ready\n"))
		default:
			http.Error(w, "starting", http.StatusServiceUnavailable)
		}
	})
	return mux
}

var _ proxy.Metrics = (*metrics)(nil)
