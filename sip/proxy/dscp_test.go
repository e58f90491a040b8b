//go:build linux

package proxy

import (
	"github.com/imscore/imscore/internal/dscp"
	"net"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

func sockopt(t *testing.T, c syscall.Conn, level, opt int) int {
	t.Helper()
	rc, err := c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var v int
	var gerr error
	if err := rc.Control(func(fd uintptr) { v, gerr = unix.GetsockoptInt(int(fd), level, opt) }); err != nil {
		t.Fatal(err)
	}
	if gerr != nil {
		t.Fatal(gerr)
	}
	return v
}

// TestDSCP: Config.DSCP marks the UDP listener, the TCP connections accepted on the listener and the
// connections dialled, on IPv4 (IP_TOS) and IPv6 (IPV6_TCLASS); 0 leaves them unmarked.
func TestDSCP(t *testing.T) {
	for _, tt := range []struct {
		addr       string
		level, opt int
	}{
		{"127.0.0.1:0", unix.IPPROTO_IP, unix.IP_TOS},
		{"[::1]:0", unix.IPPROTO_IPV6, unix.IPV6_TCLASS},
	} {
		for _, code := range []uint8{0, 46} {
			u, tl, err := bindPair(Listen{Addr: tt.addr}, code)
			if err != nil {
				if tt.addr[0] == '[' {
					t.Skipf("no IPv6 loopback: %v", err)
				}
				t.Fatal(err)
			}
			want := int(code) << 2
			if got := sockopt(t, u.udp, tt.level, tt.opt); got != want {
				t.Errorf("%s dscp %d: UDP listener %#x, want %#x", tt.addr, code, got, want)
			}
			// (Linux does not read IP_TOS back from a listening TCP socket: its accepted connection shows it.)
			d := net.Dialer{Control: dscp.Control(nil, code)}
			out, err := d.Dial("tcp", tl.tcp.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			in, err := tl.tcp.Accept()
			if err != nil {
				t.Fatal(err)
			}
			if got := sockopt(t, out.(*net.TCPConn), tt.level, tt.opt); got != want {
				t.Errorf("%s dscp %d: dialled TCP %#x, want %#x", tt.addr, code, got, want)
			}
			if got := sockopt(t, in.(*net.TCPConn), tt.level, tt.opt); got != want {
				t.Errorf("%s dscp %d: accepted TCP %#x, want %#x", tt.addr, code, got, want)
			}
			out.Close()
			in.Close()
			u.udp.Close()
			tl.tcp.Close()
		}
	}
}
