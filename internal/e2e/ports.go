package e2e

import (
	"fmt"
	"math/rand/v2"
	"net"
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

// FreePort returns a loopback port that is free for both UDP and TCP at the time of the call (a SIP node binds
// both on one port).
func FreePort(t testing.TB) int {
	t.Helper()
	for range 200 {
		port := portRangeFirst + rand.IntN(portRangeSize)
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
		return port
	}
	t.Fatal("no free loopback port for both UDP and TCP")
	return 0
}

// Addr is "127.0.0.1:port".
func Addr(port int) string { return fmt.Sprintf("127.0.0.1:%d", port) }
