//go:build !linux

package dscp

import "syscall"

// mark is a no-op where the socket options are not known to work the Linux way.
func mark(string, syscall.RawConn, uint8) error { return nil }
