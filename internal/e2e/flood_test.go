package e2e

import (
	"context"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"
)

// Connection flood against each SIP node, sized so that the node meets its file-descriptor limit: the node runs
// with RLIMIT_NOFILE lowered to floodFiles, floodConnections idle TCP connections are opened to it from
// 127.0.0.1, and slowlorisConnections more trickle an unfinished request one octet at a time. Meanwhile a
// normal client must still be served: an OPTIONS over UDP and a REGISTER over a new TCP connection from
// another address (127.0.0.2) each get a final response, and the process keeps running and logs no panic
// (issue 10: "a process never exits because of what a peer did").
//
// The limits the nodes enforce (per-source and total connections, idle and header-read timeouts, what happens
// at EMFILE) are their own configuration; this test runs them with their defaults and only lowers the
// descriptor limit, so it holds whatever those defaults are.
const (
	floodFiles           = 512
	floodConnections     = floodFiles + 256
	slowlorisConnections = 32
	// floodServeWait bounds how long the normal client may take to be served once the flood is in place
	// (a node may first have to shed idle connections to accept the client's).
	floodServeWait = 10 * time.Second
)

// floodClient is the source address of the normal client: not the flood's, so that a per-source limit the
// flood exhausted does not apply to it.
var floodClient = netip.MustParseAddr("127.0.0.2")

func TestSIPConnectionFlood(t *testing.T) {
	c := StartCore(t, bins)
	for _, node := range c.SIPNodes() {
		t.Run(node.Name, func(t *testing.T) {
			node.LimitFiles(floodFiles)
			ctx, cancel := context.WithCancel(context.Background())
			var wg sync.WaitGroup
			t.Cleanup(func() { cancel(); wg.Wait() })
			for range slowlorisConnections {
				wg.Add(1)
				go func() { defer wg.Done(); slowloris(ctx, node.SIP) }()
			}
			opened := floodIdle(t, node.SIP, floodConnections)
			t.Logf("%d of %d idle connections opened, %d slow senders trickling", opened, floodConnections,
				slowlorisConnections)

			probe := NewSIPProbe(t, nil)
			probe.Send(node.SIP, probe.Options(node.SIP))
			if res := probe.Final(floodServeWait); res == nil {
				if !node.Running() {
					t.Fatalf("%s exited under a connection flood", node.Name)
				}
				t.Errorf("%s: an OPTIONS over UDP got no answer during the flood", node.Name)
			}
			register(t, node)
			if !node.Running() {
				t.Fatalf("%s exited under a connection flood", node.Name)
			}
			node.CheckNoPanic(t)
		})
	}
}

// register sends a REGISTER for a user nobody provisioned over a new TCP connection from floodClient and
// fails the test unless a final response (whatever its code) comes back on it.
func register(t *testing.T, node SIPNode) {
	t.Helper()
	s := DialSIPStreamFrom(t, floodClient, node.SIP, floodServeWait)
	s.Send(SIPRequest("REGISTER", "sip:"+Domain, "TCP", s.LocalAddr(), "<sip:e2e-nobody@"+Domain+">"))
	res, closed := s.Final(floodServeWait)
	switch {
	case closed:
		t.Errorf("%s: the REGISTER's connection was closed without an answer during the flood", node.Name)
	case res == nil:
		t.Errorf("%s: a REGISTER over a new TCP connection got no answer during the flood (running: %v)",
			node.Name, node.Running())
	default:
		t.Logf("%s still serving during the flood: REGISTER answered %d %s", node.Name, res.StatusCode, res.Reason)
	}
}

// floodIdle opens up to n TCP connections to addr and leaves them idle until the test ends. It returns how many
// connected: once the node's limits bite, dials may be refused or time out, which is the node's right.
func floodIdle(t *testing.T, addr string, n int) int {
	t.Helper()
	d := net.Dialer{Timeout: 500 * time.Millisecond}
	opened, failures := 0, 0
	for range n {
		c, err := d.Dial("tcp", addr)
		if err != nil {
			failures++
			if failures > 50 { // the node stopped accepting: enough
				break
			}
			continue
		}
		opened++
		t.Cleanup(func() { _ = c.Close() })
	}
	return opened
}

// slowloris opens a connection to addr and sends a request one octet every 100 ms, never finishing its header,
// until ctx ends or the node closes the connection.
func slowloris(ctx context.Context, addr string) {
	d := net.Dialer{Timeout: 500 * time.Millisecond}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return
	}
	defer c.Close()
	from := c.LocalAddr().(*net.TCPAddr).AddrPort()
	msg := SIPRequest("OPTIONS", "sip:"+addr, "TCP", from, "<sip:"+addr+">")
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for _, b := range msg[:len(msg)-4] { // the final CRLF CRLF never comes
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if err := c.SetWriteDeadline(time.Now().Add(time.Second)); err != nil {
			return
		}
		if _, err := c.Write([]byte{b}); err != nil {
			return
		}
	}
	<-ctx.Done()
}
