//go:build !unix

package proxy

import "syscall"

// reuseAddrControl is a no-op where SO_REUSEADDR is not available the Unix way.
func reuseAddrControl(_, _ string, _ syscall.RawConn) error { return nil }
