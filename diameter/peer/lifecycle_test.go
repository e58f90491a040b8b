package peer

import (
	"context"
	"errors"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/fiorix/go-diameter/v4/diam"
	"github.com/fiorix/go-diameter/v4/diam/avp"
	"github.com/fiorix/go-diameter/v4/diam/datatype"

	"github.com/imscore/imscore/diameter"
)

// rawServer listens on loopback; accept returns the next connection as a raw peer named host.
func rawServer(t *testing.T, host string) (addr string, accept func() *rawPeer) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln.Addr().String(), func() *rawPeer {
		t.Helper()
		if err := ln.(*net.TCPListener).SetDeadline(time.Now().Add(5 * time.Second)); err != nil {
			t.Fatal(err)
		}
		nc, err := ln.Accept()
		if err != nil {
			t.Fatalf("raw server %s: accept: %v", host, err)
		}
		return newRawPeer(t, nc, host)
	}
}

// withRawHSS starts a node of cfg dialling a raw peer "hss.test.example", completes the capabilities
// exchange (Origin-State-Id 7) and returns both once the connection is open.
func withRawHSS(t *testing.T, cfg Config) (*Node, *rawPeer) {
	t.Helper()
	addr, accept := rawServer(t, "hss.test.example")
	n := newNode(t, cfg, echoHandler())
	if err := n.Connect(context.Background(), PeerConfig{Address: addr}); err != nil {
		t.Fatal(err)
	}
	hss := accept()
	hss.acceptCER(7)
	waitPeer(t, n, "hss.test.example")
	return n, hss
}

// waitPeers polls n's peers until ok holds, with a deadline.
func waitPeers(t *testing.T, n *Node, what string, ok func([]PeerInfo) bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		n.mu.Lock()
		ch := n.changed
		n.mu.Unlock()
		peers := n.Peers()
		if ok(peers) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %s never held: %+v", n.cfg.OriginHost, what, peers)
		}
		select {
		case <-ch:
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// stateOf polls n's peers until host reaches state, with a deadline.
func waitState(t *testing.T, n *Node, host string, st PeerState) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		for _, p := range n.Peers() {
			if p.OriginHost == host && p.State == st {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never reached %s: %+v", host, st, n.Peers())
		}
		n.mu.Lock()
		ch := n.changed
		n.mu.Unlock()
		select {
		case <-ch:
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func TestWatchdogExchange(t *testing.T) {
	leakCheck(t)
	addr, accept := rawServer(t, "hss.test.example")
	cfg := testConfig(t, "scscf.test.example")
	cfg.WatchdogInterval = 50 * time.Millisecond
	n := newNode(t, cfg, echoHandler())
	if err := n.Connect(context.Background(), PeerConfig{Address: addr, Host: "hss.test.example"}); err != nil {
		t.Fatal(err)
	}
	hss := accept()
	hss.acceptCER(7)
	waitPeer(t, n, "hss.test.example")
	// RFC 3539 §3.4.1: an idle connection gets a DWR every Tw; answered, it stays OKAY.
	for i := range 3 {
		_, m, err := hss.read()
		if err != nil {
			t.Fatalf("DWR %d: %v", i, err)
		}
		if m.Header.CommandCode != cmdDeviceWatchdog || m.Header.CommandFlags&flagRequest == 0 || m.Header.ApplicationID != 0 {
			t.Fatalf("want DWR, got %s", m)
		}
		if host, _ := avpString(findAVP(m.AVP, avpOriginHost)); host != "scscf.test.example" || findAVP(m.AVP, avpOriginStateID) == nil {
			t.Fatalf("DWR AVPs (RFC 6733 §5.5.1): %s", m)
		}
		hss.answer(m, diameter.Success)
	}
	if p := n.Peers()[0]; p.State != StateOpen {
		t.Fatalf("state %s after answered DWRs", p.State)
	}
	// The node answers the peer's DWR (RFC 6733 §5.5.2) with Origin-State-Id.
	dwr := diam.NewRequest(cmdDeviceWatchdog, 0, hss.d)
	dwr.NewAVP(avpOriginHost, avp.Mbit, 0, datatype.DiameterIdentity("hss.test.example"))
	dwr.NewAVP(avpOriginRealm, avp.Mbit, 0, datatype.DiameterIdentity(testRealm))
	hss.writeMsg(dwr)
	dwa := hss.readAnswer()
	if dwa.Header.CommandCode != cmdDeviceWatchdog || resultCode(t, dwa) != diameter.Success ||
		dwa.Header.HopByHopID != dwr.Header.HopByHopID || findAVP(dwa.AVP, avpOriginStateID) == nil {
		t.Fatalf("DWA: %s", dwa)
	}
}

func TestWatchdogDetectsDeadPeer(t *testing.T) {
	leakCheck(t)
	obs, events := observe(EventPeerDown)
	cfg := testConfig(t, "scscf.test.example")
	cfg.WatchdogInterval = 60 * time.Millisecond
	cfg.RequestTimeout = 5 * time.Second
	cfg.ReconnectMin, cfg.ReconnectMax = time.Minute, time.Minute // no redial during the test
	cfg.Observer = obs
	n, hss := withRawHSS(t, cfg)
	// From now on the fake HSS reads and never answers: no DWA, no answers.
	go func() {
		for {
			if _, _, err := hss.read(); err != nil {
				var ne net.Error
				if errors.As(err, &ne) && ne.Timeout() {
					continue
				}
				return
			}
		}
	}()
	// A request waiting on the suspect connection fails over at SUSPECT (RFC 3539 §3.4.1),
	// long before its 5 s timeout; there is no other peer, so it fails.
	start := time.Now()
	_, err := n.Request(context.Background(), newEcho(n.cfg.Dictionary, "s;dead", "", ""))
	if !errors.Is(err, ErrConnectionLost) || !errors.Is(err, errSuspect) {
		t.Fatalf("want connection lost (suspect), got %v", err)
	}
	if time.Since(start) > 4*time.Second {
		t.Fatalf("request held %v: not failed at SUSPECT", time.Since(start))
	}
	e := waitEvent(t, events, "peer down", func(e Event) bool { return e.Peer == "hss.test.example" })
	if !errors.Is(e.Err, ErrWatchdog) {
		t.Fatalf("peer down for %v, want the watchdog", e.Err)
	}
}

func TestWatchdogSuspectRecovers(t *testing.T) {
	leakCheck(t)
	cfg := testConfig(t, "scscf.test.example")
	cfg.WatchdogInterval = 80 * time.Millisecond
	n, hss := withRawHSS(t, cfg)
	_, dwr, err := hss.read() // first DWR: left unanswered
	if err != nil || dwr.Header.CommandCode != cmdDeviceWatchdog {
		t.Fatalf("want DWR: %v %v", dwr, err)
	}
	waitState(t, n, "hss.test.example", StateSuspect)
	hss.answer(dwr, diameter.Success) // late DWA: any message means OKAY again (failback)
	waitState(t, n, "hss.test.example", StateOpen)
}

func TestDPROnClose(t *testing.T) {
	leakCheck(t)
	obs, events := observe(EventPeerDown)
	scfg := testConfig(t, "hss.test.example")
	scfg.Observer = obs
	server := newNode(t, scfg, echoHandler())
	client, err := New(testConfig(t, "scscf.test.example"), echoHandler())
	if err != nil {
		t.Fatal(err)
	}
	connectPair(t, client, server)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := client.Close(ctx); err != nil {
		t.Fatal(err)
	}
	e := waitEvent(t, events, "peer down", func(e Event) bool { return e.Peer == "scscf.test.example" })
	if !errors.Is(e.Err, ErrPeerDisconnected) {
		t.Fatalf("server saw the client go for %v, want its DPR", e.Err)
	}
	if _, err := client.Request(context.Background(), newEcho(client.cfg.Dictionary, "s", "", "")); !errors.Is(err, ErrClosed) {
		t.Fatalf("Request after Close: %v", err)
	}
	if err := client.Connect(context.Background(), PeerConfig{Address: "127.0.0.1:1"}); !errors.Is(err, ErrClosed) {
		t.Fatalf("Connect after Close: %v", err)
	}
	if err := client.Close(ctx); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

func TestPeerDPR(t *testing.T) {
	tests := []struct {
		name  string
		cause disconnectCause
		// redial: whether the node dials again soon (RFC 6733 §5.4.3).
		redial bool
	}{
		{"REBOOTING: redial", causeRebooting, true},
		{"DO_NOT_WANT_TO_TALK_TO_YOU: hold off", causeDoNotWantToTalkToYou, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			leakCheck(t)
			addr, accept := rawServer(t, "hss.test.example")
			cfg := testConfig(t, "scscf.test.example")
			cfg.DisconnectHoldoff = time.Hour
			n := newNode(t, cfg, echoHandler())
			if err := n.Connect(context.Background(), PeerConfig{Address: addr}); err != nil {
				t.Fatal(err)
			}
			hss := accept()
			hss.acceptCER(7)
			waitPeer(t, n, "hss.test.example")
			dpr := diam.NewRequest(cmdDisconnectPeer, 0, hss.d)
			dpr.NewAVP(avpOriginHost, avp.Mbit, 0, datatype.DiameterIdentity("hss.test.example"))
			dpr.NewAVP(avpOriginRealm, avp.Mbit, 0, datatype.DiameterIdentity(testRealm))
			dpr.NewAVP(avpDisconnectCause, avp.Mbit, 0, datatype.Enumerated(tt.cause))
			hss.writeMsg(dpr)
			dpa := hss.readAnswer()
			if dpa.Header.CommandCode != cmdDisconnectPeer || resultCode(t, dpa) != diameter.Success || dpa.Header.EndToEndID != dpr.Header.EndToEndID {
				t.Fatalf("DPA: %s", dpa)
			}
			hss.expectClosed() // the node closes after its DPA
			if tt.redial {
				again := accept()
				again.acceptCER(8)
				waitPeer(t, n, "hss.test.example")
				return
			}
			waitState(t, n, "hss.test.example", StateDown)
			n.mu.Lock()
			var d *dialer
			for x := range n.dialers {
				d = x
			}
			n.mu.Unlock()
			// The dialler waits DisconnectHoldoff; its Since/State say so without a sleep here.
			if d == nil || d.conn != nil {
				t.Fatalf("dialler %+v", d)
			}
		})
	}
}

func TestRedialDelay(t *testing.T) {
	n := newNode(t, testConfig(t, "a.test.example"), echoHandler())
	n.cfg.ReconnectMin, n.cfg.DisconnectHoldoff = 100*time.Millisecond, 7*time.Minute
	tests := []struct {
		cause    disconnectCause
		min, max time.Duration
	}{
		{causeNone, time.Second, time.Second}, // the default passed in
		{causeRebooting, 50 * time.Millisecond, 100 * time.Millisecond},
		{causeBusy, 7 * time.Minute, 7 * time.Minute},
		{causeDoNotWantToTalkToYou, 7 * time.Minute, 7 * time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.cause.String(), func(t *testing.T) {
			c := &conn{peerCause: tt.cause}
			if got := n.redialDelay(c, time.Second); got < tt.min || got > tt.max {
				t.Fatalf("delay %v, want [%v, %v]", got, tt.min, tt.max)
			}
		})
	}
}

func TestReconnectAfterServerRestart(t *testing.T) {
	leakCheck(t)
	first, err := New(testConfig(t, "hss.test.example"), echoHandler())
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	go first.Serve(context.Background(), ln)
	client := newNode(t, testConfig(t, "scscf.test.example"), echoHandler())
	if err := client.Connect(context.Background(), PeerConfig{Address: addr, Host: "hss.test.example"}); err != nil {
		t.Fatal(err)
	}
	before := waitPeer(t, client, "hss.test.example")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := first.Close(ctx); err != nil { // DPR REBOOTING, listener closed
		t.Fatal(err)
	}
	waitState(t, client, "hss.test.example", StateDown) // redial attempts fail and back off
	second := newNode(t, testConfig(t, "hss.test.example"), echoHandler())
	ln2, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("listen again on %s: %v", addr, err)
	}
	go second.Serve(context.Background(), ln2)
	after := waitPeer(t, client, "hss.test.example")
	if !after.Since.After(before.Since) {
		t.Fatal("same connection?")
	}
	if _, err := client.Request(context.Background(), newEcho(client.cfg.Dictionary, "s;again", "", "")); err != nil {
		t.Fatal(err)
	}
}

func TestFailoverWhenServerKilled(t *testing.T) {
	leakCheck(t)
	addr1, accept1 := rawServer(t, "hss1.test.example")
	seen := make(chan *diam.Message, 1)
	hss2 := newNode(t, testConfig(t, "hss2.test.example"), HandlerFunc(func(ctx context.Context, req *diam.Message, from PeerInfo) (*diam.Message, error) {
		seen <- req
		return req.Answer(uint32(diameter.Success)), nil
	}))
	obs, failovers := observe(EventFailover)
	cfg := testConfig(t, "scscf.test.example")
	cfg.Observer = obs
	cfg.ReconnectMin, cfg.ReconnectMax = time.Minute, time.Minute
	client := newNode(t, cfg, echoHandler())
	if err := client.Connect(context.Background(), PeerConfig{Address: addr1, Host: "hss1.test.example"}); err != nil {
		t.Fatal(err)
	}
	hss1 := accept1()
	hss1.acceptCER(1)
	waitPeer(t, client, "hss1.test.example")
	addr2 := listen(t, hss2)
	if err := client.Connect(context.Background(), PeerConfig{Address: addr2, Host: "hss2.test.example"}); err != nil {
		t.Fatal(err)
	}
	waitPeer(t, client, "hss2.test.example")

	type outcome struct {
		ans *diam.Message
		err error
	}
	done := make(chan outcome, 1)
	go func() {
		ans, err := client.Request(context.Background(), newEcho(client.cfg.Dictionary, "s;failover", "hss1.test.example", ""))
		done <- outcome{ans, err}
	}()
	// HSS1 receives the request and dies without answering.
	_, first, err := hss1.read()
	if err != nil || first.Header.CommandCode != cmdEcho {
		t.Fatalf("hss1 got %v, %v", first, err)
	}
	hss1.nc.Close()
	o := <-done
	if o.err != nil {
		t.Fatal(o.err)
	}
	if host, _ := avpString(findAVP(o.ans.AVP, avpOriginHost)); host != "hss2.test.example" {
		t.Fatalf("answered by %q", host)
	}
	re := <-seen
	// RFC 6733 §5.5.4: resent with 'T', same End-to-End Identifier.
	if re.Header.CommandFlags&flagRetransmit == 0 || re.Header.EndToEndID != first.Header.EndToEndID {
		t.Fatalf("retransmission flags 0x%02x e2e %x, first e2e %x", re.Header.CommandFlags, re.Header.EndToEndID, first.Header.EndToEndID)
	}
	waitEvent(t, failovers, "failover", func(e Event) bool { return e.Peer == "hss2.test.example" })
}

func TestNoCommonApplication(t *testing.T) {
	leakCheck(t)
	server := newNode(t, testConfig(t, "hss.test.example"), echoHandler())
	addr := listen(t, server)
	// A peer offering only another application: CEA 5010, then the node closes (RFC 6733 §5.3).
	raw := dialRaw(t, addr, "other.test.example")
	cea := raw.handshake(otherApp)
	if resultCode(t, cea) != diameter.NoCommonApplication || cea.Header.CommandCode != cmdCapabilitiesExchange {
		t.Fatalf("CEA: %s", cea)
	}
	if host, _ := avpString(findAVP(cea.AVP, avpOriginHost)); host != "hss.test.example" || findAVP(cea.AVP, avpHostIPAddress) == nil {
		t.Fatalf("CEA lacks the capabilities AVPs: %s", cea)
	}
	raw.expectClosed()
	// The initiator side reports the same outcome.
	cfg := testConfig(t, "other.test.example")
	cfg.Applications = []Application{{ID: otherApp}}
	other := newNode(t, cfg, echoHandler())
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := other.dial(ctx, &dialer{cfg: PeerConfig{Address: addr}})
	var ce *CapabilitiesError
	if !errors.As(err, &ce) || ce.Code != diameter.NoCommonApplication {
		t.Fatalf("want CapabilitiesError 5010, got %v", err)
	}
	raw.nc.Close()
	waitPeers(t, server, "no connection left", func(p []PeerInfo) bool { return len(p) == 0 })
}

func TestUnexpectedPeerIdentity(t *testing.T) {
	leakCheck(t)
	server := newNode(t, testConfig(t, "hss.test.example"), echoHandler())
	addr := listen(t, server)
	client := newNode(t, testConfig(t, "scscf.test.example"), echoHandler())
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := client.dial(ctx, &dialer{cfg: PeerConfig{Address: addr}, host: "hss9.test.example"})
	var ce *CapabilitiesError
	if !errors.As(err, &ce) || ce.Code != diameter.UnknownPeer {
		t.Fatalf("want CapabilitiesError for the wrong Origin-Host, got %v", err)
	}
}

func TestSimultaneousConnectElection(t *testing.T) {
	for i := range 6 {
		// Odd rounds dial without PeerConfig.Host: the election then happens once the CEA
		// names the peer, and the dialler learns the host from it.
		withHost := i%2 == 0
		t.Run(fmt.Sprintf("round %d host known %v", i, withHost), func(t *testing.T) {
			leakCheck(t)
			a := newNode(t, testConfig(t, "a.test.example"), echoHandler())
			b := newNode(t, testConfig(t, "b.test.example"), echoHandler())
			addrA, addrB := listen(t, a), listen(t, b)
			// Both dial at once (RFC 6733 §5.6.4).
			hostA, hostB := "", ""
			if withHost {
				hostA, hostB = "a.test.example", "b.test.example"
			}
			if err := a.Connect(context.Background(), PeerConfig{Address: addrB, Host: hostB}); err != nil {
				t.Fatal(err)
			}
			if err := b.Connect(context.Background(), PeerConfig{Address: addrA, Host: hostA}); err != nil {
				t.Fatal(err)
			}
			// Settled: one open connection on each side, and the same one: dialled by one side,
			// accepted by the other. When both dials really cross, the election keeps the one
			// opened by the lower Origin-Host; when one side's connection is open before the
			// other dials, the other does not dial at all.
			deadline := time.Now().Add(5 * time.Second)
			for {
				pa, pb := a.Peers(), b.Peers()
				if len(pa) == 1 && len(pb) == 1 && pa[0].State == StateOpen && pb[0].State == StateOpen &&
					pa[0].OriginHost == "b.test.example" && pb[0].OriginHost == "a.test.example" && pa[0].Dialled != pb[0].Dialled {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("round %d did not settle:\n a: %+v\n b: %+v", i, pa, pb)
				}
				time.Sleep(10 * time.Millisecond)
			}
			if _, err := b.Request(context.Background(), newEcho(b.cfg.Dictionary, "s;b", "a.test.example", "")); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestDuplicateConnection(t *testing.T) {
	tests := []struct {
		name string
		// node dials rawHost first; then rawHost dials the node with stateID.
		rawHost  string
		stateID  uint32
		wantCode diameter.ResultCode // CEA on the second connection
		keepOld  bool
	}{
		// "m" < "z": the connection the node (lower) opened is the one to keep.
		{"higher peer dials again: rejected", "z.test.example", 1, diameter.ElectionLost, true},
		// "a" < "m": the peer (lower) opened the second connection: it is kept.
		{"lower peer dials: its connection kept", "a.test.example", 1, diameter.Success, false},
		// A new Origin-State-Id: the peer restarted, the old connection is stale (RFC 6733 §8.16).
		{"restarted peer replaces the old connection", "z.test.example", 2, diameter.Success, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			leakCheck(t)
			addr, accept := rawServer(t, tt.rawHost)
			cfg := testConfig(t, "m.test.example")
			cfg.ReconnectMin, cfg.ReconnectMax = time.Minute, time.Minute
			n := newNode(t, cfg, echoHandler())
			nodeAddr := listen(t, n)
			if err := n.Connect(context.Background(), PeerConfig{Address: addr}); err != nil {
				t.Fatal(err)
			}
			old := accept()
			old.acceptCER(1)
			waitPeer(t, n, tt.rawHost)

			second := dialRaw(t, nodeAddr, tt.rawHost)
			cer := diam.NewRequest(cmdCapabilitiesExchange, 0, second.d)
			second.capabilities(cer, tt.stateID, echoApp)
			second.writeMsg(cer)
			cea := second.readAnswer()
			if got := resultCode(t, cea); got != tt.wantCode {
				t.Fatalf("CEA %d, want %d", got, tt.wantCode)
			}
			if tt.keepOld {
				second.expectClosed()
				second.nc.Close()
				waitPeers(t, n, "only the first connection", func(p []PeerInfo) bool {
					return len(p) == 1 && p[0].Dialled && p[0].State == StateOpen
				})
				return
			}
			old.expectClosed()
			waitPeer(t, n, tt.rawHost)
			for _, p := range n.Peers() {
				if p.OriginHost == tt.rawHost && p.State == StateOpen && p.Dialled {
					t.Fatalf("old connection still open: %+v", n.Peers())
				}
			}
		})
	}
}

func TestCloseWaitsForRequestsInFlight(t *testing.T) {
	leakCheck(t)
	entered := make(chan struct{})
	release := make(chan struct{})
	server := newNode(t, testConfig(t, "hss.test.example"), HandlerFunc(func(ctx context.Context, req *diam.Message, from PeerInfo) (*diam.Message, error) {
		close(entered)
		<-release
		return req.Answer(uint32(diameter.Success)), nil
	}))
	client, err := New(testConfig(t, "scscf.test.example"), echoHandler())
	if err != nil {
		t.Fatal(err)
	}
	connectPair(t, client, server)
	result := make(chan error, 1)
	go func() {
		_, err := client.Request(context.Background(), newEcho(client.cfg.Dictionary, "s;inflight", "", ""))
		result <- err
	}()
	<-entered
	closed := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		closed <- client.Close(ctx)
	}()
	waitState(t, server, "scscf.test.example", StateOpen) // no DPR yet: the answer is awaited
	close(release)
	if err := <-result; err != nil {
		t.Fatalf("request in flight during Close: %v", err)
	}
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
}

func TestCloseCancelsHandlers(t *testing.T) {
	leakCheck(t)
	entered := make(chan struct{})
	server, err := New(testConfig(t, "hss.test.example"), HandlerFunc(func(ctx context.Context, req *diam.Message, from PeerInfo) (*diam.Message, error) {
		close(entered)
		<-ctx.Done() // a handler stuck until its context ends
		return nil, ctx.Err()
	}))
	if err != nil {
		t.Fatal(err)
	}
	client := newNode(t, testConfig(t, "scscf.test.example"), echoHandler())
	connectPair(t, client, server)
	go client.Request(context.Background(), newEcho(client.cfg.Dictionary, "s;stuck", "", ""))
	<-entered
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	// The DPR phase waits for the handler until ctx ends; then everything is closed.
	if err := server.Close(ctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		t.Fatal(err)
	}
	select {
	case <-server.done:
	case <-time.After(5 * time.Second):
		t.Fatal("goroutines still running after Close")
	}
}
