package paatest

import (
	"errors"
	"net"
	"sync"
	"testing"

	"github.com/imscore/imscore/internal/tshark"
)

// Lossy is a UDP relay between one PaC and a PAA on loopback that records every datagram and drops those
// Drop picks (the n-th datagram of a direction, counted from 1).
type Lossy struct {
	t      testing.TB
	conn   *net.UDPConn
	target *net.UDPAddr
	mu     sync.Mutex
	client *net.UDPAddr
	up     *net.UDPConn
	seen   map[bool]int
	// Drop says whether to drop the n-th datagram from the client (fromClient) or from the PAA.
	Drop    func(fromClient bool, n int) bool
	Dropped int
	Log     []tshark.Segment
	wg      sync.WaitGroup
}

// NewLossy relays to target, dropping what drop picks (nil: nothing); Addr is what the PaC talks to.
func NewLossy(t testing.TB, target string, drop func(fromClient bool, n int) bool) *Lossy {
	t.Helper()
	taddr, err := net.ResolveUDPAddr("udp", target)
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: taddr.IP})
	if err != nil {
		t.Fatal(err)
	}
	up, err := net.DialUDP("udp", nil, taddr)
	if err != nil {
		t.Fatal(err)
	}
	l := &Lossy{t: t, conn: c, target: taddr, up: up, seen: map[bool]int{}, Drop: drop}
	l.wg.Go(l.down)
	l.wg.Go(l.fromPAA)
	t.Cleanup(func() { _ = c.Close(); _ = up.Close(); l.wg.Wait() })
	return l
}

// Addr is the relay's address.
func (l *Lossy) Addr() string { return l.conn.LocalAddr().String() }

func (l *Lossy) pass(fromClient bool, b []byte) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.seen[fromClient]++
	if l.Drop != nil && l.Drop(fromClient, l.seen[fromClient]) {
		l.Dropped++
		return false
	}
	l.Log = append(l.Log, tshark.Segment{Payload: append([]byte(nil), b...), FromClient: fromClient})
	return true
}

// Datagrams returns what passed, in order.
func (l *Lossy) Datagrams() []tshark.Segment {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]tshark.Segment(nil), l.Log...)
}

// DroppedCount is the number of datagrams dropped.
func (l *Lossy) DroppedCount() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.Dropped
}

func (l *Lossy) down() {
	buf := make([]byte, 65535)
	for {
		n, from, err := l.conn.ReadFromUDP(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		l.mu.Lock()
		l.client = from
		l.mu.Unlock()
		if l.pass(true, buf[:n]) {
			_, _ = l.up.Write(buf[:n])
		}
	}
}

func (l *Lossy) fromPAA() {
	buf := make([]byte, 65535)
	for {
		n, err := l.up.Read(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		l.mu.Lock()
		client := l.client
		l.mu.Unlock()
		if client != nil && l.pass(false, buf[:n]) {
			_, _ = l.conn.WriteToUDP(buf[:n], client)
		}
	}
}
