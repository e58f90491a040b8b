package scscf

// The HSS stops answering: the S-CSCF answers REGISTER with 503 and Retry-After at once instead of each
// REGISTER waiting its MAR timeout, registers again as soon as the HSS answers, and never acts on a Cx
// answer to a request it already failed.

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/imscore/imscore/diameter/cx"
	"github.com/imscore/imscore/services/scscf/registrar"
)

// counterValue reads one counter of the S-CSCF's own registry.
func counterValue(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

func TestRegisterWhileHSSSilent(t *testing.T) {
	h := startFakeHSS(t)
	sub := h.addSubscriber(t, "001010000000101", "1100000101")
	s := startSCSCF(t, h, nil, func(c *Config) {
		c.Diameter.RequestTimeout = 200 * time.Millisecond
		c.Diameter.MaxConsecutiveTimeouts = 2
		c.Diameter.UnresponsiveProbe = 300 * time.Millisecond
		c.Diameter.RetryAfter = 7 * time.Second
	})
	u := newUE(t, s, sub)
	release := h.holdCommand(cx.CmdMultimediaAuth) // the HSS's store hangs; its DWA still come
	defer release()

	// Each of the first two waits for its MAR to time out: 504 (RFC 3261 §21.5.5).
	for i := range 2 {
		if res := u.register(600, u.emptyAuth()); res.StatusCode != 504 {
			t.Fatalf("REGISTER %d while the MAR times out: %d, want 504\n%s", i+1, res.StatusCode, res)
		}
	}
	// Then the HSS is routed around: 503 with Retry-After, without a MAR being sent.
	res := u.register(600, u.emptyAuth())
	if res.StatusCode != 503 {
		t.Fatalf("REGISTER with the HSS unresponsive: %d, want 503\n%s", res.StatusCode, res)
	}
	if ra := res.GetHeader("Retry-After"); ra == nil || ra.Value() != "7" {
		t.Fatalf("503 without Retry-After: 7\n%s", res)
	}
	if v := counterValue(t, s.metrics.hssUnavailable.WithLabelValues("MAR")); v < 1 {
		t.Fatalf("scscf_hss_unavailable_total{command=MAR} = %v", v)
	}

	// The HSS answers again: a probe gets through and registration works, within a bounded number of tries.
	release()
	deadline := time.Now().Add(waitLong)
	for {
		res := u.register(600, u.emptyAuth())
		if res.StatusCode == 401 {
			u.integrity = "yes"
			if res := u.register(600, u.authFor(res, false)); res.StatusCode != 200 {
				t.Fatalf("REGISTER after the HSS came back: %d\n%s", res.StatusCode, res)
			}
			break
		}
		if res.StatusCode != 503 || time.Now().After(deadline) {
			t.Fatalf("REGISTER while the HSS recovers: %d\n%s", res.StatusCode, res)
		}
		time.Sleep(50 * time.Millisecond) // bounded: 503s come at once until the probe is due
	}
}

// TestLateSAAIgnored: the SAA of a REGISTER that was already answered 504 arrives late. It is dropped by the
// peer layer (no request waits for it): the user is not registered, and the next REGISTER is not confused
// by it.
func TestLateSAAIgnored(t *testing.T) {
	h := startFakeHSS(t)
	sub := h.addSubscriber(t, "001010000000102", "1100000102")
	s := startSCSCF(t, h, nil, func(c *Config) { c.Diameter.RequestTimeout = 300 * time.Millisecond })
	u := newUE(t, s, sub)

	res := u.register(600, u.emptyAuth())
	if res.StatusCode != 401 {
		t.Fatalf("first REGISTER: %d", res.StatusCode)
	}
	release := h.holdCommand(cx.CmdServerAssignment)
	u.integrity = "yes"
	if res := u.register(600, u.authFor(res, false)); res.StatusCode != 504 {
		t.Fatalf("REGISTER whose SAR times out: %d, want 504\n%s", res.StatusCode, res)
	}
	unknown := s.metrics.diameter.WithLabelValues("unknown_answer")
	before := counterValue(t, unknown)
	release() // the HSS now sends the SAA: it registered the user, the S-CSCF answered 504 long ago
	deadline := time.Now().Add(waitLong)
	for counterValue(t, unknown) == before {
		if time.Now().After(deadline) {
			t.Fatal("late SAA never reported as an unknown answer")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, err := s.reg.Registration(context.Background(), u.impu); !errors.Is(err, registrar.ErrNotFound) {
		t.Fatalf("registrar after a late SAA: %v, want not found", err)
	}
	u.integrity = "no"
	u.registerFully(600)
	if _, err := s.reg.Registration(context.Background(), u.impu); err != nil {
		t.Fatalf("registration after the retry: %v", err)
	}
}

// TestHSSOverloadReport: an HSS that speaks DOIC (RFC 7683). Its OC-Supported-Features and an OC-OLR that
// asks for nothing break nothing; an OC-OLR asking for 100 % reduction has the next REGISTER answered 503 with
// Retry-After without a MAR being sent, until the HSS ends the report.
func TestHSSOverloadReport(t *testing.T) {
	h := startFakeHSS(t)
	sub := h.addSubscriber(t, "001010000000103", "1100000103")
	other := h.addSubscriber(t, "001010000000104", "1100000104")
	s := startSCSCF(t, h, nil, func(c *Config) { c.Diameter.RetryAfter = 3 * time.Second })
	setOLR := func(o *cx.OCOLR) { h.mu.Lock(); h.olr = o; h.mu.Unlock() }
	pct := func(v uint32) *uint32 { return &v }

	setOLR(&cx.OCOLR{SequenceNumber: 1, ReportType: cx.OCHostReport, ReductionPercentage: pct(0)})
	u := newUE(t, s, sub)
	u.registerFully(600)
	h.mu.Lock()
	mars, marOC := h.mars, h.marOC
	h.mu.Unlock()
	if mars == 0 || marOC != mars {
		t.Fatalf("%d of %d MARs carried OC-Supported-Features (RFC 7683 §5.3.1)", marOC, mars)
	}

	// The HSS now reports overload: every request to it is to be dropped for a minute. The report rides on
	// the answers to the next registration.
	setOLR(&cx.OCOLR{SequenceNumber: 2, ReportType: cx.OCHostReport, ReductionPercentage: pct(100), ValidityDuration: pct(60)})
	if res := u.register(600, u.emptyAuth()); res.StatusCode != 200 { // protected re-registration: its SAA brings the report
		t.Fatalf("re-REGISTER: %d\n%s", res.StatusCode, res)
	}
	v := newUE(t, s, other)
	res := v.register(600, v.emptyAuth())
	if res.StatusCode != 503 {
		t.Fatalf("REGISTER under a 100 %% overload report: %d, want 503\n%s", res.StatusCode, res)
	}
	if ra := res.GetHeader("Retry-After"); ra == nil || ra.Value() != "3" {
		t.Fatalf("503 without Retry-After: 3\n%s", res)
	}
	h.mu.Lock()
	after := h.mars
	h.mu.Unlock()
	if after != mars {
		t.Fatalf("MARs sent: %d, want %d: a throttled REGISTER reached the HSS", after, mars)
	}
}
