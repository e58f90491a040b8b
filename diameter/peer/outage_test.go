package peer

// A peer that stops answering, and one that comes back: requests in a row that time out take a
// connection out of routing (watchdog.go), late answers are dropped, and a lost peer is redialled
// within a few seconds of its return.

import (
	"context"
	"errors"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fiorix/go-diameter/v4/diam"
	"github.com/fiorix/go-diameter/v4/diam/avp"
	"github.com/fiorix/go-diameter/v4/diam/datatype"

	"github.com/imscore/imscore/diameter"
)

// TestUnresponsivePeerFailsFast: a peer whose base protocol answers (DWR, so the watchdog stays OKAY)
// but whose application requests hang. After MaxConsecutiveTimeouts timeouts the connection is routed
// around: the next request fails at once with ErrNoPeer instead of waiting its timeout. Once the peer
// answers again, the probe request finds it and it is used again.
func TestUnresponsivePeerFailsFast(t *testing.T) {
	leakCheck(t)
	var hang atomic.Bool
	hang.Store(true)
	server := newNode(t, testConfig(t, "hss.test.example"), HandlerFunc(func(ctx context.Context, req *diam.Message, from PeerInfo) (*diam.Message, error) {
		if hang.Load() {
			<-ctx.Done() // a stuck store: no answer until the connection goes
			return nil, ctx.Err()
		}
		return echoHandler().ServeDiameter(ctx, req, from)
	}))
	obs, events := observe(EventPeerUnresponsive, EventPeerResponsive)
	cfg := testConfig(t, "scscf.test.example")
	cfg.RequestTimeout = 150 * time.Millisecond
	cfg.MaxConsecutiveTimeouts = 3
	cfg.UnresponsiveProbe = 300 * time.Millisecond
	cfg.Observer = obs
	client := newNode(t, cfg, echoHandler())
	connectPair(t, client, server)

	for i := range 3 {
		_, err := client.Request(context.Background(), newEcho(client.cfg.Dictionary, "s;hung", "", ""))
		if !errors.Is(err, ErrTimeout) {
			t.Fatalf("request %d: want ErrTimeout, got %v", i, err)
		}
	}
	waitEvent(t, events, "peer unresponsive", func(e Event) bool {
		return e.Kind == EventPeerUnresponsive && e.Peer == "hss.test.example"
	})
	// Routed around: with no other peer the request fails without being sent.
	if _, err := client.Request(context.Background(), newEcho(client.cfg.Dictionary, "s;fast", "", "")); !errors.Is(err, ErrNoPeer) {
		t.Fatalf("request to an unresponsive peer: want ErrNoPeer at once, got %v", err)
	}
	if p := client.Peers(); len(p) != 1 || !p[0].Unresponsive || p[0].State != StateOpen {
		t.Fatalf("peers: %+v, want the one connection open and unresponsive", p)
	}

	// The peer recovers: a probe gets through once UnresponsiveProbe has passed, and its answer puts the
	// connection back into routing.
	hang.Store(false)
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err := client.Request(context.Background(), newEcho(client.cfg.Dictionary, "s;probe", "", ""))
		if err == nil {
			break
		}
		if !errors.Is(err, ErrNoPeer) || time.Now().After(deadline) {
			t.Fatalf("recovery: %v", err)
		}
		time.Sleep(20 * time.Millisecond) // bounded poll: requests fail fast until the probe is due
	}
	waitEvent(t, events, "peer responsive", func(e Event) bool { return e.Kind == EventPeerResponsive })
	if p := client.Peers(); len(p) != 1 || p[0].Unresponsive {
		t.Fatalf("peers after recovery: %+v", p)
	}
}

// TestUnresponsiveFailsOverToAnotherPeer: with two peers, requests in flight on the one marked
// unresponsive move to the other (RFC 6733 §5.5.4), and new requests go there directly.
func TestUnresponsiveFailsOverToAnotherPeer(t *testing.T) {
	leakCheck(t)
	hung := newNode(t, testConfig(t, "hss1.test.example"), HandlerFunc(func(ctx context.Context, req *diam.Message, from PeerInfo) (*diam.Message, error) {
		<-ctx.Done()
		return nil, ctx.Err()
	}))
	good := newNode(t, testConfig(t, "hss2.test.example"), echoHandler())
	cfg := testConfig(t, "scscf.test.example")
	cfg.RequestTimeout = 200 * time.Millisecond
	cfg.MaxConsecutiveTimeouts = 1
	cfg.UnresponsiveProbe = time.Minute
	client := newNode(t, cfg, echoHandler())
	connectPair(t, client, hung)
	connectPair(t, client, good)
	// Requests go round-robin; whichever lands on hss1 times out (one strike is enough here), after which
	// every request is answered by hss2.
	timeouts := 0
	for range 4 {
		if _, err := client.Request(context.Background(), newEcho(client.cfg.Dictionary, "s;rr", "", "")); err != nil {
			if !errors.Is(err, ErrTimeout) {
				t.Fatalf("unexpected %v", err)
			}
			timeouts++
		}
	}
	if timeouts > 1 {
		t.Fatalf("%d requests timed out: the unresponsive peer kept getting requests", timeouts)
	}
	for range 5 {
		ans, err := client.Request(context.Background(), newEcho(client.cfg.Dictionary, "s;after", "", ""))
		if err != nil {
			t.Fatalf("request after hss1 was routed around: %v", err)
		}
		if host, _ := avpString(findAVP(ans.AVP, avpOriginHost)); host != "hss2.test.example" {
			t.Fatalf("answered by %q", host)
		}
	}
}

// TestLateAnswerNeverDelivered: an answer that arrives after its request timed out is dropped and counted
// (EventUnknownAnswer), and is not handed to the next request, not even one given the late answer's
// Hop-by-Hop Identifier: the End-to-End Identifier must match too (RFC 6733 §6.2).
func TestLateAnswerNeverDelivered(t *testing.T) {
	leakCheck(t)
	obs, unknown := observe(EventUnknownAnswer)
	cfg := testConfig(t, "scscf.test.example")
	cfg.RequestTimeout = 200 * time.Millisecond
	cfg.WatchdogInterval = time.Minute
	cfg.Observer = obs
	n, hss := withRawHSS(t, cfg)

	first := make(chan error, 1)
	go func() {
		_, err := n.Request(context.Background(), newEcho(n.cfg.Dictionary, "s;first", "", "first"))
		first <- err
	}()
	_, req1, err := hss.read()
	if err != nil {
		t.Fatal(err)
	}
	if err := <-first; !errors.Is(err, ErrTimeout) {
		t.Fatalf("first request: want ErrTimeout, got %v", err)
	}
	late := func(req *diam.Message, hbh uint32) {
		ans := req.Answer(uint32(diameter.Success))
		ans.Header.HopByHopID = hbh
		ans.NewAVP(avpOriginHost, avp.Mbit, 0, datatype.DiameterIdentity("hss.test.example"))
		ans.NewAVP(avpOriginRealm, avp.Mbit, 0, datatype.DiameterIdentity(testRealm))
		ans.NewAVP(avpEchoPay, avp.Mbit|avp.Vbit, echoVendor, datatype.OctetString("late"))
		hss.writeMsg(ans)
	}

	second := make(chan *diam.Message, 1)
	secondErr := make(chan error, 1)
	go func() {
		ans, err := n.Request(context.Background(), newEcho(n.cfg.Dictionary, "s;second", "", "second"))
		second <- ans
		secondErr <- err
	}()
	_, req2, err := hss.read()
	if err != nil {
		t.Fatal(err)
	}
	late(req1, req1.Header.HopByHopID) // the late answer as sent: nothing waits for this Hop-by-Hop any more
	late(req1, req2.Header.HopByHopID) // and one forged onto the second request's Hop-by-Hop: End-to-End differs
	for range 2 {
		waitEvent(t, unknown, "late answer dropped", func(Event) bool { return true })
	}
	ans := req2.Answer(uint32(diameter.Success))
	ans.NewAVP(avpOriginHost, avp.Mbit, 0, datatype.DiameterIdentity("hss.test.example"))
	ans.NewAVP(avpOriginRealm, avp.Mbit, 0, datatype.DiameterIdentity(testRealm))
	ans.NewAVP(avpEchoPay, avp.Mbit|avp.Vbit, echoVendor, datatype.OctetString("second"))
	hss.writeMsg(ans)
	got := <-second
	if err := <-secondErr; err != nil {
		t.Fatalf("second request: %v", err)
	}
	if pay, _ := findAVP2(got.AVP, avpEchoPay).Data.(datatype.OctetString); string(pay) != "second" {
		t.Fatalf("second request got payload %q", pay)
	}
}

// TestRedialSoonAfterPeerReturns: a peer that refused every connection for long enough that the old
// backoff (1 s doubling to 30 s) would wait at least 15 s more, is reconnected within a few seconds of its
// return with the default ReconnectMax (4 s).
func TestRedialSoonAfterPeerReturns(t *testing.T) {
	leakCheck(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	// The peer is down: its port accepts and closes at once, so every dial fails and is counted.
	attempts := make(chan struct{}, 64)
	refused := make(chan struct{})
	go func() {
		defer close(refused)
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			nc.Close()
			attempts <- struct{}{}
		}
	}()
	cfg := testConfig(t, "scscf.test.example")
	cfg.ReconnectMin, cfg.ReconnectMax = 0, 0 // the defaults under test
	client := newNode(t, cfg, echoHandler())
	if err := client.Connect(context.Background(), PeerConfig{Address: addr, Host: "hss.test.example"}); err != nil {
		t.Fatal(err)
	}
	// Six failed dials: the old backoff would now wait jitter(30 s) ≥ 15 s before the seventh.
	for i := range 6 {
		select {
		case <-attempts:
		case <-time.After(40 * time.Second):
			t.Fatalf("dial %d never came", i+1)
		}
	}
	ln.Close()
	<-refused
	// The peer comes back on the same address.
	server := newNode(t, testConfig(t, "hss.test.example"), echoHandler())
	ln2, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("re-listen on %s: %v", addr, err)
	}
	go func() { _ = server.Serve(context.Background(), ln2) }()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second) // far below the old 15–30 s
	defer cancel()
	if _, err := client.WaitPeer(ctx, "hss.test.example"); err != nil {
		t.Fatalf("peer back but not redialled within 10 s: %v (peers %+v)", err, client.Peers())
	}
}

// TestProbeFailedOverBySuspect: the one probe request let through to an unresponsive connection is failed
// over when the watchdog turns the connection SUSPECT; after failback the next request must be able to
// probe it again (it used to stay out of routing for good).
func TestProbeFailedOverBySuspect(t *testing.T) {
	leakCheck(t)
	cfg := testConfig(t, "scscf.test.example")
	cfg.WatchdogInterval = 200 * time.Millisecond
	cfg.RequestTimeout = time.Second
	cfg.MaxConsecutiveTimeouts = 1
	cfg.UnresponsiveProbe = 100 * time.Millisecond
	n, hss := withRawHSS(t, cfg)

	// The raw HSS: answers DWR while answerDWR is set, answers application requests while answerApp is
	// set, and reports each application request it reads.
	var answerDWR, answerApp atomic.Bool
	answerDWR.Store(true)
	appReqs := make(chan *diam.Message, 16)
	readerDone := make(chan struct{})
	var heldDWR atomic.Pointer[diam.Message]
	go func() {
		defer close(readerDone)
		for {
			_, m, err := hss.read()
			if err != nil {
				var ne net.Error
				if errors.As(err, &ne) && ne.Timeout() {
					continue
				}
				return
			}
			switch {
			case m.Header.CommandCode == cmdDeviceWatchdog && answerDWR.Load():
				hss.answer(m, diameter.Success)
			case m.Header.CommandCode == cmdDeviceWatchdog:
				heldDWR.Store(m)
			case answerApp.Load():
				ans := m.Answer(uint32(diameter.Success))
				ans.NewAVP(avpOriginHost, avp.Mbit, 0, datatype.DiameterIdentity("hss.test.example"))
				ans.NewAVP(avpOriginRealm, avp.Mbit, 0, datatype.DiameterIdentity(testRealm))
				hss.writeMsg(ans)
				appReqs <- m
			default:
				appReqs <- m
			}
		}
	}()

	if _, err := n.Request(context.Background(), newEcho(n.cfg.Dictionary, "s;a", "", "")); !errors.Is(err, ErrTimeout) {
		t.Fatalf("first request: want ErrTimeout, got %v", err)
	}
	<-appReqs
	// Requests fail fast until the probe is due; the first one sent is the probe, and it hangs.
	probe := make(chan error, 1)
	go func() {
		for range 500 {
			_, err := n.Request(context.Background(), newEcho(n.cfg.Dictionary, "s;probe", "", ""))
			if !errors.Is(err, ErrNoPeer) {
				probe <- err
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
		probe <- errors.New("the probe never went out")
	}()
	<-appReqs
	answerDWR.Store(false) // now the watchdog turns SUSPECT, which fails the probe over
	if err := <-probe; !errors.Is(err, ErrConnectionLost) {
		t.Fatalf("probe: want ErrConnectionLost at SUSPECT, got %v", err)
	}
	waitState(t, n, "hss.test.example", StateSuspect)
	answerApp.Store(true)
	hss.answer(heldDWR.Load(), diameter.Success) // late DWA: failback (RFC 3539 §3.4.1)
	answerDWR.Store(true)
	waitState(t, n, "hss.test.example", StateOpen)
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, err := n.Request(context.Background(), newEcho(n.cfg.Dictionary, "s;again", "", ""))
		if err == nil {
			break
		}
		if !errors.Is(err, ErrNoPeer) || time.Now().After(deadline) {
			t.Fatalf("after failback the connection never took a probe again: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	n.Close(context.Background())
	<-readerDone
}
