//go:build unix

package proxy

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// reuseAddrControl sets SO_REUSEADDR and SO_REUSEPORT on a TCP listener and on outgoing TCP sockets.
// A P-CSCF sends requests to a UE from its protected client port, which also has a listener
// (TS 33.203 §7.1, SA 3: our port-c to the UE's port-s). Linux lets an outgoing socket bind a port
// that a listening socket holds only when both set SO_REUSEPORT; SO_REUSEADDR alone still covers
// a previous connection in TIME_WAIT. Only sockets of the same user can share the port, and the
// UDP socket bound first on every listening port (without either option) still makes a second
// process fail to start on a port that is taken.
func reuseAddrControl(_, _ string, c syscall.RawConn) error {
	var serr error
	if err := c.Control(func(fd uintptr) {
		if serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEADDR, 1); serr != nil {
			return
		}
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
	}); err != nil {
		return err
	}
	return serr
}
