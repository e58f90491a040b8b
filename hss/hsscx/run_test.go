package hsscx_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/imscore/imscore/diameter"
	"github.com/imscore/imscore/diameter/cx"
	"github.com/imscore/imscore/diameter/peer"
	"github.com/imscore/imscore/diameter/peer/peertest"
	"github.com/imscore/imscore/hss"
	"github.com/imscore/imscore/hss/aka"
	"github.com/imscore/imscore/hss/hsscx"
	"github.com/imscore/imscore/hss/hsstest"
	"github.com/imscore/imscore/hss/provision"
	"github.com/imscore/imscore/internal/adminhttp"
	"github.com/imscore/imscore/internal/adminhttp/adminhttptest"
	"github.com/imscore/imscore/internal/httpauth"
)

// TestRun starts a whole node on each store and drives it as operators and CSCFs do: health, readiness,
// provisioning over the API, MAR and SAR over Cx, metrics, an RTR triggered through the API, and a clean
// stop that disconnects the peers.
func TestRun(t *testing.T) {
	forEachStore(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		runCtx, stop := context.WithCancel(ctx)
		defer stop()
		cfg := testConfig(dsn)
		tokensFile, tokens := adminhttptest.TokensFile(t)
		cfg.API.Security.TokensFile, cfg.API.Security.Pprof = tokensFile, true
		n, err := hsscx.Start(runCtx, cfg, testLogger(t), hsscx.Options{})
		must(t, err)
		base := "http://" + n.APIAddr().String()

		if code, body := httpGet(t, base+"/healthz"); code != 200 || body != "ok\n" {
			t.Errorf("/healthz %d %q", code, body)
		}
		code, body := httpGet(t, base+"/readyz")
		var ready struct {
			Store, Cx string
		}
		must(t, json.Unmarshal([]byte(body), &ready))
		if code != 200 || ready.Store != "ok" || ready.Cx != "listening" {
			t.Errorf("/readyz %d %s", code, body)
		}

		api, err := provision.NewClient(base, nil, provision.WithToken(tokens[httpauth.ScopeAdmin]))
		must(t, err)
		scscfs, err := api.ListSCSCFs(ctx)
		must(t, err)
		if !slices.ContainsFunc(scscfs, func(s provision.SCSCF) bool { return s.Name == hss.DefaultSCSCFName }) {
			t.Errorf("default S-CSCF not seeded: %+v", scscfs)
		}
		sub, err := api.CreateSubscriber(ctx, provision.SubscriberRequest{IMSI: "001010000000001", MSISDN: "15550001",
			K: hsstest.TestK, OP: hsstest.TestOP})
		must(t, err)
		impi, impu := sub.IMPI, "sip:15550001@"+realm

		scscf := connect(t, n.DiameterAddr().String(), scscfHost)
		maa, err := scscf.mar(impi, impu, 2)
		must(t, err)
		if code, _ := maa.Result(); code != diameter.Success || len(maa.SIPAuthDataItems) != 2 {
			t.Fatalf("MAA %d with %d vectors", code, len(maa.SIPAuthDataItems))
		}
		saa, err := scscf.sar(impi, impu, cx.SATRegistration)
		must(t, err)
		if code, _ := saa.Result(); code != diameter.Success || len(saa.UserData) == 0 {
			t.Fatalf("SAA %d", code)
		}

		for prefix, want := range map[string]string{
			`hss_cx_requests_received_total{command="MAR"}`:                     "1",
			`hss_cx_answers_sent_total{command="SAR",result="2001",vendor="0"}`: "1",
			`hss_auth_vectors_issued_total{scheme="Digest-AKAv1-MD5"}`:          "2",
			`hss_diameter_peers_up`:                                             "1",
			`hss_cx_request_duration_seconds_count{command="MAR"}`:              "1",
		} {
			if got := metric(t, n, prefix); got != want {
				t.Errorf("%s = %q, want %s", prefix, got, want)
			}
		}
		// The Go and process collectors are on the node's registry (memory per subscriber is read from them).
		for _, name := range []string{"go_memstats_heap_inuse_bytes ", "go_goroutines ", "process_resident_memory_bytes "} {
			if v, err := strconv.ParseFloat(metric(t, n, name), 64); err != nil || v <= 0 {
				t.Errorf("%s= %q, want > 0", name, metric(t, n, name))
			}
		}
		// The runtime profiles, on the node's own mux, for the admin scope only. A profile is gzip-compressed
		// protobuf.
		for path, want := range map[string]string{
			"/debug/pprof/":                  "goroutine",
			"/debug/pprof/heap":              "\x1f\x8b",
			"/debug/pprof/goroutine?debug=1": "goroutine profile:",
			"/debug/pprof/cmdline":           "hsscx",
		} {
			if code, _, body := adminhttptest.GetAuth(t, nil, base+path, tokens[httpauth.ScopeAdmin]); code != 200 ||
				!strings.Contains(string(body), want) {
				t.Errorf("%s: %d %.200q, want 200 with %q", path, code, body, want)
			}
			if code, _ := httpGet(t, base+path); code != http.StatusUnauthorized {
				t.Errorf("%s without a token: %d, want 401", path, code)
			}
			if code, _, _ := adminhttptest.GetAuth(t, nil, base+path, tokens[httpauth.ScopeProvision]); code != http.StatusForbidden {
				t.Errorf("%s with a provision token: %d, want 403", path, code)
			}
		}

		res, err := api.Deregister(ctx, impi, provision.DeregisterRequest{Info: "test"})
		must(t, err)
		if rtrs := scscf.received(); len(rtrs) != 1 || rtrs[0].UserName != impi || rtrs[0].DeregistrationReason.Info != "test" {
			t.Errorf("RTRs at the S-CSCF: %+v (API said %+v)", rtrs, res)
		}
		reg, err := n.Store().GetIMPU(ctx, impu)
		must(t, err)
		if reg.Registration.State != hss.NotRegistered {
			t.Errorf("after the RTR: %+v", reg.Registration)
		}
		if got := metric(t, n, `hss_cx_answers_received_total{command="RTR",result="2001",vendor="0"}`); got != "1" {
			t.Errorf("RTA not counted: %q", got)
		}

		// Stop: the S-CSCF sees the HSS leave (DPR, RFC 6733 §5.4) and the node stops without error.
		stop()
		must(t, n.Wait())
		for _, p := range scscf.node.Peers() {
			if p.OriginHost == hssHost && p.State == peer.StateOpen {
				t.Errorf("HSS still open at the S-CSCF after stop: %+v", p)
			}
		}
	})
}

// TestRefusesToStart checks that a node that cannot work says why and leaves nothing running.
func TestRefusesToStart(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	defer busy.Close()
	tests := []struct {
		name     string
		mutate   func(c *hss.Config)
		want     string
		sentinel error
		secret   string
	}{
		{name: "invalid origin host", mutate: func(c *hss.Config) { c.Diameter.OriginHost = "hss example" },
			want: "diameter.origin_host", sentinel: hss.ErrInvalidConfig},
		{name: "unsupported DSN", mutate: func(c *hss.Config) { c.Store.DSN = "mysql://db/hss" }, want: "store.dsn", sentinel: hss.ErrInvalidConfig},
		{name: "PostgreSQL unreachable", mutate: func(c *hss.Config) {
			c.Store.DSN = "postgres://hss:s3cr3t@127.0.0.1:1/hss?connect_timeout=2"
		}, want: "cannot open the subscriber store", secret: "s3cr3t"},
		{name: "SQLite directory not creatable", mutate: func(c *hss.Config) { c.Store.DSN = "/proc/imscore/hss.db" },
			want: "cannot open the subscriber store"},
		{name: "schema not migrated", mutate: func(c *hss.Config) { c.Store.AutoMigrate = false }, want: "schema version 0"},
		{name: "Diameter port in use", mutate: func(c *hss.Config) { c.Diameter.Listen = busy.Addr().String() }, want: "diameter listen"},
		{name: "API port in use", mutate: func(c *hss.Config) { c.API.Listen = busy.Addr().String() }, want: "api listen"},
		{name: "tokens file missing", mutate: func(c *hss.Config) { c.API.Security.TokensFile = "/nonexistent/tokens.yaml" },
			want: "tokens_file", sentinel: hss.ErrInvalidConfig},
		{name: "pprof without tokens", mutate: func(c *hss.Config) { c.API.Security.Pprof = true }, want: "pprof", sentinel: hss.ErrInvalidConfig},
		{name: "TLS certificate without key", mutate: func(c *hss.Config) { c.API.Security.TLSCert = "/etc/ssl/cert.pem" },
			want: "tls_key", sentinel: hss.ErrInvalidConfig},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig("sqlite://" + t.TempDir() + "/hss.db")
			tc.mutate(&cfg)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			n, err := hsscx.Start(ctx, cfg, testLogger(t), hsscx.Options{})
			if err == nil {
				cancel()
				n.Wait()
				t.Fatal("started")
			}
			t.Log(err)
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not say %q", err, tc.want)
			}
			if tc.sentinel != nil && !errors.Is(err, tc.sentinel) {
				t.Errorf("error %v is not %v", err, tc.sentinel)
			}
			if tc.secret != "" && strings.Contains(err.Error(), tc.secret) {
				t.Errorf("error %q shows the password", err)
			}
		})
	}
}

// TestTLS serves the API and the admin endpoints over HTTPS with a test certificate: a client that trusts it
// provisions with its token; plain HTTP gets no service.
func TestTLS(t *testing.T) {
	cfg := testConfig("sqlite://" + t.TempDir() + "/hss.db")
	certFile, keyFile, client := adminhttptest.TLSFiles(t)
	tokensFile, tokens := adminhttptest.TokensFile(t)
	cfg.API.Security = adminhttp.Config{TokensFile: tokensFile, TLSCert: certFile, TLSKey: keyFile, MetricsAuth: true}
	n := start(t, cfg)
	base := "https://" + n.APIAddr().String()
	if code, _, body := adminhttptest.GetAuth(t, client, base+"/healthz", ""); code != 200 || string(body) != "ok\n" {
		t.Fatalf("/healthz over TLS: %d %q", code, body)
	}
	// metrics_auth: the metrics token scrapes, no token does not.
	if code, _, _ := adminhttptest.GetAuth(t, client, base+"/metrics", ""); code != http.StatusUnauthorized {
		t.Errorf("/metrics without a token: %d, want 401", code)
	}
	if code, _, body := adminhttptest.GetAuth(t, client, base+"/metrics", tokens[httpauth.ScopeMetrics]); code != 200 ||
		!strings.Contains(string(body), "hss_diameter_peers_up") {
		t.Errorf("/metrics with the metrics token: %d %.200s", code, body)
	}
	if code, _, _ := adminhttptest.GetAuth(t, client, base+"/api/v1/subscribers", tokens[httpauth.ScopeMetrics]); code != http.StatusForbidden {
		t.Errorf("the metrics token read subscribers: %d, want 403", code)
	}
	// pprof is off unless enabled: 404 even for the admin token.
	if code, _, _ := adminhttptest.GetAuth(t, client, base+"/debug/pprof/", tokens[httpauth.ScopeAdmin]); code != http.StatusNotFound {
		t.Errorf("/debug/pprof/ with pprof off: %d, want 404", code)
	}
	api, err := provision.NewClient(base, client, provision.WithToken(tokens[httpauth.ScopeProvision]))
	must(t, err)
	ctx := context.Background()
	if _, err := api.CreateSubscriber(ctx, provision.SubscriberRequest{IMSI: "001010000000002", MSISDN: "15550002",
		K: hsstest.TestK, OP: hsstest.TestOP}); err != nil {
		t.Fatalf("create over TLS: %v", err)
	}
	plain := &http.Client{Timeout: 5 * time.Second}
	if res, err := plain.Get("http://" + n.APIAddr().String() + "/healthz"); err == nil {
		res.Body.Close()
		if res.StatusCode == 200 {
			t.Errorf("plain HTTP served on the TLS listener")
		}
	}
}

// TestTokensFileFollowed: a token added to the running HSS's tokens file (imsctl token create) is accepted
// without a restart, and one removed from it is refused again.
func TestTokensFileFollowed(t *testing.T) {
	cfg := testConfig("sqlite://" + t.TempDir() + "/hss.db")
	tokensFile, _ := adminhttptest.TokensFile(t)
	cfg.API.Security.TokensFile = tokensFile
	n := start(t, cfg)
	base := "http://" + n.APIAddr().String() + "/api/v1/subscribers"
	before, err := os.ReadFile(tokensFile)
	must(t, err)
	added, err := httpauth.AddToken(tokensFile, "added-later", []httpauth.Scope{httpauth.ScopeRead})
	must(t, err)
	// The file is looked at again at most once per httpauth.ReloadInterval: poll, bounded.
	waitFor := func(want int) {
		t.Helper()
		code := 0
		for range 100 {
			if code, _, _ = adminhttptest.GetAuth(t, nil, base, added); code == want {
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
		t.Fatalf("GET with the added token: %d, want %d", code, want)
	}
	waitFor(http.StatusOK)
	must(t, httpauth.WriteSecretFile(tokensFile, before)) // revoked
	waitFor(http.StatusUnauthorized)
}

// TestSQNRaceTwoNodes is the shared-database SQN race of TS 33.102 Annex C: two HSS nodes (separate pools)
// on one database serve many concurrent MARs for the same subscriber. Every SQN issued must be distinct,
// and the USIM must accept every vector in SQN order.
func TestSQNRaceTwoNodes(t *testing.T) {
	forEachStore(t, func(t *testing.T, dsn string) {
		a := start(t, testConfig(dsn))
		b := start(t, testConfig(dsn))
		ctx := context.Background()
		sub := hsstest.Subscriber("001010000000042", "15550042")
		sub.ServiceProfiles = []hss.ServiceProfile{hsstest.Profile(hsstest.DefaultProfileID)}
		must(t, a.Store().CreateSubscriber(ctx, sub))
		impi, impu := sub.Private.IMPI, sub.Public[1].IMPU

		clients := []*client{connect(t, a.DiameterAddr().String(), "scscf-a."+realm),
			connect(t, b.DiameterAddr().String(), "scscf-b."+realm)}
		const workers, perWorker = 6, 10 // per node
		var mu sync.Mutex
		var items []cx.SIPAuthDataItem
		var wg sync.WaitGroup
		errs := make(chan error, 2*workers)
		for _, c := range clients {
			for w := range workers {
				wg.Go(func() {
					for i := range perWorker {
						maa, err := c.mar(impi, impu, uint32(1+(w+i)%3))
						if err != nil {
							errs <- err
							return
						}
						if code, _ := maa.Result(); code != diameter.Success {
							errs <- fmt.Errorf("MAA result %d", code)
							return
						}
						mu.Lock()
						items = append(items, maa.SIPAuthDataItems...)
						mu.Unlock()
					}
				})
			}
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		keys, err := aka.NewKeys(sub.Private.K, sub.Private.OP, sub.Private.OPc, sub.Private.AMF)
		must(t, err)
		type vector struct {
			sqn        aka.SQN
			rand, autn [16]byte
		}
		var vs []vector
		seen := make(map[aka.SQN]bool)
		for _, it := range items {
			var v vector
			copy(v.rand[:], it.Authenticate[:16])
			copy(v.autn[:], it.Authenticate[16:])
			fresh, err := aka.NewUSIM(keys, aka.DefaultUSIMConfig()) // decodes SQN ⊕ AK and checks MAC-A
			must(t, err)
			res, err := fresh.Authenticate(v.rand, v.autn)
			must(t, err)
			if seen[res.SQN] {
				t.Fatalf("SQN %s issued twice", res.SQN)
			}
			seen[res.SQN] = true
			v.sqn = res.SQN
			vs = append(vs, v)
		}
		slices.SortFunc(vs, func(x, y vector) int { return int(x.sqn) - int(y.sqn) })
		usim, err := aka.NewUSIM(keys, aka.DefaultUSIMConfig())
		must(t, err)
		for _, v := range vs {
			if _, err := usim.Authenticate(v.rand, v.autn); err != nil {
				t.Fatalf("USIM rejects SQN %s: %v", v.sqn, err)
			}
		}
		p, err := a.Store().GetIMPI(ctx, impi)
		must(t, err)
		// SQN_HE is the end of the last block reserved (hss/sqnblock.go): never below the last SQN issued (a
		// restart must not issue it again), and less than a block beyond it (that block issued at least one).
		cfg, last := aka.DefaultSQNConfig(), vs[len(vs)-1].sqn
		if he := aka.SQN(p.SQN); he < last || cfg.SEQ(he)-cfg.SEQ(last) >= hss.DefaultSQNBlock {
			t.Errorf("SQN_HE %s, want the end of the block holding the last SQN issued %s", he, last)
		}
		t.Logf("%d vectors from %d MARs through two nodes, SQNs distinct, last %s", len(vs), 2*workers*perWorker, vs[len(vs)-1].sqn)
	})
}

// TestKeepsServingWhenAPeerGoes: a CSCF disconnecting does not disturb the others.
func TestKeepsServingWhenAPeerGoes(t *testing.T) {
	n := start(t, testConfig("sqlite://"+t.TempDir()+"/hss.db"))
	ctx := context.Background()
	sub := hsstest.Subscriber("001010000000007", "15550007")
	sub.ServiceProfiles = []hss.ServiceProfile{hsstest.Profile(hsstest.DefaultProfileID)}
	must(t, n.Store().CreateSubscriber(ctx, sub))
	gone := connect(t, n.DiameterAddr().String(), "scscf-gone."+realm)
	stays := connect(t, n.DiameterAddr().String(), scscfHost)
	closeCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	must(t, gone.node.Close(closeCtx))
	for range 3 {
		maa, err := stays.mar(sub.Private.IMPI, sub.Public[1].IMPU, 1)
		must(t, err)
		if code, _ := maa.Result(); code != diameter.Success {
			t.Fatalf("MAA %d", code)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for metric(t, n, "hss_diameter_peers_up") != "1" {
		if time.Now().After(deadline) {
			t.Fatalf("peers up = %s, want 1", metric(t, n, "hss_diameter_peers_up"))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// The attack at the HSS node, over a real listener: a CER from evil.example.org is answered
// DIAMETER_UNKNOWN_PEER (3010) and the connection closed; the configured S-CSCF from loopback still gets in.
// Counted in hss_diameter_peers_refused_total.
func TestForgedCERRefused(t *testing.T) {
	n := start(t, testConfig("sqlite://"+filepath.Join(t.TempDir(), "hss.db")))
	addr := n.DiameterAddr().String()
	for _, tc := range []struct{ name, host, realm string }{
		{"unknown host", "evil.example.org", "example.org"},
		{"the S-CSCF's name in another realm", scscfHost, "evil.example.org"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, closed := peertest.CER(t, addr, tc.host, tc.realm)
			if code != diameter.UnknownPeer {
				t.Errorf("CEA Result-Code %d, want 3010", code)
			}
			if !closed {
				t.Errorf("connection still open after the 3010 CEA")
			}
		})
	}
	if m := metric(t, n, "hss_diameter_peers_refused_total"); m != "2" {
		t.Errorf("refusals not counted: %q", m)
	}
	connect(t, addr, scscfHost) // fails the test unless the HSS accepts it
}
