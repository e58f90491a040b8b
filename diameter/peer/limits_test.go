package peer

import (
	"context"
	"errors"
	"net"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/imscore/imscore/diameter"
)

// emfileListener fails its first n Accepts as the kernel does when the process is out of file
// descriptors, then accepts normally.
type emfileListener struct {
	net.Listener
	n atomic.Int32
}

func (l *emfileListener) Accept() (net.Conn, error) {
	if l.n.Add(-1) >= 0 {
		return nil, &net.OpError{Op: "accept", Net: "tcp", Err: &net.AddrError{Err: syscall.EMFILE.Error()}}
	}
	return l.Listener.Accept()
}

// A node out of file descriptors backs off and goes on accepting; Serve used to return, and the HSS exited.
func TestServeSurvivesEMFILE(t *testing.T) {
	n := newNode(t, testConfig(t, "hss.test.example"), echoHandler())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	el := &emfileListener{Listener: ln}
	el.n.Store(5)
	served := make(chan error, 1)
	go func() { served <- n.Serve(context.Background(), el) }()

	p := dialRaw(t, ln.Addr().String(), "scscf.test.example")
	if cea := p.handshake(echoApp); resultCode(t, cea) != diameter.Success {
		t.Fatalf("CEA %d after the accept errors", resultCode(t, cea))
	}
	select {
	case err := <-served:
		t.Fatalf("Serve returned %v on EMFILE", err)
	default:
	}
	if left := el.n.Load(); left >= 0 {
		t.Fatalf("%d accept errors never happened", left+1)
	}
}

// Connections from addresses that are no configured peer's source are limited while they wait for their
// CER; beyond the limit they are closed before anything is read, and a configured peer still gets in.
func TestStrangerConnectionsLimited(t *testing.T) {
	cfg := testConfig(t, "hss.test.example")
	cfg.Peers = []AllowedPeer{{Host: "scscf.test.example", Realm: testRealm, Sources: []string{"127.0.0.1"}}}
	cfg.MaxStrangerConnections = 2
	cfg.RequestTimeout = 5 * time.Second // strangers' CER wait outlasts the test's checks
	n := newNode(t, cfg, echoHandler())
	addr := listen(t, n)

	dialFrom := func(src string) net.Conn {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 2 * time.Second}
		nc, err := d.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { nc.Close() })
		return nc
	}
	waitConns := func(want int) {
		t.Helper()
		for deadline := time.Now().Add(3 * time.Second); n.connCount() != want; time.Sleep(5 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%d connections, want %d", n.connCount(), want)
			}
		}
	}
	dialFrom("127.0.0.3")
	dialFrom("127.0.0.4")
	waitConns(2)
	// The third stranger is closed at once: EOF, not a read timeout.
	third := dialFrom("127.0.0.5")
	_ = third.SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := third.Read(make([]byte, 1)); err == nil {
		t.Fatal("third stranger's connection got data")
	} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatal("third stranger's connection is still open")
	}
	// The configured peer is not counted against the strangers' limit.
	p := newRawPeer(t, dialFrom("127.0.0.1"), "scscf.test.example")
	if cea := p.handshake(echoApp); resultCode(t, cea) != diameter.Success {
		t.Fatalf("configured peer's CEA %d", resultCode(t, cea))
	}
}

// A peer that never answers the DPR (Kamailio 5.6) must not make a clean stop fail: Close waits a
// bounded time for the DPA and returns nil.
func TestCloseWithoutDPA(t *testing.T) {
	cfg := testConfig(t, "hss.test.example")
	n, err := New(cfg, echoHandler())
	if err != nil {
		t.Fatal(err)
	}
	addr := listen(t, n)
	p := dialRaw(t, addr, "scscf.test.example")
	if cea := p.handshake(echoApp); resultCode(t, cea) != diameter.Success {
		t.Fatalf("CEA %d", resultCode(t, cea))
	}
	// The raw peer reads nothing more: the DPR stays unanswered.
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := n.Close(ctx); err != nil {
		t.Fatalf("Close with an unanswered DPR: %v", err)
	}
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		t.Fatal("Close used up its whole context waiting for the DPA")
	}
}
