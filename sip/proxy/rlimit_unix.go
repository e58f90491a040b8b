//go:build unix

package proxy

import "syscall"

// fileLimit is the process's RLIMIT_NOFILE soft limit (Go raises it to the hard limit at start on Linux), 0 if
// unknown.
func fileLimit() uint64 {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		return 0
	}
	return uint64(l.Cur)
}
