package icscf

import (
	"context"
	"testing"
	"time"

	"github.com/imscore/imscore/internal/adminhttp"
	"github.com/imscore/imscore/internal/adminhttp/adminhttptest"

	"github.com/emiago/sipgo/sip"
	dto "github.com/prometheus/client_model/go"

	"github.com/imscore/imscore/diameter"
	"github.com/imscore/imscore/diameter/cx"
	"github.com/imscore/imscore/diameter/peer"
	"github.com/imscore/imscore/diameter/peer/peertest"
)

// The admin listener's helpers: internal/adminhttp/adminhttptest.
type metricCheck = adminhttptest.Check

var (
	sample       = adminhttptest.Sample
	checkMetrics = adminhttptest.CheckMetrics
)

func httpGet(t *testing.T, url string) (int, []byte) { return adminhttptest.Get(t, url) }

// scrape reads /metrics and parses the Prometheus text format.
func scrape(t *testing.T, n *Node) map[string]*dto.MetricFamily {
	return adminhttptest.Scrape(t, "http://"+n.HTTPAddr())
}

// The admin listener after real traffic: a REGISTER refused (UAA 5001), one forwarded and challenged by
// the S-CSCF (UAA 2001), a MESSAGE routed by LIR, and a UAR the HSS answers too late. SIP counts by
// method and code, the Cx latency histogram and failure counter, the Go and process collectors, pprof
// and health.
func TestHTTPEndpoints(t *testing.T) {
	hss := startFakeHSS(t)
	hss.onUAR(func(*cx.UAR) *cx.UAA { return uaa(cx.Vendor3GPP, 5001, "", nil) })
	s := startFakeSCSCF(t, "scscf", false)
	s.respond = func(req *sip.Request) *sip.Response {
		if req.Method == sip.REGISTER {
			return sip.NewResponseFromRequest(req, 401, "Unauthorized", nil)
		}
		return sip.NewResponseFromRequest(req, 200, "OK", nil)
	}
	tokensFile, tokens := adminhttptest.TokensFile(t)
	n := startICSCF(t, hss, []SCSCF{s.config()}, func(c *Config) {
		c.Admin = adminhttp.Config{TokensFile: tokensFile, Pprof: true}
	})
	to := sipAddr(n, "UDP")
	u := newUE(t)
	if res := u.send(to, u.request("REGISTER", "sip:"+testDomain, testIMPU)); res.StatusCode != 403 {
		t.Fatalf("REGISTER, UAA 5001: status %d, want 403", res.StatusCode)
	}
	hss.onUAR(func(*cx.UAR) *cx.UAA { return uaa(cx.Vendor3GPP, 2001, s.name, nil) })
	if res := u.send(to, u.request("REGISTER", "sip:"+testDomain, testIMPU)); res.StatusCode != 401 {
		t.Fatalf("REGISTER, UAA 2001: status %d, want the S-CSCF's 401", res.StatusCode)
	}
	hss.onLIR(func(*cx.LIR) *cx.LIA { return lia(0, 2001, s.name, nil) })
	if res := u.send(to, u.request("MESSAGE", "sip:bob@"+testDomain, "sip:bob@"+testDomain)); res.StatusCode != 200 {
		t.Fatalf("MESSAGE: status %d, want 200", res.StatusCode)
	}
	// Past the Diameter request timeout (1 s in startICSCF): the UAR fails, the REGISTER gets 480.
	hss.onUAR(func(*cx.UAR) *cx.UAA {
		time.Sleep(1500 * time.Millisecond)
		return uaa(cx.Vendor3GPP, 2001, s.name, nil)
	})
	if res := u.send(to, u.request("REGISTER", "sip:"+testDomain, testIMPU)); res.StatusCode != 480 {
		t.Fatalf("REGISTER, no UAA: status %d, want 480", res.StatusCode)
	}

	fams := scrape(t, n)
	checkMetrics(t, fams, []metricCheck{
		{"icscf_sip_requests_total", []string{"direction", "in", "method", "REGISTER"}, 3},
		{"icscf_sip_requests_total", []string{"direction", "out", "method", "REGISTER"}, 1},
		{"icscf_sip_requests_total", []string{"direction", "in", "method", "MESSAGE"}, 1},
		{"icscf_sip_requests_total", []string{"direction", "out", "method", "MESSAGE"}, 1},
		{"icscf_sip_responses_total", []string{"direction", "out", "method", "REGISTER", "code", "403"}, 1},
		{"icscf_sip_responses_total", []string{"direction", "in", "method", "REGISTER", "code", "401"}, 1},
		{"icscf_sip_responses_total", []string{"direction", "out", "method", "REGISTER", "code", "401"}, 1},
		{"icscf_sip_responses_total", []string{"direction", "out", "method", "REGISTER", "code", "480"}, 1},
		{"icscf_sip_responses_total", []string{"direction", "in", "method", "MESSAGE", "code", "200"}, 1},
		{"icscf_sip_responses_total", []string{"direction", "out", "method", "MESSAGE", "code", "200"}, 1},
		{"icscf_sip_transactions_in_flight", nil, 0},
		{"icscf_register_total", []string{"outcome", "forbidden"}, 1},
		{"icscf_cx_answers_total", []string{"command", "UAR", "result", "DIAMETER_ERROR_USER_UNKNOWN"}, 1},
		{"icscf_diameter_request_duration_seconds", []string{"command", "UAR", "result", "5001"}, 1},
		{"icscf_diameter_request_duration_seconds", []string{"command", "UAR", "result", "2001"}, 1},
		{"icscf_diameter_request_duration_seconds", []string{"command", "LIR", "result", "2001"}, 1},
		{"icscf_diameter_requests_failed_total", []string{"command", "UAR"}, 1},
	})
	adminhttptest.CheckRuntimeMetrics(t, fams)

	adminhttptest.CheckEndpoints(t, "http://"+n.HTTPAddr(), "ready\n", tokens)
}

// The Diameter listener (docs/design.md §2) accepts a Cx peer; a request sent to the I-CSCF is refused with
// DIAMETER_COMMAND_UNSUPPORTED (3001): Cx defines no request towards it.
func TestDiameterListenerRefusesRequests(t *testing.T) {
	hss := startFakeHSS(t)
	s := startFakeSCSCF(t, "scscf", false)
	n := startICSCF(t, hss, []SCSCF{s.config()})
	d, err := cx.NewDictionary()
	if err != nil {
		t.Fatal(err)
	}
	node, err := peer.New(peer.Config{OriginHost: "dra." + testDomain, OriginRealm: testDomain, VendorID: cx.Vendor3GPP,
		ProductName: "test", Applications: []peer.Application{{ID: cx.AppID, VendorID: cx.Vendor3GPP}}, Dictionary: d,
		RequestTimeout: 2 * time.Second, Log: testLogger(t).Named("dra")}, peer.HandlerFunc(refuseCxRequests))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	t.Cleanup(func() { _ = node.Close(context.Background()) })
	if err := node.Connect(ctx, peer.PeerConfig{Address: n.DiameterAddr()}); err != nil {
		t.Fatal(err)
	}
	if _, err := node.WaitPeer(ctx, DefaultOriginHost); err != nil {
		t.Fatal(err)
	}
	uar := &cx.UAR{SessionID: "dra;1;1", OriginHost: "dra." + testDomain, OriginRealm: testDomain,
		DestinationRealm: testDomain, DestinationHost: DefaultOriginHost, UserName: testIMPI, PublicIdentity: testIMPU,
		VisitedNetworkIdentifier: []byte(testDomain)}
	msg, err := uar.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	ans, err := node.Request(ctx, msg)
	if err != nil {
		t.Fatal(err)
	}
	uaa, _ := cx.ParseUAA(ans)
	if code, _ := uaa.Result(); code != 3001 {
		t.Fatalf("Result-Code %d, want 3001", code)
	}
}

// The attack at the I-CSCF's listener (when one is configured): a CER from evil.example.org is answered
// DIAMETER_UNKNOWN_PEER (3010) and the connection closed. By default there is no listener at all.
func TestForgedCERRefused(t *testing.T) {
	if l := DefaultConfig().Diameter.Listen; l != "" {
		t.Errorf("the I-CSCF listens for Diameter by default on %s", l)
	}
	n := startICSCF(t, startFakeHSS(t), nil)
	for _, host := range []string{"evil.example.org", DefaultOriginHost /* our own name */, "hss." + testDomain} {
		code, closed := peertest.CER(t, n.DiameterAddr(), host, testDomain)
		if code != diameter.UnknownPeer && !(host == DefaultOriginHost && code == diameter.UnableToComply) {
			t.Errorf("CER from %s: CEA %d, want 3010", host, code)
		}
		if !closed {
			t.Errorf("CER from %s: connection still open", host)
		}
	}
	if v, _ := sample(scrape(t, n), "icscf_diameter_events_total", "kind", "peer_refused"); v != 2 {
		t.Errorf("peer_refused counted %v, want 2", v)
	}
}
