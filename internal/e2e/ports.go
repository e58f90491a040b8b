package e2e

import (
	"fmt"
	"net"
	"testing"
)

// FreePort returns a loopback port that is free for both UDP and TCP at the time of the call (a SIP node binds
// both on one port). Another process may take it before the node binds it; tests that start many nodes keep
// the window short by starting each node right after choosing its port.
func FreePort(t testing.TB) int {
	t.Helper()
	for range 50 {
		tl, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := tl.Addr().(*net.TCPAddr).Port
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
