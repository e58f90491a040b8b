package peer

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fiorix/go-diameter/v4/diam"
	"github.com/fiorix/go-diameter/v4/diam/avp"
	"github.com/fiorix/go-diameter/v4/diam/datatype"
	"github.com/fiorix/go-diameter/v4/diam/dict"

	"github.com/imscore/imscore/diameter"
)

func TestConfigValidation(t *testing.T) {
	d := testDict(t)
	ok := func() Config {
		return Config{OriginHost: "hss.test.example", OriginRealm: testRealm, Dictionary: d,
			Applications: []Application{{ID: echoApp, VendorID: echoVendor}}}
	}
	tests := []struct {
		name   string
		mutate func(*Config)
		want   string // substring of the error; "" for valid
	}{
		{"valid with defaults", func(*Config) {}, ""},
		{"empty OriginHost", func(c *Config) { c.OriginHost = "" }, "OriginHost: empty"},
		{"OriginHost with space", func(c *Config) { c.OriginHost = "hss test" }, "OriginHost"},
		{"OriginHost empty label", func(c *Config) { c.OriginHost = "hss..test" }, "empty label"},
		{"empty OriginRealm", func(c *Config) { c.OriginRealm = "" }, "OriginRealm: empty"},
		{"zero Host-IP-Address", func(c *Config) { c.HostIPAddresses = []netip.Addr{{}} }, "HostIPAddresses[0]"},
		{"no application", func(c *Config) { c.Applications = nil }, "Applications is empty"},
		{"application twice", func(c *Config) { c.Applications = append(c.Applications, Application{ID: echoApp}) }, "listed twice"},
		{"application 0", func(c *Config) { c.Applications = []Application{{ID: 0}} }, "not an Auth application"},
		{"application not in dictionary", func(c *Config) { c.Applications = []Application{{ID: 77}} }, "not in Dictionary"},
		{"no dictionary", func(c *Config) { c.Dictionary = nil }, "Dictionary is nil"},
		{"dictionary without base", func(c *Config) { c.Dictionary, _ = dict.NewParser("testdata/echo.xml") }, "lacks base command 257"},
		{"negative Tw", func(c *Config) { c.WatchdogInterval = -time.Second }, "WatchdogInterval"},
		{"negative timeout", func(c *Config) { c.RequestTimeout = -1 }, "RequestTimeout"},
		{"backoff max below min", func(c *Config) { c.ReconnectMin, c.ReconnectMax = time.Minute, time.Second }, "ReconnectMax"},
		{"message size too small", func(c *Config) { c.MaxMessageSize = 100 }, "MaxMessageSize"},
		{"message size over 24 bits", func(c *Config) { c.MaxMessageSize = 1 << 24 }, "MaxMessageSize"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := ok()
			tt.mutate(&cfg)
			n, err := New(cfg, echoHandler())
			if tt.want == "" {
				if err != nil {
					t.Fatalf("want valid, got %v", err)
				}
				if n.cfg.WatchdogInterval != DefaultWatchdogInterval || n.cfg.RequestTimeout != DefaultRequestTimeout {
					t.Fatalf("defaults not applied: %+v", n.cfg)
				}
				return
			}
			if err == nil || !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("want ErrInvalidConfig mentioning %q, got %v", tt.want, err)
			}
		})
	}
	if _, err := New(ok(), nil); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("nil handler: %v", err)
	}
}

func TestConnectValidation(t *testing.T) {
	n := newNode(t, testConfig(t, "a.test.example"), echoHandler())
	for _, p := range []PeerConfig{{}, {Address: "no-port"}, {Address: "127.0.0.1:1", Host: "bad host"}} {
		if err := n.Connect(context.Background(), p); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("Connect(%+v) = %v, want ErrInvalidConfig", p, err)
		}
	}
}

func TestHandshake(t *testing.T) {
	leakCheck(t)
	server := newNode(t, testConfig(t, "hss.test.example"), echoHandler())
	client := newNode(t, testConfig(t, "scscf.test.example"), echoHandler())
	connectPair(t, client, server)

	for _, tc := range []struct {
		node    *Node
		peer    string
		dialled bool
	}{{client, "hss.test.example", true}, {server, "scscf.test.example", false}} {
		peers := tc.node.Peers()
		if len(peers) != 1 {
			t.Fatalf("%s: want one peer, got %+v", tc.node.cfg.OriginHost, peers)
		}
		p := peers[0]
		if p.OriginHost != tc.peer || p.OriginRealm != testRealm || p.State != StateOpen || p.Dialled != tc.dialled ||
			p.OriginStateID == 0 || p.Since.IsZero() || !slices.Equal(p.Applications, []Application{{ID: echoApp, VendorID: echoVendor}}) {
			t.Fatalf("%s: peer %+v", tc.node.cfg.OriginHost, p)
		}
	}
}

func TestRequestAnswer(t *testing.T) {
	leakCheck(t)
	var seen atomic.Pointer[diam.Message]
	server := newNode(t, testConfig(t, "hss.test.example"), HandlerFunc(func(ctx context.Context, req *diam.Message, from PeerInfo) (*diam.Message, error) {
		seen.Store(req)
		if from.OriginHost != "scscf.test.example" {
			return nil, fmt.Errorf("from %+v", from)
		}
		// A sloppy answer: wrong identifiers and Session-Id not first; the peer layer fixes them.
		ans := diam.NewMessage(req.Header.CommandCode, 0, req.Header.ApplicationID, 1, 1, req.Dictionary())
		ans.NewAVP(avpResultCode, avp.Mbit, 0, datatype.Unsigned32(diameter.Success))
		ans.NewAVP(avpSessionID, avp.Mbit, 0, datatype.UTF8String("wrong"))
		ans.NewAVP(avpEchoPay, avp.Mbit|avp.Vbit, echoVendor, datatype.OctetString("pong"))
		return ans, nil
	}))
	client := newNode(t, testConfig(t, "scscf.test.example"), echoHandler())
	connectPair(t, client, server)

	req := newEcho(client.cfg.Dictionary, "scscf;1;1", "", "ping")
	before, _ := req.Serialize()
	ans, err := client.Request(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if after, _ := req.Serialize(); string(after) != string(before) {
		t.Fatal("Request modified the caller's message")
	}
	got := seen.Load()
	h := ans.Header
	switch {
	case h.CommandFlags&flagRequest != 0 || h.CommandFlags&flagProxiable == 0:
		t.Fatalf("answer flags 0x%02x: want R clear, P as in the request", h.CommandFlags)
	case h.HopByHopID != got.Header.HopByHopID || h.EndToEndID != got.Header.EndToEndID:
		t.Fatalf("answer ids %x/%x, request %x/%x", h.HopByHopID, h.EndToEndID, got.Header.HopByHopID, got.Header.EndToEndID)
	case ans.AVP[0].Code != avpSessionID || sessionIDOf(ans) != "scscf;1;1":
		t.Fatalf("Session-Id must come first and be the request's: %s", ans)
	case resultCode(t, ans) != diameter.Success:
		t.Fatalf("result %d", resultCode(t, ans))
	}
	if host, _ := avpString(findAVP(ans.AVP, avpOriginHost)); host != "hss.test.example" {
		t.Fatalf("Origin-Host not added: %q", host)
	}
	// The request as sent: Origin-Host added, End-to-End in the node's sequence (RFC 6733 §3).
	if host, _ := avpString(findAVP(got.AVP, avpOriginHost)); host != "scscf.test.example" {
		t.Fatalf("request Origin-Host %q", host)
	}
	if got.Header.EndToEndID>>20 != uint32(client.stateID)&0xfff && got.Header.EndToEndID>>20 != (uint32(client.stateID)&0xfff+1)&0xfff {
		t.Fatalf("End-to-End 0x%08x: high 12 bits should come from the start time 0x%x", got.Header.EndToEndID, client.stateID&0xfff)
	}
}

func TestBothDirectionsOnOneConnection(t *testing.T) {
	leakCheck(t)
	fromHSS := make(chan PeerInfo, 1)
	hss := newNode(t, testConfig(t, "hss.test.example"), echoHandler())
	scscf := newNode(t, testConfig(t, "scscf.test.example"), HandlerFunc(func(ctx context.Context, req *diam.Message, from PeerInfo) (*diam.Message, error) {
		fromHSS <- from
		return req.Answer(uint32(diameter.Success)), nil
	}))
	connectPair(t, scscf, hss) // the S-CSCF dials the HSS
	// The HSS reaches the S-CSCF by Destination-Host over the connection the S-CSCF opened (RTR, PPR).
	ans, err := hss.Request(context.Background(), newEcho(hss.cfg.Dictionary, "hss;rtr", "scscf.test.example", ""))
	if err != nil {
		t.Fatal(err)
	}
	if resultCode(t, ans) != diameter.Success {
		t.Fatal("not success")
	}
	if from := <-fromHSS; from.OriginHost != "hss.test.example" || !from.Dialled {
		t.Fatalf("S-CSCF handler saw %+v", from)
	}
	if got := len(hss.Peers()); got != 1 {
		t.Fatalf("HSS has %d connections, want the one the S-CSCF opened", got)
	}
	// And the usual direction on the same connection.
	if _, err := scscf.Request(context.Background(), newEcho(scscf.cfg.Dictionary, "scscf;mar", "", "")); err != nil {
		t.Fatal(err)
	}
}

func TestConcurrentRequests(t *testing.T) {
	leakCheck(t)
	server := newNode(t, testConfig(t, "hss.test.example"), echoHandler())
	client := newNode(t, testConfig(t, "scscf.test.example"), echoHandler())
	connectPair(t, client, server)
	const n = 100
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			payload := fmt.Sprintf("payload-%d", i)
			ans, err := client.Request(context.Background(), newEcho(client.cfg.Dictionary, fmt.Sprintf("s;%d", i), "", payload))
			if err != nil {
				errs <- err
				return
			}
			// Correlation: each caller gets its own answer.
			if got, _ := avpString(findAVP2(ans.AVP, avpEchoPay)); got != payload || sessionIDOf(ans) != fmt.Sprintf("s;%d", i) {
				errs <- fmt.Errorf("request %d got answer for %q / %q", i, got, sessionIDOf(ans))
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	c := client.open.Load()
	if len(*c) != 1 || len((*c)[0].pending) != 0 {
		t.Fatalf("pending requests left: %d", len((*c)[0].pending))
	}
}

// findAVP2 finds a vendor AVP by code.
func findAVP2(avps []*diam.AVP, code uint32) *diam.AVP {
	for _, a := range avps {
		if a.Code == code {
			return a
		}
	}
	return nil
}

func TestHandlerErrors(t *testing.T) {
	leakCheck(t)
	bad := diam.NewAVP(avpEchoCount, avp.Mbit|avp.Vbit, echoVendor, datatype.Unsigned32(0))
	tests := []struct {
		name       string
		handler    func() (*diam.Message, error)
		wantCode   uint32
		wantVendor uint32
		wantE      bool
		wantFailed bool
	}{
		{"diameter error 5xxx", func() (*diam.Message, error) {
			return nil, fmt.Errorf("mar: %w", &diameter.Error{Code: diameter.MissingAVP, FailedAVPs: []*diam.AVP{bad}})
		}, 5005, 0, false, true},
		{"experimental result", func() (*diam.Message, error) {
			return nil, &diameter.Error{Code: 5001, VendorID: 10415, Err: errors.New("user unknown")}
		}, 5001, 10415, false, false},
		{"protocol error sets E", func() (*diam.Message, error) { return nil, diameter.Errorf(diameter.TooBusy, "busy") }, 3004, 0, true, false},
		{"plain error", func() (*diam.Message, error) { return nil, errors.New("database down") }, 5012, 0, false, false},
		{"panic", func() (*diam.Message, error) { panic("handler bug") }, 5012, 0, false, false},
		{"nil answer", func() (*diam.Message, error) { return nil, nil }, 5012, 0, false, false},
		{"unencodable answer", func() (*diam.Message, error) {
			m := diam.NewMessage(cmdEcho, 0, echoApp, 0, 0, nil)
			m.AVP = append(m.AVP, &diam.AVP{Code: 1})
			return m, nil
		}, 5012, 0, false, false},
		{"handler answer with 3xxx gets E", func() (*diam.Message, error) {
			return diam.NewMessage(cmdEcho, 0, echoApp, 0, 0, nil).Answer(3002), nil
		}, 3002, 0, true, false},
		{"unencodable Failed-AVP", func() (*diam.Message, error) {
			return nil, &diameter.Error{Code: diameter.MissingAVP, FailedAVPs: []*diam.AVP{{Code: 1}}}
		}, 5012, 0, false, false},
	}
	var current atomic.Int32
	server := newNode(t, testConfig(t, "hss.test.example"), HandlerFunc(func(ctx context.Context, req *diam.Message, from PeerInfo) (*diam.Message, error) {
		return tests[current.Load()].handler()
	}))
	client := newNode(t, testConfig(t, "scscf.test.example"), echoHandler())
	connectPair(t, client, server)
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			current.Store(int32(i))
			ans, err := client.Request(context.Background(), newEcho(client.cfg.Dictionary, "s;"+tt.name, "", ""))
			if err != nil {
				t.Fatal(err)
			}
			code, vendor, ok := resultOf(ans)
			if !ok || code != tt.wantCode || vendor != tt.wantVendor {
				t.Fatalf("result %d vendor %d (ok %v), want %d vendor %d:\n%s", code, vendor, ok, tt.wantCode, tt.wantVendor, ans)
			}
			if got := ans.Header.CommandFlags&flagError != 0; got != tt.wantE {
				t.Fatalf("E bit %v, want %v", got, tt.wantE)
			}
			if ans.AVP[0].Code != avpSessionID || sessionIDOf(ans) != "s;"+tt.name {
				t.Fatalf("Session-Id not first: %s", ans)
			}
			if tt.wantVendor != 0 && findAVP(ans.AVP, avpResultCode) != nil {
				t.Fatal("Result-Code and Experimental-Result both present")
			}
			if got := len(failedAVPs(ans)) == 1 && failedAVPs(ans)[0].Code == avpEchoCount; got != tt.wantFailed {
				t.Fatalf("Failed-AVP present %v, want %v: %s", got, tt.wantFailed, ans)
			}
			if !tt.wantE && findAVP(ans.AVP, avpVendorSpecificApplicationID) == nil {
				t.Fatalf("application AVPs not copied into a non-protocol error answer: %s", ans)
			}
		})
	}
}

func TestRequestTimeoutCleansUp(t *testing.T) {
	leakCheck(t)
	release := make(chan struct{})
	answered := make(chan struct{})
	server := newNode(t, testConfig(t, "hss.test.example"), HandlerFunc(func(ctx context.Context, req *diam.Message, from PeerInfo) (*diam.Message, error) {
		if sessionIDOf(req) == "s;slow" {
			<-release
			defer close(answered)
		}
		return req.Answer(uint32(diameter.Success)), nil
	}))
	unknown := make(chan Event, 4)
	cfg := testConfig(t, "scscf.test.example")
	cfg.RequestTimeout = 100 * time.Millisecond
	cfg.Observer = ObserverFunc(func(e Event) {
		if e.Kind == EventUnknownAnswer {
			unknown <- e
		}
	})
	client := newNode(t, cfg, echoHandler())
	connectPair(t, client, server)

	_, err := client.Request(context.Background(), newEcho(client.cfg.Dictionary, "s;slow", "", ""))
	if !errors.Is(err, ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("want ErrTimeout, got %v", err)
	}
	c := (*client.open.Load())[0]
	c.mu.Lock()
	left := len(c.pending)
	c.mu.Unlock()
	if left != 0 {
		t.Fatalf("%d pending entries left after the timeout", left)
	}
	// The late answer matches nothing any more: logged and dropped, connection unharmed.
	close(release)
	<-answered
	select {
	case <-unknown:
	case <-time.After(3 * time.Second):
		t.Fatal("late answer not reported as unknown")
	}
	// A caller's own deadline is reported as such.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := client.Request(ctx, newEcho(client.cfg.Dictionary, "s;cancelled", "", "")); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled context: %v", err)
	}
	if _, err := client.Request(context.Background(), newEcho(client.cfg.Dictionary, "s;after", "", "")); err != nil {
		t.Fatalf("connection unusable after a timeout: %v", err)
	}
}

func TestRequestErrors(t *testing.T) {
	leakCheck(t)
	n := newNode(t, testConfig(t, "a.test.example"), echoHandler())
	if _, err := n.Request(context.Background(), newEcho(n.cfg.Dictionary, "s", "", "")); !errors.Is(err, ErrNoPeer) {
		t.Fatalf("no peer: %v", err)
	}
	ans := newEcho(n.cfg.Dictionary, "s", "", "").Answer(2001)
	if _, err := n.Request(context.Background(), ans); !errors.Is(err, ErrNotRequest) {
		t.Fatalf("answer: %v", err)
	}
	if _, err := n.Request(context.Background(), nil); !errors.Is(err, ErrNotRequest) {
		t.Fatalf("nil: %v", err)
	}
}

func TestRoutingByDestination(t *testing.T) {
	leakCheck(t)
	served := make(chan string, 16)
	handler := func(name string) Handler {
		return HandlerFunc(func(ctx context.Context, req *diam.Message, from PeerInfo) (*diam.Message, error) {
			served <- name
			return req.Answer(uint32(diameter.Success)), nil
		})
	}
	hss1 := newNode(t, testConfig(t, "hss1.test.example"), handler("hss1"))
	cfg2 := testConfig(t, "hss2.test.example")
	cfg2.OriginRealm = "other.example"
	hss2 := newNode(t, cfg2, handler("hss2"))
	client := newNode(t, testConfig(t, "icscf.test.example"), echoHandler())
	connectPair(t, client, hss1)
	addr2 := listen(t, hss2)
	if err := client.Connect(context.Background(), PeerConfig{Address: addr2}); err != nil {
		t.Fatal(err)
	}
	waitPeer(t, client, "hss2.test.example")

	// want "" means no peer may take it: RFC 6733 §6.1 sends a request for a host or realm that
	// no direct peer matches only through a relay, and none of these peers is one.
	tests := []struct {
		name, host, realm, want string
	}{
		{"Destination-Host wins over realm", "hss2.test.example", testRealm, "hss2"},
		{"host not connected is not sent to its realm", "nobody.test.example", "other.example", ""},
		{"realm only", "", testRealm, "hss1"},
		{"unknown realm is not sent to any peer", "", "nowhere.example", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := diam.NewRequest(cmdEcho, echoApp, client.cfg.Dictionary)
			req.NewAVP(avpSessionID, avp.Mbit, 0, datatype.UTF8String("s;route"))
			if tt.host != "" {
				req.NewAVP(avpDestinationHost, avp.Mbit, 0, datatype.DiameterIdentity(tt.host))
			}
			req.NewAVP(avpDestinationRealm, avp.Mbit, 0, datatype.DiameterIdentity(tt.realm))
			_, err := client.Request(context.Background(), req)
			if tt.want == "" {
				if !errors.Is(err, ErrNoPeer) {
					t.Fatalf("want ErrNoPeer, got %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := <-served; got != tt.want {
				t.Fatalf("served by %s, want %s", got, tt.want)
			}
		})
	}
}

// TestDefaultDictionaryCreditControl runs go-diameter's own dictionary and the Credit-Control
// application (RFC 4006, application 4) through the peer layer.
func TestDefaultDictionaryCreditControl(t *testing.T) {
	leakCheck(t)
	cfg := func(host string) Config {
		return Config{OriginHost: host, OriginRealm: testRealm, Dictionary: dict.Default,
			Applications: []Application{{ID: 4}}, RequestTimeout: 2 * time.Second, Peers: testPeers(), Log: testLogger(t)}
	}
	ocs := newNode(t, cfg("ocs.test.example"), HandlerFunc(func(ctx context.Context, req *diam.Message, from PeerInfo) (*diam.Message, error) {
		ans := req.Answer(uint32(diameter.Success))
		for _, a := range req.AVP {
			if a.Code == avp.CCRequestType || a.Code == avp.CCRequestNumber || a.Code == avp.AuthApplicationID {
				ans.AddAVP(a)
			}
		}
		return ans, nil
	}))
	pcef := newNode(t, cfg("pcef.test.example"), echoHandler())
	connectPair(t, pcef, ocs)
	ccr := diam.NewRequest(272, 4, dict.Default)
	ccr.NewAVP(avp.SessionID, avp.Mbit, 0, datatype.UTF8String("pcef;1"))
	ccr.NewAVP(avp.DestinationRealm, avp.Mbit, 0, datatype.DiameterIdentity(testRealm))
	ccr.NewAVP(avp.AuthApplicationID, avp.Mbit, 0, datatype.Unsigned32(4))
	ccr.NewAVP(avp.ServiceContextID, avp.Mbit, 0, datatype.UTF8String("32251@3gpp.org"))
	ccr.NewAVP(avp.CCRequestType, avp.Mbit, 0, datatype.Enumerated(1))
	ccr.NewAVP(avp.CCRequestNumber, avp.Mbit, 0, datatype.Unsigned32(0))
	cca, err := pcef.Request(context.Background(), ccr)
	if err != nil {
		t.Fatal(err)
	}
	if resultCode(t, cca) != diameter.Success || cca.Header.CommandCode != 272 {
		t.Fatalf("CCA: %s", cca)
	}
	if n, _ := avpUint32(findAVP(cca.AVP, avp.CCRequestType)); n != 1 {
		t.Fatalf("CC-Request-Type %d", n)
	}
}

// observe collects events of some kinds into a channel.
func observe(kinds ...EventKind) (Observer, chan Event) {
	ch := make(chan Event, 64)
	return ObserverFunc(func(e Event) {
		if slices.Contains(kinds, e.Kind) {
			select {
			case ch <- e:
			default:
			}
		}
	}), ch
}

// waitEvent waits for an event matching ok.
func waitEvent(t *testing.T, ch chan Event, what string, ok func(Event) bool) Event {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case e := <-ch:
			if ok(e) {
				return e
			}
		case <-deadline:
			t.Fatalf("no %s event", what)
		}
	}
}
