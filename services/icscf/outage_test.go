package icscf

// The HSS goes away and comes back: while it is gone the I-CSCF answers at once with 480 and a Retry-After
// (TS 24.229 §5.3.1.3, RFC 3261 §20.33); once it listens again the Cx connection is back within seconds and
// registrations go through.

import (
	"context"
	"testing"
	"time"

	"github.com/imscore/imscore/diameter/cx"
)

func TestHSSOutageAndReturn(t *testing.T) {
	hss := startFakeHSS(t)
	addr := hss.addr
	s := startFakeSCSCF(t, "scscf", false)
	ok := func(*cx.UAR) *cx.UAA { return uaa(cx.Vendor3GPP, 2001, s.name, nil) }
	hss.onUAR(ok)
	n := startICSCF(t, hss, []SCSCF{s.config()}, func(c *Config) { c.Diameter.RetryAfter = 9 * time.Second })
	to := sipAddr(n, "UDP")
	u := newUE(t)
	if res := u.send(to, u.request("REGISTER", "sip:"+testDomain, testIMPU)); res.StatusCode != 200 {
		t.Fatalf("REGISTER with the HSS up: %d", res.StatusCode)
	}
	s.next(t)

	hss.stop() // DPR, connection closed, port closed: the HSS is gone
	for _, m := range []string{"REGISTER", "MESSAGE"} {
		res := u.send(to, u.request(m, "sip:"+testDomain, testIMPU))
		if res.StatusCode != 480 {
			t.Fatalf("%s with the HSS gone: %d, want 480\n%s", m, res.StatusCode, res)
		}
		if ra := res.GetHeader("Retry-After"); ra == nil || ra.Value() != "9" {
			t.Fatalf("%s: 480 without Retry-After: 9\n%s", m, res)
		}
	}

	back := startFakeHSSAt(t, addr)
	back.onUAR(ok)
	// Well under the 15–30 s the old backoff could still wait after a minute without the HSS.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := n.diam.WaitPeer(ctx, "hss."+testDomain); err != nil {
		t.Fatalf("HSS back but the I-CSCF did not reconnect: %v", err)
	}
	if res := u.send(to, u.request("REGISTER", "sip:"+testDomain, testIMPU)); res.StatusCode != 200 {
		t.Fatalf("REGISTER after the HSS came back: %d\n%s", res.StatusCode, res)
	}
	if len(back.seenUARs()) != 1 {
		t.Fatalf("UARs at the returned HSS: %d", len(back.seenUARs()))
	}
}

// TestHSSOverloadReport: DOIC (RFC 7683). Every UAR advertises the loss algorithm; a UAA whose OC-OLR asks
// for 100 % reduction is still used, and the next REGISTER is answered 480 with Retry-After without a UAR.
func TestHSSOverloadReport(t *testing.T) {
	hss := startFakeHSS(t)
	s := startFakeSCSCF(t, "scscf", false)
	hss.onUAR(func(*cx.UAR) *cx.UAA {
		a := uaa(cx.Vendor3GPP, 2001, s.name, nil)
		v, pct, validity := uint64(1), uint32(100), uint32(60)
		a.OCSupportedFeatures = &cx.OCSupportedFeatures{FeatureVector: &v}
		a.OCOLR = &cx.OCOLR{SequenceNumber: 1, ReportType: cx.OCHostReport, ReductionPercentage: &pct, ValidityDuration: &validity}
		return a
	})
	n := startICSCF(t, hss, []SCSCF{s.config()}, func(c *Config) {
		c.Diameter.HSSHost = "hss." + testDomain
		c.Diameter.RetryAfter = 4 * time.Second
	})
	to := sipAddr(n, "UDP")
	u := newUE(t)
	if res := u.send(to, u.request("REGISTER", "sip:"+testDomain, testIMPU)); res.StatusCode != 200 {
		t.Fatalf("REGISTER whose UAA carries the overload report: %d", res.StatusCode)
	}
	uars := hss.seenUARs()
	if len(uars) != 1 || uars[0].OCSupportedFeatures == nil || uars[0].OCSupportedFeatures.FeatureVector == nil ||
		*uars[0].OCSupportedFeatures.FeatureVector&1 == 0 {
		t.Fatalf("UAR without OC-Supported-Features advertising the loss algorithm: %+v", uars)
	}
	res := u.send(to, u.request("REGISTER", "sip:"+testDomain, testIMPU))
	if res.StatusCode != 480 {
		t.Fatalf("REGISTER under a 100 %% overload report: %d, want 480\n%s", res.StatusCode, res)
	}
	if ra := res.GetHeader("Retry-After"); ra == nil || ra.Value() != "4" {
		t.Fatalf("480 without Retry-After: 4\n%s", res)
	}
	if got := len(hss.seenUARs()); got != 1 {
		t.Fatalf("%d UARs reached the HSS: the throttled REGISTER was sent", got)
	}
}
