package ue

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"github.com/emiago/sipgo/sip"
	"golang.org/x/sys/unix"
)

// maxMessage bounds one SIP message read from a stream; larger is a framing error.
const maxMessage = 64 << 10

// wire is one way to send a message: a UDP socket towards one address, or a TCP connection.
type wire interface {
	write(b []byte) error
	transport() string // "UDP" or "TCP"
	local() netip.AddrPort
}

// udpMaxRequest is the size above which a request meant for UDP goes over TCP instead: RFC 3261 §18.1.1,
// "larger than 1300 bytes" with the path MTU unknown. Over IPsec the SAs carry TCP between the same
// protected ports (TS 33.203 §7.1, TS 24.229 §5.1.1.2.1), so the switch keeps the request protected.
const udpMaxRequest = 1300

type udpWire struct {
	c   *net.UDPConn
	dst netip.AddrPort
	// tcp gives the TCP way between the same ends, for a request too large for UDP; nil: none.
	tcp func() (wire, error)
}

func (w udpWire) write(b []byte) error {
	_, err := w.c.WriteToUDPAddrPort(b, w.dst)
	return err
}
func (w udpWire) transport() string     { return "UDP" }
func (w udpWire) local() netip.AddrPort { return unmap(w.c.LocalAddr().(*net.UDPAddr).AddrPort()) }

type tcpWire struct {
	c  net.Conn
	mu *sync.Mutex
}

func (w tcpWire) write(b []byte) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	_, err := w.c.Write(b)
	return err
}
func (w tcpWire) transport() string     { return "TCP" }
func (w tcpWire) local() netip.AddrPort { return unmap(w.c.LocalAddr().(*net.TCPAddr).AddrPort()) }

func unmap(ap netip.AddrPort) netip.AddrPort { return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()) }

// reuseAddr lets a TCP socket bind a port that a listener of ours holds (the protected client
// port sends requests and is the source of the connection to the P-CSCF's server port).
func reuseAddr(_, _ string, c syscall.RawConn) error {
	var serr error
	err := c.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEADDR, 1)
	})
	if err != nil {
		return err
	}
	return serr
}

// readStream frames SIP messages off a TCP connection by Content-Length (RFC 3261 §18.3) and
// hands each to fn. It returns when the connection ends.
func readStream(c net.Conn, parser *sip.Parser, fn func(sip.Message)) error {
	r := bufio.NewReaderSize(c, 16<<10)
	for {
		var head bytes.Buffer
		for {
			line, err := r.ReadSlice('\n')
			if err != nil {
				if errors.Is(err, io.EOF) && head.Len() == 0 {
					return nil
				}
				return err
			}
			if head.Len() == 0 && len(bytes.TrimSpace(line)) == 0 {
				continue // RFC 5626 keep-alive CRLF
			}
			head.Write(line)
			if head.Len() > maxMessage {
				return fmt.Errorf("sip header section over %d bytes", maxMessage)
			}
			if len(line) <= 2 && len(bytes.TrimRight(line, "\r\n")) == 0 {
				break
			}
		}
		n := contentLength(head.Bytes())
		if n < 0 || n > maxMessage {
			return fmt.Errorf("bad Content-Length %d", n)
		}
		body := make([]byte, n)
		if _, err := io.ReadFull(r, body); err != nil {
			return err
		}
		msg, err := parser.ParseSIP(append(head.Bytes(), body...))
		if err != nil {
			continue // a malformed message is dropped; the stream is still framed
		}
		fn(msg)
	}
}

func contentLength(head []byte) int {
	for _, line := range strings.Split(string(head), "\r\n") {
		name, val, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		name = strings.ToLower(strings.TrimSpace(name))
		if name == "content-length" || name == "l" {
			v, err := strconv.Atoi(strings.TrimSpace(val))
			if err != nil {
				return -1
			}
			return v
		}
	}
	return 0
}

// dialTCP connects to dst from local (port 0: any).
func dialTCP(ctx context.Context, local, dst netip.AddrPort) (net.Conn, error) {
	d := net.Dialer{Control: reuseAddr}
	if local.IsValid() {
		d.LocalAddr = net.TCPAddrFromAddrPort(local)
	}
	return d.DialContext(ctx, "tcp", dst.String())
}
