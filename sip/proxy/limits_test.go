package proxy

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
)

// waitClosedByPeer reads c until the proxy closes it: true if it did within waitLong (a deadline against hangs,
// not an assertion about speed).
func waitClosedByPeer(t testing.TB, c net.Conn) bool {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(waitLong))
	buf := make([]byte, 4096)
	for {
		_, err := c.Read(buf)
		if err == nil {
			continue
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return false
		}
		return true // EOF or reset: closed by the proxy
	}
}

// optionsOver sends an OPTIONS over c and returns the status line of its answer, read from r (over c).
func optionsOver(c net.Conn, r *bufio.Reader, n string) (string, error) {
	if _, err := c.Write([]byte(tcpOptions(c, n))); err != nil {
		return "", err
	}
	status, err := r.ReadString('\n')
	for err == nil {
		var line string
		if line, err = r.ReadString('\n'); line == "\r\n" {
			break
		}
	}
	return status, err
}

// tcpOptions is a complete OPTIONS over TCP from c, for the proxy at dst.
func tcpOptions(c net.Conn, n string) string {
	return strings.NewReplacer("{VIA}", c.LocalAddr().String(), "{N}", n, "SIP/2.0/UDP", "SIP/2.0/TCP").Replace(rawOptions)
}

// checkServes proves the proxy still answers a normal request over TCP (from src) and over UDP.
func checkServes(t *testing.T, p *Proxy, src string) {
	t.Helper()
	ua := rawTCPOver(t, dialFrom(t, src, p.addr(transportTCP)))
	ua.send(ua.request(reqOpts{method: sip.OPTIONS, ruri: "sip:bob@ims.mnc001.mcc001.3gppnetwork.org"}), p.addr(transportTCP))
	if res := ua.final(); res.StatusCode != 200 {
		t.Errorf("TCP OPTIONS after the flood: %s", res.StartLine())
	}
	u := newRawUDP(t, "127.0.0.1:0")
	u.send(u.request(reqOpts{method: sip.OPTIONS, ruri: "sip:bob@ims.mnc001.mcc001.3gppnetwork.org"}), p.addr(transportUDP))
	if res := u.final(); res.StatusCode != 200 {
		t.Errorf("UDP OPTIONS after the flood: %s", res.StartLine())
	}
}

// TestConnectionFlood opens more connections than the limits allow, from one source and from several: those
// beyond the per-source limit are closed at once, at the total limit the silent ones (never a whole message) are
// shed before a connection that carried one, and a normal request still gets its answer over TCP and UDP.
func TestConnectionFlood(t *testing.T) {
	checkLeaksAtEnd(t)
	metrics := &countingMetrics{counts: map[string]int{}}
	p := startProxy(t, localRouter{}, func(c *Config) {
		c.Limits.MaxConnectionsPerSource = 4
		c.Limits.MaxConnections = 10
		c.Metrics = metrics
	})
	// A client that has spoken: it must outlive the flood.
	spoke := dialFrom(t, "127.0.0.9", p.addr(transportTCP))
	r := bufio.NewReader(spoke)
	if line, err := optionsOver(spoke, r, "spoke"); err != nil || !strings.HasPrefix(line, "SIP/2.0 200") {
		t.Fatalf("first OPTIONS: %q %v", line, err)
	}

	// 12 from one source: 4 stay, 8 are closed at once.
	var one []net.Conn
	for range 12 {
		one = append(one, dialFrom(t, "127.0.0.10", p.addr(transportTCP)))
	}
	closed := 0
	for _, c := range one[4:] {
		if waitClosedByPeer(t, c) {
			closed++
		}
	}
	if closed != 8 || metrics.get("limit per_source") != 8 {
		t.Errorf("%d of 8 connections over the per-source limit closed, %d counted", closed, metrics.get("limit per_source"))
	}
	// 4 each from 4 more sources: the total (10) is passed and silent connections are shed, oldest first.
	for i := range 4 {
		for range 4 {
			dialFrom(t, fmt.Sprintf("127.0.0.%d", 11+i), p.addr(transportTCP))
		}
	}
	if line, err := optionsOver(spoke, r, "spoke-again"); err != nil || !strings.HasPrefix(line, "SIP/2.0 200") {
		t.Errorf("connection that had spoken was shed: %q %v", line, err)
	}
	if !waitClosedByPeer(t, one[0]) {
		t.Error("the oldest silent connection was not shed")
	}
	checkServes(t, p, "127.0.0.20")
	if metrics.get("limit shed") == 0 {
		t.Error("nothing counted as shed")
	}
	total, _, _ := p.conns.open()
	if total > 10 {
		t.Errorf("%d connections open, limit 10", total)
	}
}

// TestSlowAndOversizedMessages: an accepted connection without a message within message_timeout (silent, or
// keep-alives only), a message whose header section does not end within header_timeout (slowloris, however it
// trickles), a body not complete within message_timeout, a header section longer than
// max_message_size and a Content-Length beyond it each close their connection; an oversized datagram is dropped.
// The proxy then still serves.
func TestSlowAndOversizedMessages(t *testing.T) {
	checkLeaksAtEnd(t)
	metrics := &countingMetrics{counts: map[string]int{}}
	p := startProxy(t, localRouter{}, func(c *Config) {
		c.Limits.HeaderTimeout = 300 * time.Millisecond
		c.Limits.MessageTimeout = 600 * time.Millisecond
		c.Limits.MaxMessageSize = 4096
		c.Metrics = metrics
	})
	full := func(c net.Conn) string { return tcpOptions(c, "slow") }
	tests := []struct {
		name   string
		send   func(c net.Conn, stop <-chan struct{})
		reason LimitReason
	}{
		{"silent from the start", func(net.Conn, <-chan struct{}) {}, LimitIdle},
		{"keep-alives only", func(c net.Conn, stop <-chan struct{}) {
			trickle(c, stop, func(int) ([]byte, bool) { return []byte("\r\n\r\n"), true })
		}, LimitIdle},
		{"header never ends", func(c net.Conn, _ <-chan struct{}) {
			_, _ = c.Write([]byte(strings.SplitAfter(full(c), "\r\n")[0]))
		}, LimitSlow},
		{"header trickles", func(c net.Conn, stop <-chan struct{}) {
			msg := full(c)
			trickle(c, stop, func(i int) ([]byte, bool) { return []byte{msg[i]}, i < len(msg)-4 })
		}, LimitSlow},
		{"body never ends", func(c net.Conn, _ <-chan struct{}) {
			_, _ = c.Write([]byte(strings.Replace(full(c), "Content-Length: 0", "Content-Length: 100", 1) + "part"))
		}, LimitSlow},
		{"header too long", func(c net.Conn, _ <-chan struct{}) {
			_, _ = c.Write([]byte(strings.Replace(full(c), "\r\n\r\n", "\r\nX-Pad: "+strings.Repeat("a", 5000)+"\r\n", 1)))
		}, LimitOversize},
		{"Content-Length too large", func(c net.Conn, _ <-chan struct{}) {
			_, _ = c.Write([]byte(strings.Replace(full(c), "Content-Length: 0", "Content-Length: 100000", 1)))
		}, LimitOversize},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := metrics.get("limit " + string(tc.reason))
			c := dialFrom(t, "127.0.0.1", p.addr(transportTCP))
			stop := make(chan struct{})
			done := make(chan struct{})
			go func() { defer close(done); tc.send(c, stop) }()
			if !waitClosedByPeer(t, c) {
				t.Error("connection not closed")
			}
			close(stop)
			<-done
			if metrics.get("limit "+string(tc.reason)) != before+1 {
				t.Errorf("not counted as %s", tc.reason)
			}
		})
	}
	t.Run("oversized datagram", func(t *testing.T) {
		ua := newRawUDP(t, "127.0.0.1:0")
		big := ua.request(reqOpts{method: sip.OPTIONS, ruri: "sip:bob@ims.mnc001.mcc001.3gppnetwork.org", body: make([]byte, 5000)})
		ua.send(big, p.addr(transportUDP))
		small := ua.request(reqOpts{method: sip.OPTIONS, ruri: "sip:bob@ims.mnc001.mcc001.3gppnetwork.org"})
		ua.send(small, p.addr(transportUDP))
		res := ua.final() // the datagrams are read in order: an answer to the big one would come first
		if callIDOf(res) != callIDOf(small) || res.StatusCode != 200 {
			t.Errorf("got %s for %s, want 200 for the small request only", res.StartLine(), callIDOf(res))
		}
		if metrics.get("limit oversize") == 0 {
			t.Error("dropped datagram not counted")
		}
	})
	checkServes(t, p, "127.0.0.1")
}

// trickle writes next(0), next(1), ... to c, 50 ms apart, until next says stop, a write fails or stop is closed.
func trickle(c net.Conn, stop <-chan struct{}, next func(i int) ([]byte, bool)) {
	for i := 0; ; i++ {
		b, ok := next(i)
		if !ok {
			return
		}
		if _, err := c.Write(b); err != nil {
			return
		}
		select {
		case <-stop:
			return
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// TestIdleConnectionClosed: a connection that carried nothing for idle_timeout is closed; one kept busy (CRLF
// keep-alives, RFC 5626 §3.5.1) is not while it is.
func TestIdleConnectionClosed(t *testing.T) {
	checkLeaksAtEnd(t)
	p := startProxy(t, localRouter{}, func(c *Config) { c.Limits.IdleTimeout = time.Second })
	c := dialFrom(t, "127.0.0.1", p.addr(transportTCP))
	r := bufio.NewReader(c)
	if line, err := optionsOver(c, r, "idle"); err != nil || !strings.HasPrefix(line, "SIP/2.0 200") {
		t.Fatalf("OPTIONS: %q %v", line, err)
	}
	// Keep-alives for longer than the idle timeout: the connection stays.
	for range 15 {
		time.Sleep(100 * time.Millisecond)
		if _, err := c.Write([]byte("\r\n\r\n")); err != nil {
			t.Fatalf("connection closed while kept alive: %v", err)
		}
		_ = c.SetReadDeadline(time.Now().Add(waitLong))
		if pong, err := r.ReadString('\n'); err != nil || pong != "\r\n" { // RFC 5626 §3.5.1 pong
			t.Fatalf("keep-alive not answered: %q %v", pong, err)
		}
	}
	if !waitClosedByPeer(t, c) {
		t.Error("idle connection not closed")
	}
}

// TestAcceptSurvivesEMFILE runs a proxy in a child process whose RLIMIT_NOFILE is lowered to a few descriptors
// above what it has open, then floods it with connections from this process: its accept loop gets EMFILE,
// backs off, sheds idle connections and goes on, and a normal request is answered over TCP and UDP. Before, sipgo's
// accept loop returned the error and the node stopped.
func TestAcceptSurvivesEMFILE(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("counts descriptors in /proc/self/fd")
	}
	if os.Getenv("PROXY_EMFILE_CHILD") != "" {
		emfileChild(t)
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestAcceptSurvivesEMFILE$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), "PROXY_EMFILE_CHILD=1")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 64)
	var out strings.Builder
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			out.WriteString(sc.Text() + "\n")
			if strings.HasPrefix(sc.Text(), "CHILD ") {
				lines <- sc.Text()
			}
		}
	}()
	next := func() string {
		select {
		case l, ok := <-lines:
			if !ok {
				_ = cmd.Wait()
				t.Fatalf("child ended:\n%s", out.String())
			}
			return l
		case <-time.After(waitLong):
			_ = cmd.Process.Kill()
			t.Fatalf("child silent")
		}
		return ""
	}
	var tcpAddr, udpAddr string
	if _, err := fmt.Sscanf(next(), "CHILD ADDR %s %s", &tcpAddr, &udpAddr); err != nil {
		t.Fatal(err)
	}
	if l := next(); l != "CHILD LIMITED" {
		t.Fatalf("child: %s", l)
	}
	tcp, udp := netip.MustParseAddrPort(tcpAddr), netip.MustParseAddrPort(udpAddr)
	// The flood: far more connections than the child has descriptors left; the kernel completes each handshake,
	// the child's accept fails.
	for range 64 {
		dialFrom(t, "127.0.0.1", tcp)
	}
	p := &Proxy{udp: []*listener{{transport: transportUDP, bound: udp}}, tcp: []*listener{{transport: transportTCP, bound: tcp}}}
	checkServes(t, p, "127.0.0.2")
	_ = stdin.Close() // the child stops its proxy and reports
	var report string
	for l := range lines {
		report = l
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("child failed: %v\n%s", err, out.String())
	}
	var acceptErrors, shed int
	if _, err := fmt.Sscanf(report, "CHILD REPORT %d %d", &acceptErrors, &shed); err != nil {
		t.Fatalf("report %q: %v\n%s", report, err, out.String())
	}
	if acceptErrors == 0 {
		t.Errorf("the child never ran out of descriptors: the test proved nothing\n%s", out.String())
	}
	t.Logf("child: %d accept errors, %d connections shed", acceptErrors, shed)
}

// emfileChild is the child side of TestAcceptSurvivesEMFILE.
func emfileChild(t *testing.T) {
	metrics := &countingMetrics{counts: map[string]int{}}
	p := startProxy(t, localRouter{}, func(c *Config) {
		c.Limits.MaxConnectionsPerSource = 1000
		c.Metrics = metrics
	})
	fmt.Printf("CHILD ADDR %s %s\n", p.addr(transportTCP), p.addr(transportUDP))
	var orig syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &orig); err != nil {
		t.Fatal(err)
	}
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	low := orig
	low.Cur = uint64(len(fds)) + 6
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &low); err != nil {
		t.Fatal(err)
	}
	fmt.Println("CHILD LIMITED")
	_, _ = io.Copy(io.Discard, os.Stdin) // until the parent is done
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &orig); err != nil {
		t.Error(err)
	}
	fmt.Printf("CHILD REPORT %d %d\n", metrics.get("limit accept_error"), metrics.get("limit shed"))
	// startProxy's cleanup fails the test if Run stopped with an error (the old accept loop's EMFILE).
}
