package pcscf

import (
	"net/http/httptest"
	"testing"
	"time"

	"github.com/imscore/imscore/internal/adminhttp"
	"github.com/imscore/imscore/internal/adminhttp/adminhttptest"

	dto "github.com/prometheus/client_model/go"
)

// The admin listener's helpers: internal/adminhttp/adminhttptest.
type metricCheck = adminhttptest.Check

var (
	sample       = adminhttptest.Sample
	checkMetrics = adminhttptest.CheckMetrics
)

func httpGet(t *testing.T, url string) (int, []byte) { return adminhttptest.Get(t, url) }

// scrape reads /metrics and parses the Prometheus text format.
func scrape(t *testing.T, base string) map[string]*dto.MetricFamily {
	return adminhttptest.Scrape(t, base)
}

// TestHTTP: the admin mux after real traffic — a REGISTER without sec-agree refused with 421, then a UE
// registering with sec-agree (REGISTER, 401, protected REGISTER, 200) and de-registering: SIP counts by
// method and code, the registration and SA set gauges, the Go and process collectors, pprof and health.
func TestHTTP(t *testing.T) {
	alice := newSubscriber(t, 1)
	core := startFakeCore(t, "127.0.0.1:0", alice)
	n := startPCSCF(t, "127.0.0.1", core.addr, newFakeSAs(), func(c *Config) { c.IPsec = IPsecRequired })
	tokensFile, tokens := adminhttptest.TokensFile(t)
	admin, err := adminhttp.New(adminhttp.Config{TokensFile: tokensFile, Pprof: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(n.httpHandler(admin))
	defer srv.Close()

	// A REGISTER without sec-agree is refused with 421 and counted.
	_ = newRawUA(t, n.CoreAddr(), "127.0.0.1:0").do(register(alice, ""))
	u := newUE(t, alice, n.CoreAddr(), "udp", true)
	ctx := ctxT(t)
	if _, err := u.Register(ctx); err != nil {
		t.Fatalf("register: %v", err)
	}
	fams := scrape(t, srv.URL)
	checkMetrics(t, fams, []metricCheck{
		{"pcscf_requests_rejected_total", []string{"code", "421"}, 1},
		{"pcscf_sip_requests_total", []string{"direction", "in", "method", "REGISTER"}, 3},
		{"pcscf_sip_requests_total", []string{"direction", "out", "method", "REGISTER"}, 2},
		{"pcscf_sip_responses_total", []string{"direction", "out", "method", "REGISTER", "code", "421"}, 1},
		{"pcscf_sip_responses_total", []string{"direction", "in", "method", "REGISTER", "code", "401"}, 1},
		{"pcscf_sip_responses_total", []string{"direction", "out", "method", "REGISTER", "code", "401"}, 1},
		{"pcscf_sip_responses_total", []string{"direction", "in", "method", "REGISTER", "code", "200"}, 1},
		{"pcscf_sip_responses_total", []string{"direction", "out", "method", "REGISTER", "code", "200"}, 1},
		{"pcscf_registrations", nil, 1},
		{"pcscf_sa_sets", nil, 1},
		{"pcscf_sa_sets_installed_total", nil, 1},
	})
	adminhttptest.CheckRuntimeMetrics(t, fams)

	// De-registration: the gauges drop at once, the SA set is removed once the 200 has left (DeregDelay).
	if err := u.Deregister(ctx); err != nil {
		t.Fatalf("deregister: %v", err)
	}
	for {
		fams = scrape(t, srv.URL)
		if v, _ := sample(fams, "pcscf_sa_sets_removed_total"); v >= 1 || ctx.Err() != nil {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	checkMetrics(t, fams, []metricCheck{
		{"pcscf_registrations", nil, 0},
		{"pcscf_sa_sets", nil, 0},
		{"pcscf_sa_sets_removed_total", nil, 1},
		{"pcscf_sip_transactions_in_flight", nil, 0},
	})

	adminhttptest.CheckEndpoints(t, srv.URL, "ready\n", tokens)
}
