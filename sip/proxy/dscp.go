package proxy

import (
	"syscall"
)

// withDSCP returns a socket Control that runs next (if any) and then marks the socket with dscp
// (Config.DSCP); next itself when dscp is 0.
func withDSCP(next func(network, address string, c syscall.RawConn) error, dscp uint8) func(string, string, syscall.RawConn) error {
	if dscp == 0 {
		return next
	}
	return func(network, address string, c syscall.RawConn) error {
		if next != nil {
			if err := next(network, address, c); err != nil {
				return err
			}
		}
		return markDSCP(network, c, dscp)
	}
}

// setDSCP marks an open socket (a UDP listener) with dscp; nothing when dscp is 0.
func setDSCP(conn syscall.Conn, dscp uint8) error {
	if dscp == 0 {
		return nil
	}
	rc, err := conn.SyscallConn()
	if err != nil {
		return err
	}
	return markDSCP("", rc, dscp)
}
