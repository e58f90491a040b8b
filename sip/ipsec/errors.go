package ipsec

import (
	"errors"
	"fmt"
	"net/netip"

	"golang.org/x/sys/unix"
)

// Sentinels for errors.Is. Kernel errors are classified into them (inside an OpError), and the raw errno
// stays reachable too (errors.Is(err, unix.EEXIST)).
var (
	// ErrInvalidPair: the Pair cannot describe a valid IMS-AKA SA set (addresses, ports, SPIs).
	ErrInvalidPair = errors.New("ipsec: invalid SA pair")
	// ErrUnknownAlgorithm: an alg/ealg name this package does not know.
	ErrUnknownAlgorithm = errors.New("ipsec: unknown algorithm")
	// ErrESPUnsupported: the kernel has XFRM but no ESP (netlink EPROTONOSUPPORT), as on the
	// development and CI machines (docs/design.md §5).
	ErrESPUnsupported = errors.New("ipsec: kernel does not support ESP")
	// ErrAlgorithmUnavailable: the kernel refused the algorithm (netlink ENOENT): a crypto module
	// is missing, or the default RNG (drbg) that CBC IV generation needs.
	ErrAlgorithmUnavailable = errors.New("ipsec: kernel lacks the algorithm")
	// ErrExists: an SA with this SPI and destination, or a policy for this flow, is already installed.
	ErrExists = errors.New("ipsec: already installed")
	// ErrNotFound: no such SA.
	ErrNotFound = errors.New("ipsec: not installed")
	// ErrNotOurs: the SA or policy exists but carries a reqid outside our range: another program
	// owns it, and we leave it alone.
	ErrNotOurs = errors.New("ipsec: owned by someone else")
	// ErrPermission: the caller lacks CAP_NET_ADMIN in the network namespace.
	ErrPermission = errors.New("ipsec: permission denied (CAP_NET_ADMIN needed)")
)

// OpError is a failed XFRM operation on one SA or policy. It names the SA (SPI, addresses and
// ports) so that a log line or a test failure says which one.
type OpError struct {
	Op       string // "add state", "delete policy", …
	SPI      uint32
	Src, Dst netip.AddrPort
	Dir      string // "in"/"out" for policies, empty for states
	Err      error
}

func (e *OpError) Error() string {
	dir := ""
	if e.Dir != "" {
		dir = " dir " + e.Dir
	}
	return fmt.Sprintf("ipsec %s spi 0x%08x %s -> %s%s: %v", e.Op, e.SPI, e.Src, e.Dst, dir, e.Err)
}

func (e *OpError) Unwrap() error { return e.Err }

// classify attaches the sentinel matching a kernel errno, keeping the errno itself reachable.
func classify(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, unix.EPROTONOSUPPORT):
		return fmt.Errorf("%w: %w", ErrESPUnsupported, err)
	case errors.Is(err, unix.ENOENT), errors.Is(err, unix.ESRCH):
		// The kernel answers ESRCH for a missing state and ENOENT for a missing policy.
		return fmt.Errorf("%w: %w", ErrNotFound, err)
	case errors.Is(err, unix.EEXIST):
		return fmt.Errorf("%w: %w", ErrExists, err)
	case errors.Is(err, unix.EPERM), errors.Is(err, unix.EACCES):
		return fmt.Errorf("%w: %w", ErrPermission, err)
	}
	return err
}

// classifyAdd is classify for adding a state, where ENOENT means a missing algorithm rather
// than a missing object.
func classifyAdd(err error) error {
	if errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("%w: %w", ErrAlgorithmUnavailable, err)
	}
	return classify(err)
}
