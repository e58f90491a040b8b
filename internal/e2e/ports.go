package e2e

import (
	"fmt"
	"math/rand/v2"
	"net"
	"sync"
	"testing"
)

// Ports are chosen below Linux's ephemeral range (ip_local_port_range starts at 32768): a port handed out by
// FreePort is then never taken meanwhile by a socket bound to port 0 (an outgoing TCP connection, a UDP client
// socket), which matters when a port is released and bound again later, as a UE's registered Contact port is
// between two SIPp runs.
const (
	portRangeFirst = 20000
	portRangeSize  = 12000
)

// handedOut holds every port FreePort returned in this test binary. A port is never handed out twice: the
// probe below cannot see a port that a node inside a test's network namespace has bound, nor one handed out but
// not yet bound, and two nodes given one port fail at start ("address already in use"). It is the harness's
// one piece of process-wide state, as the ports themselves are process-wide.
var handedOut = struct {
	sync.Mutex
	ports map[int]bool
}{ports: make(map[int]bool)}

// FreePort returns a loopback port that is free for both UDP and TCP at the time of the call (a SIP node binds
// both on one port), and that no earlier call of this test binary returned.
func FreePort(t testing.TB) int {
	t.Helper()
	handedOut.Lock()
	defer handedOut.Unlock()
	for range 200 {
		port := portRangeFirst + rand.IntN(portRangeSize)
		if handedOut.ports[port] {
			continue
		}
		tl, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			continue
		}
		ul, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", port))
		_ = tl.Close()
		if err != nil {
			continue
		}
		_ = ul.Close()
		handedOut.ports[port] = true
		return port
	}
	t.Fatal("no free loopback port for both UDP and TCP")
	return 0
}

// Addr is "127.0.0.1:port".
func Addr(port int) string { return fmt.Sprintf("127.0.0.1:%d", port) }
