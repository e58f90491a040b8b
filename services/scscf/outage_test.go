package scscf

// The HSS stops answering: the S-CSCF answers REGISTER with 503 and Retry-After at once instead of each
// REGISTER waiting its MAR timeout, registers again as soon as the HSS answers, and never acts on a Cx
// answer to a request it already failed.

import (
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

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

// blackhole relays TCP between the S-CSCF and the HSS and, once silenced, swallows everything in both
// directions: an HSS (or the network to it) gone silent, DWR unanswered, no FIN, no RST.
type blackhole struct {
	addr   string
	silent atomic.Bool
}

func startBlackhole(t *testing.T, target string) *blackhole {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &blackhole{addr: ln.Addr().String()}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			mu.Lock()
			conns = append(conns, c, up)
			mu.Unlock()
			pipe := func(dst, src net.Conn) {
				_, _ = io.Copy(writerFunc(func(p []byte) (int, error) {
					if b.silent.Load() {
						return len(p), nil
					}
					return dst.Write(p)
				}), src)
				dst.Close()
				src.Close()
			}
			wg.Go(func() { pipe(up, c) })
			wg.Go(func() { pipe(c, up) })
		}
	})
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return b
}

// TestRegisterWhileHSSUnreachable: the path to the HSS goes silent (no DWA either). The RFC 3539 watchdog
// turns the connection SUSPECT and then DOWN; from then on REGISTER is answered 503 with Retry-After without
// waiting for a MAR timeout. Once the path is back the S-CSCF reconnects and registers again.
func TestRegisterWhileHSSUnreachable(t *testing.T) {
	h := startFakeHSS(t)
	sub := h.addSubscriber(t, "001010000000105", "1100000105")
	bh := startBlackhole(t, h.addr)
	s := startSCSCF(t, h, nil, func(c *Config) {
		c.Diameter.HSS = bh.addr
		c.Diameter.WatchdogInterval = 300 * time.Millisecond
		c.Diameter.RequestTimeout = time.Second
		c.Diameter.MaxConsecutiveTimeouts = -1 // the watchdog alone
		c.Diameter.RetryAfter = 6 * time.Second
	})
	u := newUE(t, s, sub)
	u.registerFully(600)

	bh.silent.Store(true)
	var res *sip.Response
	for i := 0; ; i++ {
		res = u.register(600, u.emptyAuth())
		if res.StatusCode == 503 {
			break
		}
		// Before the watchdog notices, a REGISTER may wait for its MAR: 504.
		if res.StatusCode != 504 || i == 20 {
			t.Fatalf("REGISTER %d with the HSS silent: %d\n%s", i, res.StatusCode, res)
		}
	}
	if ra := res.GetHeader("Retry-After"); ra == nil || ra.Value() != "6" {
		t.Fatalf("503 without Retry-After: 6\n%s", res)
	}

	bh.silent.Store(false)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second) // far below the old 30 s backoff cap
	defer cancel()
	if _, err := s.node.WaitPeer(ctx, testHSSHost); err != nil {
		t.Fatalf("path to the HSS back but no connection: %v", err)
	}
	u.integrity = "no"
	u.registerFully(600)
}
