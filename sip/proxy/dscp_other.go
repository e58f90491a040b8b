//go:build !linux

package proxy

import "syscall"

// markDSCP is a no-op where the socket options are not known to work the Linux way.
func markDSCP(string, syscall.RawConn, uint8) error { return nil }
