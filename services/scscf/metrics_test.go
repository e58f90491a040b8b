package scscf

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/imscore/imscore/internal/adminhttp"
	"github.com/imscore/imscore/internal/adminhttp/adminhttptest"

	dto "github.com/prometheus/client_model/go"

	"github.com/imscore/imscore/services/scscf/registrar"
	"github.com/imscore/imscore/sip/digest"
)

// The admin listener's helpers: internal/adminhttp/adminhttptest.
type metricCheck = adminhttptest.Check

var (
	sample       = adminhttptest.Sample
	checkMetrics = adminhttptest.CheckMetrics
)

func httpGet(t *testing.T, url string) (int, []byte) { return adminhttptest.Get(t, url) }

// scrape reads /metrics and parses the Prometheus text format.
func scrape(t *testing.T, s *Server) map[string]*dto.MetricFamily {
	return adminhttptest.Scrape(t, "http://"+s.HTTPAddr().String())
}

// The admin listener after a real registration and de-registration: SIP counts by method and code, the
// Cx latency histogram, the registration gauges, the Go and process collectors, pprof, health; then with
// the HSS gone, the Cx failure counter and /readyz turn.
func TestAdminHTTP(t *testing.T) {
	hss := startFakeHSS(t)
	sub := hss.addSubscriber(t, "001010000000061", "15550000061")
	tokensFile, tokens := adminhttptest.TokensFile(t)
	s := startSCSCF(t, hss, nil, func(c *Config) { c.Admin = adminhttp.Config{TokensFile: tokensFile, Pprof: true} })
	base := "http://" + s.HTTPAddr().String()
	ue := newUE(t, s, sub)
	ue.registerFully(600)

	fams := scrape(t, s)
	checkMetrics(t, fams, []metricCheck{
		{"scscf_sip_requests_total", []string{"direction", "in", "method", "REGISTER"}, 2},
		{"scscf_sip_responses_total", []string{"direction", "out", "method", "REGISTER", "code", "401"}, 1},
		{"scscf_sip_responses_total", []string{"direction", "out", "method", "REGISTER", "code", "200"}, 1},
		{"scscf_sip_transactions_in_flight", nil, 0},
		{"scscf_registrations_total", []string{"outcome", "registered"}, 1},
		{"scscf_registered_impus", nil, 1},
		{"scscf_registered_contacts", nil, 1},
		{"scscf_diameter_request_duration_seconds", []string{"command", "MAR", "result", "2001"}, 1},
		{"scscf_diameter_request_duration_seconds", []string{"command", "SAR", "result", "2001"}, 1},
	})
	adminhttptest.CheckRuntimeMetrics(t, fams)

	// A second contact, then the de-registration of both: the gauges follow.
	ue.integrity = digest.IntegrityYes
	auth := `Digest username="` + sub.impi + `",realm="` + testDomain + `",nonce="",uri="sip:` + testDomain +
		`",response="",integrity-protected="yes"`
	if res := ue.registerContact(`<sip:ue2@`+ue.addr.String()+`>;expires=600`, auth); res.StatusCode != 200 {
		t.Fatalf("second contact: %d", res.StatusCode)
	}
	fams = scrape(t, s)
	checkMetrics(t, fams, []metricCheck{
		{"scscf_registered_impus", nil, 1},
		{"scscf_registered_contacts", nil, 2},
	})
	if res := ue.registerContact("*", auth, "Expires: 0"); res.StatusCode != 200 {
		t.Fatalf("de-REGISTER: %d", res.StatusCode)
	}
	fams = scrape(t, s)
	checkMetrics(t, fams, []metricCheck{
		{"scscf_registered_impus", nil, 0},
		{"scscf_registered_contacts", nil, 0},
		{"scscf_sip_requests_total", []string{"direction", "in", "method", "REGISTER"}, 4},
		{"scscf_sip_responses_total", []string{"direction", "out", "method", "REGISTER", "code", "200"}, 3},
		{"scscf_diameter_request_duration_seconds", []string{"command", "SAR", "result", "2001"}, 3},
	})

	adminhttptest.CheckEndpoints(t, base, "ok\n", tokens)

	// The HSS goes: the next MAR has no peer to go to (counted as failed) and the node is not ready.
	ctx, cancel := context.WithTimeout(context.Background(), waitLong)
	defer cancel()
	if err := hss.node.Close(ctx); err != nil {
		t.Fatal(err)
	}
	for code, _ := httpGet(t, base+"/readyz"); code != http.StatusServiceUnavailable; code, _ = httpGet(t, base+"/readyz") {
		if ctx.Err() != nil {
			t.Fatalf("/readyz %d with the HSS gone, want 503", code)
		}
		time.Sleep(10 * time.Millisecond)
	}
	ue2 := newUE(t, s, sub)
	if res := ue2.register(600, ue2.emptyAuth()); res.StatusCode < 500 {
		t.Fatalf("REGISTER without an HSS: %d, want 5xx", res.StatusCode)
	}
	checkMetrics(t, scrape(t, s), []metricCheck{
		{"scscf_diameter_requests_failed_total", []string{"command", "MAR"}, 1},
	})
}

// After a restart on the same store, the registration gauges start from the store's count.
func TestRegistrationGaugesAfterRestart(t *testing.T) {
	tests := []struct {
		name  string
		store func(t *testing.T) registrar.Registrar
	}{
		{"memory", func(*testing.T) registrar.Registrar { return registrar.NewMemory() }},
		{"sqlite", func(t *testing.T) registrar.Registrar {
			db := openSQLite(t, filepath.Join(t.TempDir(), "scscf.db"))
			t.Cleanup(func() { db.Close() })
			return db
		}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hss := startFakeHSS(t)
			sub := hss.addSubscriber(t, fmt.Sprintf("00101000000007%d", i), fmt.Sprintf("1555000007%d", i))
			store := tt.store(t)
			s1, stop1 := runSCSCF(t, hss, store)
			newUE(t, s1, sub).registerFully(600)
			checkMetrics(t, scrape(t, s1), []metricCheck{{"scscf_registered_impus", nil, 1}})
			stop1()

			s2 := startSCSCF(t, hss, store)
			if registered(t, s2, sub.impus[1]) == nil {
				t.Fatal("registration lost in the restart")
			}
			checkMetrics(t, scrape(t, s2), []metricCheck{
				{"scscf_registered_impus", nil, 1},
				{"scscf_registered_contacts", nil, 1},
			})
		})
	}
}

// A registrar failure moves no gauge; the table's incremental counts move them.
func TestRegistrationGaugesIgnoreFailedChanges(t *testing.T) {
	m := newMetrics()
	r := registrar.NewTable(registrar.TableConfig{Store: registrar.NewMemory(), OnCount: m.registrationDelta})
	ctx := context.Background()
	if err := r.DeleteRegistration(ctx, "sip:nobody@"+testDomain); err == nil {
		t.Fatal("delete of a missing registration succeeded")
	}
	reg := &registrar.Registration{IMPU: "sip:a@" + testDomain, Contacts: []registrar.Contact{{URI: "sip:a@127.0.0.1"}},
		Identities: []registrar.Identity{{URI: "sip:a@" + testDomain}, {URI: "tel:+1555"}}}
	for range 2 { // saving twice replaces: still one registration
		if err := r.SaveRegistration(ctx, reg); err != nil {
			t.Fatal(err)
		}
	}
	// Saving under another identity of the same implicit set is another record.
	other := reg.Clone()
	other.IMPU, other.Identities = "sip:b@"+testDomain, []registrar.Identity{{URI: "sip:b@" + testDomain}}
	if err := r.SaveRegistration(ctx, other); err != nil {
		t.Fatal(err)
	}
	if err := r.DeleteRegistration(ctx, other.IMPU); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	fams, err := m.registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, f := range fams {
		if strings.HasPrefix(f.GetName(), "scscf_registered_") {
			got[f.GetName()] = f.GetMetric()[0].GetGauge().GetValue()
			fmt.Fprintf(&b, "%s=%v ", f.GetName(), got[f.GetName()])
		}
	}
	if got["scscf_registered_impus"] != 1 || got["scscf_registered_contacts"] != 1 {
		t.Errorf("gauges %s, want 1 registration with 1 contact", b.String())
	}
}
