//go:build linux

package dscp

import (
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// mark sets the DS field (RFC 2474 §3: the code point in the upper six bits of the former TOS
// octet) on an IPv4 socket with IP_TOS and on an IPv6 one with IPV6_TCLASS (RFC 3542 §6.5); an IPv6
// socket that also carries IPv4 (mapped addresses) gets both. network is "", "tcp4", "udp6", …; ""
// asks the socket for its family.
func mark(network string, c syscall.RawConn, dscp uint8) error {
	tos := int(dscp) << 2
	var serr error
	err := c.Control(func(fd uintptr) {
		v6 := strings.HasSuffix(network, "6")
		if network == "" || !strings.HasSuffix(network, "4") && !v6 {
			if sa, err := unix.Getsockname(int(fd)); err == nil {
				_, v6 = sa.(*unix.SockaddrInet6)
			}
		}
		if !v6 {
			serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_TOS, tos)
			return
		}
		serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_IPV6, unix.IPV6_TCLASS, tos)
		_ = unix.SetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_TOS, tos) // for IPv4-mapped traffic; may be refused
	})
	if err != nil {
		return err
	}
	return serr
}
