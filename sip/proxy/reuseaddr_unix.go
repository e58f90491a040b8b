//go:build unix

package proxy

import "syscall"

// reuseAddrControl sets SO_REUSEADDR so that an outgoing TCP connection can use a local port that also has a
// listener or a previous connection in TIME_WAIT (a P-CSCF's protected client port, TS 33.203 §7.1).
func reuseAddrControl(_, _ string, c syscall.RawConn) error {
	var serr error
	if err := c.Control(func(fd uintptr) {
		serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_REUSEADDR, 1)
	}); err != nil {
		return err
	}
	return serr
}
