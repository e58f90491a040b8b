package proxy

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/emiago/sipgo/sip"
)

// countingMetrics records every call.
type countingMetrics struct {
	mu       sync.Mutex
	counts   map[string]int
	inflight int
}

func (m *countingMetrics) Request(dir Direction, method string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.counts[fmt.Sprintf("req %s %s", dir, method)]++
}

func (m *countingMetrics) Response(dir Direction, method string, code int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.counts[fmt.Sprintf("res %s %s %d", dir, method, code)]++
}

func (m *countingMetrics) InFlight(delta int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.inflight += delta
}

func (m *countingMetrics) Limited(reason LimitReason) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.counts["limit "+string(reason)]++
}

// get returns one counter.
func (m *countingMetrics) get(key string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.counts[key]
}

var _ Metrics = (*countingMetrics)(nil)

// TestMetrics: one proxied MESSAGE and one rejected OPTIONS give exactly the expected counters, and the in-flight
// gauge returns to zero.
func TestMetrics(t *testing.T) {
	checkLeaksAtEnd(t)
	uas := startUAS(t, false, nil)
	m := &countingMetrics{counts: map[string]int{}}
	p := startProxy(t, RouterFunc(func(ctx context.Context, req *sip.Request, src Source) (Decision, error) {
		if req.Method == sip.OPTIONS {
			return Decision{}, &StatusError{Code: 403, Reason: "Forbidden"}
		}
		return Forward(Target{URI: &uas.uri}), nil
	}), func(c *Config) { c.Metrics = m })
	uac := newRawUDP(t, "127.0.0.1:0")
	uac.send(uac.request(reqOpts{method: sip.MESSAGE, ruri: "sip:bob@ims.mnc001.mcc001.3gppnetwork.org"}), p.addr(transportUDP))
	uac.response(200)
	uas.nextOf(sip.MESSAGE)
	uac.send(uac.request(reqOpts{method: sip.OPTIONS, ruri: "sip:bob@ims.mnc001.mcc001.3gppnetwork.org"}), p.addr(transportUDP))
	uac.response(403)

	m.mu.Lock()
	defer m.mu.Unlock()
	want := map[string]int{
		"req in MESSAGE": 1, "req out MESSAGE": 1, "res in MESSAGE 200": 1, "res out MESSAGE 200": 1,
		"req in OPTIONS": 1, "res out OPTIONS 403": 1,
	}
	for k, v := range want {
		if m.counts[k] != v {
			t.Errorf("%s = %d, want %d (all: %v)", k, m.counts[k], v, m.counts)
		}
	}
	if len(m.counts) != len(want) {
		t.Errorf("unexpected counters: %v", m.counts)
	}
	if m.inflight != 0 {
		t.Errorf("in flight %d after both transactions were answered", m.inflight)
	}
}

// TestNextHopLocal: a router can choose the local address a copy leaves from, a UDP listener or, for TCP, a port
// the connection is dialled from (a P-CSCF's protected client port, TS 33.203 §7.1).
func TestNextHopLocal(t *testing.T) {
	checkLeaksAtEnd(t)
	uas := startUAS(t, true, nil)
	free, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	tcpLocal := free.Addr().(*net.TCPAddr).AddrPort()
	free.Close()

	var secondPtr atomic.Pointer[netip.AddrPort] // set once the proxy is bound; stray datagrams may come earlier
	p := startProxy(t, RouterFunc(func(ctx context.Context, req *sip.Request, src Source) (Decision, error) {
		if secondPtr.Load() == nil {
			return Respond(503, "Starting"), nil
		}
		second := *secondPtr.Load()
		switch req.Recipient.User {
		case "udp":
			return Forward(Target{URI: &uas.uri, NextHop: &NextHop{Addr: uas.addr, Local: second}}), nil
		default:
			return Forward(Target{URI: &uas.uri, NextHop: &NextHop{Transport: "TCP", Addr: uas.addr, Local: tcpLocal}}), nil
		}
	}), func(c *Config) { c.Listen = append(c.Listen, Listen{Addr: "127.0.0.1:0"}) })
	second := p.Listeners()[2].Addr // the second address's UDP socket
	secondPtr.Store(&second)
	uac := newRawUDP(t, "127.0.0.1:0")
	tests := []struct {
		user      string
		transport string
		from      netip.AddrPort
	}{
		{user: "udp", transport: "UDP", from: second},
		{user: "tcp", transport: "TCP", from: tcpLocal},
	}
	for _, tc := range tests {
		t.Run(tc.user, func(t *testing.T) {
			uac.send(uac.request(reqOpts{method: sip.MESSAGE, ruri: "sip:" + tc.user + "@ims.mnc001.mcc001.3gppnetwork.org"}), p.addr(transportUDP))
			if res := uac.final(); res.StatusCode != 200 {
				t.Fatalf("got %s", res.StartLine())
			}
			got := uas.nextOf(sip.MESSAGE)
			if got.Transport() != tc.transport || got.Source() != tc.from.String() {
				t.Errorf("arrived over %s from %s, want %s from %s", got.Transport(), got.Source(), tc.transport, tc.from)
			}
		})
	}
}
