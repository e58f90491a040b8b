// Package dscp marks sockets with a Differentiated Services code point (RFC 2474 §3): SIP signalling at the
// CSCFs (sip/proxy, qos.dscp_sip) and the media the IMS-AGW anchors (services/imsagw, media_dscp).
package dscp

import "syscall"

// Common code points.
const (
	AF31 uint8 = 26 // signalling (RFC 4594 §4.3 puts it in AF31/CS3)
	EF   uint8 = 46 // telephony media (RFC 3246, RFC 4594 §4.1)
)

// Control returns a socket Control that runs next (if any) and then marks the socket with code; next itself
// when code is 0.
func Control(next func(network, address string, c syscall.RawConn) error, code uint8) func(string, string, syscall.RawConn) error {
	if code == 0 {
		return next
	}
	return func(network, address string, c syscall.RawConn) error {
		if next != nil {
			if err := next(network, address, c); err != nil {
				return err
			}
		}
		return mark(network, c, code)
	}
}

// Set marks an open socket (a UDP listener) with code; nothing when code is 0.
func Set(conn syscall.Conn, code uint8) error {
	if code == 0 {
		return nil
	}
	rc, err := conn.SyscallConn()
	if err != nil {
		return err
	}
	return mark("", rc, code)
}
