package h248

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

var loopback = netip.MustParseAddr("127.0.0.1")

func startEndpoint(t *testing.T, h Handler, mod func(*EndpointConfig)) *Endpoint {
	t.Helper()
	cfg := EndpointConfig{Listen: netip.MustParseAddrPort("127.0.0.1:0"), Peers: []netip.Addr{loopback},
		InitialRetransmit: 50 * time.Millisecond, MaxRetransmit: 200 * time.Millisecond, LongTimer: 3 * time.Second}
	if mod != nil {
		mod(&cfg)
	}
	e, err := Listen(cfg, h, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return e
}

// agwHandler answers an Add on CHOOSE with a context and termination of its choosing.
func agwHandler(calls *atomic.Int32, delay time.Duration) Handler {
	return func(ctx context.Context, _ netip.AddrPort, req Transaction) ([]*Node, error) {
		calls.Add(1)
		time.Sleep(delay)
		if req.Actions[0].Context != Choose {
			return nil, &Error{Code: 411, Text: "The transaction refers to an unknown ContextId"}
		}
		return []*Node{Assign("Context", "17", Assign("Add", "ip/1/access/5"))}, nil
	}
}

func TestRequestReply(t *testing.T) {
	var calls atomic.Int32
	agw := startEndpoint(t, agwHandler(&calls, 0), nil)
	alg := startEndpoint(t, nil, nil)
	ctx := context.Background()
	rep, err := alg.Request(ctx, agw.Addr(), Choose, Command("Add", Choose, []Stream{{ID: 1, Mode: ModeSendReceive, Local: offerSDP}}))
	if err != nil {
		t.Fatal(err)
	}
	if rep.Kind != KindReply || rep.Actions[0].Context != "17" || rep.Actions[0].Commands[0].Value != "ip/1/access/5" {
		t.Fatalf("reply %+v", rep)
	}
	_, err = alg.Request(ctx, agw.Addr(), "99", Subtract("ip/1/access/5"))
	var he *Error
	if !errors.As(err, &he) || he.Code != 411 {
		t.Fatalf("error reply: %v; want *Error 411", err)
	}
}

// rawPeer is a UDP socket that plays the other side by hand.
func rawPeer(t *testing.T) *net.UDPConn {
	t.Helper()
	c, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.MustParseAddrPort("127.0.0.1:0")))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func readMessage(t *testing.T, c *net.UDPConn, within time.Duration) (*Message, netip.AddrPort, bool) {
	t.Helper()
	buf := make([]byte, MaxMessageSize)
	_ = c.SetReadDeadline(time.Now().Add(within))
	n, from, err := c.ReadFromUDPAddrPort(buf)
	if err != nil {
		return nil, netip.AddrPort{}, false
	}
	m, err := Parse(buf[:n])
	if err != nil {
		t.Fatalf("endpoint sent a message that does not parse: %v\n%s", err, buf[:n])
	}
	return m, from, true
}

func TestRetransmitsUntilReply(t *testing.T) {
	alg := startEndpoint(t, nil, nil)
	peer := rawPeer(t)
	to := netip.MustParseAddrPort(peer.LocalAddr().String())
	got := make(chan error, 1)
	go func() {
		_, err := alg.Request(context.Background(), to, Choose, Command("Add", Choose, nil))
		got <- err
	}()
	// Ignore the first two copies (lost), answer the third.
	var tid uint32
	for i := range 3 {
		m, from, ok := readMessage(t, peer, 2*time.Second)
		if !ok {
			t.Fatalf("copy %d of the request never came: no retransmission", i+1)
		}
		ts, _ := Transactions(m)
		if i > 0 && ts[0].ID != tid {
			t.Fatalf("retransmission has transaction %d, first had %d", ts[0].ID, tid)
		}
		tid = ts[0].ID
		if i == 2 {
			_, _ = peer.WriteToUDPAddrPort(Encode(&Message{Version: 3, MID: "[127.0.0.1]:1", Body: []*Node{
				Reply(tid, "5", Assign("Add", "t1"))}}), from)
		}
	}
	if err := <-got; err != nil {
		t.Fatal(err)
	}
}

func TestDuplicateRequestsServedOnce(t *testing.T) {
	var calls atomic.Int32
	agw := startEndpoint(t, agwHandler(&calls, 300*time.Millisecond), nil)
	peer := rawPeer(t)
	req := Encode(&Message{Version: 3, MID: "[127.0.0.1]:1", Body: []*Node{Request(42, Choose, Command("Add", Choose, nil))}})
	send := func() { _, _ = peer.WriteToUDPAddrPort(req, agw.Addr()) }
	send()
	time.Sleep(50 * time.Millisecond)
	send() // while the first is served: TransactionPending (H.248.1 §8.2.3)
	var kinds []string
	var replies [][]byte
	for len(kinds) < 2 {
		m, _, ok := readMessage(t, peer, 3*time.Second)
		if !ok {
			t.Fatalf("got %v; want a pending and a reply", kinds)
		}
		ts, _ := Transactions(m)
		kinds = append(kinds, ts[0].Kind)
		if ts[0].Kind == KindReply {
			replies = append(replies, Encode(m))
		}
	}
	if kinds[0] != KindPending || kinds[1] != KindReply {
		t.Fatalf("answers %v; want Pending then Reply", kinds)
	}
	send() // after the reply: the kept reply, not a second run
	m, _, ok := readMessage(t, peer, 2*time.Second)
	if !ok || string(Encode(m)) != string(replies[0]) {
		t.Fatalf("a retransmission after the reply got %v; want the same reply", m)
	}
	if n := calls.Load(); n != 1 {
		t.Fatalf("handler ran %d times for one transaction", n)
	}
}

func TestUntrustedPeerIgnored(t *testing.T) {
	var calls atomic.Int32
	agw := startEndpoint(t, agwHandler(&calls, 0), func(c *EndpointConfig) {
		c.Peers = []netip.Addr{netip.MustParseAddr("192.0.2.1")}
	})
	peer := rawPeer(t)
	req := Encode(&Message{Version: 3, MID: "[127.0.0.1]:1", Body: []*Node{Request(1, Choose, Command("Add", Choose, nil))}})
	_, _ = peer.WriteToUDPAddrPort(req, agw.Addr())
	_, _ = peer.WriteToUDPAddrPort([]byte("garbage"), agw.Addr())
	if m, _, ok := readMessage(t, peer, 300*time.Millisecond); ok {
		t.Fatalf("an unconfigured peer got an answer: %+v", m)
	}
	if calls.Load() != 0 {
		t.Fatal("a request from an unconfigured peer was served")
	}
}

func TestSyntaxErrorAnswered(t *testing.T) {
	agw := startEndpoint(t, agwHandler(new(atomic.Int32), 0), nil)
	peer := rawPeer(t)
	_, _ = peer.WriteToUDPAddrPort([]byte("MEGACO/3 [127.0.0.1]:1 T=1{C=-{A=x,}}"), agw.Addr())
	m, _, ok := readMessage(t, peer, 2*time.Second)
	if !ok {
		t.Fatal("no answer to a malformed message from a peer")
	}
	if e := errorOf(m.Body[0]); e == nil || e.Code != ErrCodeSyntax {
		t.Fatalf("answer %+v; want Error 400", m.Body[0])
	}
}

func TestNoReplyGivesUp(t *testing.T) {
	alg := startEndpoint(t, nil, func(c *EndpointConfig) { c.LongTimer = 300 * time.Millisecond })
	peer := rawPeer(t)
	_, err := alg.Request(context.Background(), netip.MustParseAddrPort(peer.LocalAddr().String()), Choose, Subtract("t1"))
	if !errors.Is(err, ErrNoReply) {
		t.Fatalf("Request to a silent peer: %v; want ErrNoReply", err)
	}
}

func TestOverloadAnswered510(t *testing.T) {
	release := make(chan struct{})
	var once sync.Once
	t.Cleanup(func() { once.Do(func() { close(release) }) })
	agw := startEndpoint(t, func(ctx context.Context, _ netip.AddrPort, _ Transaction) ([]*Node, error) {
		<-release
		return nil, nil
	}, func(c *EndpointConfig) { c.MaxInFlight = 1 })
	peer := rawPeer(t)
	for id := uint32(1); id <= 2; id++ {
		_, _ = peer.WriteToUDPAddrPort(Encode(&Message{Version: 3, MID: "[127.0.0.1]:1", Body: []*Node{
			Request(id, Choose, Command("Add", Choose, nil))}}), agw.Addr())
	}
	m, _, ok := readMessage(t, peer, 2*time.Second)
	if !ok {
		t.Fatal("no answer to the request beyond MaxInFlight")
	}
	ts, _ := Transactions(m)
	if ts[0].ID != 2 || ts[0].Error == nil || ts[0].Error.Code != ErrCodeInsufficient {
		t.Fatalf("answer %+v; want transaction 2 refused with 510", ts[0])
	}
	once.Do(func() { close(release) })
}
